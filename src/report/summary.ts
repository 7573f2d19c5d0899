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
  /** Cases answered from earlier outputs (their requests were not sent). */
  reused: number;
  /** What the reused requests would have cost at batch prices: not spent. */
  reuseSaved: number;
  /** Prompt caching, when any request of the row read from or wrote to a provider's cache. */
  cache?: CacheTally;
}

/** The prompt cache's part in a row: tokens read and written, and what that saved at batch prices. */
export interface CacheTally {
  /** Input tokens read from the cache (Anthropic cache_read_input_tokens, OpenAI cached_tokens). */
  readTokens: number;
  /** Input tokens written to the cache (Anthropic, 5-minute and 1-hour). */
  writeTokens: number;
  /** USD at batch prices: the reads at the full input price less their cost, less the writes' premium. */
  saved: number;
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
    total.reuseSaved += grading.reuseSaved;
  }
  return { providers: [...byProvider.values()], ...(grading ? { grading } : {}), total };
}

function emptyTally(label: string, model: string): Tally {
  return { label, model, cases: 0, passed: 0, failed: 0, errored: 0, pending: 0, batchCost: 0, realtimeCost: 0, unpriced: 0, reused: 0, reuseSaved: 0 };
}

function add(t: Tally, r: CaseResult): void {
  t.cases++;
  t[r.status]++;
  if (r.reused) {
    t.reused++;
    if (r.billed && r.cost) t.reuseSaved += r.cost.batch;
    return;
  }
  if (!r.billed || !r.usage) return;
  const { cachedInputTokens: read, cacheWriteTokens, cacheWrite1hTokens = 0 } = r.usage;
  if (read || cacheWriteTokens || cacheWrite1hTokens) {
    t.cache ??= { readTokens: 0, writeTokens: 0, saved: 0 };
    t.cache.readTokens += read;
    t.cache.writeTokens += cacheWriteTokens + cacheWrite1hTokens;
    t.cache.saved += r.cost?.cacheSaved ?? 0;
  }
  if (r.cost) {
    t.batchCost += r.cost.batch;
    t.realtimeCost += r.cost.realtime;
  } else {
    t.unpriced++;
  }
}
