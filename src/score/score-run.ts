import type { RequestResult, Usage } from '../batch/types.ts';
import type { PriceOverride } from '../config/types.ts';
import { costOf, priceOf } from '../cost/cost.ts';
import type { PlannedCase, Plan } from '../plan/plan.ts';
import { scoreTest } from './score-test.ts';
import type { TestScore } from './types.ts';

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
  /** The request's cost, counted on the first case that uses it only; undefined when the price is unknown. */
  cost?: { batch: number; realtime: number };
  /** Whether this case carries the cost of its request (identical requests are sent and billed once). */
  billed: boolean;
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
  const modelOf = new Map<string, string>();
  const promptOf = new Map<string, string>();
  for (const batch of plan.batches) {
    for (const r of batch.requests) {
      modelOf.set(r.id, batch.model);
      promptOf.set(r.id, r.messages.map((m) => m.content).join('\n\n'));
    }
  }
  const billed = new Set<string>();

  return plan.cases.map((c): CaseResult => {
    const model = modelOf.get(c.requestId) ?? '';
    const result = results.get(c.requestId);
    if (!result) {
      if (pending.has(c.requestId)) return { case: c, model, status: 'pending', billed: false };
      const why = batchErrors.get(c.requestId) ?? 'the provider returned no result for this request';
      return { case: c, model, status: 'errored', error: why, billed: false };
    }
    const price = priceOf(model, pricing);
    const cost = result.usage && price ? { batch: costOf(result.usage, price, true), realtime: costOf(result.usage, price, false) } : undefined;
    const first = !billed.has(c.requestId);
    billed.add(c.requestId);
    const base = { case: c, model, usage: result.usage, cost, billed: first };
    if (!result.ok) {
      return { ...base, status: 'errored', error: `${result.error.code}: ${result.error.message}${result.error.retryable ? ' (retryable)' : ''}` };
    }
    const score = scoreTest(
      { assert: c.assertions, threshold: c.threshold, transform: c.transform },
      result.text,
      { vars: c.vars, prompt: promptOf.get(c.requestId) ?? '', provider: c.provider, usage: result.usage, cost: cost?.batch },
    );
    return { ...base, status: score.pass ? 'passed' : 'failed', output: result.text, score };
  });
}
