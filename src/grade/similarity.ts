import type { Assertion } from '../config/types.ts';
import { errorMessage, snippet } from '../score/script.ts';
import type { AssertionResult } from '../score/types.ts';
import { similarExpected } from './prompts.ts';
import { fmt } from './verdict.ts';

/** `similar`'s threshold when the assertion sets none (promptfoo's default). */
export const DEFAULT_SIMILAR_THRESHOLD = 0.75;

/**
 * Cosine similarity of two embeddings, in [-1, 1]. Throws when they are empty, of different lengths, hold a value
 * that is not a finite number, or one of them is all zeros (no direction to compare).
 */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) throw new Error('an embedding is empty');
  if (a.length !== b.length) throw new Error(`the embeddings have different lengths (${a.length} and ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error(`an embedding holds a value that is not a finite number (at ${i})`);
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 || nb === 0) throw new Error('an embedding is all zeros');
  // Rounding can take identical vectors a hair past 1.
  return Math.min(1, Math.max(-1, dot / (Math.sqrt(na) * Math.sqrt(nb))));
}

/**
 * promptfoo's `similar`: the cosine similarity of the output's embedding to each expected value's (in the order of
 * `similarExpected`, as `embeddingInputs` lists them after the output) against the threshold (default 0.75).
 *
 * - `similar` passes when any expected value reaches the threshold; the score is the similarity to the first that
 *   does, else the highest similarity.
 * - `not-similar` passes when no expected value reaches past the threshold; the score is 1 - similarity: to the
 *   first value that is too similar when it fails, else to the closest value.
 *
 * Embeddings that cannot be compared fail the assertion (never flipped by `not-`), with the reason.
 */
export function similarVerdict(
  assertion: Assertion,
  outputVector: readonly number[],
  expectedVectors: readonly (readonly number[])[],
): AssertionResult {
  const name = assertion.negate ? 'not-similar' : 'similar';
  let expected: string[];
  let sims: number[];
  try {
    expected = similarExpected(assertion);
    if (expectedVectors.length !== expected.length) {
      throw new Error(`${expectedVectors.length} embeddings for ${expected.length} expected values`);
    }
    sims = expectedVectors.map((v) => cosineSimilarity(outputVector, v));
  } catch (err) {
    return { assertion, pass: false, score: 0, reason: `${name}: cannot compare the embeddings: ${errorMessage(err)}` };
  }

  const threshold = typeof assertion.threshold === 'number' && Number.isFinite(assertion.threshold) ? assertion.threshold : DEFAULT_SIMILAR_THRESHOLD;
  const several = expected.length > 1;
  const to = (i: number) => (several ? ` (to "${snippet(expected[i], 80)}")` : '');
  const reaches = (s: number) => s >= threshold - Number.EPSILON;

  if (!assertion.negate) {
    const hit = sims.findIndex(reaches);
    if (hit !== -1) {
      const reason = `Similarity ${fmt(sims[hit])} is greater than or equal to threshold ${threshold}${to(hit)}`;
      return { assertion, pass: true, score: sims[hit], reason };
    }
    const best = argMax(sims);
    const reason = several
      ? `None of the ${expected.length} expected values met the similarity threshold ${threshold}; the closest is at ${fmt(sims[best])}${to(best)}`
      : `Similarity ${fmt(sims[best])} is less than threshold ${threshold}`;
    return { assertion, pass: false, score: sims[best], reason };
  }

  const tooClose = sims.findIndex((s) => s > threshold + Number.EPSILON);
  if (tooClose !== -1) {
    const reason = `Similarity ${fmt(sims[tooClose])} is greater than threshold ${threshold}${to(tooClose)}, which not-similar must not be`;
    return { assertion, pass: false, score: 1 - sims[tooClose], reason };
  }
  const closest = argMax(sims);
  const reason = several
    ? `No expected value is more similar than threshold ${threshold}; the closest is at ${fmt(sims[closest])}${to(closest)}`
    : `Similarity ${fmt(sims[closest])} is less than or equal to threshold ${threshold}`;
  return { assertion, pass: true, score: 1 - sims[closest], reason };
}

function argMax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
