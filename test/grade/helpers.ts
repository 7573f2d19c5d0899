import type { Assertion } from '../../src/config/types.ts';

/** An assertion as the config loader makes it, from its type as written (`not-` included). */
export function graded(written: string, value?: unknown, extra: Partial<Assertion> = {}): Assertion {
  const negate = written.startsWith('not-');
  const a: Assertion = { type: negate ? written.slice(4) : written, negate, weight: 1, ...extra };
  if (value !== undefined) a.value = value;
  return a;
}

export const ctx = {
  output: 'Paris is the capital of France.',
  vars: { country: 'France', details: { population: 2100000 } },
  prompt: 'What is the capital of France?',
};
