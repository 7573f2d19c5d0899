import { loadSuite } from './config/load.ts';
import type { ConfigWarning, Suite } from './config/types.ts';
import { estimatePlan, overBudget, type Estimate } from './cost/estimate.ts';
import { markPromptCaching } from './plan/cache-prefix.ts';
import type { EstimateHeading } from './cost/estimate-format.ts';
import type { Logger } from './logger.ts';
import { buildPlan, type Plan } from './plan/plan.ts';
import { splitBatches } from './plan/split.ts';
import { money } from './report/markdown.ts';
import type { EarlierOutputs } from './reuse/earlier-outputs.ts';

/**
 * Estimate first: what a suite will cost, from its plan, before anything is sent (`batch-evals estimate`, the
 * action's `mode: estimate`), and the `max-cost` check that refuses a run above a limit.
 */

export interface EstimateSettings {
  /** Output tokens assumed per answer (capped at max_tokens). */
  outputTokens?: number;
  /** Earlier outputs (the action's cache, the CLI's --reuse file): the plan's requests they answer are `reused`. */
  earlier?: EarlierOutputs;
  /** `--output-tokens` or the `output-tokens` input, for the notes. */
  outputOption: string;
}

export interface SuiteEstimate {
  estimate: Estimate;
  heading: EstimateHeading;
}

/** Loads and plans a suite as a run would (no network, no key), and estimates what sending it would cost. */
export async function estimateSuite(configPath: string, settings: EstimateSettings, onWarnings?: (warnings: ConfigWarning[]) => void): Promise<SuiteEstimate> {
  const { suite, warnings } = loadSuite(configPath);
  onWarnings?.(warnings);
  const plan = buildPlan(suite);
  const reused = settings.earlier?.reusableIds(plan.batches);
  // The batches as a run sends them: the requests earlier outputs answer left out, cache breakpoints placed, split.
  const sent = reused ? plan.batches.map((b) => ({ ...b, requests: b.requests.filter((r) => !reused.has(r.id)) })).filter((b) => b.requests.length > 0) : plan.batches;
  markPromptCaching(sent, plan.caching);
  return estimateOf(plan, suite, settings, splitBatches(sent, suite.batch).length, reused);
}

/** The estimate of a plan, all of whose requests but the `reused` ones go out in `batches` batches. */
async function estimateOf(plan: Plan, suite: Suite, settings: EstimateSettings, batches: number, reused?: ReadonlySet<string>): Promise<SuiteEstimate> {
  const estimate = await estimatePlan(plan, { pricing: suite.pricing, outputTokens: settings.outputTokens, reused });
  return { estimate, heading: { title: suite.description ?? suite.file, batches, outputOption: settings.outputOption } };
}

/** A run refused by `max-cost`: nothing was sent. */
export class OverBudgetError extends Error {
  readonly estimate: SuiteEstimate;
  constructor(message: string, estimate: SuiteEstimate) {
    super(message);
    this.estimate = estimate;
  }
}

/**
 * The `beforeSubmit` hook of a run with a `max-cost`: estimates the plan about to be sent, hands it to `onEstimate`,
 * and throws OverBudgetError (so nothing is sent) when it is above the limit.
 */
export function maxCostCheck(maxCost: number, settings: EstimateSettings, log: Logger, onEstimate?: (e: SuiteEstimate) => void | Promise<void>) {
  return async (plan: Plan, suite: Suite): Promise<void> => {
    // The plan as the run sends it: reused requests taken out already, split.
    const estimated = await estimateOf(plan, suite, settings, plan.batches.length);
    await onEstimate?.(estimated);
    const refusal = refusalOf(estimated.estimate, maxCost);
    if (refusal) throw new OverBudgetError(refusal, estimated);
    log.info(`estimated batch cost ${money(estimated.estimate.total.batch.expected)} is within max-cost ${money(maxCost)}`);
  };
}

/** Why a run must not be sent with this `max-cost` (see overBudget), or undefined: within it, or no limit. */
export function refusalOf(estimate: Estimate, maxCost: number | undefined): string | undefined {
  return maxCost === undefined ? undefined : overBudget(estimate, maxCost, money);
}

/** A dollar amount as written in `max-cost` (`5`, `5.00`, `$5`). */
export function parseMaxCost(text: string, name: string): number {
  const value = Number(text.trim().replace(/^\$/, ''));
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new Error(`${name} must be an amount in USD, 0 or more (e.g. 5 or 0.50), not '${text}'`);
  return value;
}

/** A whole number of output tokens to assume per answer. */
export function parseOutputTokens(text: string, name: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number of tokens, 0 or more, not '${text}'`);
  return value;
}
