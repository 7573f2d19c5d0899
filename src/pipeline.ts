import { providerFor, type Credentials } from './batch/providers.ts';
import { label, streamResults, submitBatches, waitForBatches, type BatchRun } from './batch/run-batches.ts';
import type { BatchMetadata, RequestResult } from './batch/types.ts';
import { loadSuite } from './config/load.ts';
import type { ConfigWarning, Suite } from './config/types.ts';
import type { Logger } from './logger.ts';
import type { RunState } from './state/run-state.ts';
import { buildPlan, type Plan, type PlannedBatch } from './plan/plan.ts';
import { splitBatches } from './plan/split.ts';
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
  /** Rounds of retries for requests that failed for a retryable reason; default the suite's `batch.maxRetries`, else 2. */
  maxRetries?: number;
  /** Called with the config warnings once the suite is loaded, before anything is sent. */
  onWarnings?: (warnings: ConfigWarning[]) => void;
  /**
   * Batches already submitted for this suite at this commit (a resumed or re-run job): their planned batches are
   * attached to them instead of being submitted again.
   */
  attach?: RunState;
  /** Called as each stage ends, with its wall time in ms (for the benchmark; bench/run.ts). */
  onStage?: (stage: PipelineStage, ms: number) => void;
}

export type PipelineStage = 'load' | 'plan' | 'submit' | 'wait' | 'collect' | 'score';

export interface EvalOutcome {
  /** The suite as loaded, less its tests: they are let go once planned (the plan's cases hold what they need). */
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
  plan.batches = splitBatches(plan.batches, suite.batch);
  suite.tests = []; // The cases hold what scoring needs: a large suite's tests are let go now, not at the end.
  stageEnd('plan');
  const requestCount = plan.batches.reduce((n, b) => n + b.requests.length, 0);
  log.info(`${suite.description ?? suite.file}: ${plural(plan.cases.length, 'case')}, ${plural(requestCount, 'distinct request')} in ${plural(plan.batches.length, 'batch', 'batches')}`);

  const runs: BatchRun[] = plan.batches.map((batch) => ({ batch, provider: providerFor(batch, options.credentials, log) }));
  const fresh = options.attach ? attachBatches(runs, options.attach, log) : runs;
  const metadata = { suite: suite.description ?? suite.file, ...options.metadata };
  await submitBatches(fresh, metadata, log);
  stageEnd('submit');
  const waitOptions = { deadline, initialIntervalMs: options.pollIntervalMs?.initial ?? 5_000, maxIntervalMs: options.pollIntervalMs?.max ?? 60_000 };
  await waitForBatches(runs, waitOptions, log);
  stageEnd('wait');

  // Results are scored as they are read, so the raw results of a large run are never all in memory at once.
  // A request that failed for a reason a retry could fix is held back for another try instead.
  const scorer = new RunScorer(plan, suite.pricing);
  const maxRetries = options.maxRetries ?? suite.batch.maxRetries ?? 2;
  const held = new Map<string, RequestResult>();
  let scoringMs = 0;
  const onResult = (result: RequestResult): boolean => {
    const started = performance.now();
    let added: boolean;
    if (!result.ok && result.error.retryable && maxRetries > 0) {
      added = !scorer.has(result.id) && !held.has(result.id);
      if (!scorer.has(result.id)) held.set(result.id, result);
    } else {
      held.delete(result.id);
      added = scorer.add(result);
    }
    scoringMs += performance.now() - started;
    return added;
  };
  await streamResults(runs, log, onResult);
  options.onStage?.('collect', performance.now() - mark - scoringMs);
  mark = performance.now() - scoringMs;

  for (let attempt = 1; attempt <= maxRetries && held.size > 0 && Date.now() < deadline; attempt++) {
    const retried = new Map(held);
    held.clear();
    const retryRuns: BatchRun[] = retryBatches(runs, retried, attempt, suite).map((batch) => ({ batch, provider: providerFor(batch, options.credentials, log) }));
    log.info(`retry ${attempt} of ${maxRetries}: ${plural(retried.size, 'request')} that failed for a retryable reason (${describeErrors(retried)}), in ${plural(retryRuns.length, 'new batch', 'new batches')}`);
    await submitBatches(retryRuns, metadata, log);
    runs.push(...retryRuns);
    await waitForBatches(retryRuns, waitOptions, log);
    await streamResults(retryRuns, log, onResult);
    // A retry that brought no answer (not submitted, no result) keeps the error it had; one still running is pending.
    const running = requestsOf(retryRuns.filter((r) => r.handle && r.status?.phase !== 'ended'));
    for (const [id, result] of retried) if (!scorer.has(id) && !held.has(id) && !running.has(id)) held.set(id, result);
  }
  const stillRunning = requestsOf(runs.filter((r) => r.handle && r.status?.phase !== 'ended'));
  for (const result of held.values()) if (!stillRunning.has(result.id)) scorer.add(result);

  const pending = new Set<string>();
  const batchErrors = new Map<string, string>();
  for (const run of runs) {
    // A batch that failed validation names the lines (requests) it refused: each of their cases gets its own reason.
    const byLine = new Map((run.status?.lineErrors ?? []).map((e) => [e.line, e.message]));
    run.batch.requests.forEach((request, i) => {
      const own = byLine.get(i + 1);
      if (run.handle && run.status?.phase !== 'ended') pending.add(request.id);
      else if (own) batchErrors.set(request.id, `the provider refused this request (line ${i + 1} of the batch file): ${own}`);
      else if (run.error) batchErrors.set(request.id, `batch ${run.error}`);
    });
  }
  const results = scorer.finish(pending, batchErrors);
  const summary = summarize(results);
  stageEnd('score');
  const minPassRate = options.minPassRate ?? suite.threshold ?? 1;
  return { suite, warnings, plan, runs, results, summary, minPassRate, status: verdict(summary, minPassRate) };
}

/** The requests to send again, as new batches per model, never with a request that has its answer. */
function retryBatches(runs: BatchRun[], retried: Map<string, RequestResult>, attempt: number, suite: Suite): PlannedBatch[] {
  const batches = new Map<string, PlannedBatch>();
  for (const run of runs) {
    const base = run.batch.key.replace(/(#\d+)?(~retry\d+)?$/, '');
    for (const request of run.batch.requests) {
      if (!retried.has(request.id)) continue;
      let batch = batches.get(base);
      if (!batch) batches.set(base, (batch = { key: `${base}~retry${attempt}`, provider: run.batch.provider, model: run.batch.model, baseURL: run.batch.baseURL, requests: [] }));
      if (!batch.requests.some((r) => r.id === request.id)) batch.requests.push(request);
    }
  }
  return splitBatches([...batches.values()], suite.batch);
}

function requestsOf(runs: BatchRun[]): Set<string> {
  return new Set(runs.flatMap((r) => r.batch.requests.map((q) => q.id)));
}

function describeErrors(results: Map<string, RequestResult>): string {
  const counts = new Map<string, number>();
  for (const r of results.values()) if (!r.ok) counts.set(r.error.code, (counts.get(r.error.code) ?? 0) + 1);
  return [...counts].map(([code, n]) => `${n} ${code}`).join(', ');
}

/** Gives each planned batch its already-submitted handle; returns the runs that still need submitting. */
function attachBatches(runs: BatchRun[], state: RunState, log: Logger): BatchRun[] {
  const unmatched: BatchRun[] = [];
  for (const run of runs) {
    // A batch found by listing the provider's batches has no key: it is matched by provider and model.
    const known =
      state.batches.find((b) => b.key === run.batch.key) ??
      state.batches.find((b) => !b.key && b.provider === run.batch.provider && b.model === run.batch.model);
    if (known) {
      run.handle = { provider: known.provider, batchId: known.batchId, requestCount: known.requestCount, submittedAt: known.submittedAt };
      log.info(`${run.batch.provider}:${run.batch.model}: already submitted as ${known.batchId} at ${known.submittedAt}; collecting it, not submitting again`);
    } else {
      unmatched.push(run);
    }
  }
  return unmatched;
}

/** The state a run leaves for a later job: the batches it submitted, and whether its report is final. */
export function runState(outcome: EvalOutcome, meta: Pick<RunState, 'suiteId' | 'configPath' | 'sha' | 'repo' | 'pr'>, previous?: RunState): RunState {
  const now = new Date().toISOString();
  return {
    version: 1,
    ...meta,
    suite: outcome.suite.description ?? meta.configPath,
    phase: outcome.status === 'pending' ? 'submitted' : 'collected',
    submittedAt: previous?.submittedAt ?? now,
    updatedAt: now,
    batches: outcome.runs.flatMap((r) => (r.handle ? [{ ...r.handle, key: r.batch.key, model: r.batch.model }] : [])),
  };
}

/** Pending while any case waits on a running batch; failed below the required pass rate. */
export function verdict(summary: RunSummary, minPassRate: number): RunStatus {
  if (summary.total.pending > 0) return 'pending';
  return (summary.total.passRate ?? 0) >= minPassRate ? 'completed' : 'failed';
}

export function batchFacts(runs: BatchRun[]): BatchFacts[] {
  return runs.map((r) => ({
    label: label(r),
    batchId: r.handle?.batchId,
    providerStatus: r.status?.providerStatus,
    error: r.error,
    submittedAt: r.handle?.submittedAt,
    endedAt: r.endedAt,
  }));
}
