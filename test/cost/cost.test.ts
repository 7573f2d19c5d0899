import { describe, expect, it } from 'vitest';
import type { Usage } from '../../src/batch/types.ts';
import { addUsage, costOf, emptyCost, priceOf } from '../../src/cost/cost.ts';

const usage = (input: number, output: number, cached = 0, cacheWrite = 0): Usage => ({
  inputTokens: input,
  outputTokens: output,
  cachedInputTokens: cached,
  cacheWriteTokens: cacheWrite,
});

function runCost(model: string, requests: number, input: number, output: number) {
  const total = emptyCost();
  const price = priceOf(model);
  for (let i = 0; i < requests; i++) addUsage(total, usage(input, output), price);
  return total;
}

describe('the worked examples of the design', () => {
  it('gpt-4o, 5,000 requests x (800 in, 200 out): $20.00 real time, $10.00 batch', () => {
    const total = runCost('gpt-4o', 5_000, 800, 200);
    expect(total.realtime.toFixed(2)).toBe('20.00');
    expect(total.batch.toFixed(2)).toBe('10.00');
  });

  it('Claude Sonnet 4, 50,000 requests x (1,200 in, 500 out): $555.00 real time, $277.50 batch', () => {
    const total = runCost('claude-sonnet-4-20250514', 50_000, 1_200, 500);
    expect(total.realtime.toFixed(2)).toBe('555.00');
    expect(total.batch.toFixed(2)).toBe('277.50');
  });
});

describe('prices', () => {
  it('matches dated versions to their model, and not a longer sibling', () => {
    expect(priceOf('gpt-4o-2024-08-06')).toEqual(priceOf('gpt-4o'));
    expect(priceOf('gpt-4o-mini')?.input).toBe(0.15);
    expect(priceOf('gpt-4o-mini-2024-07-18')?.input).toBe(0.15);
    expect(priceOf('claude-3-5-haiku-latest')?.input).toBe(0.8);
  });

  it('says unknown for a model it has no price for, never zero', () => {
    expect(priceOf('gpt-9-turbo')).toBeUndefined();
    expect(priceOf('gpt-4o-custom')).toBeUndefined();
    const total = emptyCost();
    addUsage(total, usage(100, 100), priceOf('gpt-9-turbo'));
    expect(total.unpricedRequests).toBe(1);
    expect(total.batch).toBe(0);
  });

  it('takes a suite override over the table', () => {
    expect(priceOf('gpt-4o', { 'gpt-4o': { input: 1, output: 2 } })).toEqual({ input: 1, output: 2, cachedInput: 1, cacheWrite: 1 });
    expect(priceOf('my-model', { 'my-model': { input: 1, output: 2, cachedInput: 0.5 } })?.cachedInput).toBe(0.5);
  });

  it('prices cached input reads and cache writes at their own prices', () => {
    const sonnet = priceOf('claude-sonnet-4')!;
    // 1M plain input ($3) + 1M cache read ($0.30) + 1M cache write ($3.75) + 1M output ($15)
    expect(costOf(usage(1e6, 1e6, 1e6, 1e6), sonnet, false)).toBeCloseTo(22.05, 6);
    expect(costOf(usage(1e6, 1e6, 1e6, 1e6), sonnet, true)).toBeCloseTo(11.025, 6);
    const mini = priceOf('gpt-4.1-mini')!;
    expect(costOf(usage(0, 0, 1e6), mini, false)).toBeCloseTo(0.1, 6);
  });
});
