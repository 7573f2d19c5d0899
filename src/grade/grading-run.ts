import type { ResultSink } from '../batch/batch-phase.ts';
import type { BatchRequest, RequestResult, Usage } from '../batch/types.ts';
import type { Assertion, GraderSpec, PriceOverride } from '../config/types.ts';
import { costOf, priceOf } from '../cost/cost.ts';
import type { PlannedBatch } from '../plan/plan.ts';
import { requestId } from '../plan/request-id.ts';
import type { AwaitingCase, RunScorer } from '../score/score-run.ts';
import type { AssertionContext, AssertionResult } from '../score/types.ts';
import { embeddingInputs, gradingMessages } from './prompts.ts';
import { similarVerdict } from './similarity.ts';
import { parseVerdict } from './verdict.ts';

/** One model-graded assertion of one case, and the requests whose answers decide it. */
interface GradingTask {
  caseIndex: number;
  /** The assertion's index in its test's `assert`. */
  index: number;
  assertion: Assertion;
  /** Chat graders: the one grading request. `similar`: the output's embedding, then each expected value's. */
  requestIds: string[];
  /** Set when the assertion is decided without a request (it could not be sent). */
  verdict?: AssertionResult;
}

/** The requests that grade one assertion, or why none can be made. */
function gradingRequests(assertion: Assertion, grader: GraderSpec, output: string, context: AssertionContext): { requests: BatchRequest[] } | { failure: string } {
  const { provider, baseURL, model, params } = grader;
  try {
    if (grader.kind === 'embedding') {
      const inputs = embeddingInputs(assertion, output);
      if (inputs.some((input) => input.trim() === '')) return { failure: 'similar: an empty text has no embedding (the output or an expected value is empty)' };
      return { requests: inputs.map((input) => ({ id: requestId({ provider, baseURL, model, params, messages: [], input }), model, messages: [], params, input })) };
    }
    const messages = gradingMessages(assertion, { output, vars: context.vars, prompt: context.prompt });
    const { api } = grader;
    return { requests: [{ id: requestId({ provider, baseURL, model, params, messages, api }), model, messages, params, ...(api ? { api } : {}) }] };
  } catch (err) {
    return { failure: `${assertion.type}: ${(err as Error).message}` };
  }
}

/** The grading batch of a grader: one per kind, model, endpoint and API. */
export function graderKey(grader: GraderSpec): string {
  return ['grade', grader.kind, grader.provider, grader.baseURL ?? '', grader.model, ...(grader.api ? [grader.api] : [])].join('|');
}

/** What grading cost: the second batch's own line in the report, included in the totals. */
export interface GradingCost {
  /** The grader models, as `provider:model`. */
  models: string[];
  /** Distinct grading requests sent (identical ones are sent once). */
  requests: number;
  batchCost: number;
  realtimeCost: number;
  /** Grading requests whose model has no known price. */
  unpriced: number;
  /** Grading requests answered from earlier outputs, and what they would have cost at batch prices. */
  reused: number;
  reuseSaved: number;
}

/**
 * The second phase of a run with model-graded assertions: the grading requests of every case whose output is in,
 * as batches per grader model (and endpoint), and the verdicts once their answers come back. Identical grading
 * requests (the same rubric for the same output; the same expected text to embed) are sent once.
 */
export class GradingRun implements ResultSink {
  readonly batches: PlannedBatch[];
  readonly graders: GraderSpec[];
  readonly #tasks: GradingTask[] = [];
  readonly #requests = new Map<string, { request: BatchRequest; grader: GraderSpec }>();
  readonly #results = new Map<string, RequestResult>();

  constructor(awaiting: AwaitingCase[]) {
    const batches = new Map<string, PlannedBatch>();
    const graders = new Map<string, GraderSpec>();
    const add = (grader: GraderSpec, request: BatchRequest) => {
      if (this.#requests.has(request.id)) return;
      this.#requests.set(request.id, { request, grader });
      const key = graderKey(grader);
      let batch = batches.get(key);
      if (!batch) batches.set(key, (batch = { key, provider: grader.provider, model: grader.model, baseURL: grader.baseURL, purpose: 'grading', requests: [] }));
      batch.requests.push(request);
      graders.set(`${grader.provider}:${grader.model}`, grader);
    };

    for (const { result, inputs, context } of awaiting) {
      for (const { index, assertion, output } of inputs) {
        const grader = assertion.grader;
        if (!grader) throw new Error(`the ${assertion.type} assertion has no grader (the config loader sets one)`);
        const task: GradingTask = { caseIndex: result.case.index, index, assertion, requestIds: [] };
        this.#tasks.push(task);
        const made = gradingRequests(assertion, grader, output, context);
        // Nothing to send (a rubricPrompt that does not render for this case, an empty output to embed): the
        // assertion fails here, with why, and the case's other assertions are graded as usual.
        if ('failure' in made) task.verdict = { assertion, pass: false, score: 0, reason: made.failure };
        else for (const request of made.requests) add(grader, request), task.requestIds.push(request.id);
      }
    }
    this.batches = [...batches.values()];
    this.graders = [...graders.values()];
  }

  get requestCount(): number {
    return this.#requests.size;
  }

  add(result: RequestResult): boolean {
    if (!this.#requests.has(result.id) || this.#results.has(result.id)) return false;
    this.#results.set(result.id, result);
    return true;
  }

  has(id: string): boolean {
    return this.#results.has(id);
  }

  /**
   * Gives each graded case its verdicts. A case whose grading request is still running stays pending; one whose
   * grading request failed for good is errored, with the provider's reason.
   */
  finish(scorer: RunScorer, pending: Set<string>, batchErrors: Map<string, string>): void {
    const byCase = new Map<number, GradingTask[]>();
    for (const task of this.#tasks) {
      const tasks = byCase.get(task.caseIndex);
      if (tasks) tasks.push(task);
      else byCase.set(task.caseIndex, [task]);
    }
    for (const [caseIndex, tasks] of byCase) {
      const grades: (AssertionResult | undefined)[] = [];
      let waiting = false;
      let failure: string | undefined;
      for (const task of tasks) {
        if (task.verdict) {
          grades[task.index] = task.verdict;
          continue;
        }
        const results = task.requestIds.map((id) => this.#results.get(id));
        if (task.requestIds.some((id, i) => !results[i] && pending.has(id))) {
          waiting = true;
          continue;
        }
        const missing = task.requestIds.findIndex((id, i) => !results[i]);
        if (missing >= 0) {
          failure ??= batchErrors.get(task.requestIds[missing]) ?? 'the provider returned no result for the grading request';
          continue;
        }
        const failed = results.find((r) => r && !r.ok);
        if (failed && !failed.ok) {
          failure ??= `${failed.error.code}: ${failed.error.message}`;
          continue;
        }
        grades[task.index] = this.#verdict(task, results as (RequestResult & { ok: true })[]);
      }
      if (waiting) continue;
      if (failure) scorer.gradingFailed(caseIndex, failure);
      else scorer.applyGrades(caseIndex, grades);
    }
  }

  #verdict(task: GradingTask, results: (RequestResult & { ok: true })[]): AssertionResult {
    if (task.assertion.grader?.kind === 'embedding') {
      const vectors = results.map((r) => r.embedding);
      if (vectors.some((v) => !v)) return { assertion: task.assertion, pass: false, score: 0, reason: 'the embeddings answer had no vector' };
      const [output, ...expected] = vectors as number[][];
      return similarVerdict(task.assertion, output, expected);
    }
    return parseVerdict(task.assertion, results[0].text, { factuality: task.assertion.factualityScores });
  }

  /** The cost of the grading requests answered, at batch and real-time prices. */
  cost(pricing: Record<string, PriceOverride>): GradingCost {
    const cost: GradingCost = { models: this.graders.map((g) => `${g.provider}:${g.model}`), requests: this.#requests.size, batchCost: 0, realtimeCost: 0, unpriced: 0, reused: 0, reuseSaved: 0 };
    for (const [id, result] of this.#results) {
      const usage: Usage | undefined = result.usage;
      if (result.ok && result.reused) cost.reused++;
      if (!usage) continue;
      const price = priceOf(this.#requests.get(id)!.request.model, pricing);
      if (!price) {
        if (!(result.ok && result.reused)) cost.unpriced++;
        continue;
      }
      if (result.ok && result.reused) {
        cost.reuseSaved += costOf(usage, price, true);
        continue;
      }
      cost.batchCost += costOf(usage, price, true);
      cost.realtimeCost += costOf(usage, price, false);
    }
    return cost;
  }
}
