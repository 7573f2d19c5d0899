/**
 * Fault injection for the batch API emulators: HTTP failures per endpoint, corrupted result downloads, batch
 * lifecycle failures and per-request errors, each on a schedule. Provider-neutral: each emulator supplies its own
 * error bodies and result-line edits. See "Faults" in README.md in this folder.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';

// ---- the faults ------------------------------------------------------------------------------------------------------

/** When a fault applies. Occurrences are counted per fault (per custom_id for `request` faults). */
export interface FaultSchedule {
  /** How many occurrences it is applied to; default every one (Infinity). */
  times?: number;
  /** Lets the first `skip` occurrences through (only occurrences inside `after`..`until` are counted). Default 0. */
  skip?: number;
  /** Only from this moment of the emulator's clock on (epoch ms or a Date). */
  after?: number | Date;
  /** Only before this moment of the emulator's clock. */
  until?: number | Date;
}

/**
 * An HTTP failure of one endpoint: an error answer (`status`), a dropped connection (`drop`) or a slow answer
 * (`delayMs`, alone or before the error or drop). Occurrences are requests matching `endpoint`.
 */
export interface HttpFault extends FaultSchedule {
  kind: 'http';
  /**
   * `'METHOD /path'` or `'/path'` (any method); METHOD may be `*`. In the path, `:name` matches one segment and `*`
   * matches anything (slashes included); the query string is ignored. A RegExp is tested against `'METHOD /path'`.
   */
  endpoint: string | RegExp;
  /** Answer this status (400..599) with the provider's error body. */
  status?: number;
  /** `retry-after` header in seconds (may be fractional); default 1 for 429 and none for other statuses; null: none. */
  retryAfter?: number | null;
  /** Sends `x-should-retry: true|false`, which both SDKs obey over their own rules. */
  shouldRetry?: boolean;
  /** Override the error body: message, type, and code (OpenAI only). */
  message?: string;
  type?: string;
  code?: string | null;
  /** Destroy the socket without an answer. */
  drop?: boolean;
  /** Wait this long (real milliseconds) before answering. */
  delayMs?: number;
  /**
   * Handle the request first (it takes effect: a batch is created, a file stored), then delay, drop or replace the
   * answer. Without it the request is not handled at all when it gets an error or is dropped, nor when the client
   * has gone by the end of the delay.
   */
  handleFirst?: boolean;
}

/** Which result downloads a results fault corrupts. */
export interface ResultsTarget {
  /** Only the results of this batch. */
  batchId?: string;
  /** OpenAI: only the output or only the error file (default both). */
  file?: 'output' | 'error';
}

/** The download stops after `bytes` bytes. */
export interface TruncateFault extends FaultSchedule, ResultsTarget {
  kind: 'truncate';
  /** Default: half the body, moved forward off a line boundary so the cut is mid-line. */
  bytes?: number;
  /**
   * false (default): the full content-length is announced and the socket destroyed after `bytes`, so the client
   * sees a network error mid-body. true: no content-length, and the answer ends normally after `bytes`, so the client
   * sees a short body ending mid-line and no error.
   */
  cleanEnd?: boolean;
}

/** A line that is not JSON is inserted. */
export interface MalformedFault extends FaultSchedule, ResultsTarget {
  kind: 'malformed';
  /** Inserted before this 0-based line (default 1, after the first line; beyond the end: appended). */
  line?: number;
  /** Default `{"id": "batch_req_garbage", "custom_id": <<not JSON>>`. */
  text?: string;
}

/** A second line for a custom_id already in the file, with different content, is appended. */
export interface DuplicateFault extends FaultSchedule, ResultsTarget {
  kind: 'duplicate';
  /** Default: the custom_id of the first line served. A custom_id not in the file leaves it unchanged. */
  customId?: string;
}

/** Which batches a lifecycle fault applies to: the ones created while it is active, or the one named. */
export interface BatchTarget {
  /** This batch only (for `state.addFault` once its id is known); otherwise occurrences are batch creations. */
  batchId?: string;
}

/** OpenAI: the batch stays `finalizing`; Anthropic: `in_progress` (nothing answered). Until `state.releaseBatch`. */
export interface StuckFault extends FaultSchedule, BatchTarget {
  kind: 'stuck';
}

/** OpenAI only: validation fails the batch (`failed`, `errors.data`) and nothing is answered. */
export interface FailFault extends FaultSchedule, BatchTarget {
  kind: 'fail';
  /** 1-based input lines reported as invalid (default [1]), each with the default error; or give `errors`. */
  lines?: number[];
  errors?: { code: string; message: string; param?: string | null; line?: number | null }[];
}

/** The batch expires after answering `answered` requests; the rest are expired. */
export interface ExpireFault extends FaultSchedule, BatchTarget {
  kind: 'expire';
  /** Default half the requests, rounded down. */
  answered?: number;
}

/** The batch is cancelled (as by someone else) after answering `answered` requests; the rest are cancelled. */
export interface CancelFault extends FaultSchedule, BatchTarget {
  kind: 'cancel';
  /** Default half the requests, rounded down. */
  answered?: number;
}

/**
 * Matching requests of a batch are answered with this error instead of the responder. `times` and `skip` count per
 * custom_id: `times: 1` fails each custom_id's first answer and lets later batches with it succeed.
 */
export interface RequestFault extends FaultSchedule {
  kind: 'request';
  /** Exact, or a RegExp (a string `/source/flags` too). Default: every request. */
  customId?: string | RegExp;
  model?: string | RegExp;
  /** Missing fields get the provider's defaults for the status (e.g. OpenAI 429: code `rate_limit_exceeded`). */
  error: { status: number; message?: string; type?: string; code?: string | null; param?: string | null };
}

export type ResultsFault = TruncateFault | MalformedFault | DuplicateFault;
export type LifecycleFault = StuckFault | FailFault | ExpireFault | CancelFault;
export type Fault = HttpFault | ResultsFault | LifecycleFault | RequestFault;
export type Provider = 'openai' | 'anthropic';

/** A fault in an emulator, with its counters. */
export interface FaultHandle<F extends Fault = Fault> {
  readonly fault: F;
  /** Occurrences that matched it inside its time window (skipped ones included). */
  readonly seen: number;
  /** Occurrences it was applied to. */
  readonly fired: number;
  /** Lifecycle and results faults: the batch of each application, in order. */
  readonly batches: readonly string[];
  /** Request faults: custom_id -> times applied. */
  readonly customIds: ReadonlyMap<string, number>;
  /** False once removed or used up. */
  readonly active: boolean;
  remove(): void;
}

// ---- checking a fault ------------------------------------------------------------------------------------------------

const SCHEDULE_KEYS = ['kind', 'times', 'skip', 'after', 'until'];
const KEYS: Record<Fault['kind'], string[]> = {
  http: ['endpoint', 'status', 'retryAfter', 'shouldRetry', 'message', 'type', 'code', 'drop', 'delayMs', 'handleFirst'],
  truncate: ['batchId', 'file', 'bytes', 'cleanEnd'],
  malformed: ['batchId', 'file', 'line', 'text'],
  duplicate: ['batchId', 'file', 'customId'],
  stuck: ['batchId'],
  fail: ['batchId', 'lines', 'errors'],
  expire: ['batchId', 'answered'],
  cancel: ['batchId', 'answered'],
  request: ['customId', 'model', 'error'],
};

const isCount = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= 0;
const isStatus = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= 400 && value <= 599;
const isTime = (value: unknown) => (typeof value === 'number' && Number.isFinite(value)) || (value instanceof Date && !Number.isNaN(value.getTime()));

/** Throws an Error naming the problem when the fault is not one this provider's emulator can apply. */
export function checkFault(fault: Fault, provider: Provider): void {
  if (!fault || typeof fault !== 'object') throw new Error('fault: expected an object');
  const kind = (fault as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !(kind in KEYS)) throw new Error(`fault: unknown kind ${JSON.stringify(kind)} (one of ${Object.keys(KEYS).join(', ')})`);
  const where = `fault ${kind}`;
  const allowed = new Set([...SCHEDULE_KEYS, ...KEYS[kind as Fault['kind']]]);
  for (const key of Object.keys(fault)) if (!allowed.has(key)) throw new Error(`${where}: unknown key "${key}" (allowed: ${[...allowed].join(', ')})`);
  const f = fault as Fault & Record<string, unknown>;
  if (f.times !== undefined && f.times !== Infinity && !isCount(f.times)) throw new Error(`${where}: "times" must be a non-negative integer`);
  if (f.skip !== undefined && !isCount(f.skip)) throw new Error(`${where}: "skip" must be a non-negative integer`);
  if (f.after !== undefined && !isTime(f.after)) throw new Error(`${where}: "after" must be epoch milliseconds or a Date`);
  if (f.until !== undefined && !isTime(f.until)) throw new Error(`${where}: "until" must be epoch milliseconds or a Date`);

  switch (f.kind) {
    case 'http': {
      if (typeof f.endpoint !== 'string' && !(f.endpoint instanceof RegExp)) throw new Error(`${where}: "endpoint" must be a string like 'GET /v1/batches/:id' or a RegExp`);
      if (typeof f.endpoint === 'string') compileEndpoint(f.endpoint);
      if (f.status !== undefined && !isStatus(f.status)) throw new Error(`${where}: "status" must be an HTTP status from 400 to 599`);
      if (f.drop !== undefined && typeof f.drop !== 'boolean') throw new Error(`${where}: "drop" must be a boolean`);
      if (f.delayMs !== undefined && !(typeof f.delayMs === 'number' && Number.isFinite(f.delayMs) && f.delayMs >= 0)) throw new Error(`${where}: "delayMs" must be a non-negative number`);
      if (f.status !== undefined && f.drop) throw new Error(`${where}: give "status" or "drop", not both`);
      if (f.status === undefined && !f.drop && f.delayMs === undefined) throw new Error(`${where}: give "status", "drop" or "delayMs"`);
      if (f.retryAfter !== undefined && f.retryAfter !== null && !(typeof f.retryAfter === 'number' && Number.isFinite(f.retryAfter) && f.retryAfter >= 0)) {
        throw new Error(`${where}: "retryAfter" must be a non-negative number of seconds, or null`);
      }
      return;
    }
    case 'truncate':
    case 'malformed':
    case 'duplicate': {
      if (f.file !== undefined) {
        if (provider === 'anthropic') throw new Error(`${where}: "file" is for OpenAI (Anthropic has one results stream per batch)`);
        if (f.file !== 'output' && f.file !== 'error') throw new Error(`${where}: "file" must be 'output' or 'error'`);
      }
      if (f.batchId !== undefined && typeof f.batchId !== 'string') throw new Error(`${where}: "batchId" must be a string`);
      if (f.kind === 'truncate') {
        if (f.bytes !== undefined && !isCount(f.bytes)) throw new Error(`${where}: "bytes" must be a non-negative integer`);
        if (f.cleanEnd !== undefined && typeof f.cleanEnd !== 'boolean') throw new Error(`${where}: "cleanEnd" must be a boolean`);
      }
      if (f.kind === 'malformed') {
        if (f.line !== undefined && !isCount(f.line)) throw new Error(`${where}: "line" must be a non-negative integer`);
        if (f.text !== undefined && (typeof f.text !== 'string' || /[\r\n]/.test(f.text))) throw new Error(`${where}: "text" must be a string without line breaks`);
      }
      if (f.kind === 'duplicate' && f.customId !== undefined && typeof f.customId !== 'string') throw new Error(`${where}: "customId" must be a string`);
      return;
    }
    case 'stuck':
    case 'fail':
    case 'expire':
    case 'cancel': {
      if (f.batchId !== undefined && typeof f.batchId !== 'string') throw new Error(`${where}: "batchId" must be a string`);
      if (f.kind === 'fail') {
        if (provider === 'anthropic') {
          throw new Error(`${where}: Anthropic batches never fail as a whole (create answers 400 instead: use an http fault on 'POST /v1/messages/batches' with status 400)`);
        }
        if (f.lines !== undefined && !(Array.isArray(f.lines) && f.lines.length > 0 && f.lines.every((n) => isCount(n) && n >= 1))) {
          throw new Error(`${where}: "lines" must be a non-empty list of 1-based line numbers`);
        }
        if (f.errors !== undefined) {
          if (f.lines !== undefined) throw new Error(`${where}: give "lines" or "errors", not both`);
          if (!Array.isArray(f.errors) || f.errors.length === 0 || !f.errors.every((e) => e && typeof e.code === 'string' && typeof e.message === 'string')) {
            throw new Error(`${where}: "errors" must be a non-empty list of { code, message, param?, line? }`);
          }
        }
      }
      if ((f.kind === 'expire' || f.kind === 'cancel') && f.answered !== undefined && !isCount(f.answered)) throw new Error(`${where}: "answered" must be a non-negative integer`);
      return;
    }
    case 'request': {
      if (!f.error || typeof f.error !== 'object' || !isStatus(f.error.status)) throw new Error(`${where}: "error.status" must be an HTTP status from 400 to 599`);
      if (f.customId !== undefined) idMatcher(f.customId, `${where}: customId`);
      if (f.model !== undefined) idMatcher(f.model, `${where}: model`);
      return;
    }
  }
}

// ---- matching --------------------------------------------------------------------------------------------------------

/** A matcher for `'METHOD /path'` patterns (see HttpFault.endpoint). */
export function compileEndpoint(pattern: string | RegExp): (method: string, path: string) => boolean {
  if (pattern instanceof RegExp) {
    return (method, path) => {
      pattern.lastIndex = 0;
      return pattern.test(`${method} ${path}`);
    };
  }
  const text = pattern.trim();
  const space = text.indexOf(' ');
  const method = space === -1 ? '*' : text.slice(0, space).toUpperCase();
  const path = space === -1 ? text : text.slice(space + 1).trim();
  if (!path.startsWith('/') && path !== '*') throw new Error(`fault http: endpoint path must start with "/" (or be "*"): ${JSON.stringify(pattern)}`);
  const source = path
    .split(/(:[A-Za-z_][A-Za-z0-9_]*|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`);
  return (m, p) => (method === '*' || method === m.toUpperCase()) && re.test(p);
}

/** Exact comparison for a plain string, a test for a RegExp or a `/source/flags` string. */
function idMatcher(value: string | RegExp, where: string): (candidate: string) => boolean {
  let re: RegExp;
  if (value instanceof RegExp) re = value;
  else if (typeof value !== 'string') throw new Error(`${where} must be a string or a RegExp`);
  else {
    const literal = /^\/(.*)\/([a-z]*)$/s.exec(value);
    if (!literal) return (candidate) => candidate === value;
    try {
      re = new RegExp(literal[1], literal[2]);
    } catch (error) {
      throw new Error(`${where}: invalid regular expression ${value}: ${(error as Error).message}`);
    }
  }
  return (candidate) => {
    re.lastIndex = 0;
    return re.test(candidate);
  };
}

const ms = (time: number | Date | undefined, fallback: number) => (time === undefined ? fallback : time instanceof Date ? time.getTime() : time);

class ScheduledFault<F extends Fault = Fault> implements FaultHandle<F> {
  readonly fault: F;
  seen = 0;
  fired = 0;
  readonly batches: string[] = [];
  readonly customIds = new Map<string, number>();
  removed = false;
  readonly matchEndpoint?: (method: string, path: string) => boolean;
  readonly matchCustomId?: (customId: string) => boolean;
  readonly matchModel?: (model: string) => boolean;
  readonly #registry: FaultRegistry;
  readonly #perId = new Map<string, { seen: number; fired: number }>();

  constructor(fault: F, registry: FaultRegistry) {
    this.fault = fault;
    this.#registry = registry;
    if (fault.kind === 'http') this.matchEndpoint = compileEndpoint(fault.endpoint);
    if (fault.kind === 'request') {
      if (fault.customId !== undefined) this.matchCustomId = idMatcher(fault.customId, 'customId');
      if (fault.model !== undefined) this.matchModel = idMatcher(fault.model, 'model');
    }
  }

  get #times(): number {
    return this.fault.times ?? Infinity;
  }

  get active(): boolean {
    return !this.removed && (this.fault.kind === 'request' || this.fired < this.#times);
  }

  remove(): void {
    this.#registry.remove(this);
  }

  /** Counts an occurrence at `at` (per `key` when given); true when the fault applies to it. */
  take(at: number, key?: string): boolean {
    if (this.removed) return false;
    if (at < ms(this.fault.after, -Infinity) || at >= ms(this.fault.until, Infinity)) return false;
    const skip = this.fault.skip ?? 0;
    this.seen++;
    if (key === undefined) {
      if (this.seen <= skip || this.fired >= this.#times) return false;
      this.fired++;
      return true;
    }
    const counts = this.#perId.get(key) ?? { seen: 0, fired: 0 };
    this.#perId.set(key, counts);
    counts.seen++;
    if (counts.seen <= skip || counts.fired >= this.#times) return false;
    counts.fired++;
    this.fired++;
    this.customIds.set(key, counts.fired);
    return true;
  }
}

/** The faults of one emulator, in order: for each occurrence the first fault that applies wins. */
export class FaultRegistry {
  readonly provider: Provider;
  readonly handles: ScheduledFault[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(provider: Provider, faults: readonly Fault[] = []) {
    this.provider = provider;
    for (const fault of faults) this.add(fault);
  }

  add<F extends Fault>(fault: F): FaultHandle<F> {
    checkFault(fault, this.provider);
    const handle = new ScheduledFault<F>(fault, this);
    this.handles.push(handle as unknown as ScheduledFault);
    return handle;
  }

  remove(handle: FaultHandle): void {
    const index = this.handles.indexOf(handle as ScheduledFault);
    if (index !== -1) this.handles.splice(index, 1);
    (handle as ScheduledFault).removed = true;
  }

  clear(): void {
    for (const handle of [...this.handles]) this.remove(handle);
  }

  http(method: string, path: string, at: number): ScheduledFault<HttpFault> | undefined {
    for (const handle of this.handles) {
      if (handle.fault.kind === 'http' && handle.matchEndpoint!(method, path) && handle.take(at)) return handle as ScheduledFault<HttpFault>;
    }
    return undefined;
  }

  /** The results fault for a download of this batch's results (OpenAI: of its output or error file). */
  results(batchId: string, file: 'output' | 'error' | undefined, at: number): ResultsFault | undefined {
    for (const handle of this.handles) {
      const f = handle.fault;
      if (f.kind !== 'truncate' && f.kind !== 'malformed' && f.kind !== 'duplicate') continue;
      if (f.batchId !== undefined && f.batchId !== batchId) continue;
      if (f.file !== undefined && f.file !== file) continue;
      if (handle.take(at)) {
        handle.batches.push(batchId);
        return f;
      }
    }
    return undefined;
  }

  /**
   * The lifecycle fault for a batch: at its creation (`creating`) the first untargeted fault that applies, or a fault
   * targeting it by id (checked at every advance until one applies).
   */
  lifecycle(batchId: string, at: number, creating: boolean): LifecycleFault | undefined {
    for (const handle of this.handles) {
      const f = handle.fault;
      if (f.kind !== 'stuck' && f.kind !== 'fail' && f.kind !== 'expire' && f.kind !== 'cancel') continue;
      if (f.batchId === undefined ? !creating : f.batchId !== batchId || handle.batches.includes(batchId)) continue;
      if (handle.take(at)) {
        handle.batches.push(batchId);
        return f;
      }
    }
    return undefined;
  }

  /** The forced error for this request, counted per custom_id. */
  requestError(customId: string, model: string, at: number): RequestFault['error'] | undefined {
    for (const handle of this.handles) {
      const f = handle.fault;
      if (f.kind !== 'request') continue;
      if (handle.matchCustomId && !handle.matchCustomId(customId)) continue;
      if (handle.matchModel && !handle.matchModel(model)) continue;
      if (handle.take(at, customId)) return f.error;
    }
    return undefined;
  }

  /** Runs `fn` after `delayMs` real milliseconds, unless the registry is disposed first. */
  later(delayMs: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, delayMs);
    this.#timers.add(timer);
  }

  dispose(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

// ---- lifecycle plans -------------------------------------------------------------------------------------------------

/** A lifecycle fault applied to one batch, and what the store worked out for it. */
export interface BatchPlan {
  fault: LifecycleFault;
  /** When it was applied (the creation time, or when a fault naming the batch was first seen). */
  attachedAt: number;
  /** expire/cancel: how many requests are answered before it strikes (set once the request count is known). */
  limit?: number;
  /** expire/cancel: when it strikes. */
  strikeAt?: number;
  /** stuck: when `releaseBatch` let it go. */
  releasedAt?: number;
}

/** The `errors.data` of a batch failed by a `fail` fault. */
export function failErrors(fault: FailFault): { code: string; line: number | null; message: string; param: string | null }[] {
  if (fault.errors) return fault.errors.map((e) => ({ code: e.code, line: e.line ?? null, message: e.message, param: e.param ?? null }));
  return (fault.lines ?? [1]).map((line) => ({ code: 'invalid_request', line, message: `Line ${line} failed validation (emulated fault).`, param: null }));
}

// ---- HTTP faults -----------------------------------------------------------------------------------------------------

const tags = new WeakMap<ServerResponse, string>();

/** Marks an answer as faulted, for the request log. */
export function tagResponse(res: ServerResponse, label: string): void {
  tags.set(res, label);
}

/** The fault label of an answer, if it was faulted. */
export function responseTag(res: ServerResponse): string | undefined {
  return tags.get(res);
}

/** The label of an HTTP fault in the request log: its status, 'drop', or 'delay'. */
export function httpFaultLabel(fault: HttpFault): string {
  return fault.status !== undefined ? String(fault.status) : fault.drop ? 'drop' : 'delay';
}

/** The retry headers of an HTTP fault's error answer. */
export function faultHeaders(fault: HttpFault): Record<string, string> {
  const headers: Record<string, string> = {};
  const retryAfter = fault.retryAfter === undefined ? (fault.status === 429 ? 1 : null) : fault.retryAfter;
  if (retryAfter !== null) headers['retry-after'] = String(retryAfter);
  if (fault.shouldRetry !== undefined) headers['x-should-retry'] = String(fault.shouldRetry);
  return headers;
}

/**
 * Serves a request under an HTTP fault. `handle` runs the emulator's handler; `sendError` answers the fault's status
 * with the provider's error body.
 */
export function applyHttpFault(registry: FaultRegistry, fault: HttpFault, req: IncomingMessage, res: ServerResponse, handle: () => void, sendError: () => void): void {
  tagResponse(res, httpFaultLabel(fault));
  const gone = () => req.socket.destroyed || res.destroyed;
  const strike = () => {
    if (gone()) return;
    if (fault.drop) req.socket.destroy();
    else {
      req.resume();
      sendError();
    }
  };
  if (!fault.handleFirst) {
    const act = () => {
      if (gone()) return;
      if (fault.drop || fault.status !== undefined) strike();
      else handle();
    };
    if (fault.delayMs) registry.later(fault.delayMs, act);
    else act();
    return;
  }
  // Let the handler run, keep its answer, then delay it, replace it or drop it.
  const writeHead = res.writeHead;
  const end = res.end;
  let head: unknown[] = [];
  res.writeHead = ((...args: unknown[]) => {
    head = args;
    return res;
  }) as typeof res.writeHead;
  res.end = ((chunk?: unknown) => {
    res.writeHead = writeHead;
    res.end = end;
    const answer = () => {
      if (fault.drop || fault.status !== undefined) return strike();
      if (gone()) return;
      (writeHead as (...args: unknown[]) => ServerResponse).apply(res, head);
      (end as (chunk?: unknown) => ServerResponse).call(res, chunk);
    };
    if (fault.delayMs) registry.later(fault.delayMs, answer);
    else answer();
    return res;
  }) as typeof res.end;
  handle();
}

// ---- results faults --------------------------------------------------------------------------------------------------

const GARBAGE = '{"id": "batch_req_garbage", "custom_id": <<not JSON>>';

/**
 * Answers a results download (a JSONL body ending in a newline), corrupted by `fault` when given. `alter` makes the
 * different second line of a `duplicate` fault from the parsed original.
 */
export function serveResults(
  res: ServerResponse,
  body: Buffer,
  headers: OutgoingHttpHeaders,
  fault: ResultsFault | undefined,
  alter: (line: Record<string, unknown>) => Record<string, unknown>,
): void {
  if (fault) tagResponse(res, fault.kind);
  if (fault?.kind === 'malformed' || fault?.kind === 'duplicate') {
    const lines = body.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (fault.kind === 'malformed') lines.splice(Math.min(fault.line ?? 1, lines.length), 0, fault.text ?? GARBAGE);
    else {
      const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      const customId = fault.customId ?? parsed[0]?.custom_id;
      const original = parsed.find((line) => line.custom_id === customId);
      if (original) lines.push(JSON.stringify(alter(structuredClone(original))));
    }
    body = Buffer.from(lines.map((line) => line + '\n').join(''));
  }
  if (fault?.kind !== 'truncate') {
    res.writeHead(200, { ...headers, 'content-length': body.length });
    res.end(body);
    return;
  }
  let bytes = fault.bytes;
  if (bytes === undefined) {
    bytes = Math.floor(body.length / 2);
    while (bytes > 0 && bytes < body.length && body[bytes - 1] === 0x0a) bytes++;
  }
  const part = body.subarray(0, Math.min(bytes, body.length));
  if (fault.cleanEnd) {
    res.writeHead(200, headers);
    res.end(part);
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': body.length });
  res.write(part, () => res.destroy());
}

// ---- faults from a file ----------------------------------------------------------------------------------------------

/**
 * Faults from YAML or JSON text: a list, or `{ faults: [...] }`. `customId`/`model` strings written `/source/flags`
 * are regular expressions (endpoints are always patterns); `after`/`until` may be ISO dates. Throws on mistakes.
 */
export function parseFaults(text: string, provider: Provider, source = 'faults'): Fault[] {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`);
  }
  const list = Array.isArray(value) ? value : (value as { faults?: unknown } | null)?.faults;
  if (!Array.isArray(list)) throw new Error(`${source}: expected a list of faults, or an object with a "faults" list`);
  return list.map((item, index) => {
    const fault = { ...(item as Record<string, unknown>) };
    for (const key of ['after', 'until']) if (typeof fault[key] === 'string') fault[key] = new Date(fault[key] as string);
    if (fault.times === '.inf' || fault.times === 'Infinity') fault.times = Infinity;
    try {
      checkFault(fault as unknown as Fault, provider);
    } catch (error) {
      throw new Error(`${source}: fault ${index + 1}: ${(error as Error).message}`);
    }
    return fault as unknown as Fault;
  });
}

export function loadFaults(path: string, provider: Provider): Fault[] {
  return parseFaults(readFileSync(path, 'utf8'), provider, path);
}
