import { randomBytes } from 'node:crypto';
import { defaultEmbeddingDimensions, embeddingVector } from './embeddings.ts';
import { failErrors, FaultRegistry, type BatchPlan } from './faults.ts';
import { ApiError, describeType, randomId } from './http.ts';
import { chatMessages, estimateTokens, isResponderError, promptText, type Responder, type ResponderResult } from './responder.ts';

/** Endpoints the real Batch API accepts, and the ones this emulator answers. */
const REAL_ENDPOINTS = ['/v1/responses', '/v1/chat/completions', '/v1/embeddings', '/v1/completions', '/v1/moderations', '/v1/images/generations', '/v1/images/edits', '/v1/videos'];
export const EMULATED_ENDPOINTS = ['/v1/chat/completions', '/v1/responses', '/v1/embeddings'];
const CREATE_PARAMS = new Set(['input_file_id', 'endpoint', 'completion_window', 'metadata', 'output_expires_after']);
export const FILE_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'];

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

export interface Timing {
  validatingMs: number;
  inProgressMs: number;
  finalizingMs: number;
  cancellingMs: number;
  expireAfterMs: number;
}

export interface StoreOptions {
  timing: Timing;
  clock: () => number;
  responder: Responder;
  maxRequestsPerBatch: number;
  knownModels?: readonly string[];
  rejectUnknownInputFile: boolean;
  outputOrder: 'input' | 'reversed';
  /** Lifecycle and request faults (default none). */
  faults?: FaultRegistry;
}

export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  status_details: null;
  expires_at: number | null;
}

export interface StoredFile {
  object: FileObject;
  content: Buffer;
  /** Insertion order, to sort files created in the same second. */
  seq: number;
}

export interface BatchError {
  code: string;
  line: number | null;
  message: string;
  param: string | null;
}

interface InputRequest {
  line: number;
  customId: string;
  body: Record<string, unknown>;
}

export interface StoredBatch {
  id: string;
  seq: number;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  metadata: Record<string, string> | null;
  model: string | null;
  status: BatchStatus;
  errors: BatchError[] | null;
  /** Times in epoch milliseconds (the API shows them in seconds). */
  at: Partial<Record<'created' | 'in_progress' | 'expires' | 'finalizing' | 'completed' | 'failed' | 'expired' | 'cancelling' | 'cancelled', number>>;
  requests: InputRequest[];
  /** How many of `requests` (in order) have been answered. */
  processed: number;
  outputLines: string[];
  errorLines: string[];
  counts: { completed: number; failed: number };
  usage: { input: number; cached: number; output: number; reasoning: number };
  outputFileId: string | null;
  errorFileId: string | null;
  /** A lifecycle fault applied to this batch. */
  plan?: BatchPlan;
}

const seconds = (ms: number | undefined): number | null => (ms === undefined ? null : Math.floor(ms / 1000));
const TERMINAL = new Set<BatchStatus>(['failed', 'completed', 'expired', 'cancelled']);

/** Files and batches, with batches advanced lazily (on every read) from the clock and the timing options. */
export class BatchStore {
  readonly files = new Map<string, StoredFile>();
  readonly batches = new Map<string, StoredBatch>();
  /** custom_id -> how many times a request with that id was answered (successfully or not), over all batches. */
  readonly answered = new Map<string, number>();
  /** custom_id -> how many times a request with that id was answered successfully (billed), over all batches. */
  readonly billed = new Map<string, number>();
  /** Output and error files: file id -> the batch and which file it is. */
  readonly resultFiles = new Map<string, { batchId: string; file: 'output' | 'error' }>();
  readonly options: StoreOptions;
  readonly faults: FaultRegistry;
  #seq = 0;

  constructor(options: StoreOptions) {
    this.options = options;
    this.faults = options.faults ?? new FaultRegistry('openai');
  }

  // ---- files ---------------------------------------------------------------------------------------------------

  addFile(filename: string, purpose: string, content: Buffer, nowMs = this.options.clock()): StoredFile {
    const object: FileObject = {
      id: randomId('file-', 22),
      object: 'file',
      bytes: content.length,
      created_at: Math.floor(nowMs / 1000),
      filename,
      purpose,
      status: 'processed',
      status_details: null,
      expires_at: null,
    };
    const file = { object, content, seq: this.#seq++ };
    this.files.set(object.id, file);
    return file;
  }

  getFile(id: string): StoredFile {
    const file = this.files.get(id);
    if (!file) throw new ApiError(404, `No such File object: ${id}`, { param: 'id' });
    return file;
  }

  // ---- batches: create, read, cancel ---------------------------------------------------------------------------

  createBatch(params: Record<string, unknown>): StoredBatch {
    for (const key of Object.keys(params)) {
      if (!CREATE_PARAMS.has(key)) throw new ApiError(400, `Unrecognized request argument supplied: ${key}`);
    }
    const inputFileId = requiredString(params, 'input_file_id');
    const endpoint = requiredString(params, 'endpoint');
    if (!REAL_ENDPOINTS.includes(endpoint)) {
      throw new ApiError(400, `Invalid value: '${endpoint}'. Supported values are: ${listValues(REAL_ENDPOINTS)}.`, { param: 'endpoint', code: 'invalid_value' });
    }
    if (!EMULATED_ENDPOINTS.includes(endpoint)) {
      throw new ApiError(400, `The OpenAI emulator does not implement batches for '${endpoint}'; it supports ${listValues(EMULATED_ENDPOINTS)}.`, { param: 'endpoint', code: 'unsupported_value' });
    }
    const completionWindow = requiredString(params, 'completion_window');
    if (completionWindow !== '24h') {
      throw new ApiError(400, `Invalid value: '${completionWindow}'. Supported values are: '24h'.`, { param: 'completion_window', code: 'invalid_value' });
    }
    const metadata = validateMetadata(params.metadata);
    if (this.options.rejectUnknownInputFile && !this.files.has(inputFileId)) {
      throw new ApiError(400, `Invalid 'input_file_id': no file with id '${inputFileId}' exists.`, { param: 'input_file_id', code: 'invalid_value' });
    }

    const now = this.options.clock();
    const batch: StoredBatch = {
      id: `batch_${randomBytes(16).toString('hex')}`,
      seq: this.#seq++,
      endpoint,
      inputFileId,
      completionWindow,
      metadata,
      model: null,
      status: 'validating',
      errors: null,
      at: { created: now, expires: now + this.options.timing.expireAfterMs },
      requests: [],
      processed: 0,
      outputLines: [],
      errorLines: [],
      counts: { completed: 0, failed: 0 },
      usage: { input: 0, cached: 0, output: 0, reasoning: 0 },
      outputFileId: null,
      errorFileId: null,
    };
    const fault = this.faults.lifecycle(batch.id, now, true);
    if (fault) batch.plan = { fault, attachedAt: now };
    this.batches.set(batch.id, batch);
    return batch;
  }

  /** Lets batches held by a `stuck` fault go on (the one given, or all); returns the ids released. */
  releaseBatch(id?: string): string[] {
    const released: string[] = [];
    for (const batch of id === undefined ? this.batches.values() : [this.getBatch(id)]) {
      if (batch.plan?.fault.kind === 'stuck' && batch.plan.releasedAt === undefined) {
        batch.plan.releasedAt = this.options.clock();
        released.push(batch.id);
      }
    }
    return released;
  }

  /** The batch, advanced to the current time. */
  getBatch(id: string): StoredBatch {
    const batch = this.batches.get(id);
    if (!batch) throw new ApiError(404, `No batch found with id '${id}'.`, { param: 'batch_id' });
    this.advance(batch);
    return batch;
  }

  /** Newest first, `limit` after the batch `after`. */
  listBatches(limit: number, after: string | undefined): { data: StoredBatch[]; hasMore: boolean } {
    const all = [...this.batches.values()].sort((a, b) => b.at.created! - a.at.created! || b.seq - a.seq);
    const start = after === undefined ? 0 : all.findIndex((b) => b.id === after) + 1;
    const page = start === 0 && after !== undefined ? [] : all.slice(start, start + limit);
    for (const batch of page) this.advance(batch);
    return { data: page, hasMore: page.length > 0 && start + limit < all.length };
  }

  /** Starts cancelling; the answer shows 'cancelling', a later read 'cancelled' once cancellingMs has passed. */
  cancelBatch(id: string): StoredBatch {
    const batch = this.getBatch(id);
    if (batch.status === 'cancelling' || batch.status === 'cancelled') return batch;
    if (TERMINAL.has(batch.status)) throw new ApiError(409, `Cannot cancel a batch with status '${batch.status}'.`);
    batch.status = 'cancelling';
    batch.at.cancelling = this.options.clock();
    return batch;
  }

  advanceAll(): void {
    for (const batch of this.batches.values()) this.advance(batch);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------------

  /** Moves the batch through every transition that is due by now, answering the requests that are due. */
  advance(batch: StoredBatch, now = this.options.clock()): void {
    const { timing } = this.options;
    if (!batch.plan && !TERMINAL.has(batch.status)) {
      const fault = this.faults.lifecycle(batch.id, now, false);
      if (fault) batch.plan = { fault, attachedAt: now };
    }
    const plan = batch.plan;
    for (;;) {
      const expires = batch.at.expires!;
      switch (batch.status) {
        case 'validating': {
          const validated = batch.at.created! + timing.validatingMs;
          if (expires <= now && expires < validated) return this.#finish(batch, 'expired', expires);
          if (now < validated) return;
          const { errors, requests } = plan?.fault.kind === 'fail' ? { errors: failErrors(plan.fault), requests: [] } : this.#validate(batch);
          if (errors.length > 0) {
            batch.errors = errors;
            batch.status = 'failed';
            batch.at.failed = validated;
            return;
          }
          batch.requests = requests;
          batch.model = typeof requests[0].body.model === 'string' ? requests[0].body.model : null;
          batch.status = 'in_progress';
          batch.at.in_progress = validated;
          break;
        }
        case 'in_progress': {
          const start = batch.at.in_progress!;
          const end = start + timing.inProgressMs;
          const total = batch.requests.length;
          const due = (count: number) => start + (timing.inProgressMs * count) / total;
          // An expire or cancel fault strikes once `limit` requests are answered.
          if (plan && (plan.fault.kind === 'expire' || plan.fault.kind === 'cancel') && plan.limit === undefined) {
            plan.limit = Math.min(total, plan.fault.answered ?? Math.floor(total / 2));
            plan.strikeAt = Math.max(due(plan.limit), plan.attachedAt);
            if (plan.fault.kind === 'expire' && plan.limit < total) batch.at.expires = Math.min(expires, plan.strikeAt);
          }
          const expiry = batch.at.expires!;
          const limit = Math.min(now, expiry);
          const cap = plan?.limit ?? total;
          while (batch.processed < cap) {
            const at = due(batch.processed + 1);
            if (at > limit) break;
            this.#answer(batch, batch.requests[batch.processed], at);
            batch.processed++;
          }
          if (plan?.fault.kind === 'cancel' && plan.limit! < total && plan.strikeAt! <= limit) {
            batch.status = 'cancelling';
            batch.at.cancelling = plan.strikeAt;
            break;
          }
          if (batch.processed === total && end <= limit) {
            batch.status = 'finalizing';
            batch.at.finalizing = end;
            break;
          }
          if (expiry <= now) return this.#finish(batch, 'expired', expiry);
          return;
        }
        case 'finalizing': {
          let done = batch.at.finalizing! + timing.finalizingMs;
          if (plan?.fault.kind === 'stuck') {
            if (plan.releasedAt === undefined) return;
            done = Math.max(done, plan.releasedAt);
          }
          if (now < done) return;
          return this.#finish(batch, 'completed', done);
        }
        case 'cancelling': {
          const done = batch.at.cancelling! + timing.cancellingMs;
          if (now < done) return;
          return this.#finish(batch, 'cancelled', done);
        }
        default:
          return;
      }
    }
  }

  /** Ends the batch: what was not answered goes to the error file, and the output and error files are written. */
  #finish(batch: StoredBatch, status: 'completed' | 'expired' | 'cancelled', atMs: number): void {
    const reason =
      status === 'expired'
        ? { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' }
        : { code: 'batch_cancelled', message: 'This request was not executed because the batch was cancelled.' };
    for (const request of batch.requests.slice(batch.processed)) {
      batch.errorLines.push(JSON.stringify({ id: randomId('batch_req_', 32), custom_id: request.customId, response: null, error: reason }));
      batch.counts.failed++;
    }
    batch.processed = batch.requests.length;
    const write = (lines: string[], kind: 'output' | 'error'): string | null => {
      if (lines.length === 0) return null;
      const ordered = this.options.outputOrder === 'reversed' ? [...lines].reverse() : lines;
      const content = Buffer.from(ordered.join('\n') + '\n');
      const id = this.addFile(`batch_${batch.id}_${kind}.jsonl`, 'batch_output', content, atMs).object.id;
      this.resultFiles.set(id, { batchId: batch.id, file: kind });
      return id;
    };
    batch.outputFileId = write(batch.outputLines, 'output');
    batch.errorFileId = write(batch.errorLines, 'error');
    batch.outputLines = [];
    batch.errorLines = [];
    batch.status = status;
    batch.at[status] = atMs;
  }

  /** Checks the input file the way the real API does, collecting every error with its line. */
  #validate(batch: StoredBatch): { errors: BatchError[]; requests: InputRequest[] } {
    const file = this.files.get(batch.inputFileId);
    if (!file) {
      const message = `Cannot find file ${batch.inputFileId}, or organization does not have access to it.`;
      return { errors: [{ code: 'invalid_request', line: null, message, param: 'file_id' }], requests: [] };
    }
    if (file.object.purpose !== 'batch') {
      const message = `File ${file.object.id} was uploaded with purpose '${file.object.purpose}'; batch input files must have purpose 'batch'.`;
      return { errors: [{ code: 'invalid_request', line: null, message, param: 'file_id' }], requests: [] };
    }
    const lines = jsonlLines(file.content);
    if (lines.length === 0) {
      return { errors: [{ code: 'empty_file', line: null, message: 'The batch input file is empty.', param: null }], requests: [] };
    }
    const max = this.options.maxRequestsPerBatch;
    if (lines.length > max) {
      const message = `The batch input file contains ${lines.length} requests, more than the maximum of ${max} requests per batch.`;
      return { errors: [{ code: 'invalid_request', line: null, message, param: null }], requests: [] };
    }

    const errors: BatchError[] = [];
    const requests: InputRequest[] = [];
    const seen = new Set<string>();
    for (const { line, text } of lines) {
      const checked = validateLine(text, line, batch.endpoint, seen, this.options.knownModels);
      if (checked.errors.length > 0) errors.push(...checked.errors);
      else requests.push(checked.request!);
    }
    if (batch.endpoint === '/v1/embeddings' && errors.length === 0) {
      // Documented: "/v1/embeddings batches are also restricted to a maximum of 50,000 embedding inputs across all requests in the batch."
      const inputs = requests.reduce((sum, r) => sum + embeddingInputs(r.body.input).length, 0);
      if (inputs > MAX_EMBEDDING_INPUTS) {
        const message = `The batch input file contains ${inputs} embedding inputs, more than the maximum of ${MAX_EMBEDDING_INPUTS} embedding inputs per batch.`;
        return { errors: [{ code: 'invalid_request', line: null, message, param: null }], requests: [] };
      }
    }
    return { errors, requests };
  }

  /** Calls the responder once for the request and appends its line to the output or the error file. */
  #answer(batch: StoredBatch, request: InputRequest, atMs: number): void {
    const requestId = `req_${randomBytes(16).toString('hex')}`;
    const id = randomId('batch_req_', 32);
    const pushError = (status: number, body: { error: { message: string; type: string; param: string | null; code: string | null } }) => {
      batch.errorLines.push(JSON.stringify({ id, custom_id: request.customId, response: { status_code: status, request_id: requestId, body }, error: null }));
      batch.counts.failed++;
    };
    // As the real API checks an embeddings body only when it runs it: a 400 in the error file, the responder not asked.
    const problem = batch.endpoint === '/v1/embeddings' ? checkEmbeddingBody(request.body) : batch.endpoint === '/v1/responses' ? checkResponsesBody(request.body) : undefined;
    if (problem) return pushError(400, { error: { type: 'invalid_request_error', param: null, code: null, ...problem } });

    this.answered.set(request.customId, (this.answered.get(request.customId) ?? 0) + 1);
    const model = String(request.body.model);
    // An embeddings request's inputs are its one user message, so a script's `match` can pick them.
    const messages =
      batch.endpoint === '/v1/embeddings'
        ? [{ role: 'user', content: embeddingInputs(request.body.input).map(inputText).join('\n') }]
        : batch.endpoint === '/v1/responses'
          ? responsesMessages(request.body)
          : chatMessages(request.body);
    let result: ResponderResult;
    const forced = this.faults.requestError(request.customId, model, atMs);
    if (forced) {
      const rateLimit = forced.status === 429 ? { type: 'requests', code: 'rate_limit_exceeded' } : {};
      result = { error: { ...rateLimit, ...forced, message: forced.message ?? defaultRequestErrorMessage(forced.status) } };
    } else {
      try {
        result = this.options.responder({ customId: request.customId, model, provider: 'openai', endpoint: batch.endpoint, messages, body: request.body });
      } catch (error) {
        process.emitWarning(`OpenAI emulator: the responder threw for ${request.customId}: ${(error as Error).message}`);
        result = { error: { status: 500, message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' } };
      }
    }
    if (isResponderError(result)) {
      const { status, message, type, code, param } = result.error;
      return pushError(status, { error: { message, type: type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), param: param ?? null, code: code ?? null } });
    }
    const built =
      batch.endpoint === '/v1/embeddings'
        ? embeddingBody(request.body, model)
        : batch.endpoint === '/v1/responses'
          ? responsesBody(request.body, model, result, atMs)
          : chatCompletionBody(request.body, model, result, atMs);
    batch.usage.input += built.usage.input;
    batch.usage.cached += built.usage.cached;
    batch.usage.output += built.usage.output;
    batch.usage.reasoning += built.usage.reasoning;
    batch.outputLines.push(JSON.stringify({ id, custom_id: request.customId, response: { status_code: 200, request_id: requestId, body: built.body }, error: null }));
    batch.counts.completed++;
    this.billed.set(request.customId, (this.billed.get(request.customId) ?? 0) + 1);
  }

  // ---- wire format ---------------------------------------------------------------------------------------------

  toApi(batch: StoredBatch): Record<string, unknown> {
    const { at } = batch;
    const ended = batch.status === 'completed' || batch.status === 'expired' || batch.status === 'cancelled';
    return {
      id: batch.id,
      object: 'batch',
      endpoint: batch.endpoint,
      model: batch.model,
      errors: batch.errors ? { object: 'list', data: batch.errors } : null,
      input_file_id: batch.inputFileId,
      completion_window: batch.completionWindow,
      status: batch.status,
      output_file_id: batch.outputFileId,
      error_file_id: batch.errorFileId,
      created_at: seconds(at.created),
      in_progress_at: seconds(at.in_progress),
      expires_at: seconds(at.expires),
      finalizing_at: seconds(at.finalizing),
      completed_at: seconds(at.completed),
      failed_at: seconds(at.failed),
      expired_at: seconds(at.expired),
      cancelling_at: seconds(at.cancelling),
      cancelled_at: seconds(at.cancelled),
      request_counts: { total: batch.requests.length, completed: batch.counts.completed, failed: batch.counts.failed },
      metadata: batch.metadata,
      ...(ended
        ? {
            usage: {
              input_tokens: batch.usage.input,
              input_tokens_details: { cached_tokens: batch.usage.cached },
              output_tokens: batch.usage.output,
              output_tokens_details: { reasoning_tokens: batch.usage.reasoning },
              total_tokens: batch.usage.input + batch.usage.output,
            },
          }
        : {}),
    };
  }
}

/** OpenAI's message for an error status, for faults that give none. */
export function defaultRequestErrorMessage(status: number, retryAfter: number | null = null): string {
  if (status === 429) {
    return `Rate limit reached for requests per min (RPM): Limit 60, Used 60, Requested 1.${retryAfter === null ? '' : ` Please try again in ${retryAfter}s.`} Visit https://platform.openai.com/account/rate-limits to learn more.`;
  }
  if (status === 503) return 'The server is overloaded or not ready yet.';
  if (status >= 500) return 'The server had an error while processing your request. Sorry about that!';
  return `Emulated error ${status}.`;
}

// ---- validation helpers --------------------------------------------------------------------------------------------

function requiredString(params: Record<string, unknown>, name: string): string {
  const value = params[name];
  if (value === undefined || value === null) throw new ApiError(400, `Missing required parameter: '${name}'.`, { param: name, code: 'missing_required_parameter' });
  if (typeof value !== 'string') {
    throw new ApiError(400, `Invalid type for '${name}': expected a string, but got ${describeType(value)} instead.`, { param: name, code: 'invalid_type' });
  }
  return value;
}

function listValues(values: string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')}, and ${quoted.at(-1)}` : quoted.join('');
}

/** Metadata: up to 16 pairs, string keys up to 64 characters, string values up to 512. */
function validateMetadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError(400, `Invalid type for 'metadata': expected an object, but got ${describeType(value)} instead.`, { param: 'metadata', code: 'invalid_type' });
  }
  const entries = Object.entries(value);
  if (entries.length > 16) {
    throw new ApiError(400, `Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with ${entries.length} properties instead.`, {
      param: 'metadata',
      code: 'object_above_max_properties',
    });
  }
  for (const [key, v] of entries) {
    if (key.length > 64) {
      throw new ApiError(400, `Invalid 'metadata': string too long. Expected a key with maximum length 64, but got a key with length ${key.length} instead.`, {
        param: 'metadata',
        code: 'string_above_max_length',
      });
    }
    if (typeof v !== 'string') {
      throw new ApiError(400, `Invalid type for 'metadata.${key}': expected a string, but got ${describeType(v)} instead.`, { param: `metadata.${key}`, code: 'invalid_type' });
    }
    if (v.length > 512) {
      throw new ApiError(400, `Invalid 'metadata.${key}': string too long. Expected a string with maximum length 512, but got a string with length ${v.length} instead.`, {
        param: `metadata.${key}`,
        code: 'string_above_max_length',
      });
    }
  }
  return { ...(value as Record<string, string>) };
}

/** The non-blank lines of a JSONL buffer with their 1-based line numbers, without building one huge string. */
function jsonlLines(content: Buffer): { line: number; text: string }[] {
  const lines: { line: number; text: string }[] = [];
  let start = 0;
  for (let line = 1; start < content.length; line++) {
    let end = content.indexOf(0x0a, start);
    if (end === -1) end = content.length;
    const text = content.toString('utf8', start, end).replace(/\r$/, '');
    if (text.trim() !== '') lines.push({ line, text });
    start = end + 1;
  }
  return lines;
}

function validateLine(
  text: string,
  line: number,
  endpoint: string,
  seen: Set<string>,
  knownModels: readonly string[] | undefined,
): { errors: BatchError[]; request?: InputRequest } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { errors: [{ code: 'invalid_json_line', line, message: 'This line is not parseable as valid JSON.', param: null }] };
  }
  const request = parsed as Record<string, unknown>;
  const errors: BatchError[] = [];
  const error = (code: string, message: string, param: string | null) => errors.push({ code, line, message, param });

  for (const name of ['custom_id', 'method', 'url', 'body']) {
    if (request[name] === undefined || request[name] === null) error('missing_required_parameter', `Missing required parameter: '${name}'.`, name);
  }
  if (errors.length > 0) return { errors };

  const { custom_id: customId, method, url, body } = request;
  if (typeof customId !== 'string') error('invalid_type', `Invalid type for 'custom_id': expected a string, but got ${describeType(customId)} instead.`, 'custom_id');
  else if (seen.has(customId)) {
    error('duplicate_custom_id', 'The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each individual request in a batch.', 'custom_id');
  } else seen.add(customId);
  if (method !== 'POST') error('invalid_value', `Invalid value: '${String(method)}'. Supported values are: 'POST'.`, 'method');
  if (url !== endpoint) error('invalid_url', 'The URL provided for this request does not match the batch endpoint.', 'url');
  if (typeof body !== 'object' || Array.isArray(body)) {
    error('invalid_type', `Invalid type for 'body': expected an object, but got ${describeType(body)} instead.`, 'body');
    return { errors };
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') error('invalid_request', 'Model parameter is required.', 'body.model');
  else if (knownModels && !knownModels.includes(b.model)) error('model_not_found', `The provided model '${b.model}' is not supported by the Batch API.`, 'body.model');
  if (endpoint === '/v1/chat/completions') {
    if (!Array.isArray(b.messages) || b.messages.length === 0) error('invalid_request', 'Messages parameter is required.', 'body.messages');
    if (b.stream === true) error('streaming_unsupported', 'Chat Completions: Streaming is not supported in the Batch API.', 'body.stream');
  }
  if (endpoint === '/v1/embeddings' && (b.input === undefined || b.input === null)) error('invalid_request', 'Input parameter is required.', 'body.input');
  if (endpoint === '/v1/responses') {
    if (b.input === undefined || b.input === null || (Array.isArray(b.input) && b.input.length === 0)) error('invalid_request', 'Input parameter is required.', 'body.input');
    if (b.stream === true) error('streaming_unsupported', 'Responses: Streaming is not supported in the Batch API.', 'body.stream');
  }
  return errors.length > 0 ? { errors } : { errors, request: { line, customId: customId as string, body: b } };
}

// ---- response bodies -----------------------------------------------------------------------------------------------

interface BuiltBody {
  body: Record<string, unknown>;
  usage: { input: number; cached: number; output: number; reasoning: number };
}

function chatCompletionBody(request: Record<string, unknown>, model: string, reply: Exclude<ResponderResult, { error: unknown }>, atMs: number): BuiltBody {
  let content = reply.content;
  let finishReason = reply.finishReason ?? 'stop';
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (reply.usage?.completionTokens === undefined && typeof maxTokens === 'number' && estimateTokens(content) > maxTokens) {
    content = content.slice(0, Math.max(0, maxTokens) * 4);
    finishReason = 'length';
  }
  const n = typeof request.n === 'number' && Number.isInteger(request.n) && request.n > 1 ? request.n : 1;
  const promptTokens = reply.usage?.promptTokens ?? estimateTokens(promptText(request));
  const completionTokens = reply.usage?.completionTokens ?? estimateTokens(content) * n;
  const cached = reply.usage?.cachedTokens ?? 0;
  const reasoning = reply.usage?.reasoningTokens ?? 0;
  const body = {
    id: randomId('chatcmpl-', 29),
    object: 'chat.completion',
    created: Math.floor(atMs / 1000),
    model,
    choices: Array.from({ length: n }, (_, index) => ({
      index,
      message: { role: 'assistant', content, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: finishReason,
    })),
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_emulator',
  };
  return { body, usage: { input: promptTokens, cached, output: completionTokens, reasoning } };
}

/**
 * A Responses API body's `input` as plain messages: a string is one user message; a list holds messages whose
 * content is a string or `input_text` parts (developer messages become role 'system').
 */
function responsesMessages(body: Record<string, unknown>): { role: string; content: string }[] {
  if (typeof body.input === 'string') return [{ role: 'user', content: body.input }];
  const messages = chatMessages({ messages: Array.isArray(body.input) ? body.input : [] });
  const instructions = typeof body.instructions === 'string' ? [{ role: 'system', content: body.instructions }] : [];
  return [...instructions, ...messages];
}

/** What the Responses API refuses in a body when it runs it (400): the Chat Completions names of the output cap. */
function checkResponsesBody(body: Record<string, unknown>): { message: string; param?: string | null; code?: string | null } | undefined {
  for (const name of ['max_tokens', 'max_completion_tokens']) {
    if (name in body) return { message: `Unsupported parameter: '${name}'. In the Responses API, this parameter has moved to 'max_output_tokens'.`, param: name, code: 'unsupported_parameter' };
  }
  if ('messages' in body) return { message: "Unsupported parameter: 'messages'. In the Responses API, this parameter has moved to 'input'.", param: 'messages', code: 'unsupported_parameter' };
  if ('response_format' in body) return { message: "Unsupported parameter: 'response_format'. In the Responses API, this parameter has moved to 'text.format'.", param: 'response_format', code: 'unsupported_parameter' };
  return undefined;
}

/**
 * A Responses API response: one `message` output item of `output_text`, cut at `max_output_tokens` (status
 * `incomplete`, reason `max_output_tokens`) as the chat body is at max_tokens.
 */
function responsesBody(request: Record<string, unknown>, model: string, reply: Exclude<ResponderResult, { error: unknown }>, atMs: number): BuiltBody {
  let content = reply.content;
  let incomplete = reply.finishReason === 'length';
  const cap = request.max_output_tokens;
  if (reply.usage?.completionTokens === undefined && typeof cap === 'number' && estimateTokens(content) > cap) {
    content = content.slice(0, Math.max(0, cap) * 4);
    incomplete = true;
  }
  const inputTokens = reply.usage?.promptTokens ?? estimateTokens(responsesMessages(request).map((m) => m.content).join('\n'));
  const outputTokens = reply.usage?.completionTokens ?? estimateTokens(content);
  const cached = reply.usage?.cachedTokens ?? 0;
  const reasoning = reply.usage?.reasoningTokens ?? 0;
  const body = {
    id: randomId('resp_', 48),
    object: 'response',
    created_at: Math.floor(atMs / 1000),
    status: incomplete ? 'incomplete' : 'completed',
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    error: null,
    model,
    output: [
      {
        id: randomId('msg_', 48),
        type: 'message',
        status: incomplete ? 'incomplete' : 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: content, annotations: [], logprobs: [] }],
      },
    ],
    max_output_tokens: typeof cap === 'number' ? cap : null,
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: cached },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: reasoning },
      total_tokens: inputTokens + outputTokens,
    },
  };
  return { body, usage: { input: inputTokens, cached, output: outputTokens, reasoning } };
}

/** The inputs of an embeddings body: a string, a token array, or a list of either. */
function embeddingInputs(raw: unknown): unknown[] {
  if (typeof raw === 'string') return [raw];
  if (Array.isArray(raw) && raw.length > 0 && raw.every((x) => typeof x === 'number')) return [raw];
  return Array.isArray(raw) ? raw : [raw];
}

function inputText(input: unknown): string {
  return typeof input === 'string' ? input : JSON.stringify(input);
}

const MAX_EMBEDDING_INPUTS = 50_000;
const EMBEDDING_PARAMS = new Set(['model', 'input', 'dimensions', 'encoding_format', 'user']);
const EMBEDDING_MAX_TOKENS = 8192;
const EMBEDDING_MAX_ARRAY = 2048;
const EMBEDDING_MAX_REQUEST_TOKENS = 300_000;
const INVALID_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";

/** The tokens the emulator charges for one input: a token array's length, else ceil(characters / 4). */
function inputTokens(input: unknown): number {
  return Array.isArray(input) ? input.length : estimateTokens(inputText(input));
}

/**
 * What OpenAI's embeddings endpoint refuses in a body (400 invalid_request_error): other parameters (a chat body's
 * `messages`...), an input that is not a non-empty string, token array or list of them (at most 2048), an input over
 * 8192 tokens or 300,000 in all, `dimensions` that is not an integer from 1 to the model's length or is given to
 * text-embedding-ada-002, an `encoding_format` other than float and base64.
 */
function checkEmbeddingBody(body: Record<string, unknown>): { message: string; param?: string | null; code?: string | null } | undefined {
  for (const key of Object.keys(body)) if (!EMBEDDING_PARAMS.has(key)) return { message: `Unrecognized request argument supplied: ${key}` };
  const raw = body.input;
  const isTokens = (x: unknown) => Array.isArray(x) && x.length > 0 && x.every((t) => Number.isInteger(t) && t >= 0);
  const valid =
    (typeof raw === 'string' && raw !== '') ||
    isTokens(raw) ||
    (Array.isArray(raw) && raw.length > 0 && (raw.every((x) => typeof x === 'string' && x !== '') || raw.every(isTokens)));
  if (!valid) return { message: INVALID_INPUT };
  const inputs = embeddingInputs(raw);
  if (inputs.length > EMBEDDING_MAX_ARRAY) return { message: `Invalid 'input': array too long. Expected an array with maximum length ${EMBEDDING_MAX_ARRAY}, but got an array with length ${inputs.length} instead.`, param: 'input', code: 'array_above_max_length' };
  let total = 0;
  for (const input of inputs) {
    const tokens = inputTokens(input);
    total += tokens;
    if (tokens > EMBEDDING_MAX_TOKENS) {
      return { message: `This model's maximum context length is ${EMBEDDING_MAX_TOKENS} tokens, however you requested ${tokens} tokens (${tokens} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.` };
    }
  }
  if (total > EMBEDDING_MAX_REQUEST_TOKENS) return { message: `Requested ${total} tokens, max ${EMBEDDING_MAX_REQUEST_TOKENS} tokens per request`, param: 'input', code: 'max_tokens_per_request' };
  const model = String(body.model);
  if (body.dimensions !== undefined) {
    const dims = body.dimensions;
    if (model === 'text-embedding-ada-002') return { message: 'This model does not support specifying dimensions.', param: 'dimensions' };
    if (typeof dims !== 'number' || !Number.isInteger(dims)) return { message: `Invalid type for 'dimensions': expected an integer, but got ${describeType(dims)} instead.`, param: 'dimensions', code: 'invalid_type' };
    if (dims < 1) return { message: `Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got ${dims} instead.`, param: 'dimensions', code: 'integer_below_min_value' };
    const max = defaultEmbeddingDimensions(model);
    if (dims > max) return { message: `Invalid 'dimensions': integer above maximum value. Expected a value <= ${max}, but got ${dims} instead.`, param: 'dimensions', code: 'integer_above_max_value' };
  }
  const format = body.encoding_format;
  if (format !== undefined && format !== 'float' && format !== 'base64') {
    return { message: `Invalid value: '${String(format)}'. Supported values are: 'float' and 'base64'.`, param: 'encoding_format', code: 'invalid_value' };
  }
  return undefined;
}

/** The embeddings response: a hashed bag of words per input (see embeddings.ts), as floats or base64 float32. */
function embeddingBody(request: Record<string, unknown>, model: string): BuiltBody {
  const inputs = embeddingInputs(request.input) as (string | number[])[];
  const dims = typeof request.dimensions === 'number' ? request.dimensions : defaultEmbeddingDimensions(model);
  const base64 = request.encoding_format === 'base64';
  let tokens = 0;
  const data = inputs.map((input, index) => {
    tokens += inputTokens(input);
    const vector = embeddingVector(input, dims);
    return { object: 'embedding', index, embedding: base64 ? Buffer.from(Float32Array.from(vector).buffer).toString('base64') : vector };
  });
  return { body: { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } }, usage: { input: tokens, cached: 0, output: 0, reasoning: 0 } };
}
