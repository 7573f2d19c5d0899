/**
 * Model-graded assertions end to end: `evaluate()` in-process against the OpenAI and Anthropic emulators through the
 * real SDKs. Generation is one batch; the outputs then go out again as grading batches (a chat batch per grader
 * model, an embeddings batch for `similar`), and the verdicts, with the grader's reasoning, decide the cases.
 *
 * The emulators' default grader (test/emulator/README.md, "Grading requests") passes an output that holds at least
 * half the content words of the rubric (or reference, or question), so each verdict below follows from the texts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchFacts, evaluate, runState, type EvalOutcome } from '../../src/pipeline.ts';
import { renderMarkdown } from '../../src/report/markdown.ts';
import { captureLog } from '../batch/support.ts';
import { startAnthropicEmulator, type AnthropicEmulator } from '../emulator/anthropic-emulator.ts';
import { startOpenAIEmulator, type Fault, type OpenAIEmulator, type ScriptRule } from '../emulator/openai-emulator.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What the model under test answers, per question (the graders' requests hold the question too: model-bound). */
const ANSWERS: ScriptRule[] = [
  { model: 'gpt-4.1-mini', match: /refund policy/, reply: 'Refunds are free within 30 days of delivery.' },
  { model: 'gpt-4.1-mini', match: /capital of France/, reply: 'The capital of France is Paris.' },
  { model: 'gpt-4.1-mini', match: /opening hours/, reply: 'We sell shoes for running and hiking.' },
];

const SUITE = `description: model-graded suite
prompts:
  - '{{ question }}'
providers:
  - openai:gpt-4.1-mini
tests:
  - description: rubric passes
    vars: { question: What is your refund policy? }
    assert:
      - type: llm-rubric
        value: says that refunds are free
  - description: rubric fails
    vars: { question: What is your refund policy? Mention the warranty. }
    assert:
      - type: llm-rubric
        value: mentions the warranty period
        metric: warranty
  - description: similar passes, not-similar fails
    vars: { question: What is the capital of France? }
    assert:
      - type: similar
        value: Paris is the capital of France
        threshold: 0.8
      - type: not-similar
        value: Paris is the capital of France
  - description: similar by dot product and by distance
    vars: { question: What is the capital of France? }
    assert:
      - type: similar:dot
        value: Paris is the capital of France
        threshold: 0.8
      - type: similar:euclidean
        value: Paris is the capital of France
        threshold: 0.6
      - type: not-similar:euclidean
        value: Shoes for running and hiking
        threshold: 0.6
  - description: factuality against a reference
    vars: { question: What is the capital of France? Be factual. }
    assert:
      - type: factuality
        value: The capital of France is Paris.
  - description: graded by Anthropic, with the suite's own rubric prompt
    vars: { question: What are your opening hours? }
    assert:
      - type: llm-rubric
        value: opening hours of the shop
        provider: anthropic:messages:claude-haiku-4-5
        rubricPrompt: 'Grade strictly. <Output>{{ output }}</Output> <Rubric>{{ rubric }}</Rubric> Reply in JSON.'
  - description: a deterministic failure decides the case whatever the grade
    vars: { question: What is your refund policy? Be brief. }
    assert:
      - type: contains
        value: never said
      - type: llm-rubric
        value: says that refunds are free
  - description: no model-graded assertion
    vars: { question: What is the capital of France? Short. }
    assert:
      - type: icontains
        value: paris
`;

function writeSuite(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'batch-evals-graded-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'suite.yaml');
  writeFileSync(file, text);
  return file;
}

async function emulators(faults: Fault[] = []): Promise<{ openai: OpenAIEmulator; anthropic: AnthropicEmulator }> {
  const openai = await startOpenAIEmulator({ instant: true, script: ANSWERS, faults });
  const anthropic = await startAnthropicEmulator({ instant: true, script: ANSWERS });
  cleanups.push(() => openai.close(), () => anthropic.close());
  return { openai, anthropic };
}

function run(configPath: string, e: { openai: OpenAIEmulator; anthropic: AnthropicEmulator }, extra: Partial<Parameters<typeof evaluate>[0]> = {}) {
  const capture = captureLog();
  const outcome = evaluate({
    configPath,
    credentials: { openaiApiKey: 'test-key', openaiBaseUrl: e.openai.url, anthropicApiKey: 'test-key', anthropicBaseUrl: e.anthropic.url },
    maxWaitMs: 10_000,
    pollIntervalMs: { initial: 20, max: 100 },
    log: capture.log,
    ...extra,
  });
  return { outcome, capture };
}

function byDescription(outcome: EvalOutcome) {
  return Object.fromEntries(outcome.results.map((r) => [r.case.description, r]));
}

describe('model-graded assertions', () => {
  it('grades the outputs in a second batch per grader and decides each case by the verdicts', async () => {
    const e = await emulators();
    const { outcome: running, capture } = run(writeSuite(SUITE), e);
    const outcome = await running;
    const cases = byDescription(outcome);
    if (process.env.DEBUG_GRADED) for (const r of outcome.results) console.log(r.case.description, r.status, r.output, r.error, JSON.stringify(r.score?.assertions.map((a) => [a.pass, a.score, a.reason])));

    expect(cases['rubric passes'].status).toBe('passed');
    const failed = cases['rubric fails'];
    expect(failed.status).toBe('failed');
    // The grader's reasoning is kept with the result.
    expect(failed.score?.assertions[0].reason).toMatch(/missing: .*"warranty"/);
    expect(failed.score?.namedScores.warranty).toBe(0);

    const similar = cases['similar passes, not-similar fails'];
    expect(similar.status).toBe('failed');
    expect(similar.score?.assertions.map((a) => a.pass)).toEqual([true, false]);
    // The emulator's embeddings are normalised: the dot product is the cosine, the distance sqrt(2 - 2 cosine).
    const cosine = similar.score!.assertions[0].score;
    const metrics = cases['similar by dot product and by distance'];
    expect(metrics.status).toBe('passed');
    const [dot, distance, far] = metrics.score!.assertions;
    expect(dot.score).toBeCloseTo(cosine, 5);
    expect(distance.score).toBeCloseTo(1 / (1 + Math.sqrt(2 - 2 * cosine)), 5);
    expect(distance.reason).toMatch(/^Distance 0\.\d+ is less than or equal to threshold 0\.6$/);
    expect(far.reason).toMatch(/^Distance 1\.\d+ is greater than or equal to threshold 0\.6$/);

    expect(cases['factuality against a reference'].status).toBe('passed');
    const anthropicGraded = cases['graded by Anthropic, with the suite\'s own rubric prompt'];
    expect(anthropicGraded.status).toBe('failed');
    expect(anthropicGraded.score?.assertions[0].reason).toMatch(/missing/);

    const decided = cases['a deterministic failure decides the case whatever the grade'];
    expect(decided.status).toBe('failed');
    expect(decided.score?.assertions.map((a) => a.pass)).toEqual([false, true]);
    expect(cases['no model-graded assertion'].status).toBe('passed');

    // One generation batch; then grading: a chat batch for the default grader, one for Anthropic, one of embeddings.
    const openaiBatches = [...e.openai.state.batches.values()];
    expect(openaiBatches.map((b) => b.endpoint).sort()).toEqual(['/v1/chat/completions', '/v1/chat/completions', '/v1/embeddings']);
    expect(e.anthropic.state.batches.size).toBe(1);
    expect(e.openai.state.doubleBilled()).toEqual([]);
    const graders = outcome.runs.filter((r) => r.batch.purpose === 'grading').map((r) => `${r.batch.provider}:${r.batch.model}`);
    expect(graders.sort()).toEqual(['anthropic:claude-haiku-4-5', 'openai:gpt-4.1', 'openai:text-embedding-3-large']);
    // The default grader is said in the log.
    expect(capture.infos().join('\n')).toMatch(/graded by openai:gpt-4\.1, the default/);
    expect(capture.infos().join('\n')).toMatch(/similar: embeddings by openai:text-embedding-3-large, the default/);

    // Grading has its own cost line, in the totals.
    const { grading, total, providers } = outcome.summary;
    expect(grading?.requests).toBeGreaterThan(0);
    expect(grading!.batchCost).toBeGreaterThan(0);
    expect(grading!.realtimeCost).toBeCloseTo(grading!.batchCost * 2, 10);
    expect(total.batchCost).toBeCloseTo(providers[0].batchCost + grading!.batchCost, 10);

    const markdown = renderMarkdown({ title: 'graded', status: outcome.status, minPassRate: 1, summary: outcome.summary, results: outcome.results, batches: batchFacts(outcome.runs) });
    expect(markdown).toMatch(/\| Grading \(openai:gpt-4\.1, .*\d+ requests\) \|/);
    expect(markdown).toContain('warranty');
  }, 30_000);

  it('resumes a run left in grading: the grading batch is collected, not sent again', async () => {
    // The second batch created (the grading batch) stays finalizing until released.
    const e = await emulators([{ kind: 'stuck', skip: 1, times: 1 }]);
    const config = writeSuite(`prompts: ['{{ question }}']
providers: [openai:gpt-4.1-mini]
tests:
  - description: graded
    vars: { question: What is your refund policy? }
    assert:
      - type: icontains
        value: refunds
      - type: llm-rubric
        value: says that refunds are free
  - description: plain
    vars: { question: What is the capital of France? }
    assert:
      - type: icontains
        value: paris
`);
    const first = await run(config, e, { maxWaitMs: 1_500 }).outcome;
    expect(first.status).toBe('pending');
    const cases = byDescription(first);
    expect(cases.plain.status).toBe('passed');
    expect(cases.graded.status).toBe('pending');
    // Its deterministic assertion is scored already.
    expect(cases.graded.score?.assertions[0].pass).toBe(true);
    const state = runState(first, { suiteId: 's', configPath: 'suite.yaml', sha: 'abc' });
    expect(state.phase).toBe('grading');
    expect(state.batches).toHaveLength(2);

    e.openai.state.releaseBatch();
    const second = await run(config, e, { attach: state }).outcome;
    expect(second.status).toBe('completed');
    expect(byDescription(second).graded.status).toBe('passed');
    // Nothing was submitted again, and nothing billed twice.
    expect(e.openai.state.batches.size).toBe(2);
    expect(e.openai.state.doubleBilled()).toEqual([]);
  }, 30_000);

  it("factuality's category scores come from options.factuality: a category scored 0 fails", async () => {
    const e = await emulators();
    const config = writeSuite(`prompts: ['{{ question }}']
providers: [openai:gpt-4.1-mini]
defaultTest:
  options:
    factuality: { agree: 0 }
tests:
  - vars: { question: What is the capital of France? }
    assert:
      - type: factuality
        value: The capital of France is Paris.
`);
    const [r] = (await run(config, e).outcome).results;
    // The emulator's grader answers category C (the same details), which this suite scores 0.
    expect(r.status).toBe('failed');
    expect(r.score?.assertions[0].reason).toMatch(/^Category C/);
  }, 30_000);

  it('a grading request that fails for good leaves its case errored with the provider\'s reason, the output kept', async () => {
    const e = await emulators();
    e.openai.state.addFault({ kind: 'request', model: 'gpt-4.1', error: { status: 400, message: 'grader refused' } });
    const config = writeSuite(`prompts: ['{{ question }}']
providers: [openai:gpt-4.1-mini]
tests:
  - vars: { question: What is your refund policy? }
    assert:
      - type: llm-rubric
        value: says that refunds are free
`);
    const outcome = await run(config, e).outcome;
    const [r] = outcome.results;
    expect(r.status).toBe('errored');
    expect(r.error).toMatch(/could not be graded: .*grader refused/);
    expect(r.output).toBe('Refunds are free within 30 days of delivery.');
  }, 30_000);
});
