import type { GradingCost } from '../grade/grading-run.ts';
import type { CaseResult } from '../score/score-run.ts';

export interface Tally {
  label: string;
  model: string;
  cases: number;
  passed: number;
  failed: number;
  errored: number;
  pending: number;
  /** passed / (passed + failed + errored); undefined while nothing is scored. */
  passRate?: number;
  batchCost: number;
  realtimeCost: number;
  /** Requests whose model has no known price: their cost is not in the figures. */
  unpriced: number;
}

export interface RunSummary {
  providers: Tally[];
  /** The model-graded assertions' grading batch: its own cost line, included in the total. */
  grading?: GradingCost;
  total: Tally;
}

export function summarize(results: CaseResult[], grading?: GradingCost): RunSummary {
  const byProvider = new Map<string, Tally>();
  const total = emptyTally('Total', '');
  for (const r of results) {
    let tally = byProvider.get(r.case.provider);
    if (!tally) {
      tally = emptyTally(r.case.provider, r.model);
      byProvider.set(r.case.provider, tally);
    }
    for (const t of [tally, total]) add(t, r);
  }
  for (const t of [...byProvider.values(), total]) {
    const scored = t.passed + t.failed + t.errored;
    t.passRate = scored > 0 ? t.passed / scored : undefined;
  }
  if (grading) {
    total.batchCost += grading.batchCost;
    total.realtimeCost += grading.realtimeCost;
    total.unpriced += grading.unpriced;
  }
  return { providers: [...byProvider.values()], ...(grading ? { grading } : {}), total };
}

function emptyTally(label: string, model: string): Tally {
  return { label, model, cases: 0, passed: 0, failed: 0, errored: 0, pending: 0, batchCost: 0, realtimeCost: 0, unpriced: 0 };
}

function add(t: Tally, r: CaseResult): void {
  t.cases++;
  t[r.status]++;
  if (!r.billed || !r.usage) return;
  if (r.cost) {
    t.batchCost += r.cost.batch;
    t.realtimeCost += r.cost.realtime;
  } else {
    t.unpriced++;
  }
}
