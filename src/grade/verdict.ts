import { assertionName, GRADED_ALIASES, GRADED_TYPE_NAMES, NEGATABLE_GRADED } from '../config/assertion-types.ts';
import type { Assertion } from '../config/types.ts';
import { extractJsonObjects } from '../score/json-checks.ts';
import { snippet } from '../score/script.ts';
import type { AssertionResult } from '../score/types.ts';
import { gradingKind } from './prompts.ts';

/**
 * Turns a grader's reply into an assertion's verdict, with promptfoo's semantics for each model-graded type. Pure.
 * A reply that cannot be read (no JSON, a missing or bad field) fails the assertion with a reason that quotes it;
 * such a failure is never flipped by `not-` (a grader that could not answer is no evidence either way).
 */

/** promptfoo's `options.factuality`: the score of each factuality category; a category scoring above 0 passes. */
export interface FactualityScores {
  /** A: the output is a subset of the reference and consistent with it (default 1). */
  subset?: number;
  /** B: a superset, consistent (default 1). */
  superset?: number;
  /** C: the same details (default 1). */
  agree?: number;
  /** D: they disagree (default 0). */
  disagree?: number;
  /** E: they differ, but not in what matters for factuality (default 1). */
  differButFactual?: number;
}

export interface VerdictOptions {
  factuality?: FactualityScores;
}

/** Model-graded types promptfoo negates with `not-` (the others ignore the prefix there; batch-evals refuses it). */
export const NEGATABLE_MODEL_GRADED_TYPES: ReadonlySet<string> = new Set(NEGATABLE_GRADED);


/**
 * For the config loader: why `not-<type>` cannot be used, for a model-graded type promptfoo does not negate, else
 * undefined. `type` is the base type (without `not-`).
 */
export function negationError(type: string): string | undefined {
  if (!GRADED_TYPE_NAMES.includes(type) || NEGATABLE_GRADED.includes(GRADED_ALIASES[type] ?? type)) return undefined;
  return (
    `assertion type 'not-${type}' cannot be negated: promptfoo ignores 'not-' on ${type} and grades it as ${type}, ` +
    `so batch-evals refuses it rather than guess what was meant (the model-graded types that can be negated: ` +
    `${[...NEGATABLE_MODEL_GRADED_TYPES].map((t) => `not-${t}`).join(', ')})`
  );
}

/** g-eval's and answer-relevance's threshold when the assertion sets none (promptfoo's defaults). */
export const DEFAULT_THRESHOLDS = { 'g-eval': 0.7, 'answer-relevance': 0.7 } as const;

const FACTUALITY_CATEGORIES = {
  A: { option: 'subset', fallback: 1, meaning: 'is a subset of the reference, consistent with it' },
  B: { option: 'superset', fallback: 1, meaning: 'is a superset of the reference, consistent with it' },
  C: { option: 'agree', fallback: 1, meaning: 'has the same details as the reference' },
  D: { option: 'disagree', fallback: 0, meaning: 'disagrees with the reference' },
  E: { option: 'differButFactual', fallback: 1, meaning: 'differs from the reference in ways that do not matter for factuality' },
} as const satisfies Record<string, { option: keyof FactualityScores; fallback: number; meaning: string }>;

type Category = keyof typeof FACTUALITY_CATEGORIES;

/**
 * The verdict of a rubric-graded assertion (llm-rubric, factuality, model-graded-factuality, model-graded-closedqa,
 * g-eval, answer-relevance) from its grader's reply text. Throws only for a type that is not rubric-graded.
 */
export function parseVerdict(assertion: Assertion, reply: string, options: VerdictOptions = {}): AssertionResult {
  const kind = gradingKind(assertion.type);
  if (!kind) throw new Error(`parseVerdict: '${assertion.type}' is not graded with a chat prompt`);
  if (assertion.negate && !NEGATABLE_MODEL_GRADED_TYPES.has(assertion.type)) {
    return failed(assertion, negationError(assertion.type) ?? `'not-${assertion.type}' cannot be negated`);
  }
  if (reply.trim() === '') return failed(assertion, `${assertionName(assertion)}: the grader's reply is empty`);
  switch (kind) {
    case 'llm-rubric':
      return llmRubric(assertion, reply);
    case 'model-graded-closedqa':
      return closedQa(assertion, reply);
    case 'factuality':
      return factuality(assertion, reply, options.factuality ?? {});
    case 'g-eval':
    case 'answer-relevance':
      return scoredAgainstThreshold(assertion, reply, kind);
  }
}

/**
 * llm-rubric as promptfoo grades it: `pass` defaults to true and `score` to 1 or 0 by `pass`; with a threshold the
 * output passes only when the grader passed it and the score reaches the threshold; `not-` flips pass and reports
 * 1 - score. A reply with neither `pass` nor `score` fails.
 */
function llmRubric(a: Assertion, reply: string): AssertionResult {
  const found = verdictObject(reply, ['pass', 'score']);
  if ('problem' in found) return unreadable(a, reply, found.problem);
  const { fields } = found;
  const graderPass = fields.pass == null ? true : truthy(fields.pass);
  // promptfoo: a score that is missing or not a number is 1 or 0 by pass; with no pass either, there is no verdict.
  let score = numeric(fields.score);
  if (score === undefined) {
    if (fields.pass == null) return unreadable(a, reply, `has a "score" that is not a number (${JSON.stringify(fields.score)}) and no "pass"`);
    score = graderPass ? 1 : 0;
  }
  const reason = reasonOf(fields);
  const threshold = finite(a.threshold);
  const belowThreshold = threshold !== undefined && !(score >= threshold);
  const holds = graderPass && !belowThreshold;

  if (!a.negate) {
    if (holds) return { assertion: a, pass: true, score, reason: reason ?? 'The grader passed the output' };
    const why = !graderPass ? `The grader failed the output (score ${fmt(score)})` : `Score ${fmt(score)} is below threshold ${threshold}`;
    return { assertion: a, pass: false, score, reason: withReason(why, reason) };
  }
  const inverted = clamp01(1 - score);
  if (!holds) return { assertion: a, pass: true, score: inverted, reason: reason ?? 'The grader found the rubric does not hold' };
  const met = threshold === undefined ? `score ${fmt(score)}` : `score ${fmt(score)}, threshold ${threshold}`;
  return { assertion: a, pass: false, score: inverted, reason: withReason(`The grader found the rubric holds (${met}), which not-llm-rubric must not`, reason) };
}

/**
 * model-graded-closedqa: pass or fail as the grader says, score 1 or 0 (promptfoo ignores `threshold` here). A
 * reply in OpenAI's closedqa format (reasoning, then a last line of just `Y` or `N`), which a suite's rubricPrompt
 * may ask for, is read too.
 */
function closedQa(a: Assertion, reply: string): AssertionResult {
  const found = verdictObject(reply, ['pass']);
  let pass: boolean;
  let reason: string | undefined;
  if ('fields' in found) {
    pass = truthy(found.fields.pass);
    reason = reasonOf(found.fields);
  } else {
    const yn = /(?:^|\s)([YN])\s*$/.exec(reply);
    if (!yn) return unreadable(a, reply, `${found.problem}, nor does it end with a line "Y" or "N"`);
    pass = yn[1] === 'Y';
    reason = reply.slice(0, yn.index).trim() || undefined;
  }
  if (pass) return { assertion: a, pass: true, score: 1, reason: reason ?? 'The output meets the criterion' };
  return { assertion: a, pass: false, score: 0, reason: withReason('The output does not meet the criterion', reason) };
}

/**
 * factuality: the grader's category (A..E) scores as `options.factuality` says (A, B, C, E 1 and D 0 by default);
 * the output passes when its category scores above 0. A reply with no JSON category may name it the way OpenAI's
 * factuality prompt asks, as `(B)` or `B)`.
 */
function factuality(a: Assertion, reply: string, scores: FactualityScores): AssertionResult {
  const found = verdictObject(reply, ['category']);
  let category: string;
  let reason: string | undefined;
  if ('fields' in found) {
    const c = found.fields.category;
    if (typeof c !== 'string') return unreadable(a, reply, `has a "category" that is not a letter A to E (${JSON.stringify(c)})`);
    category = c.trim().toUpperCase();
    reason = reasonOf(found.fields);
  } else {
    const option = /(?:^|[^A-Za-z0-9])\(?([A-Ea-e])\)/.exec(reply);
    if (!option) return unreadable(a, reply, `${found.problem}, nor does it name a category as "(A)" to "(E)"`);
    category = option[1].toUpperCase();
    reason = reply.slice(option.index + option[0].length).trim() || undefined;
  }
  if (!Object.hasOwn(FACTUALITY_CATEGORIES, category)) {
    return unreadable(a, reply, `has a "category" that is not a letter A to E (${JSON.stringify(category)})`);
  }
  const { option, fallback, meaning } = FACTUALITY_CATEGORIES[category as Category];
  const score = finite(scores[option]) ?? fallback;
  const pass = score > 0;
  return { assertion: a, pass, score, reason: withReason(`Category ${category} (the output ${meaning})`, reason) };
}

/**
 * g-eval and answer-relevance: the grader's score (0..1) against the threshold (default 0.7): the output passes
 * when the score reaches it; the grader's own `pass` is not used. not-g-eval passes when the score is below the
 * threshold and reports 1 - score.
 */
function scoredAgainstThreshold(a: Assertion, reply: string, kind: 'g-eval' | 'answer-relevance'): AssertionResult {
  const found = verdictObject(reply, ['score']);
  if ('problem' in found) return unreadable(a, reply, found.problem);
  const raw = numeric(found.fields.score);
  if (raw === undefined) return unreadable(a, reply, `has a "score" that is not a number (${JSON.stringify(found.fields.score)})`);
  if (raw < 0 || raw > 1) return unreadable(a, reply, `has a score (${raw}) outside 0..1`);
  const reason = reasonOf(found.fields);
  const threshold = finite(a.threshold) ?? DEFAULT_THRESHOLDS[kind];
  const what = kind === 'g-eval' ? 'Score' : 'Relevance';
  const reaches = raw >= threshold;
  const comparison = `${what} ${fmt(raw)} is ${reaches ? 'greater than or equal to' : 'less than'} threshold ${threshold}`;
  if (!a.negate) return { assertion: a, pass: reaches, score: raw, reason: withReason(comparison, reason) };
  const pass = !reaches;
  const negated = pass ? comparison : `${comparison}, which not-${a.type} must not reach`;
  return { assertion: a, pass, score: clamp01(1 - raw), reason: withReason(negated, reason) };
}

// ---------------------------------------------------------------------------------------------------------------

export type Found = { fields: Record<string, unknown> } | { problem: string };

/**
 * The first JSON object in the reply (bare, in prose or in a ```json fence) that has one of `keys` with a value
 * other than null; or what is wrong.
 */
export function verdictObject(reply: string, keys: readonly string[]): Found {
  const objects = extractJsonObjects(reply).filter((o): o is Record<string, unknown> => !Array.isArray(o));
  const quoted = keys.map((k) => `"${k}"`).join(' or ');
  if (objects.length === 0) return { problem: `has no JSON object with ${quoted}` };
  const fields = objects.find((o) => keys.some((k) => o[k] !== undefined && o[k] !== null));
  return fields ? { fields } : { problem: `has JSON without ${quoted}` };
}

/** promptfoo's reading of a non-boolean `pass`: "true", "yes", "pass" or "y" (any case) pass, anything else fails. */
function truthy(value: unknown): boolean {
  return typeof value === 'boolean' ? value : /^(true|yes|pass|y)$/i.test(String(value).trim());
}

/** A number, or a string of one (as promptfoo reads `score`). */
function numeric(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function reasonOf(fields: Record<string, unknown>): string | undefined {
  const r = fields.reason;
  if (typeof r === 'string') return r.trim() || undefined;
  if (r === undefined || r === null) return undefined;
  return JSON.stringify(r);
}

function withReason(verdict: string, reason: string | undefined): string {
  return reason ? `${verdict}: ${reason}` : verdict;
}

function unreadable(a: Assertion, reply: string, problem: string): AssertionResult {
  return failed(a, `${assertionName(a)}: the grader's reply ${problem}: "${snippet(reply, 300)}"`);
}

function failed(assertion: Assertion, reason: string): AssertionResult {
  return { assertion, pass: false, score: 0, reason };
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/** A score as shown in reasons: up to 2 decimals, no trailing zeros. */
export function fmt(x: number): string {
  return String(Math.round(x * 100) / 100);
}

