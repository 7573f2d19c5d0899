import { describe, expect, it } from 'vitest';
import type { PlannedCase } from '../../src/plan/plan.ts';
import { caseKey, compare, parseBaseline, toBaseline, type Baseline } from '../../src/report/baseline.ts';
import type { CaseResult } from '../../src/score/score-run.ts';
import { caseResult } from './fixtures.ts';

function planned(extra: Partial<PlannedCase> = {}): PlannedCase {
  return {
    index: 0,
    provider: 'openai:gpt-4.1-mini',
    prompt: 'support',
    description: 'Return policy',
    vars: { question: 'Can I return it?', lang: 'en' },
    assertions: [{ type: 'contains', negate: false, value: '30 days', weight: 1 }],
    metadata: {},
    location: { file: '/suite.yaml', line: 10, column: 5 },
    requestId: 'r-original-prompt-text',
    ...extra,
  };
}

describe('caseKey', () => {
  it('stays the same when the prompt text changes (a new request id) but model, prompt label, test and vars do not', () => {
    const key = caseKey(planned());
    expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(caseKey(planned({ requestId: 'r-edited-prompt-text' }))).toBe(key);
    // Nor does it depend on where the test sits, its index, its assertions or the order of its vars.
    expect(caseKey(planned({ index: 41, location: { file: '/suite.yaml', line: 99, column: 1 }, assertions: [], metadata: { owner: 'x' } }))).toBe(key);
    expect(caseKey(planned({ vars: { lang: 'en', question: 'Can I return it?' } }))).toBe(key);
  });

  it('differs when the vars, the model, the prompt label or the test differ', () => {
    const key = caseKey(planned());
    const others = [
      planned({ vars: { question: 'Can I return it?', lang: 'de' } }),
      planned({ vars: { question: 'Can I return it?' } }),
      planned({ vars: { question: 'Can I return it?', lang: 'en', extra: 1 } }),
      planned({ provider: 'anthropic:claude-haiku-4-5' }),
      planned({ prompt: 'terse' }),
      planned({ description: 'Return policy (EU)' }),
    ].map(caseKey);
    for (const other of others) expect(other).not.toBe(key);
    expect(new Set(others).size).toBe(others.length);
  });
});

describe('toBaseline', () => {
  it('keeps the verdict, model and request of every scored case, by case key, and skips pending ones', () => {
    const results = [
      caseResult({ provider: 'a', description: 'One', status: 'passed' }),
      caseResult({ provider: 'a', description: 'Two', status: 'failed' }),
      caseResult({ provider: 'b', description: 'One', status: 'errored' }),
      caseResult({ provider: 'b', description: 'Two', status: 'pending' }),
    ];
    const before = Date.now();
    const b = toBaseline(results, { suite: 'Quickstart', sha: 'abc123', ref: 'main' });
    expect(b).toMatchObject({ version: 1, suite: 'Quickstart', sha: 'abc123', ref: 'main' });
    expect(Date.parse(b.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(b.cases).toEqual({
      [caseKey(results[0].case)]: { provider: 'a', status: 'passed', requestId: 'r-a-One-{}' },
      [caseKey(results[1].case)]: { provider: 'a', status: 'failed', requestId: 'r-a-Two-{}' },
      [caseKey(results[2].case)]: { provider: 'b', status: 'errored', requestId: 'r-b-One-{}' },
    });
  });
});

// ---- compare ----------------------------------------------------------------------------------------------------------

/** A baseline of `statuses` (description → status per provider, in order), as a run on main would leave it. */
function baselineOf(providers: string[], statuses: Record<string, CaseResult['status'][]>, ref = 'main'): Baseline {
  const results = providers.flatMap((provider, p) => Object.entries(statuses).map(([description, s]) => caseResult({ provider, description, status: s[p], requestId: `main-${provider}-${description}` })));
  return toBaseline(results, { suite: 'Quickstart', sha: 'base0123456789', ref });
}

/** This run's results; every request id differs from the baseline's, as after an edit of the prompt's text. */
function runOf(providers: string[], statuses: Record<string, CaseResult['status'][]>): CaseResult[] {
  return providers.flatMap((provider, p) =>
    Object.entries(statuses)
      .filter(([, s]) => s[p] !== undefined)
      .map(([description, s]) => caseResult({ provider, description, status: s[p], requestId: `pr-${provider}-${description}` })),
  );
}

const names = (results: CaseResult[]) => results.map((r) => `${r.case.provider}/${r.case.description}`);

describe('compare', () => {
  const models = ['a', 'b'];
  const base = baselineOf(models, {
    'pass→fail': ['passed', 'passed'],
    'pass→error': ['passed', 'failed'],
    'fail→pass': ['failed', 'passed'],
    'error→pass': ['errored', 'passed'],
    'fail→error': ['failed', 'passed'],
    'pass→pending': ['passed', 'passed'],
    'still passes': ['passed', 'passed'],
  });
  const run = runOf(models, {
    'pass→fail': ['failed', 'passed'],
    'pass→error': ['errored', 'passed'],
    'fail→pass': ['passed', 'passed'],
    'error→pass': ['passed', 'passed'],
    'fail→error': ['errored', 'passed'],
    'pass→pending': ['pending', 'passed'],
    'still passes': ['passed', 'passed'],
    'new test': ['passed', 'failed'],
  });
  const c = compare(run, base);

  it('counts a case that passed on the baseline and fails or errors now as a regression, even under a new request id', () => {
    expect(names(c.regressions)).toEqual(['a/pass→fail', 'a/pass→error']);
  });

  it('counts a case that failed or errored on the baseline and passes now as a fix', () => {
    // b/pass→error failed on main and passes now: a fix too.
    expect(names(c.fixes)).toEqual(['a/fail→pass', 'a/error→pass', 'b/pass→error']);
  });

  it('ignores pending cases and failed ↔ errored changes, and counts the cases the baseline did not have', () => {
    expect(names([...c.regressions, ...c.fixes])).not.toContain('a/pass→pending');
    expect(names([...c.regressions, ...c.fixes])).not.toContain('a/fail→error');
    expect(c.added).toBe(2);
  });

  it('gives each model its pass rate on the baseline and now, and the total', () => {
    // a on main: 4 of 7 passed; now 4 of 7 scored (one is pending, one is new). b on main: 6 of 7; now 7 of 8.
    expect(c.providers).toEqual([
      { label: 'a', before: 4 / 7, after: 4 / 7 },
      { label: 'b', before: 6 / 7, after: 7 / 8 },
    ]);
    expect(c.total).toEqual({ label: 'Total', before: 10 / 14, after: 11 / 15 });
    expect(c.baseline).toEqual({ sha: 'base0123456789', ref: 'main', createdAt: base.createdAt });
  });

  it('leaves the baseline rate of a model new in this run undefined, and keeps a removed model in the baseline total', () => {
    const b = baselineOf(['a', 'gone'], { One: ['passed', 'failed'], Two: ['failed', 'failed'] });
    const now = compare(runOf(['a', 'new'], { One: ['passed', 'passed'], Two: ['passed', 'failed'] }), b);
    expect(now.providers).toEqual([
      { label: 'a', before: 0.5, after: 1 },
      { label: 'new', before: undefined, after: 0.5 },
    ]);
    expect(now.total).toEqual({ label: 'Total', before: 1 / 4, after: 3 / 4 });
    expect(now.added).toBe(2);
    expect(now.regressions).toEqual([]);
    expect(names(now.fixes)).toEqual(['a/Two']);
  });

  it('has no rates where nothing is scored', () => {
    const empty: Baseline = { version: 1, suite: 'Quickstart', createdAt: '2026-01-01T00:00:00.000Z', cases: {} };
    const now = compare(runOf(['a'], { One: ['pending'] }), empty);
    expect(now.providers).toEqual([{ label: 'a', before: undefined, after: undefined }]);
    expect(now.total).toEqual({ label: 'Total', before: undefined, after: undefined });
    expect(now.added).toBe(1);
  });
});

describe('parseBaseline', () => {
  it('reads back what toBaseline wrote', () => {
    const b = baselineOf(['a'], { One: ['passed'], Two: ['errored'] });
    const { baseline, problem } = parseBaseline(JSON.stringify(b));
    expect(problem).toBeUndefined();
    expect(baseline).toEqual(b);
  });

  it('rejects text that is not JSON, saying so', () => {
    const { baseline, problem } = parseBaseline('{"version": 1, "cases": ');
    expect(baseline).toBeUndefined();
    expect(problem).toMatch(/^the baseline is not JSON \(.+\)$/);
  });

  it.each([
    ['another version', { version: 2, suite: 's', createdAt: 'x', cases: {} }],
    ['no version', { suite: 's', createdAt: 'x', cases: {} }],
    ['no cases', { version: 1, suite: 's', createdAt: 'x' }],
    ['null cases', { version: 1, suite: 's', createdAt: 'x', cases: null }],
    ['null', null],
    ['a number', 1],
    ['a string', 'baseline'],
  ])('rejects %s as written by another version', (_, value) => {
    const { baseline, problem } = parseBaseline(JSON.stringify(value));
    expect(baseline).toBeUndefined();
    expect(problem).toBe('the baseline was written by another version of batch-evals');
  });
});
