import { isDeepStrictEqual } from 'node:util';
import type { Assertion } from '../config/types.ts';
import { extractJsonObjects, hasSchema, parseJson, schemaErrors, schemaValidator } from './json-checks.ts';
import { errorMessage, runScript, snippet } from './script.ts';
import { countWords, levenshtein, rougeN } from './text-metrics.ts';
import type { AssertionContext, AssertionResult } from './types.ts';
import { assertionName } from '../config/assertion-types.ts';

/** What one check found before `not-` is applied: whether it held, and how to say so either way. */
interface Check {
  holds: boolean;
  /** Why it failed when not negated. */
  failure: string;
  /** Why it failed when negated (it held). */
  negatedFailure: string;
}

type Evaluator = (a: Assertion, output: unknown, ctx: AssertionContext) => AssertionResult;

/**
 * Scores one assertion against the output, with promptfoo's semantics. The output is the model's text, or
 * whatever a transform made of it (objects are compared as their JSON text). Problems with the assertion's value
 * fail the assertion with the reason; only a type this stage does not know throws.
 */
export function evaluateAssertion(assertion: Assertion, output: unknown, ctx: AssertionContext): AssertionResult {
  const evaluate = Object.hasOwn(EVALUATORS, assertion.type) ? EVALUATORS[assertion.type] : undefined;
  if (!evaluate) throw new Error(`evaluateAssertion: unsupported assertion type '${assertion.type}'`);
  try {
    return evaluate(assertion, output, ctx);
  } catch (err) {
    return { assertion, pass: false, score: 0, reason: `${assertionName(assertion)}: ${errorMessage(err)}` };
  }
}

const EVALUATORS: Record<string, Evaluator> = {
  equals: binary((v, out) => {
    if (typeof v === 'object') {
      const parsed = parseJson(out);
      const expected = JSON.stringify(v);
      return outputTo(parsed.ok && isDeepStrictEqual(v, parsed.value), `equal ${expected}`, out);
    }
    return outputTo(out === String(v), `equal "${v}"`, out);
  }),
  contains: binary((v, out) => {
    const needle = scalar(v);
    return outputTo(out.includes(needle), `contain "${needle}"`);
  }),
  icontains: binary((v, out) => {
    const needle = scalar(v);
    return outputTo(out.toLowerCase().includes(needle.toLowerCase()), `contain "${needle}"`);
  }),
  'contains-any': binary((v, out) => containsAny(list(v), out, false)),
  'icontains-any': binary((v, out) => containsAny(list(v), out, true)),
  'contains-all': binary((v, out) => containsAll(list(v), out, false)),
  'icontains-all': binary((v, out) => containsAll(list(v), out, true)),
  'starts-with': binary((v, out) => {
    const prefix = nonEmptyString(v);
    return outputTo(out.startsWith(prefix), `start with "${prefix}"`);
  }),
  regex: binary((v, out) => {
    const pattern = nonEmptyString(v);
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch (err) {
      throw new Error(`invalid regular expression: ${errorMessage(err)}`);
    }
    return outputTo(re.test(out), `match regex "${pattern}"`);
  }),
  'is-json': binary((v, out) => {
    const parsed = parseJson(out);
    if (!parsed.ok) return check(false, 'Expected output to be valid JSON', '');
    if (!hasSchema(v)) return check(true, '', 'Expected output to not be valid JSON');
    const validate = schemaValidator(v);
    return check(
      validate(parsed.value),
      `JSON does not conform to the provided schema. Errors: ${schemaErrors(validate)}`,
      'Output is JSON that conforms to the provided schema',
    );
  }),
  'contains-json': binary((v, out) => {
    const objects = extractJsonObjects(out);
    if (objects.length === 0) return check(false, 'Expected output to contain valid JSON', '');
    if (!hasSchema(v)) return check(true, '', 'Expected output to not contain valid JSON');
    const validate = schemaValidator(v);
    if (objects.some((o) => validate(o))) return check(true, '', 'Output contains JSON conforming to the provided schema');
    validate(objects[objects.length - 1]);
    return check(false, `JSON does not conform to the provided schema. Errors: ${schemaErrors(validate)}`, '');
  }),
  levenshtein: binary((v, out, a) => {
    if (typeof v !== 'string') throw new Error('the value must be a string');
    const threshold = a.threshold ?? 5;
    const distance = levenshtein(out, v);
    return check(
      distance <= threshold,
      `Levenshtein distance ${distance} is greater than threshold ${threshold}`,
      `Levenshtein distance ${distance} is less than or equal to threshold ${threshold}`,
    );
  }),
  'word-count': binary((v, out) => {
    const words = countWords(out);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const { min, max } = v as { min?: unknown; max?: unknown };
      if (min === undefined && max === undefined) throw new Error('the value must have "min" and/or "max"');
      if ((min !== undefined && typeof min !== 'number') || (max !== undefined && typeof max !== 'number')) {
        throw new Error('"min" and "max" must be numbers');
      }
      if (min !== undefined && max !== undefined && min > max) throw new Error(`min (${min}) must not exceed max (${max})`);
      const range =
        min === undefined ? `at most ${max}` : max === undefined ? `at least ${min}` : `between ${min} and ${max}`;
      const inRange = (min === undefined || words >= min) && (max === undefined || words <= max);
      return check(inRange, `Word count ${words} is not ${range}`, `Word count ${words} is ${range}`);
    }
    const expected = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (Number.isNaN(expected)) throw new Error('the value must be a number or {min, max}');
    return check(words === expected, `Word count ${words} does not equal expected ${expected}`, `Word count is ${expected}`);
  }),
  'rouge-n': (a, output) => {
    if (typeof a.value !== 'string') throw new Error('the value must be a string');
    const score = rougeN(asText(output), a.value);
    const threshold = a.threshold ?? 0.75;
    const pass = score >= threshold !== a.negate;
    const relation = score >= threshold ? 'greater than or equal to' : 'less than';
    // promptfoo inverts the score of not-rouge-n, unlike the javascript score.
    const reason = `ROUGE-N score ${score.toFixed(2)} is ${relation} threshold ${threshold}`;
    return { assertion: a, pass, score: a.negate ? 1 - score : score, reason };
  },
  javascript: (a, output, ctx) => javascript(a, output, ctx),
  cost: (a, _output, ctx) => {
    if (ctx.cost === undefined) {
      const why = "the model's price is unknown, so the request's cost cannot be checked (add a price for it under `pricing`)";
      return notApplicable(a, why);
    }
    const cost = ctx.cost;
    if (a.threshold === undefined) {
      if (a.negate) throw new Error('not-cost needs a threshold');
      if (!a.metric) throw new Error('cost without a threshold must set `metric` to record the cost as a named metric');
      return { assertion: a, pass: true, score: cost, reason: 'Assertion passed' };
    }
    const pass = a.negate ? cost > a.threshold : cost <= a.threshold;
    const failure = a.negate ? 'is less than or equal to' : 'is greater than';
    const reason = pass ? 'Assertion passed' : `Cost $${cost.toPrecision(2)} ${failure} threshold ${a.threshold}`;
    return { assertion: a, pass, score: pass ? 1 : 0, reason };
  },
  latency: (a) =>
    notApplicable(
      a,
      'latency cannot be measured in a batch: requests wait in a queue and are answered together, ' +
        'so no request has a response time of its own',
    ),
};

/** Evaluators whose check either holds or not: `not-` flips pass, and the score is 1 or 0. */
function binary(fn: (value: unknown, output: string, a: Assertion) => Check): Evaluator {
  return (a, output) => {
    const c = fn(a.value, asText(output), a);
    const pass = c.holds !== a.negate;
    const reason = pass ? 'Assertion passed' : a.negate ? c.negatedFailure : c.failure;
    return { assertion: a, pass, score: pass ? 1 : 0, reason };
  };
}

function check(holds: boolean, failure: string, negatedFailure: string): Check {
  return { holds, failure, negatedFailure };
}

/** A check whose reasons read "Expected output to (not) <what>"; equals also quotes the output (shortened). */
function outputTo(holds: boolean, what: string, output?: string): Check {
  const subject = output === undefined ? 'output' : `output "${output.length > 200 ? `${output.slice(0, 199)}…` : output}"`;
  return check(holds, `Expected ${subject} to ${what}`, `Expected ${subject} to not ${what}`);
}

function containsAny(needles: string[], out: string, ignoreCase: boolean): Check {
  const hay = ignoreCase ? out.toLowerCase() : out;
  const found = needles.filter((n) => hay.includes(ignoreCase ? n.toLowerCase() : n));
  const quoted = needles.map((n) => `"${n}"`).join(', ');
  return check(
    found.length > 0,
    `Expected output to contain one of ${quoted}`,
    `Expected output to not contain any of ${quoted}, but found "${found[0]}"`,
  );
}

function containsAll(needles: string[], out: string, ignoreCase: boolean): Check {
  const hay = ignoreCase ? out.toLowerCase() : out;
  const missing = needles.filter((n) => !hay.includes(ignoreCase ? n.toLowerCase() : n));
  const all = needles.map((n) => `"${n}"`).join(', ');
  return check(
    missing.length === 0,
    `Expected output to contain all of ${all}. Missing: ${missing.map((n) => `"${n}"`).join(', ')}`,
    `Expected output to not contain all of ${all}`,
  );
}

/** The values of a contains-any/all assertion: a list, or a comma-separated string ("quoted, items" keep commas). */
export function list(value: unknown): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) throw new Error('the value must not be an empty list');
    return value.map(String);
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error('the value must be a list or a comma-separated string');
  }
  const items: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (i < value.length && (value[i] === ',' || /\s/.test(value[i]))) i++;
    if (i >= value.length) break;
    if (value[i] === '"') {
      let item = '';
      let closed = false;
      for (i++; i < value.length; i++) {
        if ((value[i] === '\\' || value[i] === '"') && value[i + 1] === '"') item += value[++i];
        else if (value[i] === '\\' && value[i + 1] === '\\') item += value[++i];
        else if (value[i] === '"') {
          closed = true;
          i++;
          break;
        } else item += value[i];
      }
      if (!closed) throw new Error('a quoted item in the value is not closed');
      while (i < value.length && /\s/.test(value[i])) i++;
      if (i < value.length && value[i] !== ',') throw new Error('a quoted item in the value must be followed by a comma');
      items.push(item);
    } else {
      const end = value.indexOf(',', i);
      const stop = end === -1 ? value.length : end;
      items.push(value.slice(i, stop).trim());
      i = stop;
    }
  }
  return items;
}

function javascript(a: Assertion, output: unknown, ctx: AssertionContext): AssertionResult {
  if (typeof a.value !== 'string' || a.value.trim() === '') throw new Error('the value must be JavaScript code');
  const code = a.value;
  const withCode = (reason: string) => `${reason}\n${code.trimEnd()}`;
  const failed = (reason: string): AssertionResult => ({ assertion: a, pass: false, score: 0, reason: withCode(reason) });
  // promptfoo scripts call `context.provider.id()`.
  const provider = { id: () => ctx.provider, label: ctx.provider };
  const context = { vars: ctx.vars, prompt: ctx.prompt, provider, usage: ctx.usage, cost: ctx.cost };
  let result: unknown;
  try {
    result = runScript(code, { output, context });
  } catch (err) {
    return failed(`Custom function threw error: ${errorMessage(err)}`);
  }

  if (typeof result === 'boolean') {
    const pass = result !== a.negate;
    if (!pass) return failed(`Custom function returned ${result}`);
    return { assertion: a, pass, score: 1, reason: 'Assertion passed' };
  }
  if (typeof result === 'number' && Number.isFinite(result)) {
    // A score passes when above 0, or when it reaches the threshold if one is set; `not-` flips pass but keeps the score.
    const holds = a.threshold === undefined ? result > 0 : result >= a.threshold;
    const pass = holds !== a.negate;
    const threshold = a.threshold === undefined ? '' : ` (threshold ${a.threshold})`;
    const reason = pass ? 'Assertion passed' : withCode(`Custom function returned ${result}${threshold}`);
    return { assertion: a, pass, score: result, reason };
  }
  if (isGradingResult(result)) {
    const pass = result.pass !== a.negate;
    const score = typeof result.score === 'number' ? result.score : result.pass ? 1 : 0;
    const fallback = pass ? 'Assertion passed' : `Custom function returned pass: ${result.pass}`;
    const reason = typeof result.reason === 'string' && result.reason ? result.reason : fallback;
    return { assertion: a, pass, score, reason };
  }
  const got = result instanceof Promise ? 'a Promise (async code is not supported)' : describe(result);
  const multiLine = result === undefined && code.trimEnd().includes('\n');
  const hint = multiLine ? ' (multi-line code is a function body and needs `return`)' : '';
  return failed(`Custom function must return a boolean, a finite number, or an object {pass, score, reason}; it returned ${got}${hint}`);
}

function isGradingResult(value: unknown): value is { pass: boolean; score?: number; reason?: string } {
  if (typeof value !== 'object' || value === null || typeof (value as { pass?: unknown }).pass !== 'boolean') return false;
  const score = (value as { score?: unknown }).score;
  return score === undefined || (typeof score === 'number' && Number.isFinite(score));
}

function notApplicable(a: Assertion, why: string): AssertionResult {
  return { assertion: a, pass: false, score: 0, reason: `${assertionName(a)} not applicable: ${why}`, notApplicable: true };
}

/** The output as text: transforms may return objects, which assertions compare as JSON (as promptfoo does). */
/** An output as text: a string as it is, anything else (a transform's result) as JSON. */
export function asText(output: unknown): string {
  return typeof output === 'string' ? output : (JSON.stringify(output) ?? String(output));
}

function scalar(value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && !Number.isNaN(value)) return String(value);
  throw new Error('the value must be a non-empty string or a number');
}

function nonEmptyString(value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  throw new Error('the value must be a non-empty string');
}

function describe(value: unknown): string {
  if (value === undefined || value === null || typeof value === 'number') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(snippet(value, 60))}`;
  return `a value of type ${Array.isArray(value) ? 'array' : typeof value}`;
}

