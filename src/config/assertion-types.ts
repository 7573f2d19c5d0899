import type { Assertion } from './types.ts';
import { levenshtein } from '../score/text-metrics.ts';

/** Assertion types batch-evals scores without a model, by promptfoo's names. Each may also be written with `not-`. */
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

/**
 * promptfoo's model-graded assertions that batch-evals grades, through the batch API like the cases themselves.
 * `similar` compares embeddings; `answer-relevance` uses a chat model and an embeddings model; the others a chat model.
 */
export const GRADED_ASSERTIONS = ['llm-rubric', 'factuality', 'model-graded-closedqa', 'answer-relevance', 'g-eval', 'similar'] as const;

/** promptfoo's other names for graded assertions, and the type each stands for. */
export const GRADED_ALIASES: Record<string, string> = {
  'model-graded-factuality': 'factuality',
  'similar:cosine': 'similar',
  'similar:dot': 'similar',
  'similar:euclidean': 'similar',
};

/** `similar`'s metrics other than cosine (its default), by the type name that asks for one. */
const SIMILARITY_METRICS: Record<string, NonNullable<Assertion['similarity']>> = {
  'similar:dot': 'dot',
  'similar:euclidean': 'euclidean',
};

/** An assertion's type as the suite writes it: `not-` when negated, and `similar`'s metric when not cosine. */
export function assertionName(a: Pick<Assertion, 'type' | 'negate' | 'similarity'>): string {
  return `${a.negate ? 'not-' : ''}${a.type}${a.similarity ? `:${a.similarity}` : ''}`;
}

/**
 * The graded assertions promptfoo negates with `not-`. Its other graders ignore the prefix (`not-factuality` is
 * graded as `factuality`), so batch-evals refuses a negated one rather than run it the other way round.
 */
export const NEGATABLE_GRADED: readonly string[] = ['llm-rubric', 'g-eval', 'similar'];

/** Every type name a graded assertion may be written with, without `not-`. */
export const GRADED_TYPE_NAMES: readonly string[] = [...GRADED_ASSERTIONS, ...Object.keys(GRADED_ALIASES)];

/** Whether `base` (a type without `not-`, aliases resolved) is one batch-evals grades with a model. */
export function isGraded(base: string): boolean {
  return (GRADED_ASSERTIONS as readonly string[]).includes(base);
}

/** promptfoo assertions that need a model to grade them; not graded yet. */
export const MODEL_GRADED_ASSERTIONS = [
  'context-faithfulness',
  'context-recall',
  'context-relevance',
  'conversation-relevance',
  'select-best',
  'max-score',
  'search-rubric',
  'agent-rubric',
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

export type AssertionTypeVerdict = { ok: true; base: string; negate: boolean; similarity?: Assertion['similarity'] } | { ok: false; message: string };

export function checkAssertionType(written: string): AssertionTypeVerdict {
  const negate = written.startsWith('not-');
  const name = negate ? written.slice(4) : written;
  if ((SUPPORTED_ASSERTIONS as readonly string[]).includes(name)) return { ok: true, base: name, negate };
  if (GRADED_TYPE_NAMES.includes(name)) {
    const base = GRADED_ALIASES[name] ?? name;
    if (negate && !NEGATABLE_GRADED.includes(base)) {
      return {
        ok: false,
        message:
          `assertion type '${written}' cannot be negated: promptfoo ignores the not- of ${name} (it grades it as ${name}); ` +
          `among the model-graded assertions only ${NEGATABLE_GRADED.map((t) => `not-${t}`).join(', ')} are negated`,
      };
    }
    const similarity = SIMILARITY_METRICS[name];
    return similarity ? { ok: true, base, negate, similarity } : { ok: true, base, negate };
  }
  if (MODEL_GRADED_ASSERTIONS.includes(name)) {
    return {
      ok: false,
      message: `assertion type '${written}' is model-graded; batch-evals does not grade it with a model yet (not supported yet; graded: ${GRADED_ASSERTIONS.join(', ')})`,
    };
  }
  if (OTHER_PROMPTFOO_ASSERTIONS.includes(name)) {
    return { ok: false, message: `assertion type '${written}' is a promptfoo assertion that batch-evals does not support yet` };
  }
  return { ok: false, message: `unknown assertion type '${written}'${suggest(name, [...SUPPORTED_ASSERTIONS, ...GRADED_ASSERTIONS])}` };
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
    const d = levenshtein(lower, candidate);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= limit ? best : undefined;
}
