/**
 * An emulator of Anthropic's Message Batches API over real HTTP (node:http), for tests and the offline demo.
 * It answers with the same responders and scripts as the OpenAI emulator. See README.md in this folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyHttpFault, faultHeaders, FaultRegistry, responseTag, serveResults, type BatchPlan, type Fault, type FaultHandle, type HttpFault } from './faults.ts';
import { ApiError, describeType, randomId, readBody, sendJson } from './http.ts';
import { checkCacheControl, PromptCache, type CacheUsage, type PromptCacheEntry } from './prompt-cache.ts';
import {
  anthropicMessages,
  conversationText,
  defaultResponder,
  estimateTokens,
  isResponderError,
  loadScript,
  scriptedResponder,
  type Responder,
  type ResponderReply,
  type ResponderResult,
  type Script,
  type ScriptRule,
} from './responder.ts';

export { defaultResponder, heuristicGrade, loadScript, parseScript, scriptedResponder } from './responder.ts';
export type { GradeReply, Responder, ResponderError, ResponderMessage, ResponderReply, ResponderRequest, ResponderResult, Script, ScriptRule } from './responder.ts';
export type { Fault, FaultHandle, FaultSchedule, HttpFault, LifecycleFault, RequestFault, ResultsFault } from './faults.ts';

export interface AnthropicEmulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Requests are answered evenly over this time; the batch ends when it has passed. Default 1000 (0 with `instant`). */
  inProgressMs?: number;
  /** Time from a cancel to the end of the batch. Default 200 (0 with `instant`). */
  cancelingMs?: number;
  /** Batches not ended this long after creation expire: unanswered requests become `expired`. Default 24 h. */
  expireAfterMs?: number;
  /** inProgressMs and cancelingMs are 0 unless given: a batch has ended at the first read after its creation. */
  instant?: boolean;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** Default: `scriptedResponder(script)` when a script is given, else `defaultResponder`. */
  responder?: Responder;
  /** A script (or the path of a YAML/JSON script file) for scriptedResponder. */
  script?: Script | ScriptRule[] | string;
  /** When given, requests for other models end `errored` with not_found_error `model: NAME`. */
  knownModels?: string[];
  /** When given, only this x-api-key (or Bearer token) is accepted; others get 401 `invalid x-api-key`. */
  apiKey?: string;
  /** Default 100,000, the real limit. */
  maxRequestsPerBatch?: number;
  /** Largest create body in bytes; default 256 MB, the real limit. Bigger bodies get 413 request_too_large. */
  maxBatchBytes?: number;
  /**
   * The real API does not promise results in request order. 'reversed' and 'shuffled' (a fixed order derived from the
   * custom_ids, so runs repeat) help prove a client joins on custom_id. Default 'input'.
   */
  resultsOrder?: 'input' | 'reversed' | 'shuffled';
  /** Faults to inject, each on its schedule (more with `state.addFault`). See README.md, "Faults". */
  faults?: Fault[];
  /**
   * The shortest prefix (in the emulator's tokens, ceil(characters / 4)) the prompt cache takes: a number for every
   * model, or per model. Default Anthropic's documented minimums (4,096 for Haiku 4.5 and Opus 4.5/4.6, 2,048 for
   * Haiku 3.x, 1,024 otherwise). See README.md, "Prompt caching".
   */
  minCacheTokens?: number | ((model: string) => number);
}

export interface AnthropicRequestLogEntry {
  method: string;
  path: string;
  /** 0 when no answer was sent (a dropped connection, or a client that left before a delayed answer). */
  status: number;
  /** Set when a fault hit the request: the HTTP fault's status, 'drop' or 'delay'; or 'truncate', 'malformed', 'duplicate'. */
  fault?: string;
  /** The anthropic-version header sent, if any. */
  anthropicVersion: string | null;
}

export type ProcessingStatus = 'in_progress' | 'canceling' | 'ended';

export interface BatchRequest {
  customId: string;
  params: Record<string, unknown>;
}

export type IndividualResult =
  | { type: 'succeeded'; message: Record<string, unknown> }
  | { type: 'errored'; error: { type: 'error'; error: { type: string; message: string } } }
  | { type: 'canceled' }
  | { type: 'expired' };

export interface StoredMessageBatch {
  id: string;
  seq: number;
  status: ProcessingStatus;
  /** Epoch milliseconds (the API shows them as RFC 3339 strings). */
  at: { created: number; expires: number; cancelInitiated?: number; ended?: number };
  requests: BatchRequest[];
  /** How many of `requests` (in order) have a result. */
  processed: number;
  /** One per processed request, in request order (the results endpoint applies `resultsOrder`). */
  results: { custom_id: string; result: IndividualResult }[];
  counts: { succeeded: number; errored: number; canceled: number; expired: number };
  /** A lifecycle fault applied to this batch. */
  plan?: BatchPlan;
}

/** The emulator's memory, for tests to inspect. */
export interface AnthropicEmulatorState {
  /** Deleted batches are removed. */
  batches: Map<string, StoredMessageBatch>;
  /** custom_id -> how many times the responder (or a request fault) answered a request with that id, over all batches. */
  answered: Map<string, number>;
  /** custom_id -> how many times a request with that id `succeeded` (billed), over all batches. */
  billed: Map<string, number>;
  /** The prompt cache: prefix hash -> the entry (model, tokens, TTL, expiry), over all batches. */
  promptCache: Map<string, PromptCacheEntry>;
  /** The custom_ids billed more than once, in the order they were first billed. */
  doubleBilled(): string[];
  /** The faults in force, in order (the first that applies to an occurrence wins), with their counters. */
  faults: readonly FaultHandle[];
  /** Adds a fault at the end of the list; returns its handle (counters, `remove()`). Throws on a malformed fault. */
  addFault<F extends Fault>(fault: F): FaultHandle<F>;
  clearFaults(): void;
  /** Lets batches held `in_progress` by a `stuck` fault go on (the one given, or all); returns the ids released. */
  releaseBatch(id?: string): string[];
  /** Every HTTP request served, in order. */
  requests: AnthropicRequestLogEntry[];
  /** Advances every batch to the current clock (reads through the API do this for the batches they touch). */
  advance(): void;
  /** A batch as the API would show it now. */
  batchObject(id: string): Record<string, unknown>;
}

export interface AnthropicEmulator {
  /** Base URL without /v1, for `new Anthropic({ baseURL })` (ANTHROPIC_BASE_URL). */
  url: string;
  port: number;
  state: AnthropicEmulatorState;
  close(): Promise<void>;
}

/** An error answered with Anthropic's envelope: `{ type: 'error', error: { type, message }, request_id }`. */
export class AnthropicApiError extends Error {
  readonly status: number;
  readonly type: string;

  constructor(status: number, type: string, message: string) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

const invalid = (message: string) => new AnthropicApiError(400, 'invalid_request_error', message);

/** Anthropic's error types, and the one each HTTP status stands for. */
const ERROR_TYPES = new Set(['invalid_request_error', 'authentication_error', 'billing_error', 'permission_error', 'not_found_error', 'request_too_large', 'rate_limit_error', 'timeout_error', 'api_error', 'overloaded_error']);
function errorTypeFor(status: number): string {
  const byStatus: Record<number, string> = { 401: 'authentication_error', 402: 'billing_error', 403: 'permission_error', 404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 504: 'timeout_error', 529: 'overloaded_error' };
  return byStatus[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** Anthropic's message for an error status, for faults that give none. */
function defaultErrorMessage(status: number): string {
  if (status === 429) {
    return 'Number of requests has exceeded your per-minute rate limit (https://docs.claude.com/en/api/rate-limits); see the response headers for current usage. Please try again later.';
  }
  if (status === 529) return 'Overloaded';
  if (status === 503) return 'Service unavailable';
  if (status >= 500) return 'Internal server error';
  return `Emulated error ${status}.`;
}

const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
/** OpenAI chat parameters the Messages API refuses ("Extra inputs are not permitted"), a common porting mistake. */
const OPENAI_ONLY_PARAMS = ['n', 'max_completion_tokens', 'response_format', 'frequency_penalty', 'presence_penalty', 'logprobs', 'top_logprobs', 'seed', 'logit_bias', 'stop', 'user'];
const STOP_REASONS: Record<NonNullable<ResponderReply['finishReason']>, string> = { stop: 'end_turn', length: 'max_tokens', content_filter: 'refusal' };
const DAY_MS = 24 * 60 * 60 * 1000;

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

interface Settings {
  inProgressMs: number;
  cancelingMs: number;
  expireAfterMs: number;
  clock: () => number;
  responder: Responder;
  knownModels?: readonly string[];
  maxRequestsPerBatch: number;
  resultsOrder: 'input' | 'reversed' | 'shuffled';
  faults: FaultRegistry;
  promptCache: PromptCache;
}

/** Message batches, advanced lazily (on every read) from the clock. */
export class MessageBatchStore {
  readonly batches = new Map<string, StoredMessageBatch>();
  readonly answered = new Map<string, number>();
  readonly billed = new Map<string, number>();
  readonly settings: Settings;
  /** The server's base URL, for absolute results_url values; set once the server listens. */
  baseUrl = '';
  #seq = 0;

  constructor(settings: Settings) {
    this.settings = settings;
  }

  create(body: Record<string, unknown>): StoredMessageBatch {
    const requests = validateCreate(body, this.settings.maxRequestsPerBatch);
    const now = this.settings.clock();
    const batch: StoredMessageBatch = {
      id: randomId('msgbatch_01', 22),
      seq: this.#seq++,
      status: 'in_progress',
      at: { created: now, expires: now + this.settings.expireAfterMs },
      requests,
      processed: 0,
      results: [],
      counts: { succeeded: 0, errored: 0, canceled: 0, expired: 0 },
    };
    const fault = this.settings.faults.lifecycle(batch.id, now, true);
    if (fault) this.#applyPlan(batch, fault, now);
    this.batches.set(batch.id, batch);
    return batch;
  }

  /** Applies a lifecycle fault; an expire or cancel fault strikes once `answered` requests have results. */
  #applyPlan(batch: StoredMessageBatch, fault: BatchPlan['fault'], now: number): void {
    const plan: BatchPlan = { fault, attachedAt: now };
    if (fault.kind === 'expire' || fault.kind === 'cancel') {
      const total = batch.requests.length;
      plan.limit = Math.min(total, fault.answered ?? Math.floor(total / 2));
      plan.strikeAt = Math.max(batch.at.created + (this.settings.inProgressMs * plan.limit) / total, now);
      if (fault.kind === 'expire' && plan.limit < total) batch.at.expires = Math.min(batch.at.expires, plan.strikeAt);
    }
    batch.plan = plan;
  }

  /** Lets batches held by a `stuck` fault go on (the one given, or all); returns the ids released. */
  releaseBatch(id?: string): string[] {
    const released: string[] = [];
    for (const batch of id === undefined ? this.batches.values() : [this.get(id)]) {
      if (batch.plan?.fault.kind === 'stuck' && batch.plan.releasedAt === undefined && batch.status !== 'ended') {
        batch.plan.releasedAt = this.settings.clock();
        released.push(batch.id);
      }
    }
    return released;
  }

  /** The batch, advanced to the current time. */
  get(id: string): StoredMessageBatch {
    const batch = this.batches.get(id);
    if (!batch) throw new AnthropicApiError(404, 'not_found_error', `Message batch ${id} not found.`);
    this.advance(batch);
    return batch;
  }

  /** Newest first; `after_id` pages towards older batches, `before_id` towards newer ones. */
  list(limit: number, afterId: string | undefined, beforeId: string | undefined): { data: StoredMessageBatch[]; hasMore: boolean } {
    const all = [...this.batches.values()].sort((a, b) => b.at.created - a.at.created || b.seq - a.seq);
    let data: StoredMessageBatch[];
    let hasMore: boolean;
    if (beforeId !== undefined) {
      const index = all.findIndex((b) => b.id === beforeId);
      const start = Math.max(0, index - limit);
      data = index === -1 ? [] : all.slice(start, index);
      hasMore = index !== -1 && start > 0;
    } else {
      const index = afterId === undefined ? -1 : all.findIndex((b) => b.id === afterId);
      data = afterId !== undefined && index === -1 ? [] : all.slice(index + 1, index + 1 + limit);
      hasMore = data.length > 0 && index + 1 + limit < all.length;
    }
    for (const batch of data) this.advance(batch);
    return { data, hasMore };
  }

  /** Starts canceling: the answer shows 'canceling'; a read cancelingMs later shows the batch ended. */
  cancel(id: string): StoredMessageBatch {
    const batch = this.get(id);
    if (batch.status === 'ended') throw invalid(`Message batch ${id} has already ended and can no longer be canceled.`);
    if (batch.status === 'in_progress') {
      batch.status = 'canceling';
      batch.at.cancelInitiated = this.settings.clock();
    }
    return batch;
  }

  delete(id: string): void {
    const batch = this.get(id);
    if (batch.status !== 'ended') throw invalid(`Message batch ${id} cannot be deleted while it is still processing; cancel it first.`);
    this.batches.delete(id);
  }

  /** The results, in the configured order; 400 while the batch has not ended. */
  resultLines(id: string): string[] {
    const batch = this.get(id);
    if (batch.status !== 'ended') throw invalid(`Message batch ${id} has not finished processing: results are available once processing_status is 'ended'.`);
    const lines = batch.results.map((r) => JSON.stringify(r));
    if (this.settings.resultsOrder === 'reversed') lines.reverse();
    if (this.settings.resultsOrder === 'shuffled') {
      const key = (i: number) => createHash('sha256').update(batch.results[i].custom_id).digest('hex');
      return lines.map((line, i) => ({ line, key: key(i) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((x) => x.line);
    }
    return lines;
  }

  advanceAll(): void {
    for (const batch of this.batches.values()) this.advance(batch);
  }

  /** Answers the requests that are due by now and ends the batch when its time (or its expiry) has come. */
  advance(batch: StoredMessageBatch, now = this.settings.clock()): void {
    if (batch.status === 'ended') return;
    if (!batch.plan) {
      const fault = this.settings.faults.lifecycle(batch.id, now, false);
      if (fault) this.#applyPlan(batch, fault, now);
    }
    const plan = batch.plan;
    const { inProgressMs, cancelingMs } = this.settings;
    const start = batch.at.created;
    const expires = batch.at.expires;
    const total = batch.requests.length;
    // A stuck batch answers nothing until released, then goes on from there.
    const hold = plan?.fault.kind === 'stuck' ? (plan.releasedAt ?? Infinity) : -Infinity;
    const endAt = Math.max(start + inProgressMs, hold);
    // A canceled batch takes no new requests after the cancel; the in-flight part of this emulator is instantaneous.
    const stopAt = Math.min(now, expires, batch.at.cancelInitiated ?? Infinity);
    const cap = plan?.limit ?? total;
    while (batch.processed < cap) {
      const due = Math.max(start + (inProgressMs * (batch.processed + 1)) / total, hold);
      if (due > stopAt) break;
      this.#answer(batch, batch.requests[batch.processed], due);
      batch.processed++;
    }
    if (plan?.fault.kind === 'cancel' && batch.status === 'in_progress' && plan.limit! < total && plan.strikeAt! <= Math.min(now, expires)) {
      batch.status = 'canceling';
      batch.at.cancelInitiated = plan.strikeAt;
    }
    if (batch.processed === total && endAt <= Math.min(now, expires) && batch.status === 'in_progress') {
      return this.#end(batch, endAt, 'expired');
    }
    if (batch.status === 'canceling') {
      const done = batch.at.cancelInitiated! + cancelingMs;
      if (done <= now && done < expires) return this.#end(batch, done, 'canceled');
    }
    if (expires <= now) this.#end(batch, expires, 'expired');
  }

  /** Ends the batch; requests without a result get `unfinished` (none are left when it ends normally). */
  #end(batch: StoredMessageBatch, atMs: number, unfinished: 'canceled' | 'expired'): void {
    for (const request of batch.requests.slice(batch.processed)) {
      batch.results.push({ custom_id: request.customId, result: { type: unfinished } });
      batch.counts[unfinished]++;
    }
    batch.processed = batch.requests.length;
    batch.status = 'ended';
    batch.at.ended = atMs;
  }

  #answer(batch: StoredMessageBatch, request: BatchRequest, atMs: number): void {
    const push = (result: IndividualResult) => {
      batch.results.push({ custom_id: request.customId, result });
      if (result.type === 'succeeded') {
        batch.counts.succeeded++;
        this.billed.set(request.customId, (this.billed.get(request.customId) ?? 0) + 1);
      } else batch.counts.errored++;
    };
    const problem = checkParams(request.params, this.settings.knownModels);
    if (problem) return push({ type: 'errored', error: { type: 'error', error: problem } });

    this.answered.set(request.customId, (this.answered.get(request.customId) ?? 0) + 1);
    const model = request.params.model as string;
    const messages = anthropicMessages(request.params);
    let result: ResponderResult;
    const forced = this.settings.faults.requestError(request.customId, model, atMs);
    if (forced) {
      result = { error: { ...forced, message: forced.message ?? defaultErrorMessage(forced.status) } };
    } else {
      try {
        result = this.settings.responder({ customId: request.customId, model, provider: 'anthropic', endpoint: '/v1/messages', messages, body: request.params });
      } catch (error) {
        process.emitWarning(`Anthropic emulator: the responder threw for ${request.customId}: ${(error as Error).message}`);
        result = { error: { status: 500, message: 'Internal server error', type: 'api_error' } };
      }
    }
    if (isResponderError(result)) {
      const { status, message, type } = result.error;
      return push({ type: 'errored', error: { type: 'error', error: { type: type && ERROR_TYPES.has(type) ? type : errorTypeFor(status), message } } });
    }
    const prompt = conversationText(messages);
    // The prompt cache is used unless the reply scripts the cache counts itself.
    const scripted = result.usage?.cachedTokens !== undefined || result.usage?.cacheWriteTokens !== undefined;
    const cache = scripted ? undefined : this.settings.promptCache.use(model, request.params, result.usage?.promptTokens ?? estimateTokens(prompt), atMs);
    push({ type: 'succeeded', message: messageBody(request.params, model, prompt, result, cache) });
  }

  toApi(batch: StoredMessageBatch): Record<string, unknown> {
    const ended = batch.status === 'ended';
    const { counts } = batch;
    return {
      id: batch.id,
      type: 'message_batch',
      processing_status: batch.status,
      // Everything counts as processing until the whole batch has ended (as documented).
      request_counts: ended
        ? { processing: 0, succeeded: counts.succeeded, errored: counts.errored, canceled: counts.canceled, expired: counts.expired }
        : { processing: batch.requests.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: iso(batch.at.ended),
      created_at: iso(batch.at.created),
      expires_at: iso(batch.at.expires),
      archived_at: null,
      cancel_initiated_at: iso(batch.at.cancelInitiated),
      results_url: ended ? `${this.baseUrl}/v1/messages/batches/${batch.id}/results` : null,
    };
  }
}

// ---- validation ------------------------------------------------------------------------------------------------------

/** What the create endpoint checks at once (shape, custom_ids, limits); anything else is checked per request later. */
function validateCreate(body: Record<string, unknown>, maxRequests: number): BatchRequest[] {
  for (const key of Object.keys(body)) if (key !== 'requests') throw invalid(`${key}: Extra inputs are not permitted`);
  const requests = body.requests;
  if (requests === undefined) throw invalid('requests: Field required');
  if (!Array.isArray(requests)) throw invalid(`requests: Input should be a valid list, got ${describeType(requests)}`);
  if (requests.length === 0) throw invalid('requests: List should have at least 1 item after validation, not 0');
  if (requests.length > maxRequests) throw invalid(`requests: List should have at most ${maxRequests} items after validation, not ${requests.length}`);
  const seen = new Set<string>();
  return requests.map((request: unknown, i): BatchRequest => {
    const at = `requests.${i}`;
    if (typeof request !== 'object' || request === null || Array.isArray(request)) throw invalid(`${at}: Input should be a valid dictionary or object`);
    const { custom_id: customId, params, ...extra } = request as Record<string, unknown>;
    for (const key of Object.keys(extra)) throw invalid(`${at}.${key}: Extra inputs are not permitted`);
    if (customId === undefined) throw invalid(`${at}.custom_id: Field required`);
    if (typeof customId !== 'string') throw invalid(`${at}.custom_id: Input should be a valid string`);
    if (!CUSTOM_ID.test(customId)) throw invalid(`${at}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
    if (seen.has(customId)) throw invalid(`${at}.custom_id: Duplicate custom_id '${customId}'. Each request in a batch must have a unique custom_id.`);
    seen.add(customId);
    if (params === undefined) throw invalid(`${at}.params: Field required`);
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw invalid(`${at}.params: Input should be a valid dictionary or object`);
    const p = params as Record<string, unknown>;
    for (const name of ['model', 'max_tokens', 'messages']) if (p[name] === undefined) throw invalid(`${at}.params.${name}: Field required`);
    if (typeof p.model !== 'string' || p.model === '') throw invalid(`${at}.params.model: Input should be a valid string`);
    if (!Number.isInteger(p.max_tokens)) throw invalid(`${at}.params.max_tokens: Input should be a valid integer`);
    if ((p.max_tokens as number) < 1) throw invalid(`${at}.params.max_tokens: Input should be greater than or equal to 1`);
    if (!Array.isArray(p.messages)) throw invalid(`${at}.params.messages: Input should be a valid list`);
    return { customId, params: p };
  });
}

/** The Messages API checks a batch request only when it is processed; a failure makes it `errored`. */
function checkParams(params: Record<string, unknown>, knownModels: readonly string[] | undefined): { type: string; message: string } | null {
  const bad = (message: string) => ({ type: 'invalid_request_error', message });
  for (const name of OPENAI_ONLY_PARAMS) if (params[name] !== undefined) return bad(`${name}: Extra inputs are not permitted`);
  const model = params.model as string;
  if (knownModels && !knownModels.includes(model)) return { type: 'not_found_error', message: `model: ${model}` };
  if (params.stream === true) return bad('stream: Streaming is not supported in the Message Batches API.');
  const messages = params.messages as unknown[];
  if (messages.length === 0) return bad('messages: at least one message is required');
  for (const [i, message] of messages.entries()) {
    if (typeof message !== 'object' || message === null) return bad(`messages.${i}: Input should be a valid dictionary or object`);
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (role === 'system') {
      return bad('messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.');
    }
    if (role !== 'user' && role !== 'assistant') return bad(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    if (content === undefined) return bad(`messages.${i}.content: Field required`);
    if (typeof content !== 'string' && !Array.isArray(content)) return bad(`messages.${i}.content: Input should be a valid string or list`);
  }
  if (params.system !== undefined && typeof params.system !== 'string' && !Array.isArray(params.system)) return bad('system: Input should be a valid string or list');
  const cacheProblem = checkCacheControl(params);
  if (cacheProblem) return bad(cacheProblem);
  for (const [name, max] of [['temperature', 1], ['top_p', 1]] as const) {
    const value = params[name];
    if (value === undefined) continue;
    if (typeof value !== 'number') return bad(`${name}: Input should be a valid number`);
    if (value < 0) return bad(`${name}: Input should be greater than or equal to 0`);
    if (value > max) return bad(`${name}: Input should be less than or equal to ${max}`);
  }
  if (params.top_k !== undefined && !(Number.isInteger(params.top_k) && (params.top_k as number) >= 0)) return bad('top_k: Input should be a non-negative integer');
  const stops = params.stop_sequences;
  if (stops !== undefined && !(Array.isArray(stops) && stops.every((s) => typeof s === 'string'))) return bad('stop_sequences: Input should be a valid list of strings');
  return null;
}

// ---- the message ------------------------------------------------------------------------------------------------------

/**
 * The assistant message for a reply: stop_sequences cut the text at the earliest match (stop_reason 'stop_sequence'),
 * max_tokens cuts it at max_tokens * 4 characters (stop_reason 'max_tokens'). Tokens are ceil(characters / 4).
 */
function messageBody(params: Record<string, unknown>, model: string, prompt: string, reply: ResponderReply, cache?: CacheUsage): Record<string, unknown> {
  let text = reply.content;
  let stopReason = STOP_REASONS[reply.finishReason ?? 'stop'];
  let stopSequence: string | null = null;
  const stops = Array.isArray(params.stop_sequences) ? (params.stop_sequences as string[]).filter((s) => s !== '') : [];
  let cut = -1;
  for (const stop of stops) {
    const index = text.indexOf(stop);
    if (index !== -1 && (cut === -1 || index < cut)) {
      cut = index;
      stopSequence = stop;
    }
  }
  if (stopSequence !== null) {
    text = text.slice(0, cut);
    stopReason = 'stop_sequence';
  }
  const maxTokens = params.max_tokens as number;
  if (reply.usage?.completionTokens === undefined && estimateTokens(text) > maxTokens) {
    text = text.slice(0, maxTokens * 4);
    stopReason = 'max_tokens';
    stopSequence = null;
  }
  const usage = reply.usage ?? {};
  const cacheRead = usage.cachedTokens ?? cache?.read ?? 0;
  const cacheWrite1h = cache && usage.cacheWriteTokens === undefined ? cache.write1h : 0;
  const cacheWrite = usage.cacheWriteTokens ?? (cache ? cache.write5m + cache.write1h : 0);
  // Anthropic's input_tokens leave out the tokens read from or written to the cache.
  const input = Math.max(0, (usage.promptTokens ?? estimateTokens(prompt)) - cacheRead - cacheWrite);
  return {
    id: randomId('msg_01', 22),
    type: 'message',
    role: 'assistant',
    model,
    content: text === '' ? [] : [{ type: 'text', text }],
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    usage: {
      input_tokens: input,
      cache_creation_input_tokens: cacheWrite,
      cache_read_input_tokens: cacheRead,
      cache_creation: { ephemeral_5m_input_tokens: cacheWrite - cacheWrite1h, ephemeral_1h_input_tokens: cacheWrite1h },
      output_tokens: usage.completionTokens ?? estimateTokens(text),
      service_tier: 'batch',
    },
  };
}

// ---- the server ----------------------------------------------------------------------------------------------------------

export async function startAnthropicEmulator(options: AnthropicEmulatorOptions = {}): Promise<AnthropicEmulator> {
  const phase = (value: number | undefined, normal: number) => value ?? (options.instant ? 0 : normal);
  let responder = options.responder;
  if (!responder && options.script !== undefined) {
    responder = scriptedResponder(typeof options.script === 'string' ? loadScript(options.script) : options.script);
  }
  const store = new MessageBatchStore({
    inProgressMs: phase(options.inProgressMs, 1000),
    cancelingMs: phase(options.cancelingMs, 200),
    expireAfterMs: options.expireAfterMs ?? DAY_MS,
    clock: options.clock ?? Date.now,
    responder: responder ?? defaultResponder,
    knownModels: options.knownModels,
    maxRequestsPerBatch: options.maxRequestsPerBatch ?? 100_000,
    resultsOrder: options.resultsOrder ?? 'input',
    faults: new FaultRegistry('anthropic', options.faults),
    promptCache: new PromptCache(options.minCacheTokens),
  });
  const faults = store.settings.faults;
  const maxBatchBytes = options.maxBatchBytes ?? 256 * 1024 * 1024;
  const requests: AnthropicRequestLogEntry[] = [];

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? '';
    const requestId = randomId('req_011', 21);
    res.setHeader('request-id', requestId);
    const version = req.headers['anthropic-version'];
    const log = (status: number) => {
      const entry: AnthropicRequestLogEntry = { method, path, status, anthropicVersion: typeof version === 'string' ? version : null };
      const fault = responseTag(res);
      requests.push(fault === undefined ? entry : { ...entry, fault });
    };
    res.on('finish', () => log(res.statusCode));
    res.on('close', () => {
      if (!res.writableFinished) log(res.headersSent ? res.statusCode : 0);
    });
    const fault = faults.http(method, path, store.settings.clock());
    const run = () => serve(req, res, requestId);
    if (fault) applyHttpFault(faults, fault.fault, req, res, run, () => sendFaultError(res, fault.fault, requestId));
    else run();
  });
  server.keepAliveTimeout = 5_000;

  function serve(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    handle(store, req, res, { apiKey: options.apiKey, maxBatchBytes }).catch((error: unknown) => {
      const apiError =
        error instanceof AnthropicApiError
          ? error
          : error instanceof ApiError
            ? new AnthropicApiError(error.status, errorTypeFor(error.status), error.message)
            : (console.error('Anthropic emulator: internal error', error), new AnthropicApiError(500, 'api_error', 'Internal server error'));
      if (res.headersSent) res.destroy();
      else {
        // Drain what the client is still sending, so it reads the answer instead of a reset connection.
        req.resume();
        sendJson(res, apiError.status, { type: 'error', error: { type: apiError.type, message: apiError.message }, request_id: requestId });
      }
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  store.baseUrl = `http://${host}:${address.port}`;

  return {
    url: store.baseUrl,
    port: address.port,
    state: {
      batches: store.batches,
      answered: store.answered,
      billed: store.billed,
      promptCache: store.settings.promptCache.entries,
      doubleBilled: () => [...store.billed].filter(([, n]) => n > 1).map(([id]) => id),
      faults: faults.handles,
      addFault: (fault) => faults.add(fault),
      clearFaults: () => faults.clear(),
      releaseBatch: (id) => store.releaseBatch(id),
      requests,
      advance: () => store.advanceAll(),
      batchObject: (id) => store.toApi(store.get(id)),
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        faults.dispose();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(store: MessageBatchStore, req: IncomingMessage, res: ServerResponse, limits: { apiKey?: string; maxBatchBytes: number }): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const method = req.method ?? 'GET';

  const key = headerValue(req, 'x-api-key') ?? /^Bearer\s+(\S+)/i.exec(headerValue(req, 'authorization') ?? '')?.[1];
  if (!key) throw new AnthropicApiError(401, 'authentication_error', 'x-api-key header is required');
  if (limits.apiKey !== undefined && key !== limits.apiKey) throw new AnthropicApiError(401, 'authentication_error', 'invalid x-api-key');
  const version = headerValue(req, 'anthropic-version');
  if (!version) throw invalid('anthropic-version: header is required');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(version)) throw invalid(`anthropic-version: "${version}" is not a valid version`);

  // /v1/messages/batches[/<id>[/<action>]]
  const segments = url.pathname.split('/').filter(Boolean).map(decodeSegment);
  const [v1, messages, batches, id, action, ...rest] = segments;
  const route = v1 === 'v1' && messages === 'messages' && batches === 'batches' && rest.length === 0 ? `${method} batches${id ? '/:id' : ''}${action ? `/${action}` : ''}` : '';

  switch (route) {
    case 'POST batches': {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBatchBytes) throw tooLarge();
      const body = await readBody(req);
      if (body.length > limits.maxBatchBytes) throw tooLarge();
      return sendJson(res, 200, store.toApi(store.create(parseJsonObject(body))));
    }
    case 'GET batches': {
      const query = url.searchParams;
      const limit = intParam(query, 'limit', 20, 1, 1000);
      const afterId = query.get('after_id') ?? undefined;
      const beforeId = query.get('before_id') ?? undefined;
      if (afterId !== undefined && beforeId !== undefined) throw invalid('Only one of before_id and after_id may be given.');
      const page = store.list(limit, afterId, beforeId);
      return sendJson(res, 200, { data: page.data.map((b) => store.toApi(b)), has_more: page.hasMore, first_id: page.data[0]?.id ?? null, last_id: page.data.at(-1)?.id ?? null });
    }
    case 'GET batches/:id':
      return sendJson(res, 200, store.toApi(store.get(id)));
    case 'DELETE batches/:id':
      store.delete(id);
      return sendJson(res, 200, { id, type: 'message_batch_deleted' });
    case 'POST batches/:id/cancel':
      return sendJson(res, 200, store.toApi(store.cancel(id)));
    case 'GET batches/:id/results': {
      const lines = store.resultLines(id);
      const body = Buffer.from(lines.map((line) => line + '\n').join(''));
      const fault = store.settings.faults.results(id, undefined, store.settings.clock());
      serveResults(res, body, { 'content-type': 'binary/octet-stream', 'content-disposition': `attachment; filename="${id}_results.jsonl"` }, fault, alterResultLine);
      return;
    }
    default:
      throw new AnthropicApiError(404, 'not_found_error', 'Not Found');
  }
}

/** The error answer of an HTTP fault: Anthropic's envelope (529 overloaded_error, 429 rate_limit_error, ...). */
function sendFaultError(res: ServerResponse, fault: HttpFault, requestId: string): void {
  const status = fault.status!;
  for (const [name, value] of Object.entries(faultHeaders(fault))) res.setHeader(name, value);
  sendJson(res, status, { type: 'error', error: { type: fault.type ?? errorTypeFor(status), message: fault.message ?? defaultErrorMessage(status) }, request_id: requestId });
}

/** The second, different line of a `duplicate` fault: a new message id and changed text, or an errored result. */
function alterResultLine(line: Record<string, unknown>): Record<string, unknown> {
  const result = line.result as IndividualResult;
  if (result.type === 'succeeded') {
    const message = result.message as { id?: string; content?: { type: string; text?: string }[] };
    message.id = randomId('msg_01', 22);
    const text = message.content?.find((block) => block.type === 'text');
    if (text) text.text = `[duplicate] ${text.text ?? ''}`;
    else message.content = [{ type: 'text', text: '[duplicate]' }];
  } else if (result.type === 'errored') {
    result.error.error.message = `[duplicate] ${result.error.error.message}`;
  } else {
    line.result = { type: 'errored', error: { type: 'error', error: { type: 'api_error', message: `[duplicate] ${result.type} result` } } };
  }
  return line;
}

function tooLarge(): AnthropicApiError {
  return new AnthropicApiError(413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.');
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw invalid(`There was an issue with your request body: it is not valid JSON (${(error as Error).message}).`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`The request body should be a JSON object, got ${describeType(value)}.`);
  return value as Record<string, unknown>;
}

function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value)) throw invalid(`${name}: Input should be a valid integer, unable to parse string as an integer`);
  if (value < min) throw invalid(`${name}: Input should be greater than or equal to ${min}`);
  if (value > max) throw invalid(`${name}: Input should be less than or equal to ${max}`);
  return value;
}
