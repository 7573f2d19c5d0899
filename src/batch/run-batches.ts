import type { Logger } from '../logger.ts';
import type { PlannedBatch } from '../plan/plan.ts';
import { ResultsDownloadError } from './lines.ts';
import type { BatchHandle, BatchMetadata, BatchProvider, BatchStatus, RequestResult } from './types.ts';

/** One planned batch on its way through the provider. */
export interface BatchRun {
  batch: PlannedBatch;
  provider: BatchProvider;
  handle?: BatchHandle;
  status?: BatchStatus;
  /** Why the batch was not submitted, or why it ended without results. */
  error?: string;
  /** When a poll first saw the batch ended: with the handle's submittedAt, the provider's turnaround. */
  endedAt?: string;
}

/** Submits every planned batch at once; a batch that cannot be submitted is kept with its error. */
export async function submitBatches(runs: BatchRun[], metadata: BatchMetadata, log: Logger): Promise<void> {
  await Promise.all(
    runs.map(async (run) => {
      try {
        run.handle = await run.provider.submit(run.batch.requests, metadata);
        log.info(`${label(run)}: submitted ${run.handle.requestCount} requests as ${run.handle.batchId}`);
      } catch (err) {
        run.error = `not submitted: ${(err as Error).message}`;
        log.warning(`${label(run)}: ${run.error}`);
      }
    }),
  );
}

export interface WaitOptions {
  /** Epoch ms after which the batches still running are left pending. */
  deadline: number;
  initialIntervalMs: number;
  maxIntervalMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Polls the submitted batches until all have ended or the deadline passes, with a growing interval. */
export async function waitForBatches(runs: BatchRun[], options: WaitOptions, log: Logger): Promise<void> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const started = now();
  let interval = options.initialIntervalMs;
  for (;;) {
    const running = runs.filter((r) => r.handle && r.status?.phase !== 'ended');
    await Promise.all(
      running.map(async (run) => {
        try {
          run.status = await run.provider.status(run.handle!);
          if (run.status.phase === 'ended') run.endedAt ??= new Date(now()).toISOString();
          const s = run.status;
          log.info(`${label(run)}: ${s.providerStatus}, ${s.completed + s.failed}/${s.total} done (${s.failed} failed), ${formatDuration(now() - started)} elapsed`);
        } catch (err) {
          log.warning(`${label(run)}: could not read the batch status, will ask again: ${(err as Error).message}`);
        }
      }),
    );
    if (runs.every((r) => !r.handle || r.status?.phase === 'ended')) return;
    const left = options.deadline - now();
    if (left <= 0) {
      const running = runs.filter((r) => r.handle && r.status?.phase !== 'ended').length;
      if (options.deadline <= started) log.info(`${running} batch(es) submitted and left pending for a later resume job`);
      else log.info(`max-wait reached after ${formatDuration(now() - started)}: ${running} batch(es) still running, left pending`);
      return;
    }
    await sleep(Math.min(interval, left));
    interval = Math.min(options.maxIntervalMs, Math.round(interval * 1.5));
  }
}

/** Reads the results of every ended batch, keyed by request id. */
export async function collectResults(runs: BatchRun[], log: Logger): Promise<Map<string, RequestResult>> {
  const results = new Map<string, RequestResult>();
  await streamResults(runs, log, (result) => {
    const isNew = !results.has(result.id);
    results.set(result.id, result);
    return isNew;
  });
  return results;
}

/** How many times the results of one batch are downloaded at most, when a download breaks off or comes back short. */
export const MAX_RESULTS_READS = 3;

/**
 * Hands every result of every ended batch to `onResult` as it is read, a line at a time; `onResult` says whether
 * the result was new (a provider may repeat an id), for the count in the log.
 *
 * A download that breaks off midway, or ends with fewer results than the batch says it answered, is made again
 * (up to MAX_RESULTS_READS in all): the provider still has the answers, and they are paid for, so they are read
 * again, never asked again. `onResult` sees the results of the first read again and must ignore repeats.
 */
export async function streamResults(runs: BatchRun[], log: Logger, onResult: (result: RequestResult) => boolean): Promise<void> {
  for (const run of runs) {
    if (!run.handle || run.status?.phase !== 'ended') continue;
    if (run.status.errors.length) run.error = `${run.status.providerStatus}: ${run.status.errors.join('; ')}`;
    const answered = run.status.completed + run.status.failed;
    const read = new Set<string>();
    let count = 0;
    for (let attempt = 1; ; attempt++) {
      let failure: Error | undefined;
      try {
        for await (const result of run.provider.results(run.handle)) {
          read.add(result.id);
          if (onResult(result)) count++;
        }
      } catch (err) {
        failure = err as Error;
      }
      const short = !failure && read.size < answered;
      if ((failure instanceof ResultsDownloadError || short) && attempt < MAX_RESULTS_READS) {
        const why = failure ? failure.message : `${read.size} of the ${answered} results the batch reports answered came`;
        log.warning(`${label(run)}: ${why}; reading the results again (${attempt + 1} of ${MAX_RESULTS_READS})`);
        continue;
      }
      if (failure) run.error = `results could not be read completely: ${failure.message}`;
      else if (short) run.error = `results could not be read completely: ${read.size} of the ${answered} results the batch reports answered came, after ${MAX_RESULTS_READS} downloads`;
      if (failure || short) log.warning(`${label(run)}: ${run.error}`);
      break;
    }
    log.info(`${label(run)}: ${run.status.providerStatus}, collected ${count} of ${run.batch.requests.length} results`);
  }
}

export function label(run: BatchRun): string {
  const part = run.batch.part ? ` (part ${run.batch.part.index} of ${run.batch.part.of})` : '';
  const grading = run.batch.purpose === 'grading' ? ' grading' : '';
  return `${run.batch.provider}:${run.batch.model}${grading}${part}`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
