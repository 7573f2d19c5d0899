/**
 * An emulator of the GitHub Actions cache service v2 over real HTTP (node:http), for driving the real `@actions/cache`
 * (`saveCache` / `restoreCache`) in tests. See README.md in this folder.
 *
 * One server answers:
 * - the Twirp JSON API at `POST /twirp/github.actions.results.api.v1.CacheService/{Method}` (what ACTIONS_RESULTS_URL
 *   points at): CreateCacheEntry, FinalizeCacheEntryUpload, GetCacheEntryDownloadURL, authorised by the runtime token
 *   (a JWT whose `ac` claim lists the cache scopes, as GitHub's does);
 * - the Azure Blob Storage REST calls the client makes on the signed URLs (./azure-blob.ts). With `blobUrlStyle: 'azure'`
 *   (the default) those URLs are `http://{account}.blob.core.windows.net/...` and reach this server because cacheEnv
 *   makes it the HTTP proxy: @actions/cache then downloads with the Azure SDK exactly as on GitHub. With 'local' they
 *   are `http://127.0.0.1:{port}/{account}/...`, which @actions/cache downloads with one plain GET instead.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, readBody } from '../emulator/http.ts';
import { BlobError, BlobStore, sendBlobError, type BlobOperation, type BlobRequestInfo, type StoredBlob } from './azure-blob.ts';

export { BlobError, BlobStore, type BlobOperation, type StoredBlob } from './azure-blob.ts';

export const TWIRP_SERVICE = 'github.actions.results.api.v1.CacheService';
export const TWIRP_METHODS = ['CreateCacheEntry', 'FinalizeCacheEntryUpload', 'GetCacheEntryDownloadURL'] as const;
export type TwirpMethod = (typeof TWIRP_METHODS)[number];

/** The `Permission` of an `ac` scope: 1 read, 2 write, 3 both. */
export type ScopePermission = 1 | 2 | 3;
export interface CacheScope {
  Scope: string;
  Permission: ScopePermission;
}

/** An error answered in Twirp's envelope `{ code, msg }`. */
export interface TwirpFault {
  /** HTTP status. 500, 502, 503 and 504 make @actions/cache retry (5 attempts, 3 s then ×1.5 apart). */
  status: number;
  /** Twirp error code; default from the status (e.g. 403 permission_denied, 500 internal). */
  code?: string;
  msg?: string;
  /** Fail this many times, then answer normally; default: every time. */
  times?: number;
}

export interface BlobFault {
  /** Default 403 (AuthenticationFailed), as for an expired or tampered SAS. */
  status?: number;
  code?: string;
  message?: string;
  times?: number;
}

/** Failures to inject; mutate `emulator.faults` at any time. A fault with `times` is removed once used up. */
export interface CacheFaults {
  /** Answer these Twirp methods with an error instead. */
  twirp?: Partial<Record<TwirpMethod, TwirpFault>>;
  /** Fail Get Blob and Get Blob Properties on signed download URLs. */
  blobDownload?: BlobFault;
  /** Fail Put Blob, Put Block and Put Block List. */
  blobUpload?: BlobFault;
  /** Serve every archive with each byte inverted (same length), so extracting it fails. A number: that many downloads. */
  corruptArchive?: boolean | number;
}

export interface CacheEmulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** HS256 key of runtime tokens; default random. */
  tokenSecret?: string;
  /** Milliseconds since the epoch; default Date.now. Drives entry order, token and SAS expiry. */
  clock?: () => number;
  /** See the module comment. Default 'azure'. */
  blobUrlStyle?: 'azure' | 'local';
  /** Storage account name in blob URLs. Default 'actionscacheemulator'. */
  account?: string;
  /** Default 'actions-cache'. */
  container?: string;
  /** Lifetime of signed URLs. Default 10 minutes. */
  signedUrlTtlMs?: number;
  faults?: CacheFaults;
}

export interface CacheEntry {
  /** The `entry_id` FinalizeCacheEntryUpload answers (and saveCache returns). */
  id: number;
  key: string;
  version: string;
  /** The token's writable scope when the entry was created. */
  scope: string;
  /** Blob name inside the container. */
  blob: string;
  createdAt: number;
  /** Set by FinalizeCacheEntryUpload; only finalized entries are found by lookups. */
  finalizedAt: number | null;
  sizeBytes: number | null;
}

export interface CacheRequestLogEntry {
  method: string;
  /** Path without the query (for blobs: `/{container}/{blob}`, host-independent). */
  path: string;
  status: number;
  kind: 'twirp' | 'blob' | 'other';
  /** Twirp method or blob operation. */
  operation: TwirpMethod | BlobOperation | null;
  /** The JSON body of a Twirp request. */
  body?: Record<string, unknown>;
  /** Scopes of the token of a Twirp request. */
  scopes?: CacheScope[];
  /** Byte range of a Get Blob. */
  range?: string;
  bytes?: number;
  /** True when the request came as an absolute URL through the emulator acting as HTTP proxy. */
  proxied: boolean;
  userAgent?: string;
}

export interface CacheEmulatorState {
  entries: CacheEntry[];
  blobs: BlobStore;
  requests: CacheRequestLogEntry[];
}

export interface CacheEmulator {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  origin: string;
  /** What ACTIONS_RESULTS_URL should be: origin + '/'. */
  resultsUrl: string;
  port: number;
  blobUrlStyle: 'azure' | 'local';
  account: string;
  state: CacheEmulatorState;
  faults: CacheFaults;
  /** A runtime token (HS256 JWT) with the given scopes in its `ac` claim. */
  runtimeToken(scopes: CacheScopeOptions | CacheScope[], options?: { expiresInS?: number }): string;
  /** Finalized entries that `scopes`' readable scopes can see, in lookup order (scope order, newest first). */
  visibleEntries(scopes: CacheScope[]): CacheEntry[];
  /** The stored archive of an entry. */
  archive(entry: CacheEntry): Buffer | null;
  close(): Promise<void>;
}

export interface CacheScopeOptions {
  /** Scopes (refs) the token may read, in lookup order, e.g. ['refs/pull/7/merge', 'refs/heads/main']. */
  readable: string[];
  /** The scope new entries go to (at most one, as on GitHub); may be absent for a read-only token. */
  writable?: string;
}

/**
 * The `ac` list for readable scopes (in order) and a writable one: a scope both readable and writable gets
 * Permission 3; a writable scope that is not readable is appended with Permission 2.
 */
export function scopeList({ readable, writable }: CacheScopeOptions): CacheScope[] {
  const scopes: CacheScope[] = readable.map((scope) => ({ Scope: scope, Permission: scope === writable ? 3 : 1 }));
  if (writable && !readable.includes(writable)) scopes.push({ Scope: writable, Permission: 2 });
  return scopes;
}

// ---- runtime tokens ------------------------------------------------------------------------------------------------

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** An HS256 JWT shaped like ACTIONS_RUNTIME_TOKEN: `ac` is a JSON *string* of `[{Scope, Permission}]`. */
export function signRuntimeToken(secret: string, scopes: CacheScope[], nowMs: number, expiresInS = 6 * 3600): string {
  const now = Math.floor(nowMs / 1000);
  const header = { typ: 'JWT', alg: 'HS256' };
  const payload = {
    nameid: 'dddddddd-dddd-dddd-dddd-dddddddddddd',
    scp: 'Actions.ExampleScope Actions.Results:11111111-1111-1111-1111-111111111111:22222222-2222-2222-2222-222222222222',
    IdentityTypeClaim: 'System:ServiceIdentity',
    ac: JSON.stringify(scopes),
    acsl: '10',
    iss: 'vstoken.actions.githubusercontent.com',
    aud: 'vso:cache-emulator',
    iat: now,
    nbf: now - 60,
    exp: now + expiresInS,
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

/** The scopes of a token this emulator signed; throws a Twirp `unauthenticated` error otherwise. */
export function verifyRuntimeToken(secret: string, token: string, nowMs: number): CacheScope[] {
  const parts = token.split('.');
  if (parts.length !== 3) throw twirpError(401, 'unauthenticated', 'the runtime token is not a JWT');
  let header: { alg?: string };
  let payload: { ac?: unknown; exp?: number; nbf?: number };
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw twirpError(401, 'unauthenticated', 'the runtime token is not a JWT');
  }
  if (header.alg !== 'HS256') throw twirpError(401, 'unauthenticated', `unsupported token algorithm ${String(header.alg)}`);
  const expected = Buffer.from(createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest('base64url'));
  const given = Buffer.from(parts[2]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw twirpError(401, 'unauthenticated', 'invalid token signature');
  const now = nowMs / 1000;
  if (typeof payload.exp === 'number' && now >= payload.exp) throw twirpError(401, 'unauthenticated', 'token expired');
  if (typeof payload.nbf === 'number' && now < payload.nbf) throw twirpError(401, 'unauthenticated', 'token not yet valid');
  if (typeof payload.ac !== 'string') throw twirpError(401, 'unauthenticated', 'token has no cache scopes (ac claim)');
  let scopes: unknown;
  try {
    scopes = JSON.parse(payload.ac);
  } catch {
    throw twirpError(401, 'unauthenticated', 'malformed ac claim');
  }
  if (!Array.isArray(scopes)) throw twirpError(401, 'unauthenticated', 'malformed ac claim');
  return scopes.filter(
    (s): s is CacheScope => typeof s === 'object' && s !== null && typeof s.Scope === 'string' && [1, 2, 3].includes(s.Permission),
  );
}

// ---- Twirp ---------------------------------------------------------------------------------------------------------

class TwirpError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function twirpError(status: number, code: string, msg: string): TwirpError {
  return new TwirpError(status, code, msg);
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  409: 'already_exists',
  412: 'failed_precondition',
  429: 'resource_exhausted',
  500: 'internal',
  501: 'unimplemented',
  503: 'unavailable',
  504: 'deadline_exceeded',
};

function sendTwirp(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function stringField(body: Record<string, unknown>, name: string, required: boolean): string {
  const value = body[name];
  if (value === undefined || value === '') {
    if (required) throw twirpError(400, 'invalid_argument', `${name} is required`);
    return '';
  }
  if (typeof value !== 'string') throw twirpError(400, 'malformed', `${name} must be a string`);
  return value;
}

/** Takes one use of a fault; returns it when it applies. */
function useFault<T extends { times?: number }>(fault: T | undefined, remove: () => void): T | undefined {
  if (!fault) return undefined;
  if (fault.times !== undefined) {
    if (fault.times <= 0) {
      remove();
      return undefined;
    }
    fault.times -= 1;
    if (fault.times === 0) remove();
  }
  return fault;
}

// ---- server --------------------------------------------------------------------------------------------------------

export async function startCacheEmulator(options: CacheEmulatorOptions = {}): Promise<CacheEmulator> {
  const clock = options.clock ?? Date.now;
  const secret = options.tokenSecret ?? randomBytes(32).toString('hex');
  const blobUrlStyle = options.blobUrlStyle ?? 'azure';
  const account = options.account ?? 'actionscacheemulator';
  const container = options.container ?? 'actions-cache';
  const ttlMs = options.signedUrlTtlMs ?? 10 * 60 * 1000;
  const blobs = new BlobStore(account, randomBytes(32), clock);
  const entries: CacheEntry[] = [];
  const requests: CacheRequestLogEntry[] = [];
  const faults: CacheFaults = options.faults ?? {};
  let nextId = 1;
  let origin = '';

  const blobUrl = (blob: string, permissions: string) => {
    const sas = blobs.sas(container, blob, permissions, ttlMs);
    const path = `${container}/${blob}`;
    return blobUrlStyle === 'azure' ? `http://${account}.blob.core.windows.net/${path}?${sas}` : `${origin}/${account}/${path}?${sas}`;
  };

  const newestFirst = (a: CacheEntry, b: CacheEntry) => b.createdAt - a.createdAt || b.id - a.id;

  const visibleEntries = (scopes: CacheScope[]) =>
    scopes
      .filter((s) => s.Permission & 1)
      .flatMap((s) => entries.filter((e) => e.finalizedAt !== null && e.scope === s.Scope).sort(newestFirst));

  /** GitHub's order: per readable scope (in token order): exact key, then key as prefix, then each restore key as prefix. */
  const lookup = (scopes: CacheScope[], key: string, restoreKeys: string[], version: string): CacheEntry | undefined => {
    for (const scope of scopes.filter((s) => s.Permission & 1)) {
      const candidates = entries.filter((e) => e.finalizedAt !== null && e.scope === scope.Scope && e.version === version).sort(newestFirst);
      const hit =
        candidates.find((e) => e.key === key) ??
        candidates.find((e) => e.key.startsWith(key)) ??
        restoreKeys.map((prefix) => candidates.find((e) => e.key.startsWith(prefix))).find((e) => e !== undefined);
      if (hit) return hit;
    }
    return undefined;
  };

  const writableScope = (scopes: CacheScope[]) => scopes.find((s) => s.Permission & 2)?.Scope;

  const twirp: Record<TwirpMethod, (body: Record<string, unknown>, scopes: CacheScope[]) => [number, unknown]> = {
    GetCacheEntryDownloadURL(body, scopes) {
      const key = stringField(body, 'key', true);
      const version = stringField(body, 'version', true);
      const restoreKeys = body.restore_keys ?? [];
      if (!Array.isArray(restoreKeys) || restoreKeys.some((k) => typeof k !== 'string')) throw twirpError(400, 'malformed', 'restore_keys must be a list of strings');
      if (!scopes.some((s) => s.Permission & 1)) throw twirpError(403, 'permission_denied', 'cache read denied: token has no readable scopes');
      const entry = lookup(scopes, key, restoreKeys as string[], version);
      if (!entry) return [200, { ok: false, signed_download_url: '', matched_key: '' }];
      return [200, { ok: true, signed_download_url: blobUrl(entry.blob, 'r'), matched_key: entry.key }];
    },

    CreateCacheEntry(body, scopes) {
      const key = stringField(body, 'key', true);
      const version = stringField(body, 'version', true);
      const scope = writableScope(scopes);
      // GitHub answers a read-only token with ok=false (HTTP 200) and this prefix; @actions/cache turns it into a
      // CacheWriteDeniedError (logged as a warning).
      if (!scope) return [200, { ok: false, signed_upload_url: '', message: 'cache write denied: token has no writable scopes' }];
      if (entries.some((e) => e.key === key && e.version === version && e.scope === scope)) {
        throw twirpError(409, 'already_exists', 'cache entry with the same key, version, and scope already exists');
      }
      const entry: CacheEntry = { id: nextId++, key, version, scope, blob: randomUUID(), createdAt: clock(), finalizedAt: null, sizeBytes: null };
      entries.push(entry);
      return [200, { ok: true, signed_upload_url: blobUrl(entry.blob, 'cw'), message: '' }];
    },

    FinalizeCacheEntryUpload(body, scopes) {
      const key = stringField(body, 'key', true);
      const version = stringField(body, 'version', true);
      const sizeText = body.size_bytes ?? '0';
      const size = Number(sizeText);
      if ((typeof sizeText !== 'string' && typeof sizeText !== 'number') || !Number.isSafeInteger(size) || size < 0) {
        throw twirpError(400, 'malformed', 'size_bytes must be an int64');
      }
      const scope = writableScope(scopes);
      if (!scope) return [200, { ok: false, entry_id: '0', message: 'cache write denied: token has no writable scopes' }];
      const entry = entries.find((e) => e.key === key && e.version === version && e.scope === scope && e.finalizedAt === null);
      if (!entry) throw twirpError(404, 'not_found', 'cache entry not found');
      const stored = blobs.get(container, entry.blob);
      if (!stored?.content) return [200, { ok: false, entry_id: '0', message: `no archive was uploaded for cache entry ${entry.id}` }];
      if (stored.content.length !== size) {
        return [200, { ok: false, entry_id: '0', message: `size_bytes ${size} does not match the uploaded archive (${stored.content.length} bytes)` }];
      }
      entry.finalizedAt = clock();
      entry.sizeBytes = size;
      return [200, { ok: true, entry_id: String(entry.id), message: '' }];
    },
  };

  const handleTwirp = async (req: IncomingMessage, res: ServerResponse, path: string, log: CacheRequestLogEntry) => {
    const method = path.slice(`/twirp/${TWIRP_SERVICE}/`.length) as TwirpMethod;
    if (req.method !== 'POST' || !path.startsWith(`/twirp/${TWIRP_SERVICE}/`) || !TWIRP_METHODS.includes(method)) {
      req.resume();
      throw twirpError(404, 'bad_route', `no handler for path "${path}"`);
    }
    log.operation = method;
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0].trim();
    if (contentType !== 'application/json') {
      req.resume();
      throw twirpError(404, 'bad_route', `unexpected Content-Type: "${contentType}" (the emulator speaks Twirp JSON only)`);
    }
    const raw = (await readBody(req)).toString('utf8');
    let body: unknown;
    try {
      body = raw === '' ? {} : JSON.parse(raw);
    } catch {
      throw twirpError(400, 'malformed', 'the json request could not be decoded');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw twirpError(400, 'malformed', 'the json request could not be decoded');
    log.body = body as Record<string, unknown>;
    const auth = String(req.headers.authorization ?? '');
    const bearer = /^Bearer (.+)$/i.exec(auth);
    if (!bearer) throw twirpError(401, 'unauthenticated', 'missing bearer token');
    const scopes = verifyRuntimeToken(secret, bearer[1], clock());
    log.scopes = scopes;
    const fault = useFault(faults.twirp?.[method], () => delete faults.twirp?.[method]);
    if (fault) throw twirpError(fault.status, fault.code ?? CODE_BY_STATUS[fault.status] ?? 'unknown', fault.msg ?? `injected ${method} failure`);
    const [status, value] = twirp[method](body as Record<string, unknown>, scopes);
    sendTwirp(res, status, value);
  };

  const corrupt = (bytes: Buffer) => Buffer.from(bytes.map((b) => b ^ 0xff));

  const handleBlob = async (req: IncomingMessage, res: ServerResponse, blobPath: string, query: URLSearchParams, log: CacheRequestLogEntry) => {
    const info: BlobRequestInfo = { operation: 'Unsupported' };
    const slash = blobPath.indexOf('/', 1);
    const blobContainer = decodeURIComponent(blobPath.slice(1, slash === -1 ? undefined : slash));
    const blobName = slash === -1 ? '' : decodeURIComponent(blobPath.slice(slash + 1));
    try {
      if (!blobName || blobContainer !== container) throw new BlobError(404, 'ContainerNotFound', 'The specified container does not exist.');
      const method = req.method ?? 'GET';
      const isDownload = (method === 'GET' || method === 'HEAD') && !query.has('comp');
      const isUpload = method === 'PUT';
      const fault = isDownload
        ? useFault(faults.blobDownload, () => delete faults.blobDownload)
        : isUpload
          ? useFault(faults.blobUpload, () => delete faults.blobUpload)
          : undefined;
      if (fault) {
        info.operation = isDownload ? (method === 'GET' ? 'GetBlob' : 'GetBlobProperties') : 'PutBlob';
        req.resume();
        const status = fault.status ?? 403;
        throw new BlobError(
          status,
          fault.code ?? (status === 403 ? 'AuthenticationFailed' : 'InternalError'),
          fault.message ?? (status === 403 ? 'Server failed to authenticate the request. (injected fault)' : 'Server encountered an internal error. (injected fault)'),
        );
      }
      let transform: ((b: Buffer) => Buffer) | undefined;
      if (isDownload && method === 'GET' && faults.corruptArchive) {
        if (typeof faults.corruptArchive === 'number') {
          faults.corruptArchive -= 1;
          if (faults.corruptArchive <= 0) delete faults.corruptArchive;
        }
        transform = corrupt;
      }
      await blobs.handle(req, res, blobContainer, blobName, query, info, transform);
    } finally {
      log.operation = info.operation;
      if (info.range) log.range = info.range;
      if (info.bytes !== undefined) log.bytes = info.bytes;
    }
  };

  const server = createServer((req, res) => {
    const proxied = !(req.url ?? '/').startsWith('/');
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const log: CacheRequestLogEntry = {
      method: req.method ?? '',
      path: url.pathname,
      status: 0,
      kind: 'other',
      operation: null,
      proxied,
      userAgent: req.headers['user-agent'],
    };
    res.on('finish', () => {
      log.status = res.statusCode;
      requests.push(log);
    });

    const azureHost = /^([a-z0-9]+)\.blob\.core\.windows\.net$/.exec(url.hostname);
    let work: Promise<void>;
    if (azureHost) {
      log.kind = 'blob';
      work = azureHost[1] === account ? handleBlob(req, res, url.pathname, url.searchParams, log) : Promise.reject(new BlobError(404, 'AccountNotFound', 'No such storage account.'));
    } else if (proxied) {
      req.resume();
      work = Promise.resolve(sendTwirp(res, 502, { error: `the cache emulator only proxies *.blob.core.windows.net, not ${url.host}` }));
    } else if (url.pathname.startsWith('/twirp/')) {
      log.kind = 'twirp';
      work = handleTwirp(req, res, url.pathname, log);
    } else if (url.pathname.startsWith(`/${account}/`)) {
      log.kind = 'blob';
      log.path = url.pathname.slice(account.length + 1);
      work = handleBlob(req, res, log.path, url.searchParams, log);
    } else {
      req.resume();
      work = Promise.resolve(sendTwirp(res, 404, { code: 'bad_route', msg: `no handler for path "${url.pathname}"` }));
    }

    work.catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      req.resume();
      if (error instanceof BlobError) sendBlobError(req, res, error);
      else if (error instanceof TwirpError) sendTwirp(res, error.status, { code: error.code, msg: error.message, meta: {} });
      else if (error instanceof ApiError) {
        if (log.kind === 'blob') sendBlobError(req, res, new BlobError(error.status, 'InvalidInput', error.message));
        else sendTwirp(res, error.status, { code: 'malformed', msg: error.message, meta: {} });
      } else {
        console.error('cache emulator: internal error', error);
        if (log.kind === 'blob') sendBlobError(req, res, new BlobError(500, 'InternalError', 'Server encountered an internal error.'));
        else sendTwirp(res, 500, { code: 'internal', msg: 'internal error', meta: {} });
      }
    });
  });
  // HTTPS through the emulator as a proxy is not supported: refuse CONNECT instead of hanging.
  server.on('connect', (_req, socket) => socket.end('HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\n\r\n'));
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${host}:${address.port}`;

  return {
    origin,
    resultsUrl: `${origin}/`,
    port: address.port,
    blobUrlStyle,
    account,
    state: { entries, blobs, requests },
    faults,
    runtimeToken(scopes, tokenOptions = {}) {
      const list = Array.isArray(scopes) ? scopes : scopeList(scopes);
      return signRuntimeToken(secret, list, clock(), tokenOptions.expiresInS);
    },
    visibleEntries,
    archive(entry) {
      return blobs.get(container, entry.blob)?.content ?? null;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

// ---- environment for @actions/cache ---------------------------------------------------------------------------------

export interface CacheEnvOptions extends CacheScopeOptions {
  /** GITHUB_REF; default the writable scope, else the first readable one. */
  ref?: string;
  /**
   * RUNNER_TEMP (where @actions/cache writes archives). Default: one temp directory per emulator, the same for every
   * call, as a runner's RUNNER_TEMP path is the same in every job. Paths under it are part of the cache version, so
   * code that caches files in RUNNER_TEMP only finds its entries again when save and restore see the same path.
   */
  runnerTemp?: string;
  /** GITHUB_WORKSPACE: tar archives paths relative to it and extracts into it. Unset: the process's cwd. */
  workspace?: string;
  /** ACTIONS_CACHE_MODE; default '' (unset: reads and writes allowed, as before the runner exported it). */
  cacheMode?: '' | 'none' | 'read' | 'write' | 'write-only';
  /** Lifetime of the runtime token. */
  expiresInS?: number;
}

/**
 * The variables `@actions/cache` reads, all at call time (none at import), so they can be set in `process.env` around
 * each call (see withEnv) or given to a child process. Which of them the library reads:
 * - ACTIONS_CACHE_SERVICE_V2 (any non-empty value) and GITHUB_SERVER_URL (must not look like GHES) select service v2;
 * - ACTIONS_RESULTS_URL is the Twirp base URL; ACTIONS_RUNTIME_TOKEN the bearer token;
 * - ACTIONS_CACHE_MODE may forbid reads or writes before any request is made;
 * - RUNNER_TEMP holds the archive; GITHUB_WORKSPACE is tar's -C directory;
 * - HTTP(S)_PROXY (blobUrlStyle 'azure'): the Azure SDK sends blob requests to the emulator as a proxy, while
 *   @actions/http-client always bypasses proxies for 127.0.0.1. NO_PROXY=127.0.0.1,localhost keeps other local
 *   servers direct; the Azure SDK reads NO_PROXY once per process, at its first request pipeline. Anything else that
 *   honours HTTP(S)_PROXY for a non-local host gets a 502 from the emulator.
 */
export function cacheEnv(emulator: CacheEmulator, options: CacheEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    ACTIONS_CACHE_SERVICE_V2: 'True',
    ACTIONS_RESULTS_URL: emulator.resultsUrl,
    ACTIONS_RUNTIME_TOKEN: emulator.runtimeToken(options, { expiresInS: options.expiresInS }),
    ACTIONS_CACHE_MODE: options.cacheMode ?? '',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REF: options.ref ?? options.writable ?? options.readable[0] ?? '',
    RUNNER_TEMP: options.runnerTemp ?? defaultRunnerTemp(emulator),
  };
  if (options.workspace !== undefined) env.GITHUB_WORKSPACE = options.workspace;
  if (emulator.blobUrlStyle === 'azure') {
    for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) env[name] = emulator.origin;
  }
  env.NO_PROXY = env.no_proxy = '127.0.0.1,localhost';
  return env;
}

const runnerTemps = new WeakMap<CacheEmulator, string>();

function defaultRunnerTemp(emulator: CacheEmulator): string {
  let dir = runnerTemps.get(emulator);
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'cache-emu-runner-'));
    runnerTemps.set(emulator, dir);
  }
  return dir;
}

export interface EnvRunResult<T> {
  result: T;
  /** Everything written to stdout meanwhile (@actions/core's info lines and ::commands::). */
  stdout: string;
  /** Messages of ::warning:: and ::error:: commands. */
  warnings: string[];
  errors: string[];
}

let envBusy = false;

/**
 * Runs `fn` with `env` applied to process.env (undefined deletes) and stdout captured, then restores both. Not
 * reentrant: in-process calls of @actions/cache must not overlap (vitest runs a file's tests one at a time).
 */
export async function withEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>, options: { echo?: boolean } = {}): Promise<EnvRunResult<T>> {
  if (envBusy) throw new Error('withEnv calls must not overlap');
  envBusy = true;
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(env)) {
    saved.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  let stdout = '';
  const write = process.stdout.write;
  process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    if (options.echo) return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  } as typeof process.stdout.write;
  try {
    const result = await fn();
    return { result, stdout, warnings: commandMessages(stdout, 'warning'), errors: commandMessages(stdout, 'error') };
  } finally {
    process.stdout.write = write;
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    envBusy = false;
  }
}

/** The messages of `::name::message` (or `::name props::message`) lines, unescaped. */
export function commandMessages(stdout: string, name: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = new RegExp(`^::${name}(?: [^:]*)?::(.*)$`).exec(line);
    if (m) out.push(m[1].replaceAll('%0D', '\r').replaceAll('%0A', '\n').replaceAll('%25', '%'));
  }
  return out;
}
