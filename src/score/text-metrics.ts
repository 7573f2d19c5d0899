/** Edit distance (insertions, deletions, substitutions) between two strings, by UTF-16 code unit. */
export function levenshtein(a: string, b: string): number {
  if (a.length < b.length) [a, b] = [b, a];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** Words as promptfoo's word-count counts them: runs of non-whitespace. */
export function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed ? trimmed.split(/\s+/).length : 0;
}

/**
 * ROUGE-N F1 of a candidate against a reference, as promptfoo scores `rouge-n`: case-insensitive, n-gram overlap
 * with clipped counts (a repeated n-gram matches at most as often as the reference has it).
 */
export function rougeN(candidate: string, reference: string, n = 1): number {
  const cand = ngrams(tokenize(candidate.toLowerCase()), n);
  const ref = ngrams(tokenize(reference.toLowerCase()), n);
  if (cand.length === 0 || ref.length === 0) return 0;
  const refCounts = counts(ref);
  let overlap = 0;
  for (const [gram, count] of counts(cand)) overlap += Math.min(count, refCounts.get(gram) ?? 0);
  if (overlap === 0) return 0;
  const precision = overlap / cand.length;
  const recall = overlap / ref.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * Word tokens with each punctuation mark a token of its own, close to the Penn Treebank tokenizer promptfoo
 * uses (which also splits contractions such as "don't" into "do n't"; this keeps them whole).
 */
function tokenize(text: string): string[] {
  return text.match(/[\p{L}\p{N}_]+(?:['’][\p{L}\p{N}_]+)*|[^\s\p{L}\p{N}_]/gu) ?? [];
}

function ngrams(tokens: string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(' '));
  return out;
}

function counts(items: string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const item of items) map.set(item, (map.get(item) ?? 0) + 1);
  return map;
}
