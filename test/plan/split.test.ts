import { describe, expect, it } from 'vitest';
import type { BatchRequest } from '../../src/batch/types.ts';
import type { PlannedBatch } from '../../src/plan/plan.ts';
import { estimateTokens, PROVIDER_LIMITS, requestBytes, splitBatches } from '../../src/plan/split.ts';

function batch(provider: 'openai' | 'anthropic', n: number, content = 'Hello there, how are you?'): PlannedBatch {
  const requests: BatchRequest[] = Array.from({ length: n }, (_, i) => ({ id: `r${i}`, model: 'm', messages: [{ role: 'user', content: `${content} ${i}` }], params: {} }));
  return { key: `${provider}||m`, provider, model: 'm', requests };
}

describe('splitting a model into batches', () => {
  it('keeps a batch under every limit whole, with its key', () => {
    const b = batch('openai', 10);
    expect(splitBatches([b])).toEqual([b]);
  });

  it("splits at the provider's request limit: 50,001 OpenAI requests make two batches, parts keyed #1 and #2", () => {
    const parts = splitBatches([batch('openai', 50_001, 'x')]);
    expect(parts.map((p) => [p.key, p.requests.length, p.part])).toEqual([
      ['openai||m#1', 50_000, { index: 1, of: 2 }],
      ['openai||m#2', 1, { index: 2, of: 2 }],
    ]);
    expect(splitBatches([batch('anthropic', 100_000, 'x')])).toHaveLength(1);
    expect(PROVIDER_LIMITS.anthropic.maxRequests).toBe(100_000);
  });

  it("splits at the suite's own caps: requests, and estimated input tokens for all models or per model", () => {
    expect(splitBatches([batch('openai', 10)], { maxRequests: 4 }).map((p) => p.requests.length)).toEqual([4, 4, 2]);
    const tokens = estimateTokens(batch('openai', 1).requests[0]);
    expect(splitBatches([batch('openai', 10)], { maxEnqueuedTokens: tokens * 3 }).map((p) => p.requests.length)).toEqual([3, 3, 3, 1]);
    expect(splitBatches([batch('openai', 10)], { maxEnqueuedTokens: { m: tokens * 5 } }).map((p) => p.requests.length)).toEqual([5, 5]);
    expect(splitBatches([batch('openai', 10)], { maxEnqueuedTokens: { other: 1 } })).toHaveLength(1);
  });

  it("splits by size, with a 5% margin under the provider's byte limit", () => {
    const limits = { ...PROVIDER_LIMITS, openai: { maxRequests: 50_000, maxBytes: 10_000 } };
    const b = batch('openai', 100, 'x'.repeat(400));
    const parts = splitBatches([b], {}, limits);
    expect(parts.reduce((n, p) => n + p.requests.length, 0)).toBe(100);
    for (const part of parts) expect(part.requests.reduce((n, r) => n + requestBytes(r), 0)).toBeLessThanOrEqual(9_500);
    const perBatch = Math.floor(9_500 / requestBytes(b.requests[10]));
    expect(parts[0].requests.length).toBe(perBatch);
  });

  it('never splits a single request that is alone over a cap (the provider says why)', () => {
    expect(splitBatches([batch('openai', 1, 'x'.repeat(100))], { maxEnqueuedTokens: 1 }).map((p) => p.requests.length)).toEqual([1]);
  });
});
