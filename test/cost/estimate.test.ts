import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSuite } from '../../src/config/load.ts';
import { DEFAULT_OUTPUT_TOKENS, estimatePlan, overBudget, type Estimate } from '../../src/cost/estimate.ts';
import { estimateMarkdown, estimateText } from '../../src/cost/estimate-format.ts';
import { counterFor, loadEncoding } from '../../src/cost/tokens.ts';
import { markPromptCaching } from '../../src/plan/cache-prefix.ts';
import { buildPlan, type Plan } from '../../src/plan/plan.ts';
import { money } from '../../src/report/markdown.ts';
import { tempTree } from '../helpers/node-process.ts';

function planOf(yaml: string) {
  const dir = tempTree({ 'suite.yaml': yaml });
  const { suite } = loadSuite(join(dir, 'suite.yaml'));
  return { suite, plan: buildPlan(suite) };
}

const SUITE = `description: Estimate suite
prompts:
  - "Answer briefly: {{ question }}"
providers:
  - id: openai:gpt-4.1-mini
    config: { max_tokens: 100 }
  - anthropic:messages:claude-haiku-4-5
  - openai:my-model
tests:
  - vars: { question: What is 2+2? }
  - description: the same question again
    vars: { question: What is 2+2? }
  - vars: { question: [Name a colour, Name a fruit] }
`;

const QUESTIONS = ['What is 2+2?', 'Name a colour', 'Name a fruit'];
const heading = { title: 'Estimate suite', batches: 3, outputOption: '--output-tokens' };
const row = (e: Estimate, label: string, purpose = 'generation') => e.rows.find((r) => r.label === label && r.purpose === purpose)!;

describe('estimatePlan', () => {
  it('counts each distinct request once, as the plan sends it, and prices it at batch and real-time prices', async () => {
    const { suite, plan } = planOf(SUITE);
    expect(plan.cases).toHaveLength(12);
    const e = await estimatePlan(plan, { pricing: suite.pricing });

    const o200k = await loadEncoding('o200k_base');
    const input = QUESTIONS.reduce((n, q) => n + 3 + 3 + o200k('user') + o200k(`Answer briefly: ${q}`), 0);
    const mini = row(e, 'openai:gpt-4.1-mini');
    // Four cases, three distinct requests: the repeated question is sent once.
    expect(mini).toMatchObject({ requests: 3, reused: 0, inputTokens: input, counting: { kind: 'tokenizer', encoding: 'o200k_base' } });
    // Output: 256 assumed, capped at the provider's max_tokens of 100.
    expect(mini).toMatchObject({ outputTokens: 300, maxOutputTokens: 300 });
    const miniRealtime = (input * 0.4 + 300 * 1.6) / 1e6;
    expect(mini.realtime!.expected).toBeCloseTo(miniRealtime, 12);
    expect(mini.batch!.total.expected).toBeCloseTo(miniRealtime / 2, 12);
    expect(mini.batch!.input).toBeCloseTo((input * 0.4) / 2e6, 12);
    expect(mini.batch!.output).toBeCloseTo((300 * 1.6) / 2e6, 12);

    // Anthropic: approximate, the default max_tokens (1024) as the cap.
    const haiku = row(e, 'anthropic:claude-haiku-4-5');
    const approx = QUESTIONS.reduce((n, q) => n + Math.ceil(`Answer briefly: ${q}`.length / 3.5) + 6, 0);
    expect(haiku).toMatchObject({ requests: 3, inputTokens: approx, counting: { kind: 'approximate' }, outputTokens: 3 * DEFAULT_OUTPUT_TOKENS, maxOutputTokens: 3 * 1024 });
    expect(haiku.batch!.total.max).toBeCloseTo((approx * 1 + 3 * 1024 * 5) / 2e6, 12);

    // A model without a price: listed, not costed, left out of the totals; it sets no max_tokens.
    const unknown = row(e, 'openai:my-model');
    expect(unknown).toMatchObject({ requests: 3, counting: { encoding: 'o200k_base', assumed: true } });
    expect([unknown.price, unknown.batch, unknown.realtime, unknown.maxOutputTokens]).toEqual([undefined, undefined, undefined, undefined]);
    expect(e.unpriced).toEqual(['openai:my-model']);
    expect(e.total.batch.expected).toBeCloseTo(mini.batch!.total.expected + haiku.batch!.total.expected, 12);
    expect(e.total.realtime.expected).toBeCloseTo(mini.realtime!.expected + haiku.realtime!.expected, 12);
    expect(e.total.batch.max).toBeCloseTo(mini.batch!.total.max! + haiku.batch!.total.max!, 12);
    expect(e).toMatchObject({ cases: 12, outputTokensAssumed: 256, reused: { requests: 0, batch: 0, realtime: 0 } });
  });

  it('takes the output assumption as a parameter, still capped at max_tokens', async () => {
    const { suite, plan } = planOf(SUITE);
    const e = await estimatePlan(plan, { pricing: suite.pricing, outputTokens: 50 });
    expect(row(e, 'openai:gpt-4.1-mini')).toMatchObject({ outputTokens: 150, maxOutputTokens: 300 });
    expect(row(e, 'anthropic:claude-haiku-4-5').outputTokens).toBe(150);
    const zero = await estimatePlan(plan, { pricing: suite.pricing, outputTokens: 0 });
    expect(row(zero, 'openai:gpt-4.1-mini').batch!.output).toBe(0);
  });

  it('reports requests that will be reused as reused, with their saving, and leaves them out of the totals', async () => {
    const { suite, plan } = planOf(SUITE);
    const all = await estimatePlan(plan, { pricing: suite.pricing });
    const miniBatch = plan.batches.find((b) => b.model === 'gpt-4.1-mini')!;
    const reusedId = miniBatch.requests[0].id;
    const e = await estimatePlan(plan, { pricing: suite.pricing, reused: new Set([reusedId, 'an-id-not-in-the-plan']) });

    const counter = await counterFor('openai', 'gpt-4.1-mini');
    const reusedInput = counter.request(miniBatch.requests[0]);
    const mini = row(e, 'openai:gpt-4.1-mini');
    expect(mini).toMatchObject({ requests: 2, reused: 1, inputTokens: row(all, 'openai:gpt-4.1-mini').inputTokens - reusedInput, outputTokens: 200, maxOutputTokens: 200 });
    const saving = (reusedInput * 0.4 + 100 * 1.6) / 1e6;
    expect(mini.saved!.realtime).toBeCloseTo(saving, 12);
    expect(mini.saved!.batch).toBeCloseTo(saving / 2, 12);
    expect(e.reused).toMatchObject({ requests: 1 });
    expect(e.reused.batch).toBeCloseTo(saving / 2, 12);
    expect(e.total.batch.expected).toBeCloseTo(all.total.batch.expected - saving / 2, 12);

    const text = estimateText(e, heading);
    expect(text).toContain('12 cases, 8 distinct requests to send (1 more reused) in 3 batches');
    expect(text).toMatch(/^openai:gpt-4\.1-mini +2 \(\+1 reused\) /m);
    expect(text).toContain(`- 1 request reuses an earlier output and is not sent: that saves ${money(saving / 2)} at batch prices`);
  });

  it('estimates the grading batch of model-graded assertions roughly, counting identical grading requests once', async () => {
    const { suite, plan } = planOf(`prompts:
  - "Answer: {{ question }}"
providers:
  - id: openai:gpt-4.1-mini
    config: { max_tokens: 80 }
defaultTest:
  options:
    provider: { id: openai:gpt-4.1-nano, config: { max_tokens: 40 } }
tests:
  - vars: { question: Is the sky blue? }
    assert:
      - type: llm-rubric
        value: Says yes
      - type: similar
        value: Yes, the sky is blue.
        provider: openai:embedding:text-embedding-3-small
  - vars: { question: Is the sky blue? }
    assert:
      - type: llm-rubric
        value: Says yes
`);
    const e = await estimatePlan(plan, { pricing: suite.pricing });
    expect(row(e, 'openai:gpt-4.1-mini')).toMatchObject({ requests: 1, outputTokens: 80 });

    // One rubric request: both cases grade the same output with the same rubric.
    const grader = row(e, 'openai:gpt-4.1-nano', 'grading');
    const { gradingMessages } = await import('../../src/grade/prompts.ts');
    const rubric = plan.cases[0].assertions.find((a) => a.type === 'llm-rubric')!;
    const messages = gradingMessages(rubric, { output: '', vars: plan.cases[0].vars, prompt: 'Answer: Is the sky blue?' });
    const nano = await counterFor('openai', 'gpt-4.1-nano');
    // Its prompt counted with an empty output, plus the 80 output tokens assumed for the answer it grades.
    expect(grader).toMatchObject({ requests: 1, inputTokens: nano.request({ messages }) + 80, outputTokens: 40, maxOutputTokens: 40 });

    // similar: the output's embedding (its assumed tokens) and the expected text's, counted; no output tokens.
    const embed = row(e, 'openai:text-embedding-3-small', 'grading');
    const cl100k = await loadEncoding('cl100k_base');
    expect(embed).toMatchObject({ requests: 2, inputTokens: 80 + cl100k('Yes, the sky is blue.'), outputTokens: 0, maxOutputTokens: 0 });
    expect(embed.batch!.total.expected).toBeCloseTo(((80 + cl100k('Yes, the sky is blue.')) * 0.02) / 2e6, 12);

    const text = estimateText(e, { ...heading, batches: 1 });
    expect(text).toMatch(/^grading: openai:gpt-4\.1-nano \(rough\) +1 +~/m);
    expect(text).toContain('Grading (model-graded assertions) is a second batch sent once the outputs are in: its line is rough');
  });
});

describe('estimatePlan with prompt caching', () => {
  /** 7,000 characters of system prompt, then a question: 2,000 tokens by the 3.5-character rule, above Sonnet 4.5's 1,024. */
  const SYSTEM = 'Policy. '.repeat(875);
  const cachedSuite = (ttl: string) => `prompts:
  - - role: system
      content: ${JSON.stringify(SYSTEM)}
    - role: user
      content: '{{ question }}'
providers:
  - id: anthropic:messages:claude-sonnet-4-5
    config: { max_tokens: 50, promptCaching: ${ttl} }
tests:
  - vars: { question: [one, two, three, four] }
`;

  it('prices the shared prefix as the cache bills it: one write, then reads; "at most" with no read hits', async () => {
    const { suite, plan } = planOf(cachedSuite('true'));
    markPromptCaching(plan.batches, plan.caching);
    const e = await estimatePlan(plan, { pricing: suite.pricing });
    const sonnet = row(e, 'anthropic:claude-sonnet-4-5');
    const prefix = Math.ceil(SYSTEM.length / 3.5);
    expect(prefix).toBe(2000);
    expect(sonnet.cache).toEqual({ writeTokens: prefix, readTokens: 3 * prefix });
    // Sonnet 4.5: $3 input, $3.75 cache write, $0.30 cache read, $15 output per million tokens.
    const uncached = sonnet.inputTokens - 4 * prefix;
    const input = (uncached * 3 + prefix * 3.75 + 3 * prefix * 0.3) / 1e6;
    expect(sonnet.realtime!.expected).toBeCloseTo(input + (4 * 50 * 15) / 1e6, 12);
    expect(sonnet.batch!.input).toBeCloseTo(input / 2, 12);
    expect(sonnet.batch!.total.max).toBeCloseTo(((uncached * 3 + 4 * prefix * 3.75) / 1e6 + (4 * 50 * 15) / 1e6) / 2, 12);

    // Without the breakpoints (caching off), the same requests at the full input price.
    const plain = planOf(cachedSuite('false'));
    const off = row(await estimatePlan(plain.plan, { pricing: plain.suite.pricing }), 'anthropic:claude-sonnet-4-5');
    expect(off.cache).toBeUndefined();
    expect(off.inputTokens).toBe(sonnet.inputTokens);
    expect(off.batch!.input).toBeCloseTo((sonnet.inputTokens * 3) / 2e6, 12);
    expect(sonnet.batch!.total.expected).toBeLessThan(off.batch!.total.expected / 2);

    const text = estimateText(e, { ...heading, batches: 1 });
    expect(text).toContain('if every answer uses all of its max_tokens and no prompt-cache read hits.');
    expect(text).toContain('- Prompt caching, anthropic:claude-sonnet-4-5: of its input, ~2,000 tokens are written to the cache (each shared prefix once, at the cache-write price) and ~6,000 read from it (at the cache-read price).');
  });

  it('the 1-hour cache writes at twice the input price', async () => {
    const { suite, plan } = planOf(cachedSuite("'1h'"));
    markPromptCaching(plan.batches, plan.caching);
    const sonnet = row(await estimatePlan(plan, { pricing: suite.pricing }), 'anthropic:claude-sonnet-4-5');
    const uncached = sonnet.inputTokens - 4 * 2000;
    expect(sonnet.batch!.input).toBeCloseTo((uncached * 3 + 2000 * 6 + 3 * 2000 * 0.3) / 2e6, 12);
  });
});

describe('estimatePlan with conversations', () => {
  it('counts the later turns too, each with the answers before it stood in for at the assumed length', async () => {
    const { suite, plan } = planOf(`prompts:
  - '{% for t in _conversation %}Q: {{ t.input }} A: {{ t.output }} {% endfor %}Q: {{ q }}'
providers:
  - id: openai:gpt-4.1-mini
    config: { max_tokens: 50 }
tests:
  - vars: { q: first }
  - vars: { q: second }
  - vars: { q: third }
`);
    const e = await estimatePlan(plan, { pricing: suite.pricing });
    const mini = row(e, 'openai:gpt-4.1-mini');
    expect(mini.requests).toBe(3);
    expect(e).toMatchObject({ laterTurns: 2, laterRounds: 2 });
    // Each answer before is 50 stand-in words (the assumed 256, capped at max_tokens): one token each, and more.
    const o200k = await loadEncoding('o200k_base');
    const prompt = (text: string) => 3 + 3 + o200k('user') + o200k(text);
    const answer = 'answer '.repeat(50).trimEnd();
    // A text prompt's `input` is the whole prompt as sent: each turn's text holds the texts before it.
    const first = 'Q: first';
    const second = `Q: ${first} A: ${answer} Q: second`;
    const third = `Q: ${first} A: ${answer} Q: ${second} A: ${answer} Q: third`;
    const expected = prompt(first) + prompt(second) + prompt(third);
    expect(mini.inputTokens).toBe(expected);
    expect(estimateText(e, { ...heading, batches: 1 })).toContain('- 2 later turns of conversations (`_conversation`) go in 2 more rounds of batches');
  });
});

describe('overBudget (max-cost)', () => {
  it('is silent within the limit, and above it gives the estimate, the limit and the biggest contributors', async () => {
    const { suite, plan } = planOf(SUITE.replace('  - openai:my-model\n', ''));
    const e = await estimatePlan(plan, { pricing: suite.pricing });
    expect(overBudget(e, e.total.batch.expected, money)).toBeUndefined();
    expect(overBudget(e, 10, money)).toBeUndefined();
    const refusal = overBudget(e, 0.0001, money)!;
    expect(refusal).toMatch(new RegExp(`^the estimated batch cost \\${money(e.total.batch.expected)} is above max-cost \\$0\\.0001, so nothing was sent\\. `));
    // Biggest first: claude-haiku-4-5 costs more than gpt-4.1-mini here.
    expect(refusal).toMatch(/Biggest contributors: anthropic:claude-haiku-4-5 \$[\d.]+ \(3 requests, ~\d+ input tokens\); openai:gpt-4\.1-mini \$[\d.]+ \(3 requests, \d+ input tokens\)\./);
    expect(refusal).toContain('output assumed 256 tokens an answer, capped at max_tokens');
  });

  it('refuses a run with a model whose price is unknown: its cost could be anything', async () => {
    const { suite, plan } = planOf(SUITE);
    const e = await estimatePlan(plan, { pricing: suite.pricing });
    expect(overBudget(e, 1000, money)).toBe(
      'max-cost $1000.00 cannot be checked: no price is known for openai:my-model. Give its price under `pricing:` in the suite (USD per million tokens), or run without max-cost.',
    );
    // With a price override it can be checked.
    const priced = planOf(`${SUITE}pricing:\n  my-model: { input: 1, output: 2 }\n`);
    expect(overBudget(await estimatePlan(priced.plan, { pricing: priced.suite.pricing }), 1000, money)).toBeUndefined();
  });
});

describe('estimate formatting', () => {
  it('labels approximate counts and the assumed output, in the text table and in markdown', async () => {
    const { suite, plan } = planOf(SUITE);
    const e = await estimatePlan(plan, { pricing: suite.pricing });
    const text = estimateText(e, heading);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Estimate: Estimate suite');
    expect(lines[2]).toMatch(/^12 cases, 9 distinct requests to send in 3 batches: expected batch cost \$[\d.]+ for the priced models \(real time \$[\d.]+\), at most \$[\d.]+ if every answer uses all of its max_tokens\.$/);
    expect(text).toMatch(/^Model +Requests +Input tokens +Output tokens +Batch: input +Batch: output +Batch total +Real-time total +Batch, at most$/m);
    expect(text).toMatch(new RegExp(`^anthropic:claude-haiku-4-5 +3 +~${row(e, 'anthropic:claude-haiku-4-5').inputTokens} +~768 `, 'm'));
    expect(text).toMatch(new RegExp(`^openai:gpt-4\\.1-mini +3 +${row(e, 'openai:gpt-4.1-mini').inputTokens} +~300 `, 'm'));
    expect(text).toMatch(/^openai:my-model +3 +\d+ +~768 +price unknown$/m);
    expect(text).toMatch(/^Total \(priced models\) +9 /m);
    expect(text).toContain('~ approximate: anthropic:claude-haiku-4-5 at characters / 3.5, plus 3 a message');
    expect(text).toContain('openai:gpt-4.1-mini with o200k_base, openai:my-model with o200k_base (assumed: an unknown model)');
    expect(text).toContain('assumed 256 an answer (--output-tokens), capped at each request\'s max_tokens');
    expect(text).toContain('No price known for openai:my-model: left out of the totals');

    const md = estimateMarkdown(e, { ...heading, outputOption: 'the output-tokens input' });
    expect(md).toContain('## 🧮 batch-evals estimate: Estimate suite');
    expect(md).toContain('| Model | Requests | Input tokens | Output tokens | Batch: input | Batch: output | Batch total | Real-time total | Batch, at most |');
    expect(md).toMatch(/^\| anthropic:claude-haiku-4-5 \| 3 \| ~\d+ \| ~768 \| \$[\d.]+ \| \$[\d.]+ \| \$[\d.]+ \| \$[\d.]+ \| \$[\d.]+ \|$/m);
    expect(md).toMatch(/^\| \*\*Total \(priced models\)\*\* \| \*\*9\*\* \| \*\*~\d+\*\* \|/m);
    expect(md).toContain('assumed 256 an answer (the output-tokens input)');
  });

  it('names reasoning models, whose hidden reasoning is billed as output', async () => {
    const { suite, plan } = planOf(SUITE.replace('openai:my-model', 'openai:o4-mini'));
    const e = await estimatePlan(plan as Plan, { pricing: suite.pricing });
    expect(e.reasoningModels).toEqual(['openai:o4-mini']);
    expect(estimateText(e, heading)).toContain('openai:o4-mini: reasoning models also bill hidden reasoning tokens as output');
  });
});
