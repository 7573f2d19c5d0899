/** Assertion types batch-evals scores, by promptfoo's names. Each may also be written with `not-`. */
export const SUPPORTED_ASSERTIONS = [
  'equals',
  'contains',
  'icontains',
  'contains-any',
  'contains-all',
  'icontains-any',
  'icontains-all',
  'starts-with',
  'regex',
  'is-json',
  'contains-json',
  'levenshtein',
  'rouge-n',
  'word-count',
  'javascript',
  'cost',
  'latency',
] as const;

/** promptfoo assertions that need a model to grade them; not graded yet. */
export const MODEL_GRADED_ASSERTIONS = [
  'llm-rubric',
  'factuality',
  'model-graded-closedqa',
  'model-graded-factuality',
  'answer-relevance',
  'g-eval',
  'similar',
  'context-faithfulness',
  'context-recall',
  'context-relevance',
  'conversation-relevance',
  'select-best',
  'classifier',
  'moderation',
  'pi',
];

/** Other promptfoo assertions that batch-evals does not score yet. */
export const OTHER_PROMPTFOO_ASSERTIONS = [
  'bleu',
  'gleu',
  'meteor',
  'python',
  'ruby',
  'webhook',
  'perplexity',
  'perplexity-score',
  'is-xml',
  'contains-xml',
  'is-sql',
  'contains-sql',
  'is-html',
  'contains-html',
  'is-refusal',
  'is-valid-openai-tools-call',
  'is-valid-openai-function-call',
  'is-valid-function-call',
  'tool-call-f1',
  'finish-reason',
  'trace-span-count',
  'trace-span-duration',
  'trace-error-spans',
  'guardrails',
  'assert-set',
  'cost-per-token',
];

export type AssertionTypeVerdict = { ok: true; base: string; negate: boolean } | { ok: false; message: string };

export function checkAssertionType(written: string): AssertionTypeVerdict {
  const negate = written.startsWith('not-');
  const base = negate ? written.slice(4) : written;
  if ((SUPPORTED_ASSERTIONS as readonly string[]).includes(base)) return { ok: true, base, negate };
  if (MODEL_GRADED_ASSERTIONS.includes(base)) {
    return {
      ok: false,
      message: `assertion type '${written}' is model-graded; batch-evals does not grade with a model yet (not supported yet)`,
    };
  }
  if (OTHER_PROMPTFOO_ASSERTIONS.includes(base)) {
    return { ok: false, message: `assertion type '${written}' is a promptfoo assertion that batch-evals does not support yet` };
  }
  return { ok: false, message: `unknown assertion type '${written}'${suggest(base, SUPPORTED_ASSERTIONS)}` };
}

export function suggest(word: string, candidates: readonly string[]): string {
  const best = closest(word, candidates);
  return best ? ` (did you mean '${best}'?)` : '';
}

/** The candidate within a small edit distance of `word`, if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3));
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    // The distance is at least the difference in length: a candidate that far off cannot be close (and a long
    // word, such as a 1 MB string written as an assertion type, is not compared letter by letter).
    const candidate = c.toLowerCase();
    if (Math.abs(lower.length - candidate.length) > limit) continue;
    const d = editDistance(lower, candidate);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}
