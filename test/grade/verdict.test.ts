import { describe, expect, it } from 'vitest';
import { NEGATABLE_MODEL_GRADED_TYPES, negationError, parseVerdict, verdictObject } from '../../src/grade/verdict.ts';
import { graded } from './helpers.ts';

function verdict(written: string, reply: string, extra = {}, value: unknown = 'the rubric') {
  const { assertion, ...rest } = parseVerdict(graded(written, value, extra), reply);
  expect(assertion.type).toBe(written.replace(/^not-/, ''));
  return rest;
}

const json = (o: object) => JSON.stringify(o);

describe('finding the JSON in a reply', () => {
  it('reads a bare object, one in prose, and one in a ```json fence', () => {
    const o = { reason: 'fine', pass: true, score: 0.9 };
    expect(verdict('llm-rubric', json(o))).toEqual({ pass: true, score: 0.9, reason: 'fine' });
    expect(verdict('llm-rubric', `Here is my verdict: ${json(o)} Hope it helps.`)).toEqual({ pass: true, score: 0.9, reason: 'fine' });
    expect(verdict('llm-rubric', `Sure.\n\`\`\`json\n${JSON.stringify(o, null, 2)}\n\`\`\`\n`)).toEqual({ pass: true, score: 0.9, reason: 'fine' });
  });

  it('skips objects without the fields it needs (an example in the prose) and braces inside strings', () => {
    const reply = 'Given {"output": "x"}, my verdict: {"reason": "uses } and {", "pass": false, "score": 0.2}';
    expect(verdict('llm-rubric', reply)).toMatchObject({ pass: false, score: 0.2 });
    expect(verdict('llm-rubric', reply).reason).toContain('uses } and {');
  });

  it('says what is missing', () => {
    expect(verdictObject('nothing here', ['pass'])).toEqual({ problem: 'has no JSON object with "pass"' });
    expect(verdictObject('{"a": 1}', ['pass', 'score'])).toEqual({ problem: 'has JSON without "pass" or "score"' });
    expect(verdictObject('{"pass": null}', ['pass'])).toEqual({ problem: 'has JSON without "pass"' });
  });
});

describe('bad replies fail the assertion with a reason that quotes them', () => {
  it('no JSON at all', () => {
    const r = verdict('llm-rubric', 'I think the output is quite good overall.');
    expect(r).toEqual({
      pass: false,
      score: 0,
      reason: `llm-rubric: the grader's reply has no JSON object with "pass" or "score": "I think the output is quite good overall."`,
    });
  });

  it('an empty reply', () => {
    expect(verdict('g-eval', '  \n')).toEqual({ pass: false, score: 0, reason: "g-eval: the grader's reply is empty" });
  });

  it('a long reply is quoted shortened, on one line', () => {
    const r = verdict('llm-rubric', `start\n${'blah '.repeat(200)}end`);
    expect(r.reason).toMatch(/^llm-rubric: the grader's reply has no JSON object with "pass" or "score": "start blah blah/);
    expect(r.reason).toMatch(/…"$/);
    expect(r.reason).not.toContain('end"');
    expect(r.reason.length).toBeLessThan(400);
  });

  it('JSON without the needed field, or with a field of the wrong kind', () => {
    expect(verdict('llm-rubric', '{"reason": "ok"}').reason).toMatch(/has JSON without "pass" or "score"/);
    expect(verdict('llm-rubric', '{"score": "high"}').reason).toMatch(/"score" that is not a number \("high"\) and no "pass"/);
    expect(verdict('g-eval', '{"reason": "ok", "pass": true}')).toMatchObject({ pass: false, score: 0 });
    expect(verdict('g-eval', '{"score": "lots"}').reason).toMatch(/"score" that is not a number/);
    expect(verdict('factuality', '{"category": 3}').reason).toMatch(/"category" that is not a letter A to E \(3\)/);
    expect(verdict('factuality', '{"category": "F", "reason": "x"}').reason).toMatch(/"category" that is not a letter A to E \("F"\)/);
    expect(verdict('model-graded-closedqa', 'Maybe.').reason).toMatch(/no JSON object with "pass", nor does it end with a line "Y" or "N"/);
  });

  it('a bad reply is not turned into a pass by not-', () => {
    expect(verdict('not-llm-rubric', 'no idea')).toMatchObject({ pass: false, score: 0 });
    expect(verdict('not-llm-rubric', 'no idea').reason).toMatch(/^not-llm-rubric: the grader's reply/);
    expect(verdict('not-g-eval', '{"score": 3}')).toMatchObject({ pass: false, score: 0 });
  });
});

describe('llm-rubric', () => {
  it('takes pass, score and reason as the grader gives them', () => {
    expect(verdict('llm-rubric', json({ reason: 'No greeting', pass: false, score: 0 }))).toEqual({
      pass: false,
      score: 0,
      reason: 'The grader failed the output (score 0): No greeting',
    });
    expect(verdict('llm-rubric', json({ reason: 'Greets', pass: true, score: 1 }))).toEqual({ pass: true, score: 1, reason: 'Greets' });
  });

  it("promptfoo's defaults: pass true when missing; score 1 or 0 by pass when missing; no threshold, no score check", () => {
    expect(verdict('llm-rubric', '{"score": 0.2}')).toMatchObject({ pass: true, score: 0.2 });
    expect(verdict('llm-rubric', '{"pass": true}')).toMatchObject({ pass: true, score: 1 });
    expect(verdict('llm-rubric', '{"pass": false}')).toMatchObject({ pass: false, score: 0 });
    expect(verdict('llm-rubric', '{"pass": true, "score": "0.4"}')).toMatchObject({ pass: true, score: 0.4 });
    expect(verdict('llm-rubric', '{"pass": false, "score": "n/a"}')).toMatchObject({ pass: false, score: 0 });
    expect(verdict('llm-rubric', '{"pass": true}').reason).toBe('The grader passed the output');
  });

  it("reads a pass that is not a boolean as promptfoo does", () => {
    for (const p of ['true', 'YES', 'pass', 'y']) expect(verdict('llm-rubric', json({ pass: p })).pass, p).toBe(true);
    for (const p of ['false', 'no', 'maybe', 1]) expect(verdict('llm-rubric', json({ pass: p })).pass, String(p)).toBe(false);
  });

  it('with a threshold: passes only when the grader passed it and the score reaches the threshold', () => {
    expect(verdict('llm-rubric', json({ pass: true, score: 0.8 }), { threshold: 0.8 })).toMatchObject({ pass: true, score: 0.8 });
    expect(verdict('llm-rubric', json({ reason: 'Mostly', pass: true, score: 0.6 }), { threshold: 0.8 })).toEqual({
      pass: false,
      score: 0.6,
      reason: 'Score 0.6 is below threshold 0.8: Mostly',
    });
    expect(verdict('llm-rubric', json({ pass: false, score: 0.9 }), { threshold: 0.5 })).toMatchObject({ pass: false, score: 0.9 });
    expect(verdict('llm-rubric', json({ pass: true }), { threshold: 0.5 })).toMatchObject({ pass: true, score: 1 });
  });

  it('not-llm-rubric flips pass and reports 1 - score (kept within 0..1)', () => {
    expect(verdict('not-llm-rubric', json({ reason: 'Pirate talk', pass: true, score: 0.9 }))).toEqual({
      pass: false,
      score: expect.closeTo(0.1, 10),
      reason: 'The grader found the rubric holds (score 0.9), which not-llm-rubric must not: Pirate talk',
    });
    expect(verdict('not-llm-rubric', json({ reason: 'Plain', pass: false, score: 0.2 }))).toEqual({ pass: true, score: 0.8, reason: 'Plain' });
    expect(verdict('not-llm-rubric', json({ pass: true, score: 0.6 }), { threshold: 0.8 })).toMatchObject({ pass: true, score: 0.4 });
    expect(verdict('not-llm-rubric', json({ pass: false, score: 7 })).score).toBe(0);
  });
});

describe('model-graded-closedqa', () => {
  it('passes or fails as the grader says, with score 1 or 0, whatever the threshold', () => {
    expect(verdict('model-graded-closedqa', json({ reason: 'Polite', pass: true, score: 0.4 }), { threshold: 0.9 })).toEqual({
      pass: true,
      score: 1,
      reason: 'Polite',
    });
    expect(verdict('model-graded-closedqa', json({ reason: 'Rude', pass: false, score: 1 }))).toEqual({
      pass: false,
      score: 0,
      reason: 'The output does not meet the criterion: Rude',
    });
  });

  it("reads OpenAI's closedqa format (reasoning, then Y or N on the last line)", () => {
    expect(verdict('model-graded-closedqa', 'The answer is polite and brief.\nY')).toEqual({ pass: true, score: 1, reason: 'The answer is polite and brief.' });
    expect(verdict('model-graded-closedqa', 'It is rude.\nN\nN\n')).toMatchObject({ pass: false, score: 0 });
    expect(verdict('model-graded-closedqa', 'It is rude.\nN').reason).toBe('The output does not meet the criterion: It is rude.');
    // promptfoo would pass this (it ends with the letter Y); a word is not a verdict.
    expect(verdict('model-graded-closedqa', 'Nothing to say about it ANY')).toMatchObject({ pass: false, score: 0 });
  });
});

describe('factuality', () => {
  it("scores categories A, B, C and E 1 (pass) and D 0 (fail) by default, with the grader's reason", () => {
    for (const c of ['A', 'B', 'C', 'E']) expect(verdict('factuality', json({ category: c, reason: 'r' })), c).toMatchObject({ pass: true, score: 1 });
    expect(verdict('factuality', json({ category: 'D', reason: 'Says Lyon' }))).toEqual({
      pass: false,
      score: 0,
      reason: 'Category D (the output disagrees with the reference): Says Lyon',
    });
  });

  it('reads the category trimmed and in any case; model-graded-factuality is the same', () => {
    expect(verdict('factuality', json({ category: ' b ', reason: 'more' }))).toEqual({
      pass: true,
      score: 1,
      reason: 'Category B (the output is a superset of the reference, consistent with it): more',
    });
    expect(verdict('model-graded-factuality', json({ category: 'D' }))).toMatchObject({ pass: false, score: 0 });
  });

  it("takes promptfoo's options.factuality scores: above 0 passes, 0 fails", () => {
    const scores = { subset: 0.8, superset: 0, differButFactual: 0.5, disagree: 0.25 };
    const run = (c: string) => parseVerdict(graded('factuality', 'x'), json({ category: c }), { factuality: scores });
    expect(run('A')).toMatchObject({ pass: true, score: 0.8 });
    expect(run('B')).toMatchObject({ pass: false, score: 0 });
    expect(run('C')).toMatchObject({ pass: true, score: 1 });
    expect(run('D')).toMatchObject({ pass: true, score: 0.25 });
    expect(run('E')).toMatchObject({ pass: true, score: 0.5 });
  });

  it("reads a reply in OpenAI's format, (X) then the reasoning", () => {
    expect(verdict('factuality', '(C) Both say Paris.')).toEqual({
      pass: true,
      score: 1,
      reason: 'Category C (the output has the same details as the reference): Both say Paris.',
    });
    expect(verdict('factuality', 'Answer: d) it says Lyon')).toMatchObject({ pass: false, score: 0 });
    // A letter at the end of a word is no category.
    expect(verdict('factuality', 'See above) for more').reason).toMatch(/nor does it name a category/);
  });
});

describe('g-eval', () => {
  it('passes when the score reaches the threshold, 0.7 by default; the grader\'s pass is not used', () => {
    expect(verdict('g-eval', json({ reason: 'Clear', pass: false, score: 0.7 }))).toEqual({
      pass: true,
      score: 0.7,
      reason: 'Score 0.7 is greater than or equal to threshold 0.7: Clear',
    });
    expect(verdict('g-eval', json({ reason: 'Vague', pass: true, score: 0.69 }))).toEqual({
      pass: false,
      score: 0.69,
      reason: 'Score 0.69 is less than threshold 0.7: Vague',
    });
    expect(verdict('g-eval', json({ score: 0.5 }), { threshold: 0.5 })).toMatchObject({ pass: true });
    expect(verdict('g-eval', json({ score: 0.85 }), { threshold: 0.9 })).toMatchObject({ pass: false, score: 0.85 });
  });

  it('needs a score within 0..1', () => {
    expect(verdict('g-eval', json({ score: 8, reason: 'x' })).reason).toMatch(/has a score \(8\) outside 0\.\.1/);
    expect(verdict('g-eval', json({ score: -0.1 }))).toMatchObject({ pass: false, score: 0 });
  });

  it('not-g-eval passes when the score is below the threshold and reports 1 - score', () => {
    expect(verdict('not-g-eval', json({ reason: 'No PII', score: 0.1 }))).toEqual({
      pass: true,
      score: 0.9,
      reason: 'Score 0.1 is less than threshold 0.7: No PII',
    });
    const r = verdict('not-g-eval', json({ reason: 'Leaks an email', score: 0.8 }));
    expect(r).toMatchObject({ pass: false, score: expect.closeTo(0.2, 10) });
    expect(r.reason).toBe('Score 0.8 is greater than or equal to threshold 0.7, which not-g-eval must not reach: Leaks an email');
  });
});

describe('answer-relevance', () => {
  it('passes when the relevance reaches the threshold, 0.7 by default', () => {
    expect(verdict('answer-relevance', json({ reason: 'On topic', pass: true, score: 0.9 }), {}, undefined)).toEqual({
      pass: true,
      score: 0.9,
      reason: 'Relevance 0.9 is greater than or equal to threshold 0.7: On topic',
    });
    expect(verdict('answer-relevance', json({ score: 0.6, pass: true }), {}, undefined)).toMatchObject({ pass: false, score: 0.6 });
    expect(verdict('answer-relevance', json({ score: 0.6 }), { threshold: 0.5 }, undefined)).toMatchObject({ pass: true });
  });
});

describe('negation', () => {
  it('promptfoo negates llm-rubric, g-eval and similar', () => {
    expect([...NEGATABLE_MODEL_GRADED_TYPES].sort()).toEqual(['g-eval', 'llm-rubric', 'similar']);
    for (const t of NEGATABLE_MODEL_GRADED_TYPES) expect(negationError(t)).toBeUndefined();
    expect(negationError('contains')).toBeUndefined();
  });

  it('the others are a clear error for the config loader, and a failed verdict if one gets through', () => {
    for (const t of ['factuality', 'model-graded-factuality', 'model-graded-closedqa', 'answer-relevance']) {
      const message = negationError(t);
      expect(message).toMatch(new RegExp(`^assertion type 'not-${t}' cannot be negated: promptfoo ignores 'not-' on ${t}`));
      expect(message).toContain('not-llm-rubric, not-g-eval, not-similar');
      const value = t === 'answer-relevance' ? undefined : 'x';
      expect(verdict(`not-${t}`, json({ pass: true, score: 1, category: 'A' }), {}, value)).toEqual({ pass: false, score: 0, reason: message });
    }
  });
});

it('throws for a type that is not rubric-graded', () => {
  expect(() => parseVerdict(graded('similar', 'x'), '{}')).toThrow(/not graded with a chat prompt/);
});
