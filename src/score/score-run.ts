import type { BatchRequest, RequestResult, Usage } from '../batch/types.ts';
import type { PriceOverride } from '../config/types.ts';
import { cacheSavingOf, costOf, priceOf } from '../cost/cost.ts';
import type { TurnAnswer } from '../plan/conversation.ts';
import type { PlannedCase, Plan } from '../plan/plan.ts';
import { gradingInputs, scoreTest, type GradingInput, type Grades } from './score-test.ts';
import type { AssertionContext, TestScore } from './types.ts';

export type CaseStatus = 'passed' | 'failed' | 'errored' | 'pending';

export interface CaseResult {
  case: PlannedCase;
  model: string;
  status: CaseStatus;
  output?: string;
  score?: TestScore;
  /** Why the case has no output (provider error, batch not submitted, no result). */
  error?: string;
  usage?: Usage;
  /**
   * The request's cost, counted on the first case that uses it only; undefined when the price is unknown. `cacheSaved`
   * (batch prices), when the request read from or wrote to a prompt cache: what that saved against the full input price.
   */
  cost?: { batch: number; realtime: number; cacheSaved?: number };
  /** Whether this case carries the cost of its request (identical requests are sent and billed once). */
  billed: boolean;
  /** Answered from an earlier run's outputs: the request was not sent, and its cost is a saving, not a charge. */
  reused?: boolean;
}

/** A case whose output is in and whose model-graded assertions wait for the grading batch. */
export interface AwaitingCase {
  result: CaseResult;
  inputs: GradingInput[];
  context: AssertionContext;
}

export interface ScoreInputs {
  plan: Plan;
  results: Map<string, RequestResult>;
  /** Request ids still in a running batch. */
  pending: Set<string>;
  /** Request ids whose batch failed or was never submitted, with why. */
  batchErrors: Map<string, string>;
  pricing: Record<string, PriceOverride>;
}

/** Scores every case against its request's result. */
export function scoreRun({ plan, results, pending, batchErrors, pricing }: ScoreInputs): CaseResult[] {
  const scorer = new RunScorer(plan, pricing);
  for (const result of results.values()) scorer.add(result);
  return scorer.finish(pending, batchErrors);
}

/**
 * Scores cases as their requests' results arrive, so a large run never holds every raw result at once: each
 * result is scored for every case that shares its request, then dropped.
 */
export class RunScorer {
  /** Request id -> its cases: the case itself when it is the only one (most are), else the list. */
  readonly #cases = new Map<string, PlannedCase | PlannedCase[]>();
  readonly #requests = new Map<string, BatchRequest>();
  readonly #scored: (CaseResult | undefined)[];
  readonly #pricing: Record<string, PriceOverride>;
  /** Case index -> what its grading needs, for cases with model-graded assertions. */
  readonly #awaiting = new Map<number, AwaitingCase>();

  constructor(plan: Plan, pricing: Record<string, PriceOverride>) {
    this.#pricing = pricing;
    this.#scored = new Array(plan.cases.length);
    // A request's model is its batch's (the plan makes one batch per model).
    for (const batch of plan.batches) {
      for (const r of batch.requests) this.#requests.set(r.id, r);
    }
    // A later turn of a conversation has no request yet: it is added when its turn is sent (addTurn).
    for (const c of plan.cases) if (c.requestId !== '') this.#index(c);
  }

  #index(c: PlannedCase): void {
    const known = this.#cases.get(c.requestId);
    if (!known) this.#cases.set(c.requestId, c);
    else if (Array.isArray(known)) known.push(c);
    else this.#cases.set(c.requestId, [known, c]);
  }

  /** A later turn of a conversation, now that it has its request: its result is scored as the others are. */
  addTurn(c: PlannedCase, request: BatchRequest): void {
    c.requestId = request.id;
    if (!this.#requests.has(request.id)) this.#requests.set(request.id, request);
    this.#index(c);
  }

  /**
   * What a later turn of the case's conversation sees of it: undefined while it has no result. A turn that failed
   * (its request, or its prompt) is there with no output, and the thread goes on, as in promptfoo.
   */
  answerOf(c: PlannedCase): TurnAnswer | undefined {
    const scored = this.#scored[c.index];
    if (!scored || scored.status === 'pending' && scored.output === undefined) return undefined;
    return { messages: this.#requests.get(c.requestId)?.messages ?? [], output: scored.output ?? '' };
  }

  /** A later turn whose prompt could not be rendered: errored, with why. */
  turnFailed(c: PlannedCase, model: string, error: string): void {
    this.#scored[c.index] = { case: c, model, status: 'errored', error, billed: false };
  }

  /** A later turn left unsent, its earlier turn still running: pending, as its batch would be. */
  waiting(c: PlannedCase, model: string): void {
    this.#scored[c.index] ??= { case: c, model, status: 'pending', billed: false };
  }

  #casesOf(id: string): PlannedCase[] | undefined {
    const known = this.#cases.get(id);
    return known === undefined || Array.isArray(known) ? known : [known];
  }

  /** Whether the request's cases are scored already. */
  has(id: string): boolean {
    const cases = this.#casesOf(id);
    return !!cases && this.#scored[cases[0].index] !== undefined;
  }

  /** Scores the cases of one result; false when the result is a repeat (the provider sent an id twice) or unknown. */
  add(result: RequestResult): boolean {
    const cases = this.#casesOf(result.id);
    if (!cases || this.#scored[cases[0].index]) return false;
    const request = this.#requests.get(result.id)!;
    const price = priceOf(request.model, this.#pricing);
    const cacheSaved = result.usage && price ? cacheSavingOf(result.usage, price, true) : undefined;
    const cost = result.usage && price ? { batch: costOf(result.usage, price, true), realtime: costOf(result.usage, price, false), ...(cacheSaved !== undefined ? { cacheSaved } : {}) } : undefined;
    let prompt: string | undefined;
    cases.forEach((c, i) => {
      // Identical requests are sent and billed once: the first case carries the cost.
      const base = { case: c, model: request.model, usage: result.usage, cost, billed: i === 0, ...(result.ok && result.reused ? { reused: true } : {}) };
      if (!result.ok) {
        this.#scored[c.index] = { ...base, status: 'errored', error: `${result.error.code}: ${result.error.message}${result.error.retryable ? ' (retryable)' : ''}` };
        return;
      }
      prompt ??= request.messages.map((m) => m.content).join('\n\n');
      const test = { assert: c.assertions, threshold: c.threshold, transform: c.transform };
      const context = { vars: c.vars, prompt, provider: c.provider, usage: result.usage, cost: cost?.batch };
      const score = scoreTest(test, result.text, context);
      const scored: CaseResult = { ...base, status: score.pass ? 'passed' : 'failed', output: result.text, score };
      const inputs = gradingInputs(test, result.text, context);
      if (inputs.length > 0) {
        // The deterministic assertions are scored now; a case they already fail is failed whatever the grades say.
        if (!failedWhateverGrades(score, c)) scored.status = 'pending';
        this.#awaiting.set(c.index, { result: scored, inputs, context });
      }
      this.#scored[c.index] = scored;
    });
    return true;
  }

  /** The cases with model-graded assertions to grade, in plan order. */
  awaitingGrades(): AwaitingCase[] {
    return [...this.#awaiting.values()];
  }

  /** Scores a case again with its model-graded assertions' verdicts. */
  applyGrades(caseIndex: number, grades: Grades): void {
    const awaiting = this.#awaiting.get(caseIndex);
    if (!awaiting) return;
    this.#awaiting.delete(caseIndex);
    const c = awaiting.result.case;
    const score = scoreTest({ assert: c.assertions, threshold: c.threshold, transform: c.transform }, awaiting.result.output ?? '', awaiting.context, grades);
    this.#scored[caseIndex] = { ...awaiting.result, status: score.pass ? 'passed' : 'failed', score };
  }

  /** A case whose grading request failed for good: its output stands, but it has no verdict. */
  gradingFailed(caseIndex: number, error: string): void {
    const awaiting = this.#awaiting.get(caseIndex);
    if (!awaiting) return;
    this.#awaiting.delete(caseIndex);
    // Failed by its deterministic assertions already: the missing grade changes nothing.
    if (awaiting.result.status === 'failed') return;
    this.#scored[caseIndex] = { ...awaiting.result, status: 'errored', error: `could not be graded: ${error}` };
  }

  /** Every case in plan order; those without a result are pending (batch still running) or errored, with why. */
  finish(pending: Set<string>, batchErrors: Map<string, string>): CaseResult[] {
    const out: CaseResult[] = [];
    for (const known of this.#cases.values()) {
      for (const c of Array.isArray(known) ? known : [known]) {
        if (this.#scored[c.index]) continue;
        const model = this.#requests.get(c.requestId)?.model ?? '';
        if (pending.has(c.requestId)) this.#scored[c.index] = { case: c, model, status: 'pending', billed: false };
        else this.#scored[c.index] = { case: c, model, status: 'errored', error: batchErrors.get(c.requestId) ?? 'the provider returned no result for this request', billed: false };
      }
    }
    for (const r of this.#scored) out.push(r!);
    return out;
  }
}

/** Whether the assertions scored so far fail the case on their own: no test threshold, and one of them failed. */
function failedWhateverGrades(score: TestScore, c: PlannedCase): boolean {
  if (typeof c.threshold === 'number' && !Number.isNaN(c.threshold)) return false;
  return score.assertions.some((a) => !a.pass && !a.notApplicable);
}
