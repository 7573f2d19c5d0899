import type { BatchOptions } from '../config/types.ts';
import type { Logger } from '../logger.ts';
import type { PlannedBatch } from '../plan/plan.ts';
import { splitBatches } from '../plan/split.ts';
import { plural } from '../report/markdown.ts';
import type { RunState } from '../state/run-state.ts';
import { providerFor, type Credentials } from './providers.ts';
import { streamResults, submitBatches, waitForBatches, type BatchRun, type WaitOptions } from './run-batches.ts';
import type { BatchMetadata, RequestResult } from './types.ts';

/** Where the results of a phase go: the generation scorer, or the grading collector. */
export interface ResultSink {
  /** Takes one result; false when it is a repeat (the provider sent an id twice) or unknown. */
  add(result: RequestResult): boolean;
  /** Whether the request's answer is in already. */
  has(id: string): boolean;
}

export interface PhaseOptions {
  credentials: Credentials;
  metadata: BatchMetadata;
  wait: WaitOptions;
  /** Rounds of retries for requests that failed for a retryable reason. */
  maxRetries: number;
  batchOptions: BatchOptions;
  /** Batches already submitted (a resumed job): attached to, never submitted again. */
  attach?: RunState;
  log: Logger;
  /** For the benchmark's stages: called once the batches are submitted, and once they have ended (or time is up). */
  onSubmitted?: () => void;
  onWaited?: () => void;
  /** Time spent inside `sink.add`, for the benchmark's split of collecting and scoring. */
  onSinkTime?: (ms: number) => void;
}

export interface PhaseOutcome {
  runs: BatchRun[];
  /** Request ids still in a running batch. */
  pending: Set<string>;
  /** Request ids with no result because their batch failed or was refused, with why. */
  batchErrors: Map<string, string>;
}

/**
 * One round trip through the batch API: submits the planned batches (or attaches to those already submitted),
 * waits until they end or the deadline passes, and hands every result to the sink as it is read. A request that
 * failed for a reason a retry could fix goes again in a new, smaller batch while retries and time are left;
 * what succeeded is never sent again.
 */
export async function runBatchPhase(batches: PlannedBatch[], sink: ResultSink, options: PhaseOptions): Promise<PhaseOutcome> {
  const { log, maxRetries } = options;
  const runs: BatchRun[] = batches.map((batch) => ({ batch, provider: providerFor(batch, options.credentials, log) }));
  const fresh = options.attach ? attachBatches(runs, options.attach, log) : runs;
  await submitBatches(fresh, options.metadata, log);
  options.onSubmitted?.();
  await waitForBatches(runs, options.wait, log);
  options.onWaited?.();

  const held = new Map<string, RequestResult>();
  let sinkMs = 0;
  const onResult = (result: RequestResult): boolean => {
    const started = performance.now();
    let added: boolean;
    if (!result.ok && result.error.retryable && maxRetries > 0) {
      added = !sink.has(result.id) && !held.has(result.id);
      if (!sink.has(result.id)) held.set(result.id, result);
    } else {
      held.delete(result.id);
      added = sink.add(result);
    }
    sinkMs += performance.now() - started;
    return added;
  };
  await streamResults(runs, log, onResult);

  for (let attempt = 1; attempt <= maxRetries && held.size > 0 && Date.now() < options.wait.deadline; attempt++) {
    const retried = new Map(held);
    held.clear();
    const retryRuns: BatchRun[] = retryBatches(runs, retried, attempt, options.batchOptions).map((batch) => ({ batch, provider: providerFor(batch, options.credentials, log) }));
    log.info(`retry ${attempt} of ${maxRetries}: ${plural(retried.size, 'request')} that failed for a retryable reason (${describeErrors(retried)}), in ${plural(retryRuns.length, 'new batch', 'new batches')}`);
    await submitBatches(retryRuns, options.metadata, log);
    runs.push(...retryRuns);
    await waitForBatches(retryRuns, options.wait, log);
    await streamResults(retryRuns, log, onResult);
    // A retry that brought no answer (not submitted, no result) keeps the error it had; one still running is pending.
    const running = requestsOf(retryRuns.filter((r) => r.handle && r.status?.phase !== 'ended'));
    for (const [id, result] of retried) if (!sink.has(id) && !held.has(id) && !running.has(id)) held.set(id, result);
  }
  const stillRunning = requestsOf(runs.filter((r) => r.handle && r.status?.phase !== 'ended'));
  for (const result of held.values()) if (!stillRunning.has(result.id)) sink.add(result);
  options.onSinkTime?.(sinkMs);

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
  return { runs, pending, batchErrors };
}

/** The requests to send again, as new batches per model, never with a request that has its answer. */
function retryBatches(runs: BatchRun[], retried: Map<string, RequestResult>, attempt: number, options: BatchOptions): PlannedBatch[] {
  const batches = new Map<string, PlannedBatch>();
  for (const run of runs) {
    const base = run.batch.key.replace(/(#\d+)?(~retry\d+)?$/, '');
    for (const request of run.batch.requests) {
      if (!retried.has(request.id)) continue;
      let batch = batches.get(base);
      if (!batch) batches.set(base, (batch = { ...run.batch, key: `${base}~retry${attempt}`, part: undefined, requests: [] }));
      if (!batch.requests.some((r) => r.id === request.id)) batch.requests.push(request);
    }
  }
  return splitBatches([...batches.values()], options);
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
