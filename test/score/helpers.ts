import type { Assertion } from '../../src/config/types.ts';
import type { AssertionContext } from '../../src/score/types.ts';

/** An assertion as the loader makes it: `not-x` becomes type `x` with negate set, weight defaults to 1. */
export function assertion(written: string, value?: unknown, extra: Partial<Assertion> = {}): Assertion {
  const negate = written.startsWith('not-');
  return { type: negate ? written.slice(4) : written, negate, value, weight: 1, ...extra };
}

export const ctx: AssertionContext = {
  vars: { city: 'Paris', lang: 'fr' },
  prompt: 'What is the capital of France?',
  provider: 'gpt-4.1-mini',
  usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0 },
  cost: 0.002,
};
