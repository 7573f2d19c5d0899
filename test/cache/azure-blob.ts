/**
 * The part of the Azure Blob Storage REST API that `@azure/storage-blob`'s BlockBlobClient uses to upload and download a
 * block blob through a SAS URL: Put Blob, Put Block, Put Block List, Get Blob (whole or ranged) and Get Blob Properties.
 * Used by the cache emulator for the `signed_upload_url` / `signed_download_url` it hands out.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../emulator/http.ts';

/** The service version the emulator claims (the one @azure/storage-blob 12.31 sends). */
export const BLOB_SERVICE_VERSION = '2026-02-06';

export interface StoredBlob {
  /** Committed content: null until Put Blob or Put Block List. */
  content: Buffer | null;
  /** Ids (base64, as sent) and sizes of the committed blocks; one unnamed block after Put Blob. */
  committedBlocks: { id: string; size: number }[];
  /** Staged blocks by id, until a Put Block List commits or discards them. */
  uncommitted: Map<string, Buffer>;
  etag: string;
  createdAt: Date;
  lastModified: Date;
}

/** A failure answered the way Azure Storage does: status, `x-ms-error-code` and an XML `<Error>` body. */
export class BlobError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export type BlobOperation = 'PutBlob' | 'PutBlock' | 'PutBlockList' | 'GetBlob' | 'GetBlobProperties' | 'GetBlockList' | 'Unsupported';

/** What a blob request did, for the request log. */
export interface BlobRequestInfo {
  operation: BlobOperation;
  /** The `x-ms-range` or `Range` header of a Get Blob. */
  range?: string;
  /** Bytes received (uploads) or sent (downloads). */
  bytes?: number;
}

export interface SasPermissionCheck {
  /** 'r' for reads, 'w' for writes (a 'c' or 'w' in `sp` allows writes). */
  need: 'r' | 'w';
}

/** `x-ms-range`/`Range` `bytes=a-b` or `bytes=a-` against a blob of `size` bytes: [start, endInclusive], or null for none. */
export function parseRange(header: string | undefined, size: number): [number, number] | null {
  if (!header) return null;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) throw new BlobError(400, 'InvalidRange', `The range specified is invalid for the current size of the resource. (${header})`);
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) throw new BlobError(416, 'InvalidRange', 'The range specified is invalid for the current size of the resource.');
  return [start, end];
}

/** The block ids of a Put Block List body, in order, with the list each is to be taken from. */
export function parseBlockList(xml: string): { id: string; from: 'Latest' | 'Committed' | 'Uncommitted' }[] {
  if (!/<BlockList>/.test(xml)) throw new BlobError(400, 'InvalidXmlDocument', 'XML specified is not syntactically valid.');
  const blocks: { id: string; from: 'Latest' | 'Committed' | 'Uncommitted' }[] = [];
  for (const m of xml.matchAll(/<(Latest|Committed|Uncommitted)>([^<]*)<\/\1>/g)) {
    blocks.push({ id: m[2].trim(), from: m[1] as 'Latest' | 'Committed' | 'Uncommitted' });
  }
  return blocks;
}

/** A fresh ETag in Azure's shape ("0x8DD..."). */
function newEtag(): string {
  return `"0x8DD${randomUUID().replaceAll('-', '').slice(0, 12).toUpperCase()}"`;
}

/**
 * Blob contents in memory, keyed by `container/blobName`, and the SAS signing key. One account.
 */
export class BlobStore {
  readonly blobs = new Map<string, StoredBlob>();
  readonly account: string;
  readonly #key: Buffer;
  readonly #clock: () => number;

  constructor(account: string, key: Buffer, clock: () => number) {
    this.account = account;
    this.#key = key;
    this.#clock = clock;
  }

  /**
   * The SAS query string (`sv`, `sr=b`, `sp`, `st`, `se`, `sig`) for one blob. `permissions` as Azure spells them:
   * 'r' to read, 'cw' to create and write.
   */
  sas(container: string, blob: string, permissions: string, ttlMs: number): string {
    const now = this.#clock();
    const st = isoSeconds(now - 60_000);
    const se = isoSeconds(now + ttlMs);
    const params = new URLSearchParams({ sv: BLOB_SERVICE_VERSION, sr: 'b', sp: permissions, st, se });
    params.set('sig', this.#sign(container, blob, permissions, st, se));
    return params.toString();
  }

  #sign(container: string, blob: string, sp: string, st: string, se: string): string {
    const canonical = [sp, st, se, `/blob/${this.account}/${container}/${blob}`, BLOB_SERVICE_VERSION, 'b'].join('\n');
    return createHmac('sha256', this.#key).update(canonical).digest('base64');
  }

  /** Throws 403 unless `query` is a valid, unexpired SAS for this blob that grants `need`. */
  checkSas(container: string, blob: string, query: URLSearchParams, need: 'r' | 'w'): void {
    const sig = query.get('sig');
    const sp = query.get('sp') ?? '';
    const st = query.get('st') ?? '';
    const se = query.get('se') ?? '';
    if (!sig) {
      // Anonymous access to a private container reads as "not found" on Azure.
      throw new BlobError(404, 'ResourceNotFound', 'The specified resource does not exist.');
    }
    const expected = Buffer.from(this.#sign(container, blob, sp, st, se));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new BlobError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.\nSignature did not match.');
    }
    const now = this.#clock();
    if (now < Date.parse(st) || now > Date.parse(se)) {
      throw new BlobError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.\nSigned expiry time has passed or signed start time is in the future.');
    }
    const allowed = need === 'r' ? sp.includes('r') : sp.includes('w') || sp.includes('c');
    if (!allowed) throw new BlobError(403, 'AuthorizationPermissionMismatch', 'This request is not authorized to perform this operation using this permission.');
  }

  get(container: string, blob: string): StoredBlob | undefined {
    return this.blobs.get(`${container}/${blob}`);
  }

  #getOrCreate(container: string, blob: string): StoredBlob {
    const id = `${container}/${blob}`;
    let stored = this.blobs.get(id);
    if (!stored) {
      const now = new Date(this.#clock());
      stored = { content: null, committedBlocks: [], uncommitted: new Map(), etag: newEtag(), createdAt: now, lastModified: now };
      this.blobs.set(id, stored);
    }
    return stored;
  }

  /**
   * Serves one request to `container/blob` (already routed here). `info` is filled in for the request log.
   * `transform` may rewrite downloaded bytes (the emulator's corrupt-archive fault).
   */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    container: string,
    blob: string,
    query: URLSearchParams,
    info: BlobRequestInfo,
    transform?: (bytes: Buffer) => Buffer,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const comp = query.get('comp');
    const common = {
      'x-ms-request-id': randomUUID(),
      'x-ms-version': BLOB_SERVICE_VERSION,
      date: new Date(this.#clock()).toUTCString(),
      ...(req.headers['x-ms-client-request-id'] ? { 'x-ms-client-request-id': String(req.headers['x-ms-client-request-id']) } : {}),
    };

    if (method === 'PUT' && comp === null) {
      info.operation = 'PutBlob';
      this.checkSas(container, blob, query, 'w');
      const blobType = req.headers['x-ms-blob-type'];
      if (blobType !== 'BlockBlob') {
        throw new BlobError(400, 'MissingRequiredHeader', 'An HTTP header that\'s mandatory for this request is not specified. (x-ms-blob-type: BlockBlob)');
      }
      const body = await readBody(req);
      info.bytes = body.length;
      checkContentMd5(req, body);
      const stored = this.#getOrCreate(container, blob);
      stored.content = body;
      stored.committedBlocks = [{ id: '', size: body.length }];
      stored.uncommitted.clear();
      touch(stored, this.#clock());
      res.writeHead(201, { ...common, etag: stored.etag, 'last-modified': stored.lastModified.toUTCString(), 'content-md5': md5(body), 'x-ms-request-server-encrypted': 'true', 'content-length': 0 });
      res.end();
      return;
    }

    if (method === 'PUT' && comp === 'block') {
      info.operation = 'PutBlock';
      this.checkSas(container, blob, query, 'w');
      const blockId = query.get('blockid');
      if (!blockId || Buffer.from(blockId, 'base64').length === 0 || Buffer.from(blockId, 'base64').length > 64) {
        throw new BlobError(400, 'InvalidQueryParameterValue', 'Value for one of the query parameters specified in the request URI is invalid. (blockid)');
      }
      const body = await readBody(req);
      info.bytes = body.length;
      checkContentMd5(req, body);
      const stored = this.#getOrCreate(container, blob);
      stored.uncommitted.set(blockId, body);
      res.writeHead(201, { ...common, 'content-md5': md5(body), 'x-ms-request-server-encrypted': 'true', 'content-length': 0 });
      res.end();
      return;
    }

    if (method === 'PUT' && comp === 'blocklist') {
      info.operation = 'PutBlockList';
      this.checkSas(container, blob, query, 'w');
      const list = parseBlockList((await readBody(req)).toString('utf8'));
      const stored = this.#getOrCreate(container, blob);
      const committed = new Map<string, Buffer>();
      if (stored.content) {
        let offset = 0;
        for (const block of stored.committedBlocks) {
          committed.set(block.id, stored.content.subarray(offset, offset + block.size));
          offset += block.size;
        }
      }
      const parts: Buffer[] = [];
      const blocks: { id: string; size: number }[] = [];
      for (const { id, from } of list) {
        const data =
          from === 'Committed' ? committed.get(id) : from === 'Uncommitted' ? stored.uncommitted.get(id) : (stored.uncommitted.get(id) ?? committed.get(id));
        if (!data) throw new BlobError(400, 'InvalidBlockList', 'The specified block list is invalid.');
        parts.push(data);
        blocks.push({ id, size: data.length });
      }
      stored.content = Buffer.concat(parts);
      stored.committedBlocks = blocks;
      stored.uncommitted.clear();
      info.bytes = stored.content.length;
      touch(stored, this.#clock());
      res.writeHead(201, { ...common, etag: stored.etag, 'last-modified': stored.lastModified.toUTCString(), 'x-ms-request-server-encrypted': 'true', 'content-length': 0 });
      res.end();
      return;
    }

    if ((method === 'GET' || method === 'HEAD') && comp === null) {
      info.operation = method === 'GET' ? 'GetBlob' : 'GetBlobProperties';
      this.checkSas(container, blob, query, 'r');
      const stored = this.get(container, blob);
      if (!stored?.content) throw new BlobError(404, 'BlobNotFound', 'The specified blob does not exist.');
      const ifMatch = req.headers['if-match'];
      if (ifMatch && ifMatch !== '*' && ifMatch !== stored.etag) {
        throw new BlobError(412, 'ConditionNotMet', 'The condition specified using HTTP conditional header(s) is not met.');
      }
      const content = transform ? transform(stored.content) : stored.content;
      const properties = {
        ...common,
        etag: stored.etag,
        'last-modified': stored.lastModified.toUTCString(),
        'x-ms-creation-time': stored.createdAt.toUTCString(),
        'x-ms-blob-type': 'BlockBlob',
        'x-ms-lease-status': 'unlocked',
        'x-ms-lease-state': 'available',
        'x-ms-server-encrypted': 'true',
        'accept-ranges': 'bytes',
        'content-type': 'application/octet-stream',
      };
      if (method === 'HEAD') {
        res.writeHead(200, { ...properties, 'content-length': content.length, 'content-md5': md5(stored.content) });
        res.end();
        return;
      }
      const rangeHeader = (req.headers['x-ms-range'] as string | undefined) ?? req.headers.range;
      info.range = rangeHeader;
      const range = parseRange(rangeHeader, content.length);
      if (!range) {
        info.bytes = content.length;
        res.writeHead(200, { ...properties, 'content-length': content.length, 'content-md5': md5(stored.content) });
        res.end(content);
        return;
      }
      const slice = content.subarray(range[0], range[1] + 1);
      info.bytes = slice.length;
      res.writeHead(206, { ...properties, 'content-length': slice.length, 'content-range': `bytes ${range[0]}-${range[1]}/${content.length}` });
      res.end(slice);
      return;
    }

    if (method === 'GET' && comp === 'blocklist') {
      info.operation = 'GetBlockList';
      this.checkSas(container, blob, query, 'r');
      const stored = this.get(container, blob);
      if (!stored) throw new BlobError(404, 'BlobNotFound', 'The specified blob does not exist.');
      const committed = stored.committedBlocks.map((b) => `<Block><Name>${b.id}</Name><Size>${b.size}</Size></Block>`).join('');
      const uncommitted = [...stored.uncommitted].map(([id, b]) => `<Block><Name>${id}</Name><Size>${b.length}</Size></Block>`).join('');
      const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList><CommittedBlocks>${committed}</CommittedBlocks><UncommittedBlocks>${uncommitted}</UncommittedBlocks></BlockList>`;
      const body = Buffer.from(xml);
      res.writeHead(200, { ...common, 'content-type': 'application/xml', 'content-length': body.length });
      res.end(body);
      return;
    }

    info.operation = 'Unsupported';
    req.resume();
    throw new BlobError(400, 'UnsupportedHttpVerb', `The cache emulator does not implement ${method}${comp ? ` comp=${comp}` : ''} on blobs.`);
  }
}

/** Answers `error` as Azure Storage does (no body for HEAD). */
export function sendBlobError(req: IncomingMessage, res: ServerResponse, error: BlobError): void {
  const requestId = randomUUID();
  const xml =
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${error.code}</Code>` +
    `<Message>${escapeXml(error.message)}\nRequestId:${requestId}\nTime:${new Date().toISOString()}</Message></Error>`;
  const body = Buffer.from(xml);
  res.writeHead(error.status, {
    'x-ms-error-code': error.code,
    'x-ms-request-id': requestId,
    'x-ms-version': BLOB_SERVICE_VERSION,
    'content-type': 'application/xml',
    'content-length': req.method === 'HEAD' ? 0 : body.length,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function checkContentMd5(req: IncomingMessage, body: Buffer): void {
  const given = req.headers['content-md5'];
  if (given && given !== md5(body)) throw new BlobError(400, 'Md5Mismatch', 'The MD5 value specified in the request did not match with the MD5 value calculated by the server.');
}

function touch(stored: StoredBlob, now: number): void {
  stored.etag = newEtag();
  stored.lastModified = new Date(now);
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
