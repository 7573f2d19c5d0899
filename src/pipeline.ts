import { runBatchPhase, type PhaseOutcome, type ResultSink } from './batch/batch-phase.ts';
import type { Credentials } from './batch/providers.ts';
import { label, type BatchRun } from './batch/run-batches.ts';
import type { BatchMetadata } from './batch/types.ts';
import { loadSuite } from './config/load.ts';
import type { ConfigWarning, Suite } from './config/types.ts';
import type { Logger } from './logger.ts';
import type { RunState } from './state/run-state.ts';
import { turnRound, turnsOf, unsentTurns } from './plan/conversation.ts';
import { buildPlan, type Conversation, type Plan, type PlannedBatch } from './plan/plan.ts';
import { splitBatches } from './plan/split.ts';
import { markPromptCaching } from './plan/cache-prefix.ts';
import { plural, type BatchFacts, type RunStatus } from './report/markdown.ts';
import { summarize, type RunSummary } from './report/summary.ts';
import { GradingRun, type GradingCost } from './grade/grading-run.ts';
import { reuseEarlier, type EarlierOutputs } from './reuse/earlier-outputs.ts';
import { RunScorer, type CaseResult } from './score/score-run.ts';

interface GradingOutcome {
  runs: BatchRun[];
  cost: GradingCost;
}

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
  /**
   * Earlier outputs by request id: requests answered there are not sent. A resumed run (attach) answers from them
   * too: its submit left out the requests it answered so, and collects only what it did submit. The run's own
   * answers are added, to be stored for the next run.
   */
  reuse?: EarlierOutputs;
  /**
   * Called with the plan as it will be sent, before anything is sent (the `max-cost` check): a throw stops the run
   * there, with nothing sent.
   */
  beforeSubmit?: (plan: Plan, suite: Suite) => Promise<void>;
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
  suite.tests = []; // The cases hold what scoring needs: a large suite's tests are let go now, not at the end.
  // Results are scored as they are read, so the raw results of a large run are never all in memory at once.
  const scorer = new RunScorer(plan, suite.pricing);
  const requestCount = plan.batches.reduce((n, b) => n + b.requests.length, 0);
  /**
   * A phase's batches as they are sent: the requests earlier outputs answer taken out (and answered into the sink),
   * Anthropic cache breakpoints placed, and the batches split at the providers' limits.
   */
  const prepare = (batches: PlannedBatch[], sink: ResultSink, caching?: Plan['caching']) => {
    const left = reuseEarlier(batches, sink, options.reuse);
    markPromptCaching(left.batches, caching, log);
    return { ...left, batches: splitBatches(left.batches, suite.batch) };
  };
  const generation = prepare(plan.batches, scorer, plan.caching);
  plan.batches = generation.batches;
  stageEnd('plan');
  const { reused } = generation;
  const sent = reused ? ` (${reused} answered from earlier outputs, ${requestCount - reused} to send)` : '';
  log.info(`${suite.description ?? suite.file}: ${plural(plan.cases.length, 'case')}, ${plural(requestCount, 'distinct request')}${sent} in ${plural(plan.batches.length, 'batch', 'batches')}`);

  await options.beforeSubmit?.(plan, suite);
  const metadata = { suite: suite.description ?? suite.file, ...options.metadata };
  const wait = { deadline, initialIntervalMs: options.pollIntervalMs?.initial ?? 5_000, maxIntervalMs: options.pollIntervalMs?.max ?? 60_000 };
  const phaseOptions = { credentials: options.credentials, metadata, wait, maxRetries: options.maxRetries ?? suite.batch.maxRetries ?? 2, batchOptions: suite.batch, attach: options.attach, log };

  let scoringMs = 0;
  const generated = await runBatchPhase(plan.batches, generation.sink, {
    ...phaseOptions,
    onSubmitted: () => stageEnd('submit'),
    onWaited: () => stageEnd('wait'),
    onSinkTime: (ms) => (scoringMs = ms),
  });
  options.onStage?.('collect', performance.now() - mark - scoringMs);
  mark = performance.now() - scoringMs;

  // Conversations: each later turn goes out once the turn before it is answered, a round of batches a turn.
  const turns = plan.conversations
    ? await conversationRounds(plan.conversations, scorer, log, (batches, caching) => {
        const round = prepare(batches, scorer, caching);
        return runBatchPhase(round.batches, round.sink, phaseOptions);
      })
    : undefined;

  // Model-graded assertions: the outputs that are in go out again, to the grader, as a second batch.
  const awaiting = scorer.awaitingGrades();
  let grading: GradingOutcome | undefined;
  if (awaiting.length > 0) {
    const run = new GradingRun(awaiting);
    for (const g of run.graders) {
      const role = g.kind === 'embedding' ? 'similar: embeddings by' : 'model-graded assertions: graded by';
      if (g.isDefault) log.info(`${role} ${g.provider}:${g.model}, the default (set defaultTest.options.provider to choose another)`);
    }
    log.info(`grading ${plural(awaiting.length, 'case')} with model-graded assertions: ${plural(run.requestCount, 'grading request')} in ${plural(run.batches.length, 'batch', 'batches')}`);
    const { batches, sink } = prepare(run.batches, run);
    const phase = await runBatchPhase(batches, sink, phaseOptions);
    run.finish(scorer, phase.pending, phase.batchErrors);
    grading = { runs: phase.runs, cost: run.cost(suite.pricing) };
  }

  const runs = [...generated.runs, ...(turns?.runs ?? []), ...(grading?.runs ?? [])];
  const pending = new Set([...generated.pending, ...(turns?.pending ?? [])]);
  const batchErrors = new Map([...generated.batchErrors, ...(turns?.batchErrors ?? [])]);
  const results = scorer.finish(pending, batchErrors);
  const summary = summarize(results, grading?.cost);
  stageEnd('score');
  const minPassRate = options.minPassRate ?? suite.threshold ?? 1;
  return { suite, warnings, plan, runs, results, summary, minPassRate, status: verdict(summary, minPassRate) };
}

/**
 * Turns 2 and on of the conversations, a round each: the turn's requests are rendered from the answers before it
 * and sent; a round still running at the deadline (or left for a later job) leaves the turns after it unsent, and
 * pending. Returns the rounds' runs, pending requests and batch errors.
 */
async function conversationRounds(
  conversations: Conversation[],
  scorer: RunScorer,
  log: Logger,
  send: (batches: PlannedBatch[], caching: Plan['caching']) => Promise<PhaseOutcome>,
): Promise<PhaseOutcome> {
  const out: PhaseOutcome = { runs: [], pending: new Set(), batchErrors: new Map() };
  for (let turn = 2; turn <= turnsOf(conversations); turn++) {
    const round = turnRound(conversations, turn, (c) => scorer.answerOf(c));
    if (round.sent.length === 0 && round.failed.length === 0) break;
    for (const { case: c, request } of round.sent) scorer.addTurn(c, request);
    for (const { case: c, model, error } of round.failed) scorer.turnFailed(c, model, error);
    if (round.sent.length === 0) continue;
    log.info(`conversations: turn ${turn}: ${plural(round.sent.length, 'case')}, sent with the turns before them`);
    const phase = await send(round.batches, round.caching);
    out.runs.push(...phase.runs);
    for (const id of phase.pending) out.pending.add(id);
    for (const [id, why] of phase.batchErrors) out.batchErrors.set(id, why);
    // A round still running leaves the turns after it for a later job; one that ended lets the next go at once, even
    // past the deadline (it is sent, not waited for).
    if (phase.pending.size > 0) break;
  }
  for (const { case: c, model } of unsentTurns(conversations)) scorer.waiting(c, model);
  return out;
}

/** The state a run leaves for a later job: the batches it submitted, and whether its report is final. */
export function runState(outcome: EvalOutcome, meta: Pick<RunState, 'suiteId' | 'configPath' | 'sha' | 'repo' | 'pr'>, previous?: RunState): RunState {
  const now = new Date().toISOString();
  return {
    version: 1,
    ...meta,
    suite: outcome.suite.description ?? meta.configPath,
    phase: outcome.status !== 'pending' ? 'collected' : gradingOnly(outcome.runs) ? 'grading' : 'submitted',
    submittedAt: previous?.submittedAt ?? now,
    updatedAt: now,
    batches: outcome.runs.flatMap((r) => (r.handle ? [{ ...r.handle, key: r.batch.key, model: r.batch.model }] : [])),
  };
}

/** Whether the batches still running are all grading batches: the outputs are in, the grades are not. */
function gradingOnly(runs: BatchRun[]): boolean {
  const running = runs.filter((r) => r.handle && r.status?.phase !== 'ended');
  return running.length > 0 && running.every((r) => r.batch.purpose === 'grading');
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
