import type { Usage } from '../batch/types.ts';
import type { PriceOverride } from '../config/types.ts';
import { BATCH_DISCOUNT, PRICES, type Price } from './prices.ts';

/**
 * The price of a model: a suite override, else the table entry whose id is the model or the longest prefix of
 * it followed by a version suffix (`gpt-4o-2024-08-06` is gpt-4o, `gpt-4o-mini` is not). Undefined when unknown.
 */
export function priceOf(model: string, overrides: Record<string, PriceOverride> = {}): Price | undefined {
  const override = overrides[model];
  if (override) {
    return {
      input: override.input,
      output: override.output,
      cachedInput: override.cachedInput ?? override.input,
      cacheWrite: override.cacheWrite ?? override.input,
    };
  }
  if (PRICES[model]) return PRICES[model];
  const prefix = Object.keys(PRICES)
    .filter((id) => model.startsWith(`${id}-`) && /^-(\d{4}-?\d{2}-?\d{2}|latest|\d{8})$/.test(model.slice(id.length)))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? PRICES[prefix] : undefined;
}

/**
 * The cost in USD of one request's usage; `batch` applies the batch discount, to every line (cache reads and writes
 * included: Anthropic's batch and caching discounts stack; OpenAI's cached tokens are priced as its usage reports them).
 */
export function costOf(usage: Usage, price: Price, batch: boolean): number {
  const perMillion =
    usage.inputTokens * price.input +
    usage.cachedInputTokens * price.cachedInput +
    usage.cacheWriteTokens * price.cacheWrite +
    (usage.cacheWrite1hTokens ?? 0) * cacheWrite1hPrice(price) +
    usage.outputTokens * price.output;
  return (perMillion / 1_000_000) * (batch ? BATCH_DISCOUNT : 1);
}

function cacheWrite1hPrice(price: Price): number {
  return price.cacheWrite1h ?? price.input * 2;
}

/**
 * What the prompt cache saved on one request, in USD: its cache reads at the full input price less what they cost,
 * less the premium its cache writes cost over the full input price (negative when it wrote and read nothing back).
 * Undefined when the request neither read from nor wrote to a cache.
 */
export function cacheSavingOf(usage: Usage, price: Price, batch: boolean): number | undefined {
  const hour = usage.cacheWrite1hTokens ?? 0;
  if (!usage.cachedInputTokens && !usage.cacheWriteTokens && !hour) return undefined;
  const perMillion =
    usage.cachedInputTokens * (price.input - price.cachedInput) - usage.cacheWriteTokens * (price.cacheWrite - price.input) - hour * (cacheWrite1hPrice(price) - price.input);
  return (perMillion / 1_000_000) * (batch ? BATCH_DISCOUNT : 1);
}

/** A running total that remembers whether any part of it had no known price. */
export interface CostTotal {
  batch: number;
  realtime: number;
  unpricedRequests: number;
}

export function emptyCost(): CostTotal {
  return { batch: 0, realtime: 0, unpricedRequests: 0 };
}

export function addUsage(total: CostTotal, usage: Usage | undefined, price: Price | undefined): void {
  if (!usage) return;
  if (!price) {
    total.unpricedRequests++;
    return;
  }
  total.batch += costOf(usage, price, true);
  total.realtime += costOf(usage, price, false);
}
