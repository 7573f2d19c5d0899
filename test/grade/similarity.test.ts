import { describe, expect, it } from 'vitest';
import { embeddingInputs } from '../../src/grade/prompts.ts';
import { DEFAULT_SIMILAR_THRESHOLD, cosineSimilarity, dotProduct, euclideanDistance, similarVerdict } from '../../src/grade/similarity.ts';
import { graded } from './helpers.ts';

/** A unit vector in the plane at `cos` similarity to [1, 0]. */
function at(cos: number): number[] {
  return [cos, Math.sqrt(1 - cos * cos)];
}
const OUT = [1, 0];

describe('cosineSimilarity', () => {
  it('is the cosine of the angle between the vectors, whatever their lengths', () => {
    expect(cosineSimilarity([1, 0], [1, 0])).toBe(1);
    expect(cosineSimilarity([1, 0], [0, 3])).toBe(0);
    expect(cosineSimilarity([2, 0], [-5, 0])).toBe(-1);
    expect(cosineSimilarity([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(cosineSimilarity([1, 1], [1, 0])).toBeCloseTo(Math.SQRT1_2, 12);
  });
  it('never exceeds 1 through rounding', () => {
    // Unclamped, this vector's cosine with itself is 1.0000000000000002.
    const v = [0.1, 0.7];
    expect(cosineSimilarity(v, [...v])).toBeLessThanOrEqual(1);
  });
  it('refuses vectors it cannot compare', () => {
    expect(() => cosineSimilarity([1, 2], [1, 2, 3])).toThrow(/different lengths \(2 and 3\)/);
    expect(() => cosineSimilarity([], [])).toThrow(/empty/);
    expect(() => cosineSimilarity([0, 0], [1, 0])).toThrow(/all zeros/);
    expect(() => cosineSimilarity([1, Number.NaN], [1, 0])).toThrow(/not a finite number/);
  });
});

describe('similar', () => {
  it('passes at or above the threshold, 0.75 by default, with the similarity as score', () => {
    expect(DEFAULT_SIMILAR_THRESHOLD).toBe(0.75);
    expect(similarVerdict(graded('similar', 'Paris'), OUT, [at(0.8)])).toMatchObject({
      pass: true,
      score: expect.closeTo(0.8, 10),
      reason: 'Similarity 0.8 is greater than or equal to threshold 0.75',
    });
    expect(similarVerdict(graded('similar', 'Paris'), OUT, [at(0.75)]).pass).toBe(true);
    expect(similarVerdict(graded('similar', 'Paris'), OUT, [at(0.7)])).toMatchObject({
      pass: false,
      score: expect.closeTo(0.7, 10),
      reason: 'Similarity 0.7 is less than threshold 0.75',
    });
  });

  it('uses the assertion threshold', () => {
    expect(similarVerdict(graded('similar', 'Paris', { threshold: 0.9 }), OUT, [at(0.85)]).pass).toBe(false);
    expect(similarVerdict(graded('similar', 'Paris', { threshold: 0.5 }), OUT, [at(0.55)]).pass).toBe(true);
  });

  it('with several values: passes when any reaches the threshold, scoring the first that does', () => {
    const a = graded('similar', ['Lyon', 'Paris', 'Paris, France']);
    const r = similarVerdict(a, OUT, [at(0.2), at(0.8), at(0.95)]);
    expect(r).toMatchObject({ pass: true, score: expect.closeTo(0.8, 10) });
    expect(r.reason).toBe('Similarity 0.8 is greater than or equal to threshold 0.75 (to "Paris")');
  });

  it('with several values and none close enough: fails with the highest similarity, naming its value', () => {
    const a = graded('similar', ['Lyon', 'Marseille', 'Nice']);
    const r = similarVerdict(a, OUT, [at(0.2), at(0.6), at(0.4)]);
    expect(r).toMatchObject({ pass: false, score: expect.closeTo(0.6, 10) });
    expect(r.reason).toBe('None of the 3 expected values met the similarity threshold 0.75; the closest is at 0.6 (to "Marseille")');
  });

  it('not-similar passes when no value is more similar than the threshold, scoring 1 - the closest', () => {
    const a = graded('not-similar', ['Lyon', 'Nice']);
    const r = similarVerdict(a, OUT, [at(0.3), at(0.5)]);
    expect(r).toMatchObject({ pass: true, score: expect.closeTo(0.5, 10) });
    expect(r.reason).toBe('No expected value is more similar than threshold 0.75; the closest is at 0.5 (to "Nice")');
    expect(similarVerdict(graded('not-similar', 'Lyon'), OUT, [at(0.75)]).pass).toBe(true);
    expect(similarVerdict(graded('not-similar', 'Lyon'), OUT, [at(0.3)])).toMatchObject({
      pass: true,
      score: expect.closeTo(0.7, 10),
      reason: 'Similarity 0.3 is less than or equal to threshold 0.75',
    });
  });

  it('not-similar fails on the first value that is too similar, scoring 1 - its similarity', () => {
    const a = graded('not-similar', ['Lyon', 'Paris', 'Paris!']);
    const r = similarVerdict(a, OUT, [at(0.3), at(0.9), at(0.99)]);
    expect(r).toMatchObject({ pass: false, score: expect.closeTo(0.1, 10) });
    expect(r.reason).toBe('Similarity 0.9 is greater than threshold 0.75 (to "Paris"), which not-similar must not be');
  });

  it('embeddings that cannot be compared fail it, even negated, with the reason', () => {
    expect(similarVerdict(graded('similar', 'Paris'), OUT, [[1, 0, 0]])).toEqual({
      assertion: graded('similar', 'Paris'),
      pass: false,
      score: 0,
      reason: 'similar: cannot compare the embeddings: the embeddings have different lengths (2 and 3)',
    });
    expect(similarVerdict(graded('not-similar', ['a', 'b']), OUT, [at(0.1)])).toMatchObject({
      pass: false,
      score: 0,
      reason: 'not-similar: cannot compare the embeddings: 1 embeddings for 2 expected values',
    });
    expect(similarVerdict(graded('similar', []), OUT, []).reason).toMatch(/^similar: cannot compare the embeddings: similar needs a value/);
  });

  it('takes the expected vectors in the order embeddingInputs lists the texts', () => {
    const a = graded('similar', ['far', 'near']);
    const [, ...expected] = embeddingInputs(a, 'output');
    const vectors: Record<string, number[]> = { far: at(0.1), near: at(0.99) };
    expect(similarVerdict(a, OUT, expected.map((t) => vectors[t])).reason).toContain('(to "near")');
  });
});

describe('similar:dot and similar:euclidean', () => {
  it('dotProduct and euclideanDistance measure the vectors as they are, lengths included', () => {
    expect(dotProduct([1, 2, 3], [4, 5, 6])).toBe(32);
    expect(dotProduct([2, 0], [3, 0])).toBe(6);
    expect(euclideanDistance([0, 0], [3, 4])).toBe(5);
    expect(euclideanDistance([1, 2], [1, 2])).toBe(0);
    expect(() => dotProduct([1], [1, 2])).toThrow(/different lengths/);
    expect(() => euclideanDistance([1, Number.POSITIVE_INFINITY], [1, 0])).toThrow(/not a finite number/);
  });

  it('similar:dot passes at or above the threshold, its score the dot product', () => {
    const a = { ...graded('similar', 'Paris', { threshold: 0.5 }), similarity: 'dot' as const };
    expect(similarVerdict(a, [2, 0], [[0.3, 1]])).toMatchObject({ pass: true, score: expect.closeTo(0.6, 10), reason: 'Similarity 0.6 is greater than or equal to threshold 0.5' });
    expect(similarVerdict(a, [1, 0], [[0.3, 1]])).toMatchObject({ pass: false, score: expect.closeTo(0.3, 10), reason: 'Similarity 0.3 is less than threshold 0.5' });
  });

  it('similar:euclidean: the threshold is the most the distance may be; the score 1 / (1 + distance)', () => {
    const a = { ...graded('similar', 'Paris', { threshold: 0.5 }), similarity: 'euclidean' as const };
    expect(similarVerdict(a, [1, 0], [[1, 0.4]])).toMatchObject({ pass: true, score: expect.closeTo(1 / 1.4, 10), reason: 'Distance 0.4 is less than or equal to threshold 0.5' });
    expect(similarVerdict(a, [1, 0], [[1, 0.5]]).pass).toBe(true);
    expect(similarVerdict(a, [1, 0], [[1, 0.8]])).toMatchObject({ pass: false, score: expect.closeTo(1 / 1.8, 10), reason: 'Distance 0.8 is greater than threshold 0.5' });
    // Several values: any one close enough passes; none, and the closest is named.
    const several = { ...graded('similar', ['Lyon', 'Paris'], { threshold: 0.5 }), similarity: 'euclidean' as const };
    expect(similarVerdict(several, [1, 0], [[1, 0.9], [1, 0.2]])).toMatchObject({ pass: true, reason: 'Distance 0.2 is less than or equal to threshold 0.5 (to "Paris")' });
    expect(similarVerdict(several, [1, 0], [[1, 0.9], [1, 0.7]])).toMatchObject({
      pass: false,
      score: expect.closeTo(1 / 1.7, 10),
      reason: 'None of the 2 expected values met the distance threshold 0.5; the closest is at 0.7 (to "Paris")',
    });
  });

  it('not-similar:euclidean passes when every value is at least the threshold away, scoring 1 - 1 / (1 + the closest distance)', () => {
    const a = { ...graded('similar', ['Lyon', 'Paris'], { threshold: 0.5 }), negate: true, similarity: 'euclidean' as const };
    expect(similarVerdict(a, [1, 0], [[1, 0.9], [1, 0.6]])).toMatchObject({
      pass: true,
      score: expect.closeTo(1 - 1 / 1.6, 10),
      reason: 'No expected value is closer than threshold 0.5; the closest is at 0.6 (to "Paris")',
    });
    expect(similarVerdict(a, [1, 0], [[1, 0.9], [1, 0.3]])).toMatchObject({
      pass: false,
      score: expect.closeTo(1 - 1 / 1.3, 10),
      reason: 'Distance 0.3 is less than threshold 0.5 (to "Paris"), which not-similar:euclidean must not be',
    });
  });
});
