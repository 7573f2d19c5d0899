/**
 * The fuzz test's worker thread (see fuzz.test.ts): loads one suite per message and plans it, and says how it went.
 * A thread of its own so that the test can stop a case that hangs and see a case that runs out of memory (the
 * thread has a capped heap) without losing the test run; it runs the sources as Node runs them (type stripping).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { ConfigError, type ConfigIssue } from '../../src/config/errors.ts';
import { confineReferences } from '../../src/config/files.ts';
import { loadSuite, type LoadedSuite } from '../../src/config/load.ts';
import { buildPlan } from '../../src/plan/plan.ts';

export interface FuzzJob {
  id: number;
  file: string;
  /** Confine file:// references to this directory. */
  confineTo?: string;
  /** Past this growth of the heap, garbage is collected to see what the case really holds. */
  heapCheckMB: number;
}

export interface ReportedIssue {
  message: string;
  location?: { file: unknown; line: unknown; column: unknown };
}

export interface FuzzOutcome {
  id: number;
  /** Milliseconds for loadSuite and buildPlan together. */
  ms: number;
  /**
   * Heap in use after the case, its suite and plan still held, less the heap before it (MB). When that passes
   * the job's heapCheckMB, garbage is collected first, and the base is the heap of the last collection.
   */
  heapGrowthMB: number;
  result: 'plan' | 'config-error' | 'crash';
  /** Where the ConfigError or the crash came from. */
  stage?: 'load' | 'plan';
  /** The ConfigError's issues (messages cut short), or the warnings of a loaded suite. */
  issues: ReportedIssue[];
  warnings: ReportedIssue[];
  cases?: number;
  crash?: { name: string; message: string; stack: string };
}

function report(issue: ConfigIssue | { message: string; location?: ReportedIssue['location'] }): ReportedIssue {
  const message = typeof issue.message === 'string' ? issue.message.slice(0, 300) : `(not a string: ${typeof issue.message})`;
  return { message, ...(issue.location ? { location: { file: issue.location.file, line: issue.location.line, column: issue.location.column } } : {}) };
}

// A garbage collection on demand (node --expose-gc, set from inside the thread).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MB = 1024 * 1024;
gc();
let collectedHeap = process.memoryUsage().heapUsed;
/** The last case's suite and plan, held until its heap is measured. */
let holding: unknown;
let collected = false;

function heapGrowth(before: number, job: FuzzJob): number {
  const growth = (process.memoryUsage().heapUsed - before) / MB;
  if (growth <= job.heapCheckMB) return growth;
  gc();
  collected = true;
  return (process.memoryUsage().heapUsed - collectedHeap) / MB;
}

function run(job: FuzzJob): FuzzOutcome {
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  let stage: 'load' | 'plan' = 'load';
  const outcome = (rest: Omit<FuzzOutcome, 'id' | 'ms' | 'heapGrowthMB'>): FuzzOutcome => {
    const ms = performance.now() - started;
    return { id: job.id, ms, heapGrowthMB: heapGrowth(heapBefore, job), ...rest };
  };
  let loaded: LoadedSuite | undefined;
  try {
    loaded = job.confineTo ? confineReferences(job.confineTo, () => loadSuite(job.file)) : loadSuite(job.file);
    stage = 'plan';
    const plan = buildPlan(loaded.suite);
    holding = [loaded, plan];
    return outcome({ result: 'plan', issues: [], warnings: loaded.warnings.map(report), cases: plan.cases.length });
  } catch (err) {
    const warnings = loaded?.warnings.map(report) ?? [];
    if (err instanceof ConfigError) return outcome({ result: 'config-error', stage, issues: err.issues.map(report), warnings });
    const e = err instanceof Error ? err : new Error(`non-Error thrown: ${String(err)}`);
    return outcome({ result: 'crash', stage, issues: [], warnings, crash: { name: e.constructor.name, message: e.message.slice(0, 500), stack: (e.stack ?? '').slice(0, 2000) } });
  }
}

parentPort?.on('message', (job: FuzzJob) => {
  const outcome = run(job);
  holding = undefined;
  parentPort!.postMessage(outcome);
  if (collected) {
    gc(); // without the case's results: the base of the next measure
    collectedHeap = process.memoryUsage().heapUsed;
    collected = false;
  }
});
