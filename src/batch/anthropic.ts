import type Anthropic from '@anthropic-ai/sdk';
import type { ChatMessage } from '../config/types.ts';
import type { Logger } from '../logger.ts';
import { openAsBlob } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CREATE_RETRIES, errorText, failureOf as sdkFailureOf, mayHaveCreated, retryable, retryDelayMs } from './create-retry.ts';
import { BatchLimitError, writeJsonl, type Frame } from './jsonl-file.ts';
import { responseLines } from './lines.ts';
import type { BatchHandle, BatchProvider, BatchRequest, BatchStatus, CachePrefix, RequestResult, Usage } from './types.ts';

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const ANTHROPIC_LIMITS = { maxRequests: 100_000, maxBytes: 256 * 1024 * 1024 };
/** A Message Batch's body: one JSON document holding the requests. */
const ANTHROPIC_BODY: Frame = { head: '{"requests":[', between: ',', after: '', tail: ']}' };
/**
 * How far back a batch made by a create whose answer was lost is looked for: from the first try, less this much for
 * the clocks of the runner and the API disagreeing. Short, as a batch of the same size from another job inside the
 * window is taken for this run's when this run's was never made.
 */
const CLOCK_SKEW_MS = 15_000;
/** Batches this process created or found: a lost create's batch is never one of them (a sibling part's, say). */
const OWN_BATCHES = new Set<string>();
/** Creates under way in this process: a look for a lost create's batch waits for them, so their batches are known. */
const CREATES_IN_FLIGHT = new Set<Promise<unknown>>();

/** The Messages API requires max_tokens; promptfoo sends this much when a suite sets none. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;

export interface AnthropicBatchOptions {
  apiKey: string;
  /** Always explicit: the SDK would otherwise read ANTHROPIC_BASE_URL from the environment without saying so. */
  baseURL: string;
  log: Logger;
}

/** Anthropic's Message Batches: the requests go up in one JSON body, the results come back as a JSONL stream. */
export class AnthropicBatchProvider implements BatchProvider {
  readonly name = 'anthropic' as const;
  readonly #options: AnthropicBatchOptions;
  readonly #log: Logger;
  #sdk?: Promise<Anthropic>;

  constructor(options: AnthropicBatchOptions) {
    this.#options = options;
    this.#log = options.log;
  }

  /** The SDK is loaded on first use: a suite without Anthropic models does not pay its memory. */
  async #client(): Promise<Anthropic> {
    const { apiKey, baseURL } = this.#options;
    this.#sdk ??= import('@anthropic-ai/sdk').then(({ default: SDK }) => new SDK({ apiKey, authToken: null, baseURL, maxRetries: 4, timeout: 120_000 }));
    return this.#sdk;
  }

  async #batches(): Promise<Anthropic['messages']['batches']> {
    return (await this.#client()).messages.batches;
  }

  async submit(requests: BatchRequest[]): Promise<BatchHandle> {
    const label = `anthropic:${requests[0]?.model}`;
    if (requests.length > ANTHROPIC_LIMITS.maxRequests) {
      throw new BatchLimitError(`${label}: ${requests.length.toLocaleString('en-US')} requests, more than the ${ANTHROPIC_LIMITS.maxRequests.toLocaleString('en-US')} a Message Batch takes`);
    }
    // The body, {"requests":[r1,r2,...]}, is written to disk a request at a time and sent from there: as an object,
    // the SDK would hold it three times over (the requests, their JSON text, its bytes), some 700 MB for a full batch.
    const file = await writeJsonl(requests, toBatchRequest, ANTHROPIC_LIMITS, label, ANTHROPIC_BODY);
    try {
      if (requests.some((r) => r.params.max_tokens === undefined)) {
        this.#log.info(`${label}: max_tokens not set in the provider config; sending ${ANTHROPIC_DEFAULT_MAX_TOKENS} (the API requires it)`);
      }
      const cached = requests.reduce((n, r) => n + (r.cachePrefix ? 1 : 0), 0);
      this.#log.info(`${label}: sending ${requests.length} requests (${(file.bytes / 1e6).toFixed(2)} MB)${cached ? `, ${cached} with a prompt-cache breakpoint` : ''}`);
      const batch = await this.#createOnce(file.path, requests.length, label);
      return { provider: 'anthropic', batchId: batch.id, requestCount: requests.length, submittedAt: batch.created_at };
    } finally {
      await file.remove();
    }
  }

  /**
   * batches.create, retried as the SDK would, but never making a second batch where one may have been made: a Message
   * Batch has no metadata and no input file to find it by, so after a try whose answer was lost (no answer, or a 5xx)
   * the batches created since the first try are listed, and those of this size that this process did not make are
   * the candidates. None: nothing was made, and the create is tried again. One: it is the batch made, and is used.
   * More (another job sent a batch of the same size at the same moment): which is this run's cannot be told, and the
   * submit fails naming them rather than pay for the requests twice.
   */
  async #createOnce(bodyPath: string, count: number, label: string): Promise<Anthropic.Messages.Batches.MessageBatch> {
    const sdk = await import('@anthropic-ai/sdk');
    const failureOf = (err: unknown) => sdkFailureOf(err, sdk);
    const batches = await this.#batches();
    const since = Date.now() - CLOCK_SKEW_MS;
    let failure: unknown;
    // A try failed in a way that may have made the batch (no answer, or a 5xx), and no listing has ruled it out yet.
    let unsure = false;
    for (let attempt = 0; attempt <= CREATE_RETRIES; attempt++) {
      if (attempt > 0) {
        await sleep(retryDelayMs(failureOf(failure), attempt));
        if (unsure) {
          let made: Anthropic.Messages.Batches.MessageBatch[] = [];
          try {
            made = await this.#madeSince(since, count);
          } catch (err) {
            // Whether the batch was made is still unknown: ask again before any create. A server without the listing
            // (an Anthropic-compatible API) gets the plain retry the SDK would make.
            if (retryable(failureOf(err))) {
              failure = err;
              continue;
            }
          }
          if (made.length === 1) {
            OWN_BATCHES.add(made[0].id);
            this.#log.warning(`${label}: the batch was created though its answer was lost (${errorText(failure)}); using ${made[0].id}, not creating another`);
            return made[0];
          }
          if (made.length > 1) {
            throw new Error(
              `the create's answer was lost (${errorText(failure)}) and ${made.length} batches of ${count} requests were created since (${made.map((b) => b.id).join(', ')}): ` +
                'which one is this run is unknown, so none is used and no other is created (that could bill every request twice); cancel the one not wanted and run again',
            );
          }
          unsure = false;
        }
      }
      // A disk-backed Blob is sent from the file, and read again on a retry (a stream could not be).
      const body = await openAsBlob(bodyPath, { type: 'application/json' });
      const creating = batches.create({ requests: [] }, { body, maxRetries: 0 });
      CREATES_IN_FLIGHT.add(creating);
      try {
        const batch = await creating;
        OWN_BATCHES.add(batch.id);
        return batch;
      } catch (err) {
        if (!retryable(failureOf(err))) throw err;
        failure = err;
        unsure = mayHaveCreated(failureOf(err));
      } finally {
        CREATES_IN_FLIGHT.delete(creating);
      }
    }
    throw failure;
  }

  /** The batches of `count` requests created since `since` (epoch ms) that this process did not make, newest first. */
  async #madeSince(since: number, count: number): Promise<Anthropic.Messages.Batches.MessageBatch[]> {
    await Promise.allSettled([...CREATES_IN_FLIGHT]);
    const made: Anthropic.Messages.Batches.MessageBatch[] = [];
    for await (const batch of (await this.#batches()).list({ limit: 100 }, { maxRetries: 0 })) {
      if (Date.parse(batch.created_at) < since) break;
      const c = batch.request_counts;
      if (!OWN_BATCHES.has(batch.id) && c.processing + c.succeeded + c.errored + c.canceled + c.expired === count) made.push(batch);
    }
    return made;
  }

  async status(handle: BatchHandle): Promise<BatchStatus> {
    const batch = await (await this.#batches()).retrieve(handle.batchId);
    const c = batch.request_counts;
    return {
      phase: batch.processing_status === 'ended' ? 'ended' : 'running',
      providerStatus: batch.processing_status,
      total: c.processing + c.succeeded + c.errored + c.canceled + c.expired,
      completed: c.succeeded,
      failed: c.errored + c.canceled + c.expired,
      errors: [],
    };
  }

  /**
   * The results file read a line at a time, as the SDK's `batches.results()` does, but a line that is not a result is
   * skipped with a warning: the SDK's reader throws on it and loses every line after it.
   */
  async *results(handle: BatchHandle): AsyncGenerator<RequestResult> {
    const client = await this.#client();
    const batch = await client.messages.batches.retrieve(handle.batchId);
    if (!batch.results_url) throw new Error(`No batch \`results_url\`; Has it finished processing? ${batch.processing_status} - ${batch.id}`);
    const response = await client
      .get(batch.results_url, { headers: { Accept: 'application/binary' }, stream: true, __binaryResponse: true })
      .asResponse();
    for await (const text of responseLines(response)) {
      const line = parseResultLine(text);
      if (line) yield toResult(line);
      else this.#log.warning(`anthropic: skipped an unreadable line in the results of ${handle.batchId}: ${text.slice(0, 120)}`);
    }
  }

  async cancel(handle: BatchHandle): Promise<void> {
    await (await this.#batches()).cancel(handle.batchId);
  }
}

/** promptfoo's anthropic config names that differ from the Messages API's. */
const RENAMED_PARAMS: Record<string, string> = { stop: 'stop_sequences' };

export function toBatchRequest(request: BatchRequest): Anthropic.Messages.Batches.BatchCreateParams.Request {
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(request.params)) params[RENAMED_PARAMS[key] ?? key] = value;
  const { system, messages } = splitSystem(request.messages);
  const cached = request.cachePrefix ? withCacheBreakpoint(system, messages, request.cachePrefix) : { system, messages };
  return {
    custom_id: request.id,
    params: {
      ...params,
      model: request.model,
      max_tokens: typeof params.max_tokens === 'number' ? params.max_tokens : ANTHROPIC_DEFAULT_MAX_TOKENS,
      ...(cached.system ? { system: cached.system } : {}),
      messages: cached.messages,
    } as Anthropic.Messages.MessageCreateParamsNonStreaming,
  };
}

type SentContent = string | Anthropic.Messages.TextBlockParam[];

/**
 * The system prompt and messages with `cache_control` on the last block of the cached prefix, as Anthropic documents
 * it: that block becomes a list of one text block carrying the marker (the same text: a string is one text block to the
 * API), everything else is sent as it would be without caching. Blocks count the system prompt first, when there is one.
 */
export function withCacheBreakpoint(
  system: string | undefined,
  messages: { role: 'user' | 'assistant'; content: string }[],
  prefix: CachePrefix,
): { system?: SentContent; messages: { role: 'user' | 'assistant'; content: SentContent }[] } {
  const control: Anthropic.Messages.CacheControlEphemeral = prefix.ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' };
  const marked = (text: string): Anthropic.Messages.TextBlockParam[] => [{ type: 'text', text, cache_control: control }];
  const last = prefix.blocks - 1;
  const offset = system ? 1 : 0;
  // A marker past the end, or on an empty text (which the API refuses as a block), is left off: sent as without caching.
  if (last < 0 || last >= messages.length + offset) return { system, messages };
  if (system && last === 0) return { system: marked(system), messages };
  const index = last - offset;
  if (messages[index].content === '') return { system, messages };
  return { system, messages: messages.map((m, i) => (i === index ? { role: m.role, content: marked(m.content) } : m)) };
}

/** The Messages API takes the system prompt as its own field, not as a message. */
export function splitSystem(messages: ChatMessage[]): { system?: string; messages: { role: 'user' | 'assistant'; content: string }[] } {
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => m.content);
  const rest = messages.filter((m) => m.role === 'user' || m.role === 'assistant').map((m) => ({ role: m.role as 'user' | 'assistant', content: m.content }));
  return { system: system.length ? system.join('\n\n') : undefined, messages: rest };
}

/** Errors that the same request would meet again; the others (api_error, overloaded_error, rate_limit_error…) may pass on a later try. */
const PERMANENT_ERRORS = new Set(['invalid_request_error', 'not_found_error', 'authentication_error', 'permission_error', 'billing_error', 'request_too_large']);

/** One line of a results file, or undefined when it is not JSON or not shaped like a result. */
function parseResultLine(text: string): Anthropic.Messages.Batches.MessageBatchIndividualResponse | undefined {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return undefined;
  }
  const { custom_id, result } = (line ?? {}) as { custom_id?: unknown; result?: { type?: unknown; message?: { content?: unknown; usage?: unknown }; error?: { error?: unknown } } };
  if (typeof custom_id !== 'string' || !result || typeof result !== 'object') return undefined;
  const readable =
    (result.type === 'succeeded' && Array.isArray(result.message?.content) && !!result.message.usage) ||
    (result.type === 'errored' && !!result.error?.error) ||
    result.type === 'canceled' ||
    result.type === 'expired';
  return readable ? (line as Anthropic.Messages.Batches.MessageBatchIndividualResponse) : undefined;
}

export function toResult(line: Anthropic.Messages.Batches.MessageBatchIndividualResponse): RequestResult {
  const id = line.custom_id;
  const result = line.result;
  switch (result.type) {
    case 'succeeded': {
      const text = result.message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
      return { id, ok: true, text, usage: usageOf(result.message.usage), finishReason: result.message.stop_reason ?? undefined };
    }
    case 'errored': {
      const error = result.error.error;
      return { id, ok: false, error: { code: error.type, message: error.message, retryable: !PERMANENT_ERRORS.has(error.type) } };
    }
    case 'canceled':
      return { id, ok: false, error: { code: 'canceled', message: 'the batch was canceled before this request ran', retryable: true } };
    case 'expired':
      return { id, ok: false, error: { code: 'expired', message: 'the batch expired (24 hours) before this request ran', retryable: true } };
  }
}

function usageOf(usage: Anthropic.Messages.Usage): Usage {
  const writes = usage.cache_creation_input_tokens ?? 0;
  // The writes to the 1-hour cache are priced apart (twice the input price, against 1.25 times for 5 minutes).
  const hour = Math.min(writes, usage.cache_creation?.ephemeral_1h_input_tokens ?? 0);
  return {
    inputTokens: usage.input_tokens,
    outputTokens: usage.output_tokens,
    cachedInputTokens: usage.cache_read_input_tokens ?? 0,
    cacheWriteTokens: writes - hour,
    ...(hour > 0 ? { cacheWrite1hTokens: hour } : {}),
  };
}
