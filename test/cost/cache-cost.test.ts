/** Prompt-cache pricing: reads and writes at their own prices, the batch discount on all of them, and what caching saved. */
import { describe, expect, it } from 'vitest';
import type { Usage } from '../../src/batch/types.ts';
import { cacheSavingOf, costOf, priceOf } from '../../src/cost/cost.ts';

const usage = (input: number, read: number, write: number, output: number, write1h?: number): Usage => ({
  inputTokens: input,
  cachedInputTokens: read,
  cacheWriteTokens: write,
  outputTokens: output,
  ...(write1h === undefined ? {} : { cacheWrite1hTokens: write1h }),
});

describe('prompt-cache prices', () => {
  const haiku = priceOf('claude-haiku-4-5')!;

  it("Anthropic: reads at 10% of input, 5-minute writes at 125%, 1-hour writes at 200%; batch halves every line", () => {
    expect(haiku).toEqual({ input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25, cacheWrite1h: 2 });
    const u = usage(1000, 10_000, 5000, 200);
    // (1,000 x 1 + 10,000 x 0.1 + 5,000 x 1.25 + 200 x 5) per million.
    expect(costOf(u, haiku, false)).toBeCloseTo(0.00925, 12);
    expect(costOf(u, haiku, true)).toBeCloseTo(0.004625, 12);
    // The 1-hour cache: 5,000 x 2 instead of 5,000 x 1.25.
    expect(costOf(usage(1000, 10_000, 0, 200, 5000), haiku, false)).toBeCloseTo(0.013, 12);
    expect(costOf(usage(1000, 10_000, 0, 200, 5000), haiku, true)).toBeCloseTo(0.0065, 12);
  });

  it('what the cache saved: the reads at full input price less their price, less the write premium, at batch prices', () => {
    const u = usage(1000, 10_000, 5000, 200);
    const saved = cacheSavingOf(u, haiku, true)!;
    // (10,000 x 0.9 - 5,000 x 0.25) / 1M x 0.5
    expect(saved).toBeCloseTo(0.003875, 12);
    // The same as the cost of the same tokens all at the input price, less the cost with caching.
    const uncached = usage(1000 + 10_000 + 5000, 0, 0, 200);
    expect(costOf(uncached, haiku, true) - costOf(u, haiku, true)).toBeCloseTo(saved, 12);
    expect(cacheSavingOf(usage(1000, 10_000, 0, 200, 5000), haiku, true)).toBeCloseTo(0.002, 12);
    // Writes that nobody reads cost more than not caching.
    expect(cacheSavingOf(usage(1000, 0, 5000, 200), haiku, true)).toBeCloseTo(-0.000625, 12);
    expect(cacheSavingOf(usage(1000, 0, 0, 200), haiku, true)).toBeUndefined();
  });

  it("OpenAI: cached_tokens at the model's cached price, with the batch discount; no writes", () => {
    const mini = priceOf('gpt-4.1-mini')!;
    const u = usage(1000, 3000, 0, 100);
    expect(costOf(u, mini, true)).toBeCloseTo((1000 * 0.4 + 3000 * 0.1 + 100 * 1.6) / 1e6 / 2, 12);
    expect(cacheSavingOf(u, mini, true)).toBeCloseTo((3000 * 0.3) / 1e6 / 2, 12);
  });

  it("a suite's price override without cache prices: reads and writes at the input price, 1-hour writes at twice it", () => {
    const custom = priceOf('my-model', { 'my-model': { input: 2, output: 4 } })!;
    expect(cacheSavingOf(usage(0, 1000, 1000, 0), custom, false)).toBe(0);
    expect(costOf(usage(0, 0, 0, 0, 1000), custom, false)).toBeCloseTo(0.004, 12);
    const withPrices = priceOf('my-model', { 'my-model': { input: 2, output: 4, cachedInput: 0.2, cacheWrite: 2.5 } })!;
    expect(cacheSavingOf(usage(0, 1000, 1000, 0), withPrices, false)).toBeCloseTo((1000 * 1.8 - 1000 * 0.5) / 1e6, 12);
  });
});
