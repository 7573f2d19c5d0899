import { describe, expect, it } from 'vitest';
import {
  ANSWER_RELEVANCE_RUBRIC,
  GRADING_PROMPTS,
  RUBRIC_GRADED_TYPES,
  assertionValueError,
  embeddingInputs,
  gradingKind,
  gradingMessages,
  gradingVariables,
  rubricPromptError,
} from '../../src/grade/prompts.ts';
import { ctx, graded } from './helpers.ts';

/** The text between the last <Tag> and </Tag> of the last user message, as the emulator reads it. */
function tagged(messages: { role: string; content: string }[], tag: string): string | undefined {
  const user = messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
  const all = [...user.matchAll(new RegExp(`<${tag}>\\n?([\\s\\S]*?)\\n?</${tag}>`, 'g'))];
  return all.at(-1)?.[1];
}

describe('our grading prompts', () => {
  it('are a system and a user message for every rubric-graded type, and ask for a JSON object only', () => {
    for (const type of RUBRIC_GRADED_TYPES) {
      const value = type === 'answer-relevance' ? undefined : 'Names the capital';
      const messages = gradingMessages(graded(type, value), ctx);
      expect(messages.map((m) => m.role), type).toEqual(['system', 'user']);
      expect(messages[0].content, type).toContain('Reply with a JSON object only');
      expect(tagged(messages, 'Output'), type).toBe(ctx.output);
    }
  });

  it('llm-rubric: the output in <Output>, the rubric in <Rubric>', () => {
    const messages = gradingMessages(graded('llm-rubric', 'Is concise'), ctx);
    expect(tagged(messages, 'Rubric')).toBe('Is concise');
    expect(messages[0].content).toContain('{"reason": string, "pass": boolean, "score": number}');
  });

  it('llm-rubric: an object rubric is shown as JSON', () => {
    const messages = gradingMessages(graded('llm-rubric', { must: 'name Paris' }), ctx);
    expect(tagged(messages, 'Rubric')).toBe('{"must":"name Paris"}');
  });

  it('factuality: question, output and reference, and no <Rubric>; asks for a category', () => {
    for (const type of ['factuality', 'model-graded-factuality']) {
      const messages = gradingMessages(graded(type, 'Paris is the capital'), ctx);
      expect(tagged(messages, 'Question')).toBe(ctx.prompt);
      expect(tagged(messages, 'Reference')).toBe('Paris is the capital');
      expect(tagged(messages, 'Rubric')).toBeUndefined();
      expect(messages[0].content).toContain('{"category": "A" | "B" | "C" | "D" | "E", "reason": string}');
      for (const c of ['A:', 'B:', 'C:', 'D:', 'E:']) expect(messages[0].content).toContain(c);
    }
  });

  it('model-graded-closedqa: the criterion in <Rubric>, the task in <Question>', () => {
    const messages = gradingMessages(graded('model-graded-closedqa', 'Is polite'), ctx);
    expect(tagged(messages, 'Rubric')).toBe('Is polite');
    expect(tagged(messages, 'Question')).toBe(ctx.prompt);
  });

  it('g-eval: one criterion as written, several as a list', () => {
    expect(tagged(gradingMessages(graded('g-eval', 'Is accurate'), ctx), 'Rubric')).toBe('Is accurate');
    expect(tagged(gradingMessages(graded('g-eval', ['Is accurate']), ctx), 'Rubric')).toBe('Is accurate');
    expect(tagged(gradingMessages(graded('g-eval', ['Is accurate', 'Is polite']), ctx), 'Rubric')).toBe('- Is accurate\n- Is polite');
  });

  it("answer-relevance: the question is the test's `query` var when it is a string, else the prompt", () => {
    const withQuery = gradingMessages(graded('answer-relevance'), { ...ctx, vars: { query: 'Capital of France?' } });
    expect(tagged(withQuery, 'Question')).toBe('Capital of France?');
    expect(tagged(withQuery, 'Rubric')).toBe(ANSWER_RELEVANCE_RUBRIC);
    const withoutQuery = gradingMessages(graded('answer-relevance'), { ...ctx, vars: { query: 42 } });
    expect(tagged(withoutQuery, 'Question')).toBe(ctx.prompt);
  });

  it('shows an output that is not a string as JSON', () => {
    const messages = gradingMessages(graded('llm-rubric', 'x'), { ...ctx, output: { city: 'Paris' } });
    expect(tagged(messages, 'Output')).toBe('{"city":"Paris"}');
  });

  it('does not render templates inside the output or the rubric value', () => {
    const output = 'Use {{ secret }} and {% if x %}y{% endif %}';
    const messages = gradingMessages(graded('llm-rubric', 'Mentions {{ literally }}'), { ...ctx, output, vars: { secret: 'S' } });
    expect(tagged(messages, 'Output')).toBe(output);
    expect(tagged(messages, 'Rubric')).toBe('Mentions {{ literally }}');
  });

  it('does not show the test vars in our prompts (the rubric is already rendered)', () => {
    const messages = gradingMessages(graded('llm-rubric', 'x'), { ...ctx, vars: { output: 'SHADOW', rubric: 'SHADOW' } });
    expect(messages.map((m) => m.content).join('\n')).not.toContain('SHADOW');
  });

  it('maps types to their prompt', () => {
    expect(gradingKind('model-graded-factuality')).toBe('factuality');
    expect(gradingKind('similar')).toBeUndefined();
    expect(gradingKind('toString')).toBeUndefined();
    expect(Object.keys(GRADING_PROMPTS).sort()).toEqual(
      ['answer-relevance', 'factuality', 'g-eval', 'llm-rubric', 'model-graded-closedqa'].sort(),
    );
  });
});

describe('a rubricPrompt', () => {
  it('as plain text: one user message, rendered with output, rubric and the vars (objects as JSON)', () => {
    const a = graded('llm-rubric', 'Is short', { rubricPrompt: 'Grade {{ output }} by {{ rubric }} for {{ country }} {{ details }}' });
    expect(gradingMessages(a, ctx)).toEqual([
      { role: 'user', content: `Grade ${ctx.output} by Is short for France {"population":2100000}` },
    ]);
  });

  it('as a list of messages: each content rendered', () => {
    const a = graded('llm-rubric', 'Is short', {
      rubricPrompt: [
        { role: 'system', content: 'Judge by: {{ rubric }}' },
        { role: 'user', content: 'Output: {{ output }}' },
      ],
    });
    expect(gradingMessages(a, ctx)).toEqual([
      { role: 'system', content: 'Judge by: Is short' },
      { role: 'user', content: `Output: ${ctx.output}` },
    ]);
  });

  it('as JSON text of a chat list: that list, contents rendered after parsing (an output with quotes stays whole)', () => {
    const rubricPrompt = JSON.stringify([
      { role: 'system', content: 'Rubric: {{ rubric }}' },
      { role: 'user', content: 'Output: {{ output }}' },
    ]);
    const output = 'He said "hi"\nand left } ]';
    const messages = gradingMessages(graded('llm-rubric', 'Greets', { rubricPrompt }), { ...ctx, output });
    expect(messages).toEqual([
      { role: 'system', content: 'Rubric: Greets' },
      { role: 'user', content: `Output: ${output}` },
    ]);
  });

  it('as text that renders to JSON of a chat list: that list', () => {
    const a = graded('llm-rubric', 'x', { rubricPrompt: '{{ chat }}' });
    const chat = '[{"role": "user", "content": "graded"}]';
    expect(gradingMessages(a, { ...ctx, vars: { chat } })).toEqual([{ role: 'user', content: 'graded' }]);
  });

  it("llm-rubric, factuality and closedqa: the test's vars win over the built-ins, as in promptfoo", () => {
    const vars = { output: 'VAR', input: 'VAR-INPUT' };
    expect(gradingVariables(graded('llm-rubric', 'r'), { ...ctx, vars }).output).toBe('VAR');
    expect(gradingVariables(graded('factuality', 'r'), { ...ctx, vars }).input).toBe('VAR-INPUT');
    expect(gradingVariables(graded('model-graded-closedqa', 'r'), { ...ctx, vars }).input).toBe('VAR-INPUT');
    // g-eval and answer-relevance see no vars in promptfoo: their built-ins win.
    expect(gradingVariables(graded('g-eval', 'r'), { ...ctx, vars }).output).toBe(ctx.output);
    expect(gradingVariables(graded('answer-relevance'), { ...ctx, vars }).input).toBe(ctx.prompt);
    expect(gradingVariables(graded('g-eval', 'r'), { ...ctx, vars }).country).toBeUndefined();
    expect(gradingVariables(graded('g-eval', 'r'), { ...ctx, vars: { country: 'FR' } }).country).toBe('FR');
  });

  it("factuality: promptfoo's input, ideal and completion", () => {
    const a = graded('factuality', 'Paris', { rubricPrompt: 'Q={{ input }} E={{ ideal }} S={{ completion }} O={{ output }} R={{ rubric }}' });
    expect(gradingMessages(a, ctx)[0].content).toBe(`Q=${ctx.prompt} E=Paris S=${ctx.output} O=${ctx.output} R=Paris`);
  });

  it("model-graded-closedqa: promptfoo's input, criteria and completion", () => {
    const a = graded('model-graded-closedqa', 'Polite', { rubricPrompt: 'T={{ input }} C={{ criteria }} S={{ completion }}' });
    expect(gradingMessages(a, ctx)[0].content).toBe(`T=${ctx.prompt} C=Polite S=${ctx.output}`);
  });

  it('g-eval: criteria, input and output; answer-relevance: query, answer and input', () => {
    const g = graded('g-eval', ['A', 'B'], { rubricPrompt: '{{ criteria }}|{{ input }}|{{ output }}' });
    expect(gradingMessages(g, ctx)[0].content).toBe(`- A\n- B|${ctx.prompt}|${ctx.output}`);
    const r = graded('answer-relevance', undefined, { rubricPrompt: '{{ query }}|{{ answer }}|{{ rubric }}' });
    expect(gradingMessages(r, { ...ctx, vars: { query: 'Q?' } })[0].content).toBe(`Q?|${ctx.output}|${ANSWER_RELEVANCE_RUBRIC}`);
  });

  it('llm-rubric with a rubricPrompt needs no value', () => {
    const a = graded('llm-rubric', undefined, { rubricPrompt: 'Is {{ output }} good? rubric="{{ rubric }}"' });
    expect(gradingMessages(a, ctx)[0].content).toBe(`Is ${ctx.output} good? rubric=""`);
  });

  it('that cannot be rendered is an error naming the assertion', () => {
    const a = graded('llm-rubric', 'x', { rubricPrompt: '{{ output | load }}' });
    expect(() => gradingMessages(a, ctx)).toThrow(/llm-rubric: the rubricPrompt could not be rendered/);
  });

  it('rubricPromptError: what the config loader refuses', () => {
    expect(rubricPromptError('Grade {{ output }}')).toBeUndefined();
    expect(rubricPromptError('[{"role": "system", "content": "{{ rubric }}"}]')).toBeUndefined();
    expect(rubricPromptError([{ role: 'user', content: '{{ output }}' }])).toBeUndefined();
    expect(rubricPromptError('[1, 2]')).toMatch(/JSON text of a list, but not of \{role, content\} messages/);
    expect(rubricPromptError([{ role: 'robot', content: 'x' }])).toMatch(/list of \{role, content\} messages/);
    expect(rubricPromptError([])).toMatch(/list of \{role, content\} messages/);
    expect(rubricPromptError({ steps: 'a', evaluate: 'b' })).toMatch(/\{steps, evaluate\}\) is not supported/);
    expect(rubricPromptError('Grade {{ output ')).toMatch(/not a valid template/);
    expect(rubricPromptError('  ')).toMatch(/must not be empty/);
    expect(rubricPromptError(42)).toMatch(/must be a string or a list/);
    // A filter that would fail on missing vars is still a valid template.
    expect(rubricPromptError('{{ x | load }}')).toBeUndefined();
  });
});

describe('assertion values', () => {
  it('are checked per type, as promptfoo does', () => {
    expect(assertionValueError(graded('llm-rubric'))).toMatch(/llm-rubric needs a value/);
    expect(assertionValueError(graded('llm-rubric', 'x'))).toBeUndefined();
    expect(assertionValueError(graded('llm-rubric', 3))).toMatch(/must be a string/);
    expect(assertionValueError(graded('factuality', ' '))).toMatch(/factuality needs a value/);
    expect(assertionValueError(graded('factuality', ['a']))).toMatch(/factuality needs a value/);
    expect(assertionValueError(graded('model-graded-closedqa'))).toMatch(/model-graded-closedqa needs a value/);
    expect(assertionValueError(graded('g-eval', []))).toMatch(/g-eval needs a value/);
    expect(assertionValueError(graded('not-g-eval', ['a', '']))).toMatch(/not-g-eval needs a value/);
    expect(assertionValueError(graded('g-eval', ['a', 'b']))).toBeUndefined();
    expect(assertionValueError(graded('answer-relevance'))).toBeUndefined();
    expect(assertionValueError(graded('similar', ''))).toMatch(/similar needs a value/);
    expect(assertionValueError(graded('similar', ['a', 'b']))).toBeUndefined();
    expect(assertionValueError(graded('contains', 'x'))).toMatch(/not a model-graded assertion/);
  });

  it('that do not fit make gradingMessages throw', () => {
    expect(() => gradingMessages(graded('factuality'), ctx)).toThrow(/factuality needs a value/);
    expect(() => gradingMessages(graded('similar', 'x'), ctx)).toThrow(/not graded with a chat prompt/);
  });
});

describe('embeddingInputs', () => {
  it('is the output, then each expected value', () => {
    expect(embeddingInputs(graded('similar', 'Paris'), 'It is Paris')).toEqual(['It is Paris', 'Paris']);
    expect(embeddingInputs(graded('not-similar', ['Paris', 'Lyon']), { a: 1 })).toEqual(['{"a":1}', 'Paris', 'Lyon']);
  });
  it('throws on a value that does not fit, or a type that is not embedded', () => {
    expect(() => embeddingInputs(graded('similar', []), 'x')).toThrow(/similar needs a value/);
    expect(() => embeddingInputs(graded('similar', 5), 'x')).toThrow(/similar needs a value/);
    expect(() => embeddingInputs(graded('llm-rubric', 'x'), 'x')).toThrow(/not graded with embeddings/);
  });
});
