/** What bench/run.ts and the measured child (bench/child.ts) share. */

export const STAGES = ['load', 'plan', 'submit', 'wait', 'collect', 'score', 'report'] as const;
export type Stage = (typeof STAGES)[number];
export const RESULT_MARK = 'BENCH_RESULT ';

/** What a child reports for one size. */
export interface ChildResult {
  cases: number;
  requests: number;
  passed: number;
  failed: number;
  errored: number;
  pending: number;
  /** Provider batches submitted (retries included), per provider, with the most requests one of them held. */
  batches: { provider: string; count: number; largest: number }[];
  /** Requests sent in provider batches (not answered from earlier outputs). */
  sentRequests: number;
  /** Cases answered from earlier outputs, and what their requests would have cost at batch prices. */
  reused: number;
  reuseSaved: number;
  /** USD at batch prices, for what was sent. */
  batchCost: number;
  /** Seconds per stage. */
  stages: Record<Stage, number>;
  /** RSS in MB right after each stage. */
  rssAfter: Record<Stage, number>;
  totalSeconds: number;
  peakRssMB: number;
  /** RSS once the engine's modules are imported, before the run. */
  baselineRssMB: number;
  peakHeapMB: number;
  resultsFileMB: number;
  markdownKB: number;
}

export const MB = 1024 * 1024;
