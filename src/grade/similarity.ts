import type { Assertion } from '../config/types.ts';
import { errorMessage, snippet } from '../score/script.ts';
import type { AssertionResult } from '../score/types.ts';
import { similarExpected } from './prompts.ts';
import { fmt } from './verdict.ts';
import { assertionName } from '../config/assertion-types.ts';

/** `similar`'s threshold when the assertion sets none (promptfoo's default). */
export const DEFAULT_SIMILAR_THRESHOLD = 0.75;

/** Checks two embeddings can be compared: not empty, the same length, finite numbers. */
function checkComparable(a: readonly number[], b: readonly number[]): void {
  if (a.length === 0 || b.length === 0) throw new Error('an embedding is empty');
  if (a.length !== b.length) throw new Error(`the embeddings have different lengths (${a.length} and ${b.length})`);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) throw new Error(`an embedding holds a value that is not a finite number (at ${i})`);
  }
}

/**
 * Cosine similarity of two embeddings, in [-1, 1]. Throws when they are empty, of different lengths, hold a value
 * that is not a finite number, or one of them is all zeros (no direction to compare).
 */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  checkComparable(a, b);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na === 0 || nb === 0) throw new Error('an embedding is all zeros');
  // Rounding can take identical vectors a hair past 1.
  return Math.min(1, Math.max(-1, dot / (Math.sqrt(na) * Math.sqrt(nb))));
}

/** The dot product of two embeddings (for normalized ones, such as OpenAI's, their cosine similarity). */
export function dotProduct(a: readonly number[], b: readonly number[]): number {
  checkComparable(a, b);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}

/** The straight-line distance between two embeddings, from 0 (the same) up. */
export function euclideanDistance(a: readonly number[], b: readonly number[]): number {
  checkComparable(a, b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum);
}

/** How a metric compares: its measure of two embeddings, whether lower is closer, and its score in [0, 1]-ish. */
interface Metric {
  measure: (a: readonly number[], b: readonly number[]) => number;
  /** Euclidean is a distance: the threshold is the most it may be. The similarities: the least. */
  distance: boolean;
  /** promptfoo's score of one measure: the similarity itself, or 1 / (1 + distance). */
  score: (m: number) => number;
  word: string;
}

const METRICS: Record<'cosine' | 'dot' | 'euclidean', Metric> = {
  cosine: { measure: cosineSimilarity, distance: false, score: (m) => m, word: 'Similarity' },
  dot: { measure: dotProduct, distance: false, score: (m) => m, word: 'Similarity' },
  euclidean: { measure: euclideanDistance, distance: true, score: (d) => 1 / (1 + d), word: 'Distance' },
};

/**
 * promptfoo's `similar`: the output's embedding against each expected value's (in the order of `similarExpected`, as
 * `embeddingInputs` lists them after the output), by cosine similarity (`similar`, `similar:cosine`), dot product
 * (`similar:dot`) or euclidean distance (`similar:euclidean`), against the threshold (default 0.75). For the
 * similarities the threshold is the least one that passes; for the distance, the most.
 *
 * - `similar` passes when any expected value is within the threshold; the score (the similarity, or 1 / (1 +
 *   distance)) is that of the first that is, else of the closest.
 * - `not-similar` passes when no expected value is within it, strictly; the score is 1 - that: of the first value that
 *   is too close when it fails, else of the closest value.
 *
 * Embeddings that cannot be compared fail the assertion (never flipped by `not-`), with the reason.
 */
export function similarVerdict(
  assertion: Assertion,
  outputVector: readonly number[],
  expectedVectors: readonly (readonly number[])[],
): AssertionResult {
  const name = assertionName(assertion);
  const metric = METRICS[assertion.similarity ?? 'cosine'];
  let expected: string[];
  let measures: number[];
  try {
    expected = similarExpected(assertion);
    if (expectedVectors.length !== expected.length) {
      throw new Error(`${expectedVectors.length} embeddings for ${expected.length} expected values`);
    }
    measures = expectedVectors.map((v) => metric.measure(outputVector, v));
  } catch (err) {
    return { assertion, pass: false, score: 0, reason: `${name}: cannot compare the embeddings: ${errorMessage(err)}` };
  }

  const threshold = typeof assertion.threshold === 'number' && Number.isFinite(assertion.threshold) ? assertion.threshold : DEFAULT_SIMILAR_THRESHOLD;
  const several = expected.length > 1;
  const to = (i: number) => (several ? ` (to "${snippet(expected[i], 80)}")` : '');
  const { word } = metric;
  const within = (m: number) => (metric.distance ? m <= threshold + Number.EPSILON : m >= threshold - Number.EPSILON);
  const strictlyWithin = (m: number) => (metric.distance ? m < threshold - Number.EPSILON : m > threshold + Number.EPSILON);
  const closest = measures.reduce((best, m, i) => ((metric.distance ? m < measures[best] : m > measures[best]) ? i : best), 0);
  const at = (i: number) => `${word} ${fmt(measures[i])}`;
  const near = metric.distance ? 'less than or equal to' : 'greater than or equal to';
  const far = metric.distance ? 'greater than' : 'less than';

  if (!assertion.negate) {
    const hit = measures.findIndex(within);
    if (hit !== -1) return { assertion, pass: true, score: metric.score(measures[hit]), reason: `${at(hit)} is ${near} threshold ${threshold}${to(hit)}` };
    const reason = several
      ? `None of the ${expected.length} expected values met the ${word.toLowerCase()} threshold ${threshold}; the closest is at ${fmt(measures[closest])}${to(closest)}`
      : `${at(closest)} is ${far} threshold ${threshold}`;
    return { assertion, pass: false, score: metric.score(measures[closest]), reason };
  }

  const tooClose = measures.findIndex(strictlyWithin);
  if (tooClose !== -1) {
    const strictly = metric.distance ? 'less than' : 'greater than';
    return { assertion, pass: false, score: 1 - metric.score(measures[tooClose]), reason: `${at(tooClose)} is ${strictly} threshold ${threshold}${to(tooClose)}, which ${name} must not be` };
  }
  const reason = several
    ? `No expected value is ${metric.distance ? 'closer' : 'more similar'} than threshold ${threshold}; the closest is at ${fmt(measures[closest])}${to(closest)}`
    : `${at(closest)} is ${metric.distance ? 'greater than or equal to' : 'less than or equal to'} threshold ${threshold}`;
  return { assertion, pass: true, score: 1 - metric.score(measures[closest]), reason };
}
