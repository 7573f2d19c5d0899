import { providerFor, type Credentials } from './batch/providers.ts';
import { streamResults, submitBatches, waitForBatches, type BatchRun } from './batch/run-batches.ts';
import type { BatchMetadata } from './batch/types.ts';
import { loadSuite } from './config/load.ts';
import type { ConfigWarning, Suite } from './config/types.ts';
import type { Logger } from './logger.ts';
import { buildPlan, type Plan } from './plan/plan.ts';
import { plural, type BatchFacts, type RunStatus } from './report/markdown.ts';
import { summarize, type RunSummary } from './report/summary.ts';
import { RunScorer, type CaseResult } from './score/score-run.ts';

export interface EvalOptions {
  configPath: string;
  credentials: Credentials;
  maxWaitMs: number;
  /** Overrides the suite's `threshold`; 1.0 when neither is set. */
  minPassRate?: number;
  metadata?: Omit<BatchMetadata, 'suite'>;
  pollIntervalMs?: { initial: number; max: number };
  log: Logger;
  /** Called with the config warnings once the suite is loaded, before anything is sent. */
  onWarnings?: (warnings: ConfigWarning[]) => void;
  /** Called as each stage ends, with its wall time in ms (for the benchmark; bench/run.ts). */
  onStage?: (stage: PipelineStage, ms: number) => void;
}

export type PipelineStage = 'load' | 'plan' | 'submit' | 'wait' | 'collect' | 'score';

export interface EvalOutcome {
  suite: Suite;
  warnings: ConfigWarning[];
  plan: Plan;
  runs: BatchRun[];
  results: CaseResult[];
  summary: RunSummary;
  minPassRate: number;
  status: RunStatus;
}

/** config -> plan -> batch -> score: everything but the reporting, shared by the action and the CLI. */
export async function evaluate(options: EvalOptions): Promise<EvalOutcome> {
  const { log } = options;
  const deadline = Date.now() + options.maxWaitMs;
  let mark = performance.now();
  const stageEnd = (stage: PipelineStage) => {
    const now = performance.now();
    options.onStage?.(stage, now - mark);
    mark = now;
  };

  const { suite, warnings } = loadSuite(options.configPath);
  stageEnd('load');
  options.onWarnings?.(warnings);

  mark = performance.now();
  const plan = buildPlan(suite);
  stageEnd('plan');
  const requestCount = plan.batches.reduce((n, b) => n + b.requests.length, 0);
  log.info(`${suite.description ?? suite.file}: ${plural(plan.cases.length, 'case')}, ${plural(requestCount, 'distinct request')} in ${plural(plan.batches.length, 'batch', 'batches')}`);

  const runs: BatchRun[] = plan.batches.map((batch) => ({ batch, provider: providerFor(batch, options.credentials, log) }));
  await submitBatches(runs, { suite: suite.description ?? suite.file, ...options.metadata }, log);
  stageEnd('submit');
  await waitForBatches(runs, { deadline, initialIntervalMs: options.pollIntervalMs?.initial ?? 5_000, maxIntervalMs: options.pollIntervalMs?.max ?? 60_000 }, log);
  stageEnd('wait');
  // Results are scored as they are read, so the raw results of a large run are never all in memory at once.
  const scorer = new RunScorer(plan, suite.pricing);
  let scoringMs = 0;
  await streamResults(runs, log, (result) => {
    const started = performance.now();
    const added = scorer.add(result);
    scoringMs += performance.now() - started;
    return added;
  });
  options.onStage?.('collect', performance.now() - mark - scoringMs);
  mark = performance.now() - scoringMs;

  const pending = new Set<string>();
  const batchErrors = new Map<string, string>();
  for (const run of runs) {
    for (const request of run.batch.requests) {
      if (run.handle && run.status?.phase !== 'ended') pending.add(request.id);
      else if (run.error) batchErrors.set(request.id, `batch ${run.error}`);
    }
  }
  const results = scorer.finish(pending, batchErrors);
  const summary = summarize(results);
  stageEnd('score');
  const minPassRate = options.minPassRate ?? suite.threshold ?? 1;
  return { suite, warnings, plan, runs, results, summary, minPassRate, status: verdict(summary, minPassRate) };
}

/** Pending while any case waits on a running batch; failed below the required pass rate. */
export function verdict(summary: RunSummary, minPassRate: number): RunStatus {
  if (summary.total.pending > 0) return 'pending';
  return (summary.total.passRate ?? 0) >= minPassRate ? 'completed' : 'failed';
}

export function batchFacts(runs: BatchRun[]): BatchFacts[] {
  return runs.map((r) => ({
    label: `${r.batch.provider}:${r.batch.model}`,
    batchId: r.handle?.batchId,
    providerStatus: r.status?.providerStatus,
    error: r.error,
    submittedAt: r.handle?.submittedAt,
    endedAt: r.endedAt,
  }));
}
