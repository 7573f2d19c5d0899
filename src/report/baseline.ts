import { createHash } from 'node:crypto';
import type { PlannedCase } from '../plan/plan.ts';
import { canonicalJson } from '../plan/request-id.ts';
import type { CaseResult, CaseStatus } from '../score/score-run.ts';

/** What a default-branch run leaves for the pull requests against it: each case's verdict. */
export interface Baseline {
  version: 1;
  suite: string;
  sha?: string;
  ref?: string;
  createdAt: string;
  /** By case key: a case is the same across commits while its model, prompt label, test and vars are. */
  cases: Record<string, BaselineCase>;
}

export interface BaselineCase {
  provider: string;
  status: Exclude<CaseStatus, 'pending'>;
  /** The request it was answered by: the same id means byte for byte the same request. */
  requestId: string;
}

/** Stable across edits of the prompt's text, so that a changed prompt shows as a regression, not a new case. */
export function caseKey(c: PlannedCase): string {
  const identity = canonicalJson({ provider: c.provider, prompt: c.prompt, test: c.description, vars: c.vars });
  return createHash('sha256').update(identity).digest('base64url').slice(0, 22);
}

export function toBaseline(results: CaseResult[], meta: { suite: string; sha?: string; ref?: string }): Baseline {
  const cases: Record<string, BaselineCase> = {};
  for (const r of results) {
    if (r.status === 'pending') continue;
    cases[caseKey(r.case)] = { provider: r.case.provider, status: r.status, requestId: r.case.requestId };
  }
  return { version: 1, ...meta, createdAt: new Date().toISOString(), cases };
}

export interface PassRateChange {
  label: string;
  /** Pass rate on the baseline, over its cases of this model; undefined for a model new in this run. */
  before?: number;
  after?: number;
}

export interface Comparison {
  baseline: Pick<Baseline, 'sha' | 'ref' | 'createdAt'>;
  providers: PassRateChange[];
  total: PassRateChange;
  /** Passed on the baseline, failed or errored now. */
  regressions: CaseResult[];
  /** Failed or errored on the baseline, passed now. */
  fixes: CaseResult[];
  /** Cases the baseline did not have. */
  added: number;
}

export function compare(results: CaseResult[], baseline: Baseline): Comparison {
  const regressions: CaseResult[] = [];
  const fixes: CaseResult[] = [];
  let added = 0;
  for (const r of results) {
    const before = baseline.cases[caseKey(r.case)];
    if (!before) {
      added++;
      continue;
    }
    if (before.status === 'passed' && (r.status === 'failed' || r.status === 'errored')) regressions.push(r);
    else if (before.status !== 'passed' && r.status === 'passed') fixes.push(r);
  }

  const labels = [...new Set(results.map((r) => r.case.provider))];
  const providers = labels.map((label) => ({
    label,
    before: passRate(Object.values(baseline.cases).filter((c) => c.provider === label)),
    after: passRate(results.filter((r) => r.case.provider === label)),
  }));
  const total = { label: 'Total', before: passRate(Object.values(baseline.cases)), after: passRate(results) };
  return { baseline: { sha: baseline.sha, ref: baseline.ref, createdAt: baseline.createdAt }, providers, total, regressions, fixes, added };
}

function passRate(cases: { status: CaseStatus }[]): number | undefined {
  let passed = 0;
  let scored = 0;
  for (const c of cases) {
    if (c.status === 'pending') continue;
    scored++;
    if (c.status === 'passed') passed++;
  }
  return scored ? passed / scored : undefined;
}

/** Reads a baseline saved by an earlier run; undefined (and why) when it is not one this version can use. */
export function parseBaseline(text: string): { baseline?: Baseline; problem?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: `the baseline is not JSON (${(err as Error).message})` };
  }
  const b = value as Partial<Baseline> | null;
  if (!b || typeof b !== 'object' || b.version !== 1 || typeof b.cases !== 'object' || b.cases === null) {
    return { problem: 'the baseline was written by another version of batch-evals' };
  }
  return { baseline: b as Baseline };
}
