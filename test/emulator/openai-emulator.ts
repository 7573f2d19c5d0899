/**
 * An emulator of OpenAI's Files and Batch APIs over real HTTP (node:http), for tests and the offline demo.
 * See README.md in this folder.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchStore, defaultRequestErrorMessage, FILE_PURPOSES, type StoredBatch, type StoredFile } from './batch-store.ts';
import { applyHttpFault, faultHeaders, FaultRegistry, responseTag, serveResults, type Fault, type FaultHandle, type HttpFault } from './faults.ts';
import { ApiError, randomId, readBody, readJsonObject, sendError, sendJson } from './http.ts';
import { MultipartError, multipartBoundary, parseMultipart } from './multipart.ts';
import { defaultResponder, loadScript, scriptedResponder, type Responder, type Script, type ScriptRule } from './responder.ts';

export { defaultResponder, heuristicGrade, loadScript, parseScript, scriptedResponder } from './responder.ts';
export { cosineSimilarity, defaultEmbeddingDimensions, embeddingVector } from './embeddings.ts';
export type { GradeReply, Responder, ResponderError, ResponderMessage, ResponderReply, ResponderRequest, ResponderResult, Script, ScriptRule } from './responder.ts';
export type { BatchError, BatchStatus, FileObject, StoredBatch, StoredFile } from './batch-store.ts';
export type { Fault, FaultHandle, FaultSchedule, HttpFault, LifecycleFault, RequestFault, ResultsFault } from './faults.ts';

export interface OpenAIEmulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Time spent in each status, in ms; 0 advances at the next read. Defaults 200, 1000, 200, 200 (all 0 with `instant`). */
  validatingMs?: number;
  /** Requests are answered evenly over this time, so a batch read midway shows partial request_counts. */
  inProgressMs?: number;
  finalizingMs?: number;
  cancellingMs?: number;
  /** Batches not finished this long after creation expire. Default 24 h (the completion window). */
  expireAfterMs?: number;
  /** Every phase takes 0 ms unless given explicitly: a batch is completed at the first read after its creation. */
  instant?: boolean;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** Default: `scriptedResponder(script)` when a script is given, else `defaultResponder`. */
  responder?: Responder;
  /** A script (or the path of a YAML/JSON script file) for scriptedResponder. */
  script?: Script | ScriptRule[] | string;
  /** When given, lines whose body.model is not listed fail validation with model_not_found. */
  knownModels?: string[];
  /** Default 50,000, the real limit. */
  maxRequestsPerBatch?: number;
  /**
   * The real API accepts a batch for an unknown input_file_id and fails it during validation (code
   * 'invalid_request', param 'file_id'). With true, batches.create answers 400 instead.
   */
  rejectUnknownInputFile?: boolean;
  /** The real API does not promise output lines in input order; 'reversed' helps prove a client joins on custom_id. */
  outputOrder?: 'input' | 'reversed';
  /** Faults to inject, each on its schedule (more with `state.addFault`). See README.md, "Faults". */
  faults?: Fault[];
}

export interface RequestLogEntry {
  method: string;
  path: string;
  /** 0 when no answer was sent (a dropped connection, or a client that left before a delayed answer). */
  status: number;
  /** Set when a fault hit the request: the HTTP fault's status, 'drop' or 'delay'; or 'truncate', 'malformed', 'duplicate'. */
  fault?: string;
}

/** The emulator's memory, for tests to inspect. */
export interface EmulatorState {
  files: Map<string, StoredFile>;
  batches: Map<string, StoredBatch>;
  /** custom_id -> how many times a request with that id was answered, successfully or with an error, over all batches. */
  answered: Map<string, number>;
  /** custom_id -> how many times a request with that id was answered successfully (billed), over all batches. */
  billed: Map<string, number>;
  /** The custom_ids billed more than once, in the order they were first billed. */
  doubleBilled(): string[];
  /** The faults in force, in order (the first that applies to an occurrence wins), with their counters. */
  faults: readonly FaultHandle[];
  /** Adds a fault at the end of the list; returns its handle (counters, `remove()`). Throws on a malformed fault. */
  addFault<F extends Fault>(fault: F): FaultHandle<F>;
  clearFaults(): void;
  /** Lets batches held `finalizing` by a `stuck` fault complete (the one given, or all); returns the ids released. */
  releaseBatch(id?: string): string[];
  /** Every HTTP request served, in order. */
  requests: RequestLogEntry[];
  /** Advances every batch to the current clock (reads through the API do this for the batches they touch). */
  advance(): void;
  /** A batch as the API would show it now. */
  batchObject(id: string): Record<string, unknown>;
}

export interface OpenAIEmulator {
  /** Base URL ending in /v1, for `new OpenAI({ baseURL })`. */
  url: string;
  port: number;
  state: EmulatorState;
  close(): Promise<void>;
}

const NO_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
  '(i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.';

export async function startOpenAIEmulator(options: OpenAIEmulatorOptions = {}): Promise<OpenAIEmulator> {
  const phase = (value: number | undefined, normal: number) => value ?? (options.instant ? 0 : normal);
  let responder = options.responder;
  if (!responder && options.script !== undefined) {
    responder = scriptedResponder(typeof options.script === 'string' ? loadScript(options.script) : options.script);
  }
  const store = new BatchStore({
    timing: {
      validatingMs: phase(options.validatingMs, 200),
      inProgressMs: phase(options.inProgressMs, 1000),
      finalizingMs: phase(options.finalizingMs, 200),
      cancellingMs: phase(options.cancellingMs, 200),
      expireAfterMs: options.expireAfterMs ?? 24 * 60 * 60 * 1000,
    },
    clock: options.clock ?? Date.now,
    responder: responder ?? defaultResponder,
    maxRequestsPerBatch: options.maxRequestsPerBatch ?? 50_000,
    knownModels: options.knownModels,
    rejectUnknownInputFile: options.rejectUnknownInputFile ?? false,
    outputOrder: options.outputOrder ?? 'input',
    faults: new FaultRegistry('openai', options.faults),
  });
  const faults = store.faults;
  const clock = options.clock ?? Date.now;
  const requests: RequestLogEntry[] = [];

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? '';
    res.setHeader('x-request-id', `req_${randomBytes(16).toString('hex')}`);
    const log = (status: number) => {
      const fault = responseTag(res);
      requests.push(fault === undefined ? { method, path, status } : { method, path, status, fault });
    };
    res.on('finish', () => log(res.statusCode));
    res.on('close', () => {
      if (!res.writableFinished) log(res.headersSent ? res.statusCode : 0);
    });
    const run = () => {
      handle(store, req, res).catch((error: unknown) => {
        const apiError =
          error instanceof ApiError
            ? error
            : error instanceof MultipartError
              ? new ApiError(400, `Could not parse multipart form: ${error.message}`)
              : (console.error('OpenAI emulator: internal error', error), new ApiError(500, 'The server had an error while processing your request. Sorry about that!'));
        if (res.headersSent) res.destroy();
        else {
          // Drain what the client is still sending, so it reads the answer instead of a reset connection.
          req.resume();
          sendError(res, apiError);
        }
      });
    };
    const fault = faults.http(method, path, clock());
    if (fault) applyHttpFault(faults, fault.fault, req, res, run, () => sendFaultError(res, fault.fault));
    else run();
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}/v1`,
    port: address.port,
    state: {
      files: store.files,
      batches: store.batches,
      answered: store.answered,
      billed: store.billed,
      doubleBilled: () => [...store.billed].filter(([, n]) => n > 1).map(([id]) => id),
      faults: faults.handles,
      addFault: (fault) => faults.add(fault),
      clearFaults: () => faults.clear(),
      releaseBatch: (id) => store.releaseBatch(id),
      requests,
      advance: () => store.advanceAll(),
      batchObject: (id) => store.toApi(store.getBatch(id)),
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        faults.dispose();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(store: BatchStore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const method = req.method ?? 'GET';
  const auth = req.headers.authorization;
  if (!auth || !/^Bearer\s+\S/i.test(auth)) throw new ApiError(401, NO_KEY);

  // /v1/<resource>[/<id>[/<action>]]
  const [version, resource, id, action, ...rest] = url.pathname.split('/').filter(Boolean).map(decodeSegment);
  const route = version === 'v1' && rest.length === 0 ? `${method} /v1/${resource}${id ? '/:id' : ''}${action ? `/${action}` : ''}` : '';
  const query = url.searchParams;

  switch (route) {
    case 'POST /v1/files':
      return sendJson(res, 200, await uploadFile(store, req));
    case 'GET /v1/files':
      return sendJson(res, 200, listFiles(store, query));
    case 'GET /v1/files/:id':
      return sendJson(res, 200, store.getFile(id).object);
    case 'DELETE /v1/files/:id':
      store.getFile(id);
      store.files.delete(id);
      return sendJson(res, 200, { id, object: 'file', deleted: true });
    case 'GET /v1/files/:id/content': {
      const { content } = store.getFile(id);
      const origin = store.resultFiles.get(id);
      const fault = origin && store.faults.results(origin.batchId, origin.file, store.options.clock());
      serveResults(res, content, { 'content-type': 'application/octet-stream' }, fault, alterOutputLine);
      return;
    }
    case 'POST /v1/batches':
      return sendJson(res, 200, store.toApi(store.createBatch(await readJsonObject(req))));
    case 'GET /v1/batches': {
      const limit = intParam(query, 'limit', 20, 1, 100);
      const page = store.listBatches(limit, query.get('after') ?? undefined);
      const data = page.data.map((b) => store.toApi(b));
      return sendJson(res, 200, { object: 'list', data, first_id: page.data[0]?.id ?? null, last_id: page.data.at(-1)?.id ?? null, has_more: page.hasMore });
    }
    case 'GET /v1/batches/:id':
      return sendJson(res, 200, store.toApi(store.getBatch(id)));
    case 'POST /v1/batches/:id/cancel':
      return sendJson(res, 200, store.toApi(store.cancelBatch(id)));
    default:
      throw new ApiError(404, `Invalid URL (${method} ${url.pathname})`);
  }
}

/** The error answer of an HTTP fault: OpenAI's envelope, with the fault's retry headers. */
function sendFaultError(res: ServerResponse, fault: HttpFault): void {
  const status = fault.status!;
  const headers = faultHeaders(fault);
  const retryAfter = headers['retry-after'] === undefined ? null : Number(headers['retry-after']);
  const message = fault.message ?? defaultRequestErrorMessage(status, retryAfter);
  const type = fault.type ?? (status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error');
  const code = fault.code !== undefined ? fault.code : status === 429 ? 'rate_limit_exceeded' : null;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendError(res, new ApiError(status, message, { type, code }));
}

/** The second, different line of a `duplicate` fault: new ids, and the answer or the error message changed. */
function alterOutputLine(line: Record<string, unknown>): Record<string, unknown> {
  line.id = randomId('batch_req_', 32);
  const response = line.response as { request_id?: string; body?: Record<string, unknown> } | null;
  if (response) {
    response.request_id = `req_${randomBytes(16).toString('hex')}`;
    const body = response.body ?? {};
    if (Array.isArray(body.choices)) {
      body.id = randomId('chatcmpl-', 29);
      for (const choice of body.choices as { message?: { content?: unknown } }[]) {
        if (choice.message) choice.message.content = `[duplicate] ${String(choice.message.content ?? '')}`;
      }
    } else if (Array.isArray(body.data)) {
      for (const item of body.data as { embedding?: unknown }[]) if (Array.isArray(item.embedding)) item.embedding = item.embedding.map((x: number) => -x);
    } else if (body.error && typeof body.error === 'object') {
      const error = body.error as { message?: unknown };
      error.message = `[duplicate] ${String(error.message ?? '')}`;
    }
  }
  const error = line.error as { message?: unknown } | null;
  if (error) error.message = `[duplicate] ${String(error.message ?? '')}`;
  return line;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

async function uploadFile(store: BatchStore, req: IncomingMessage): Promise<unknown> {
  const boundary = multipartBoundary(req.headers['content-type']);
  if (!boundary) throw new ApiError(400, `Invalid Content-Type header (${req.headers['content-type'] ?? 'none'}), expected multipart/form-data.`);
  const parts = parseMultipart(await readBody(req), boundary);
  const purposePart = parts.find((p) => p.name === 'purpose' && p.filename === undefined);
  const filePart = parts.find((p) => p.name === 'file' && p.filename !== undefined);
  if (!purposePart) throw new ApiError(400, "Missing required parameter: 'purpose'.", { param: 'purpose', code: 'missing_required_parameter' });
  const purpose = purposePart.data.toString('utf8');
  if (!FILE_PURPOSES.includes(purpose)) {
    throw new ApiError(400, `Invalid value: '${purpose}'. Supported values are: ${FILE_PURPOSES.map((p) => `'${p}'`).join(', ')}.`, { param: 'purpose', code: 'invalid_value' });
  }
  if (!filePart) throw new ApiError(400, "Missing required parameter: 'file'.", { param: 'file', code: 'missing_required_parameter' });
  const filename = filePart.filename ?? 'upload';
  if (purpose === 'batch' && !(filename.toLowerCase().endsWith('.jsonl') && firstLineIsJson(filePart.data))) {
    throw new ApiError(400, 'Invalid file format for Batch API. Must be .jsonl', { param: 'file' });
  }
  return store.addFile(filename, purpose, filePart.data).object;
}

/** The upload check of the real API looks at the file name and the first line; the rest is checked by the batch. */
function firstLineIsJson(data: Buffer): boolean {
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end === -1) end = data.length;
    const line = data.toString('utf8', start, end).trim();
    if (line) {
      try {
        JSON.parse(line);
        return true;
      } catch {
        return false;
      }
    }
    start = end + 1;
  }
  return false;
}

function listFiles(store: BatchStore, query: URLSearchParams): unknown {
  const limit = intParam(query, 'limit', 10_000, 1, 10_000);
  const order = query.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new ApiError(400, `Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`, { param: 'order', code: 'invalid_value' });
  const purpose = query.get('purpose');
  const after = query.get('after');
  let files = [...store.files.values()].filter((f) => !purpose || f.object.purpose === purpose);
  files.sort((a, b) => a.object.created_at - b.object.created_at || a.seq - b.seq);
  if (order === 'desc') files.reverse();
  if (after) {
    const index = files.findIndex((f) => f.object.id === after);
    files = index === -1 ? [] : files.slice(index + 1);
  }
  const data = files.slice(0, limit).map((f) => f.object);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: files.length > limit };
}

function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new ApiError(400, `Invalid '${name}': expected an integer, but got '${raw}' instead.`, { param: name, code: 'invalid_type' });
  if (value < min) throw new ApiError(400, `Invalid '${name}': integer below minimum value. Expected a value >= ${min}, but got ${value} instead.`, { param: name, code: 'integer_below_min_value' });
  if (value > max) throw new ApiError(400, `Invalid '${name}': integer above maximum value. Expected a value <= ${max}, but got ${value} instead.`, { param: name, code: 'integer_above_max_value' });
  return value;
}
