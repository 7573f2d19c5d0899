import { isGraded } from '../config/assertion-types.ts';
import type { Assertion } from '../config/types.ts';
import { renderTemplate } from '../templates.ts';
import { evaluateAssertion } from './assertions.ts';
import { errorMessage } from './script.ts';
import { applyTransform } from './transform.ts';
import type { AssertionContext, AssertionResult, TestScore } from './types.ts';

/** The verdicts of a test's model-graded assertions, by the assertion's index in `assert`. */
export type Grades = readonly (AssertionResult | undefined)[];

/** What a model-graded assertion grades: the output as it sees it, after the test's and its own transforms. */
export interface GradingInput {
  index: number;
  assertion: Assertion;
  output: string;
}

/**
 * The model-graded assertions of a test with the output each one grades. An assertion whose transform throws is
 * left out: scoreTest fails it with the transform's error, and there is nothing to grade.
 */
export function gradingInputs(test: ScoredTest, output: string, ctx: AssertionContext): GradingInput[] {
  if (!test.assert.some((a) => isGraded(a.type))) return [];
  let outputOf: (assertion: Assertion) => unknown;
  try {
    outputOf = transformer(test, output, ctx);
  } catch {
    return [];
  }
  return test.assert.flatMap((assertion, index) => {
    if (!isGraded(assertion.type)) return [];
    try {
      const value = outputOf(assertion);
      return [{ index, assertion, output: typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)) }];
    } catch {
      return []; // Reported by scoreTest.
    }
  });
}

/**
 * The output each assertion sees: the model's, through the test's transform (run here, once: its error is thrown),
 * then through the assertion's own (run by the function returned, which throws its error).
 */
function transformer(test: ScoredTest, output: string, ctx: AssertionContext): (assertion: Assertion) => unknown {
  const transformContext = { vars: ctx.vars, prompt: ctx.prompt, provider: ctx.provider };
  const transformed = test.transform ? applyTransform(test.transform, output, transformContext) : output;
  return (assertion) => (assertion.transform ? applyTransform(assertion.transform, transformed, transformContext) : transformed);
}

export interface ScoredTest {
  assert: Assertion[];
  threshold?: number;
  transform?: string;
}

/**
 * Scores one output against a test's assertions as promptfoo combines them: the score is the weighted mean of
 * the assertion scores; the test passes when no assertion failed or, when the test sets a threshold, when the
 * score reaches it. Assertions a batch cannot measure (not applicable) count neither way.
 */
export function scoreTest(test: ScoredTest, output: string, ctx: AssertionContext, grades?: Grades): TestScore {
  if (test.assert.length === 0) return { pass: true, score: 1, reason: 'No assertions', namedScores: {}, assertions: [] };

  let outputOf: (assertion: Assertion) => unknown;
  try {
    outputOf = transformer(test, output, ctx);
  } catch (err) {
    const reason = `test ${errorMessage(err)}`;
    const assertions = test.assert.map((assertion) => ({ assertion, pass: false, score: 0, reason }));
    return { pass: false, score: 0, reason, namedScores: {}, assertions };
  }

  const assertions = test.assert.map((assertion, i): AssertionResult => {
    let value: unknown;
    try {
      value = outputOf(assertion);
    } catch (err) {
      return { assertion, pass: false, score: 0, reason: errorMessage(err) };
    }
    // A model-graded assertion's verdict comes from the grading batch; until then it counts neither way.
    const result = isGraded(assertion.type)
      ? (grades?.[i] ?? { assertion, pass: false, score: 0, reason: 'awaiting its grade from the grading batch', notApplicable: true, awaitingGrade: true })
      : evaluateAssertion(assertion, value, ctx);
    // promptfoo: weight 0 records a score (e.g. for a metric) without the assertion being able to fail the test.
    return shared(assertion.weight === 0 && !result.notApplicable ? { ...result, pass: true } : result);
  });

  const measured = assertions.filter((r) => !r.notApplicable);
  const skipped = assertions.filter((r) => r.notApplicable);
  const totalWeight = sum(measured.map((r) => r.assertion.weight));
  // No measurable assertion is like no assertion at all; only weight-0 ones give promptfoo's score of 0.
  const weighted = sum(measured.map((r) => r.score * r.assertion.weight));
  const score = measured.length === 0 ? 1 : totalWeight > 0 ? weighted / totalWeight : 0;

  let pass: boolean;
  let reason: string;
  if (typeof test.threshold === 'number' && !Number.isNaN(test.threshold)) {
    pass = score >= test.threshold;
    reason = `Aggregate score ${score.toFixed(2)} ${pass ? '≥' : '<'} ${test.threshold} threshold`;
  } else {
    const failures = measured.filter((r) => !r.pass);
    pass = failures.length === 0;
    if (!pass) reason = failures.map((r) => r.reason).join('; ');
    else reason = measured.length > 0 ? 'All assertions passed' : 'No measurable assertions';
  }
  if (skipped.length > 0) reason += ` (not counted: ${skipped.map((r) => r.reason).join('; ')})`;

  const named = namedScores(measured, ctx.vars);
  // The score of a case that passed every assertion is the same for every case of the test: one object for all.
  const known = passedScores.get(test.assert);
  if (known && known.pass === pass && known.score === score && known.reason === reason && sameResults(known, assertions, named)) return known;
  const result = { pass, score, reason, namedScores: named, assertions };
  if (pass && !known && assertions.every((r) => r === passedResults.get(r.assertion))) passedScores.set(test.assert, result);
  return result;
}

const PASSED_REASON = 'Assertion passed';

/**
 * Results are read-only once made, and most of a large run's are "passed, score 1" for an assertion that every
 * case of a test (the defaultTest's: every case of the suite) shares. Those results are one object per
 * assertion, and the scores of cases that pass all their test's assertions one object per test, not one per case:
 * some 500 bytes a case (100 MB at 200,000 cases).
 */
const passedResults = new WeakMap<Assertion, AssertionResult>();
const passedScores = new WeakMap<Assertion[], TestScore>();

/** The shared "passed" result of its assertion, when the result is that; else the result itself. */
function shared(result: AssertionResult): AssertionResult {
  if (!result.pass || result.score !== 1 || result.reason !== PASSED_REASON || result.notApplicable !== undefined) return result;
  const known = passedResults.get(result.assertion);
  if (known) return known;
  passedResults.set(result.assertion, result);
  return result;
}

function sameResults(known: TestScore, assertions: AssertionResult[], named: Record<string, number>): boolean {
  if (known.assertions.length !== assertions.length || !known.assertions.every((r, i) => r === assertions[i])) return false;
  const a = Object.entries(known.namedScores);
  const b = Object.entries(named);
  return a.length === b.length && a.every(([k, v]) => named[k] === v);
}

/** Each metric's weighted mean score over the assertions that name it. */
function namedScores(results: AssertionResult[], vars: Record<string, unknown>): Record<string, number> {
  const byMetric = new Map<string, AssertionResult[]>();
  for (const r of results) {
    if (!r.assertion.metric) continue;
    const name = metricName(r.assertion.metric, vars);
    byMetric.set(name, [...(byMetric.get(name) ?? []), r]);
  }
  const scores: Record<string, number> = {};
  for (const [name, rs] of byMetric) {
    const weight = sum(rs.map((r) => r.assertion.weight));
    // A metric only from weight-0 assertions still reports their plain mean: weight 0 is how promptfoo suites
    // record a metric without it affecting the test.
    const weighted = sum(rs.map((r) => r.score * r.assertion.weight));
    scores[name] = weight > 0 ? weighted / weight : sum(rs.map((r) => r.score)) / rs.length;
  }
  return scores;
}

/** Metric names may use the test's vars, as in promptfoo (`metric: 'accuracy_{{lang}}'`). */
function metricName(metric: string, vars: Record<string, unknown>): string {
  try {
    return renderTemplate(metric, vars);
  } catch {
    return metric;
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
