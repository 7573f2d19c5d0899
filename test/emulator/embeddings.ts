/**
 * The OpenAI emulator's embeddings: deterministic vectors that mean something, so a test of `similar` can rely on
 * texts sharing most words being close and unrelated texts being far apart. See README.md in this folder.
 */
import { createHash } from 'node:crypto';
import { wordsOf } from './responder.ts';

/** The weight of a word bigram next to a word's 1: order matters a little, the words themselves most. */
const BIGRAM_WEIGHT = 0.5;

/**
 * The vector length OpenAI returns when `dimensions` is not given, which is also the most `dimensions` may ask for:
 * 3072 for text-embedding-3-large, 1536 for text-embedding-3-small and text-embedding-ada-002.
 */
export function defaultEmbeddingDimensions(model: string): number {
  return model.includes('large') ? 3072 : 1536;
}

/**
 * A hashed bag of words: every lower-cased word (letters and digits) adds 1, and every pair of adjacent words 0.5, at
 * a position and with a sign taken from a hash of it; then the vector is L2-normalised. Texts with the same words
 * have cosine similarity near 1 (exactly 1 for the same words in the same order), texts without a common word near
 * 0. A token array (`number[]`) is a bag of its token ids. A text without any word is hashed whole.
 */
export function embeddingVector(input: string | readonly number[], dimensions: number): number[] {
  const words = typeof input === 'string' ? wordsOf(input) : input.map((token) => `#${token}`);
  const features: [string, number][] = words.map((w) => [`w:${w}`, 1]);
  for (let i = 1; i < words.length; i++) features.push([`b:${words[i - 1]} ${words[i]}`, BIGRAM_WEIGHT]);
  if (features.length === 0) features.push([`t:${typeof input === 'string' ? input : ''}`, 1]);
  const vector = new Float64Array(dimensions);
  for (const [feature, weight] of features) {
    const digest = createHash('sha256').update(feature).digest();
    const index = digest.readUInt32LE(0) % dimensions;
    vector[index] += (digest[4] & 1 ? -1 : 1) * weight;
  }
  let sum = 0;
  for (const x of vector) sum += x * x;
  const norm = Math.sqrt(sum);
  // All features cancelled out (possible only for tiny dimensions): a fixed unit vector rather than NaN.
  if (norm === 0) return Array.from(vector, (_, i) => (i === 0 ? 1 : 0));
  // Rounded through float32, as the real API's vectors are.
  return Array.from(Float32Array.from(vector, (x) => x / norm));
}

/** Cosine similarity of two vectors of the same length (0 when either is all zeros). */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`cosineSimilarity: lengths differ (${a.length} and ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
