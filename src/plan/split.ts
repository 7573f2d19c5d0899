import type { BatchRequest } from '../batch/types.ts';
import type { BatchOptions, ProviderName } from '../config/types.ts';
import type { PlannedBatch } from './plan.ts';

export interface BatchLimits {
  maxRequests: number;
  /** Bytes of the batch as the provider receives it (the JSONL file, or the JSON body). */
  maxBytes: number;
}

/** The providers' documented limits per batch. */
export const PROVIDER_LIMITS: Record<ProviderName, BatchLimits> = {
  openai: { maxRequests: 50_000, maxBytes: 200 * 1024 * 1024 },
  anthropic: { maxRequests: 100_000, maxBytes: 256 * 1024 * 1024 },
};

/** Room for what the estimate does not see: the line's envelope, escaping, the default max_tokens. */
const BYTES_MARGIN = 0.95;

/**
 * Splits each model's requests into as many batches as its limits need: the provider's request and size
 * limits, and the suite's own `batch:` caps (requests, estimated input tokens). One batch keeps its key; the
 * parts of a split one are `key#1`, `key#2`…, so a resumed plan finds each part again.
 */
export function splitBatches(batches: PlannedBatch[], options: BatchOptions = {}, providerLimits = PROVIDER_LIMITS): PlannedBatch[] {
  return batches.flatMap((batch) => {
    const limits = providerLimits[batch.provider];
    const maxRequests = Math.min(limits.maxRequests, options.maxRequests ?? Infinity);
    const maxBytes = limits.maxBytes * BYTES_MARGIN;
    const maxTokens = typeof options.maxEnqueuedTokens === 'number' ? options.maxEnqueuedTokens : (options.maxEnqueuedTokens?.[batch.model] ?? Infinity);

    const parts: BatchRequest[][] = [];
    let current: BatchRequest[] = [];
    let bytes = 0;
    let tokens = 0;
    for (const request of batch.requests) {
      const size = requestBytes(request);
      const estimate = estimateTokens(request);
      if (current.length > 0 && (current.length + 1 > maxRequests || bytes + size > maxBytes || tokens + estimate > maxTokens)) {
        parts.push(current);
        current = [];
        bytes = 0;
        tokens = 0;
      }
      current.push(request);
      bytes += size;
      tokens += estimate;
    }
    if (current.length) parts.push(current);
    if (parts.length <= 1) return [batch];
    return parts.map((requests, i) => ({ ...batch, key: `${batch.key}#${i + 1}`, part: { index: i + 1, of: parts.length }, requests }));
  });
}

/** The request's size on the wire, near enough: its messages and params as JSON, plus the line's envelope. */
export function requestBytes(request: BatchRequest): number {
  const content = request.input ?? request.messages;
  return Buffer.byteLength(JSON.stringify(content)) + Buffer.byteLength(JSON.stringify(request.params)) + request.model.length + 160;
}

/** Input tokens, estimated at four characters a token (English text; an estimate, not a tokenizer). */
export function estimateTokens(request: BatchRequest): number {
  let chars = request.input?.length ?? 0;
  for (const m of request.messages) chars += m.content.length;
  return Math.ceil(chars / 4) + 4 * request.messages.length;
}
