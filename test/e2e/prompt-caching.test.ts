/**
 * Prompt caching end to end: `evaluate()` in-process, through the real `@anthropic-ai/sdk` and `openai` SDKs, against
 * the emulators. The same suite runs with `promptCaching` on and off: on, the Anthropic requests carry cache_control
 * on the shared system prompt, the first writes it and the others read it, and the run costs less by exactly what the
 * report's cache line says it saved. OpenAI caches by itself: its cached_tokens are priced and shown as billed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { estimateSuite, maxCostCheck, OverBudgetError } from '../../src/estimate.ts';
import { batchFacts, evaluate } from '../../src/pipeline.ts';
import { renderMarkdown } from '../../src/report/markdown.ts';
import { captureLog } from '../batch/support.ts';
import { startAnthropicEmulator, type AnthropicEmulator } from '../emulator/anthropic-emulator.ts';
import { startOpenAIEmulator, type OpenAIEmulator } from '../emulator/openai-emulator.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A support policy of 24,000 characters: about 6,860 tokens by our estimate, 6,000 by the emulator's; Haiku 4.5 caches from 4,096. */
const POLICY = `You are the support assistant of Stride, an online shoe shop.\n${'Returns are free within 30 days of delivery; worn shoes cannot be returned. '.repeat(316)}`.slice(0, 24_000);
const QUESTIONS = Array.from({ length: 20 }, (_, i) => `Question ${i + 1}: can I return a pair bought ${i + 1} days ago?`);
const tokens = (text: string) => Math.ceil(text.length / 4);

function suite(promptCaching: string | undefined): string {
  const config = promptCaching === undefined ? '{ max_tokens: 100 }' : `{ max_tokens: 100, promptCaching: ${promptCaching} }`;
  return `description: cached support bot
prompts:
  - - role: system
      content: ${JSON.stringify(POLICY)}
    - role: user
      content: '{{ question }}'
providers:
  - id: anthropic:messages:claude-haiku-4-5
    config: ${config}
  - openai:gpt-4.1-mini
tests:
  - vars:
      question: ${JSON.stringify(QUESTIONS)}
    assert:
      - type: icontains
        value: return
`;
}

function writeSuite(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'batch-evals-cache-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'suite.yaml');
  writeFileSync(file, text);
  return file;
}

async function emulators(): Promise<{ openai: OpenAIEmulator; anthropic: AnthropicEmulator }> {
  // OpenAI caches prompts of 1,024 tokens and more by itself: scripted here, as its usage reports it.
  const openai = await startOpenAIEmulator({ instant: true, script: [{ model: 'gpt-4.1-mini', match: 'Question (?!1:)', reply: 'You can return them.', usage: { cachedTokens: 5888 } }] });
  const anthropic = await startAnthropicEmulator({ instant: true });
  cleanups.push(() => openai.close(), () => anthropic.close());
  return { openai, anthropic };
}

async function run(promptCaching: string | undefined, maxCost?: number) {
  const e = await emulators();
  const capture = captureLog();
  const outcome = await evaluate({
    beforeSubmit: maxCost === undefined ? undefined : maxCostCheck(maxCost, { outputOption: '--output-tokens' }, capture.log),
    configPath: writeSuite(suite(promptCaching)),
    credentials: { openaiApiKey: 'test-key', openaiBaseUrl: e.openai.url, anthropicApiKey: 'test-key', anthropicBaseUrl: e.anthropic.url },
    maxWaitMs: 10_000,
    pollIntervalMs: { initial: 20, max: 100 },
    log: capture.log,
  });
  const markdown = renderMarkdown({ title: 'cache', status: outcome.status, minPassRate: 1, summary: outcome.summary, results: outcome.results, batches: batchFacts(outcome.runs) });
  return { outcome, e, capture, markdown };
}

describe('prompt caching end to end', () => {
  it('with promptCaching the shared system prompt is written once and read 19 times; the run costs less by what the report says was saved', async () => {
    const on = await run('true');
    const off = await run(undefined);
    const haikuOn = on.outcome.summary.providers.find((t) => t.model === 'claude-haiku-4-5')!;
    const haikuOff = off.outcome.summary.providers.find((t) => t.model === 'claude-haiku-4-5')!;

    // What went over the wire: cache_control on the system prompt, only with caching on.
    const sentOn = [...on.e.anthropic.state.batches.values()].flatMap((b) => b.requests.map((r) => r.params));
    expect(sentOn).toHaveLength(20);
    for (const params of sentOn) expect(params.system).toEqual([{ type: 'text', text: POLICY, cache_control: { type: 'ephemeral' } }]);
    const sentOff = [...off.e.anthropic.state.batches.values()].flatMap((b) => b.requests.map((r) => r.params));
    for (const params of sentOff) expect(params.system).toBe(POLICY);
    expect(on.capture.infos().join('\n')).toMatch(/anthropic:claude-haiku-4-5: prompt caching: a cache breakpoint on 20 of 20 requests, one prefix: about 6,858 tokens \(1 block\) shared by 20/);
    // The same requests either way: caching is how they are sent, not what is asked.
    expect(on.outcome.results.map((r) => r.case.requestId)).toEqual(off.outcome.results.map((r) => r.case.requestId));

    // One write, 19 reads, in the emulator's tokens.
    const prefix = tokens(POLICY);
    expect(haikuOn.cache).toEqual({ readTokens: 19 * prefix, writeTokens: prefix, saved: expect.any(Number) });
    expect(haikuOff.cache).toBeUndefined();
    // Priced: (19 x 6,000 x (1 - 0.1) - 6,000 x (1.25 - 1)) / 1M, halved by the batch discount.
    expect(haikuOn.cache!.saved).toBeCloseTo(((19 * prefix * 0.9 - prefix * 0.25) / 1e6) * 0.5, 12);
    // The outputs are the same, so the whole difference in cost is the cache's.
    expect(haikuOff.batchCost - haikuOn.batchCost).toBeCloseTo(haikuOn.cache!.saved, 12);
    expect(haikuOn.batchCost).toBeLessThan(haikuOff.batchCost / 4);
    // The figures of docs/prompt-caching.md's example.
    expect([haikuOff.batchCost, haikuOff.realtimeCost, haikuOn.batchCost, haikuOn.realtimeCost].map((c) => c.toFixed(4))).toEqual(['0.0613', '0.1226', '0.0108', '0.0215']);
    expect(haikuOn.passed).toBe(20);

    // OpenAI: cached_tokens as billed, in both runs.
    const miniOn = on.outcome.summary.providers.find((t) => t.model === 'gpt-4.1-mini')!;
    expect(miniOn.cache).toEqual({ readTokens: 19 * 5888, writeTokens: 0, saved: expect.closeTo(((19 * 5888 * 0.3) / 1e6) * 0.5, 12) });

    const line = on.markdown.split('\n').find((l) => l.startsWith('**Prompt cache**'));
    expect(line).toBe(
      '**Prompt cache** (input tokens; savings against the full input price, at batch prices): ' +
        `anthropic:messages:claude-haiku-4-5 read ${(19 * prefix).toLocaleString('en-US')} tokens, wrote ${prefix.toLocaleString('en-US')}, saved $${haikuOn.cache!.saved.toFixed(4)} · ` +
        `openai:gpt-4.1-mini read ${(19 * 5888).toLocaleString('en-US')} tokens, saved $${miniOn.cache!.saved.toFixed(4)}.`,
    );
    expect(off.markdown).toContain(`**Prompt cache** (input tokens; savings against the full input price, at batch prices): openai:gpt-4.1-mini read ${(19 * 5888).toLocaleString('en-US')} tokens`);
    if (process.env.DEBUG_CACHE) {
      console.log({ on: haikuOn, off: haikuOff, mini: miniOn });
      console.log(on.markdown.split('\n').slice(0, 12).join('\n'));
    }
  });

  it('the estimate prices the cache as the run bills it: a max-cost above the cached estimate but below the uncached one lets only the cached run go', async () => {
    const estimate = async (promptCaching: string | undefined) => (await estimateSuite(writeSuite(suite(promptCaching)), { outputOption: '--output-tokens' })).estimate;
    const on = await estimate('true');
    const off = await estimate(undefined);
    const haiku = (e: typeof on) => e.rows.find((r) => r.model === 'claude-haiku-4-5')!;
    // One write and 19 reads of the system prompt, in our estimate of its tokens (the emulator counts 6,000).
    expect(haiku(on).cache).toEqual({ writeTokens: 6858, readTokens: 19 * 6858 });
    expect(haiku(off).cache).toBeUndefined();
    // The estimated input falls with caching as the billed input does: the emulator bills (6,000 x 1.25 + 19 x 6,000 x
    // 0.1 + 20 x the question) against 20 x (6,000 + the question), a sixth; so does the estimate, by its own count.
    expect(haiku(on).batch!.input / haiku(off).batch!.input).toBeCloseTo((1.25 + 19 * 0.1) / 20, 1);
    expect([haiku(on).batch!.input, haiku(off).batch!.input].map((c) => c.toFixed(4))).toEqual(['0.0110', '0.0688']); // docs/prompt-caching.md

    const limit = (on.total.batch.expected + off.total.batch.expected) / 2;
    await expect(run(undefined, limit)).rejects.toThrow(OverBudgetError);
    const cached = await run('true', limit);
    expect(cached.capture.infos()).toContain(`estimated batch cost $${on.total.batch.expected.toFixed(4)} is within max-cost $${limit.toFixed(4)}`);
    expect(cached.outcome.summary.total.batchCost).toBeLessThan(limit);
    expect(cached.outcome.summary.total.passed).toBe(40);
  });

  it("the 1-hour cache: writes at twice the input price, reads the same", async () => {
    const { outcome, e } = await run("'1h'");
    const haiku = outcome.summary.providers.find((t) => t.model === 'claude-haiku-4-5')!;
    const prefix = tokens(POLICY);
    const params = [...e.anthropic.state.batches.values()][0].requests[0].params;
    expect(params.system).toEqual([{ type: 'text', text: POLICY, cache_control: { type: 'ephemeral', ttl: '1h' } }]);
    expect(haiku.cache).toEqual({ readTokens: 19 * prefix, writeTokens: prefix, saved: expect.closeTo(((19 * prefix * 0.9 - prefix * 1) / 1e6) * 0.5, 12) });
    expect([haiku.batchCost, haiku.realtimeCost].map((c) => c.toFixed(4))).toEqual(['0.0130', '0.0260']); // docs/prompt-caching.md
    const first = outcome.results.find((r) => r.usage?.cacheWrite1hTokens);
    expect(first?.usage).toMatchObject({ cacheWriteTokens: 0, cacheWrite1hTokens: prefix });
  });
});
