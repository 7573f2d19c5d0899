/**
 * Reusing earlier outputs: `evaluate()` in-process against the OpenAI and Anthropic emulators through the real SDKs,
 * with the outputs of one run handed to the next. Only requests whose id (provider, model, params and rendered
 * messages) has no earlier answer are sent; the report counts the reused cases per model and what they saved.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchFacts, evaluate } from '../../src/pipeline.ts';
import { renderMarkdown } from '../../src/report/markdown.ts';
import { EarlierOutputs } from '../../src/reuse/earlier-outputs.ts';
import { captureLog } from '../batch/support.ts';
import { startAnthropicEmulator, type AnthropicEmulator } from '../emulator/anthropic-emulator.ts';
import { startOpenAIEmulator, type OpenAIEmulator } from '../emulator/openai-emulator.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function suite(questions: string[], options: { anthropicReuse?: boolean; graded?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'batch-evals-reuse-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'suite.yaml');
  const tests = questions
    .map((q) => `  - vars: { question: ${JSON.stringify(q)} }\n    assert:\n      - type: icontains\n        value: asked\n${options.graded ? '      - type: llm-rubric\n        value: repeats the question\n' : ''}`)
    .join('');
  writeFileSync(
    file,
    `prompts: ['{{ question }}']\nproviders:\n  - openai:gpt-4.1-mini\n  - id: anthropic:messages:claude-haiku-4-5\n${options.anthropicReuse === false ? '    reuse: false\n' : ''}tests:\n${tests}`,
  );
  return file;
}

async function emulators() {
  const openai = await startOpenAIEmulator({ instant: true });
  const anthropic = await startAnthropicEmulator({ instant: true });
  cleanups.push(() => openai.close(), () => anthropic.close());
  return { openai, anthropic };
}

async function run(configPath: string, e: { openai: OpenAIEmulator; anthropic: AnthropicEmulator }, reuse?: EarlierOutputs) {
  return evaluate({
    configPath,
    credentials: { openaiApiKey: 'k', openaiBaseUrl: e.openai.url, anthropicApiKey: 'k', anthropicBaseUrl: e.anthropic.url },
    maxWaitMs: 10_000,
    pollIntervalMs: { initial: 20, max: 100 },
    log: captureLog().log,
    reuse,
  });
}

/** Requests the emulators received in batches, per provider. */
function sent(e: { openai: OpenAIEmulator; anthropic: AnthropicEmulator }) {
  const openai = [...e.openai.state.batches.values()].reduce((n, b) => n + b.requests.length, 0);
  const anthropic = [...e.anthropic.state.batches.values()].reduce((n, b) => n + (b as unknown as { requests: unknown[] }).requests.length, 0);
  return { openai, anthropic };
}

const QUESTIONS = Array.from({ length: 20 }, (_, i) => `Question ${i + 1}`);

describe('reusing earlier outputs', () => {
  it('sends only the requests that changed, and the report says what was reused and saved', async () => {
    const e = await emulators();
    const first = new EarlierOutputs();
    const base = await run(suite(QUESTIONS), e, first);
    expect(base.summary.total.passed).toBe(40);
    expect(sent(e)).toEqual({ openai: 20, anthropic: 20 });
    expect(Object.keys(first.toDocument().outputs)).toHaveLength(40);

    // One question of twenty changed: one request per provider is new.
    const changed = QUESTIONS.map((q, i) => (i === 3 ? 'Question four, reworded' : q));
    const earlier = EarlierOutputs.fromDocument(JSON.stringify(first.toDocument())).outputs!;
    const outcome = await run(suite(changed), e, earlier);
    expect(sent(e)).toEqual({ openai: 21, anthropic: 21 });
    expect(outcome.summary.total.passed).toBe(40);
    const [openai, anthropic] = outcome.summary.providers;
    expect([openai.reused, anthropic.reused]).toEqual([19, 19]);
    // The reused requests cost nothing now: only the two sent are charged, and the rest is counted as saved.
    const costOf = (results: typeof base.results, keep: (r: (typeof base.results)[number]) => boolean) => results.filter((r) => r.billed && keep(r)).reduce((n, r) => n + r.cost!.batch, 0);
    expect(outcome.summary.total.batchCost).toBeCloseTo(costOf(outcome.results, (r) => !r.reused), 12);
    expect(outcome.summary.total.batchCost).toBeGreaterThan(0);
    expect(outcome.summary.total.reuseSaved).toBeCloseTo(costOf(base.results, (r) => r.case.vars.question !== 'Question 4'), 12);
    const reusedCase = outcome.results.find((r) => r.case.vars.question === 'Question 1')!;
    expect(reusedCase.reused).toBe(true);
    expect(reusedCase.output).toBe(base.results.find((r) => r.case.vars.question === 'Question 1')!.output);

    const markdown = renderMarkdown({ title: 't', status: outcome.status, minPassRate: 1, summary: outcome.summary, results: outcome.results, batches: batchFacts(outcome.runs) });
    expect(markdown).toContain('♻️ **Reused earlier outputs**');
    expect(markdown).toMatch(/openai:gpt-4\.1-mini 19 of 20 cases \(1 sent\)/);
  }, 30_000);

  it('a run whose requests were all answered before submits nothing and ends at once', async () => {
    const e = await emulators();
    const first = new EarlierOutputs();
    await run(suite(QUESTIONS, { graded: true }), e, first);
    const before = { openai: e.openai.state.batches.size, anthropic: e.anthropic.state.batches.size };
    const started = Date.now();
    const outcome = await run(suite(QUESTIONS, { graded: true }), e, EarlierOutputs.fromDocument(JSON.stringify(first.toDocument())).outputs!);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect({ openai: e.openai.state.batches.size, anthropic: e.anthropic.state.batches.size }).toEqual(before);
    expect(outcome.runs).toEqual([]);
    expect(outcome.status).toBe('completed');
    // The grading was reused too: the same rubric for the same output is the same grading request.
    expect(outcome.summary.grading?.requests).toBeGreaterThan(0);
    expect(outcome.summary.grading?.reused).toBe(outcome.summary.grading?.requests);
    expect(outcome.summary.total.batchCost).toBe(0);
  }, 30_000);

  it('a provider with reuse: false is always sent', async () => {
    const e = await emulators();
    const first = new EarlierOutputs();
    await run(suite(QUESTIONS, { anthropicReuse: false }), e, first);
    await run(suite(QUESTIONS, { anthropicReuse: false }), e, EarlierOutputs.fromDocument(JSON.stringify(first.toDocument())).outputs!);
    expect(sent(e)).toEqual({ openai: 20, anthropic: 40 });
  }, 30_000);

  it('a damaged outputs document is not used', () => {
    expect(EarlierOutputs.fromDocument('{"version":1,"outputs":').problem).toMatch(/not JSON/);
    expect(EarlierOutputs.fromDocument('{"version":2,"outputs":{}}').problem).toMatch(/not an outputs document/);
    const { outputs } = EarlierOutputs.fromDocument('{"version":1,"outputs":{"r1":{"text":"x"},"r2":{"text":"y","usage":{"inputTokens":1,"outputTokens":2,"cachedInputTokens":0,"cacheWriteTokens":0}}}}');
    expect(outputs!.size).toBe(1);
  });
});
