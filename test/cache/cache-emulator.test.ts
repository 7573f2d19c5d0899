import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cache from '@actions/cache';
import { BlockBlobClient, RestError } from '@azure/storage-blob';
import { afterEach, describe, expect, it } from 'vitest';
import { runNode } from '../helpers/node-process.ts';
import {
  cacheEnv,
  startCacheEmulator,
  TWIRP_SERVICE,
  withEnv,
  type CacheEmulator,
  type CacheEmulatorOptions,
  type CacheScopeOptions,
} from './cache-emulator.ts';

// ---- helpers -------------------------------------------------------------------------------------------------------

const MAIN: CacheScopeOptions = { readable: ['refs/heads/main'], writable: 'refs/heads/main' };
const PR7: CacheScopeOptions = { readable: ['refs/pull/7/merge', 'refs/heads/main'], writable: 'refs/pull/7/merge' };
const PR8: CacheScopeOptions = { readable: ['refs/pull/8/merge', 'refs/heads/main'], writable: 'refs/pull/8/merge' };

let running: CacheEmulator[] = [];

afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});

/** An emulator on a fake clock (advance with `clock.now += ms`) and a workspace with `data/` to cache. */
async function setup(options: CacheEmulatorOptions = {}) {
  const clock = { now: Date.UTC(2025, 0, 1, 12) };
  const emulator = await startCacheEmulator({ clock: () => clock.now, ...options });
  running.push(emulator);
  const workspace = mkdtempSync(join(tmpdir(), 'cache-emu-ws-'));
  const runnerTemp = mkdtempSync(join(tmpdir(), 'cache-emu-temp-'));
  const data = join(workspace, 'data');
  /** Replaces data/ with these files. */
  const write = (files: Record<string, string>) => {
    rmSync(data, { recursive: true, force: true });
    mkdirSync(data, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(data, name), content);
  };
  const read = (name: string) => (existsSync(join(data, name)) ? readFileSync(join(data, name), 'utf8') : null);
  const env = (scopes: CacheScopeOptions) => cacheEnv(emulator, { ...scopes, workspace, runnerTemp });
  const save = (scopes: CacheScopeOptions, key: string, paths = [data]) => withEnv(env(scopes), () => cache.saveCache(paths, key));
  const restore = (scopes: CacheScopeOptions, key: string, restoreKeys: string[] = [], paths = [data]) => {
    rmSync(data, { recursive: true, force: true });
    return withEnv(env(scopes), () => cache.restoreCache(paths, key, restoreKeys));
  };
  const operations = () => emulator.state.requests.map((r) => `${r.operation} ${r.status}`);
  return { emulator, clock, workspace, data, write, read, env, save, restore, operations };
}

async function twirp(emulator: CacheEmulator, method: string, body: unknown, token?: string) {
  const response = await fetch(`${emulator.origin}/twirp/${TWIRP_SERVICE}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const VERSION = createHash('sha256').update('some|paths|1.0').digest('hex');

// ---- tests ---------------------------------------------------------------------------------------------------------

describe('cache emulator: @actions/cache save and restore', () => {
  it('saves and restores in the same scope, through the Twirp API and the Azure SDK', async () => {
    const { emulator, write, read, save, restore, operations } = await setup();
    write({ 'a.txt': 'alpha', 'b.txt': 'beta' });

    const saved = await save(MAIN, 'deps-linux-1');
    expect(saved.result).toBe(1);
    expect(saved.warnings).toEqual([]);
    expect(emulator.state.entries).toEqual([
      {
        id: 1,
        key: 'deps-linux-1',
        version: expect.stringMatching(/^[0-9a-f]{64}$/),
        scope: 'refs/heads/main',
        blob: expect.stringMatching(/^[0-9a-f-]{36}$/),
        createdAt: Date.UTC(2025, 0, 1, 12),
        finalizedAt: Date.UTC(2025, 0, 1, 12),
        sizeBytes: emulator.archive(emulator.state.entries[0])!.length,
      },
    ]);

    const restored = await restore(MAIN, 'deps-linux-1');
    expect(restored.result).toBe('deps-linux-1');
    expect(restored.stdout).toContain('Cache hit for: deps-linux-1');
    expect(restored.warnings).toEqual([]);
    expect([read('a.txt'), read('b.txt')]).toEqual(['alpha', 'beta']);

    // What the client sends: Twirp on 127.0.0.1, blob calls to *.blob.core.windows.net through the emulator as proxy.
    expect(operations()).toEqual([
      'CreateCacheEntry 200',
      'PutBlob 201',
      'FinalizeCacheEntryUpload 200',
      'GetCacheEntryDownloadURL 200',
      'GetBlobProperties 200',
      'GetBlob 206',
    ]);
    const [create, put, finalize, lookup, , get] = emulator.state.requests;
    const version = emulator.state.entries[0].version;
    const size = emulator.state.entries[0].sizeBytes!;
    expect(create).toMatchObject({ kind: 'twirp', proxied: false, body: { key: 'deps-linux-1', version }, userAgent: '@actions/cache-6.3.0' });
    expect(create.scopes).toEqual([{ Scope: 'refs/heads/main', Permission: 3 }]);
    expect(put).toMatchObject({ kind: 'blob', method: 'PUT', proxied: true, bytes: size, userAgent: expect.stringMatching(/^azsdk-js-azure-storage-blob\//) });
    expect(finalize.body).toEqual({ key: 'deps-linux-1', version, size_bytes: String(size) });
    expect(lookup.body).toEqual({ key: 'deps-linux-1', version }); // restore_keys is left out when empty
    expect(get).toMatchObject({ method: 'GET', range: `bytes=0-${size - 1}`, bytes: size, proxied: true });
  });

  it('a pull request token (PR ref + main) restores an entry saved on main', async () => {
    const { emulator, write, read, save, restore } = await setup();
    write({ 'a.txt': 'from main' });
    expect((await save(MAIN, 'deps-1')).result).toBe(1);

    const restored = await restore(PR7, 'deps-1');
    expect(restored.result).toBe('deps-1');
    expect(read('a.txt')).toBe('from main');
    expect(emulator.state.requests.at(-3)!.scopes).toEqual([
      { Scope: 'refs/pull/7/merge', Permission: 3 },
      { Scope: 'refs/heads/main', Permission: 1 },
    ]);
  });

  it("searches the token's scopes in order: the PR's own (older) entry wins over a newer one on main", async () => {
    const { clock, write, read, save, restore } = await setup();
    write({ 'a.txt': 'pr' });
    expect((await save(PR7, 'deps-pr')).result).toBe(1);
    clock.now += 60_000;
    write({ 'a.txt': 'main' });
    expect((await save(MAIN, 'deps-main')).result).toBe(2);

    expect((await restore(PR7, 'deps-none', ['deps-'])).result).toBe('deps-pr');
    expect(read('a.txt')).toBe('pr');
    expect((await restore(MAIN, 'deps-none', ['deps-'])).result).toBe('deps-main');
    expect(read('a.txt')).toBe('main');
  });

  it("a main token cannot restore a PR's entry, nor can another PR", async () => {
    const { emulator, write, read, save, restore, operations } = await setup();
    write({ 'a.txt': 'pr 7 only' });
    expect((await save(PR7, 'deps-1')).result).toBe(1);
    expect(emulator.state.entries[0].scope).toBe('refs/pull/7/merge');

    const fromMain = await restore(MAIN, 'deps-1', ['deps-']);
    expect(fromMain.result).toBeUndefined();
    expect(fromMain.warnings).toEqual([]);
    expect(read('a.txt')).toBeNull();
    expect((await restore(PR8, 'deps-1', ['deps-'])).result).toBeUndefined();
    expect(read('a.txt')).toBeNull();
    expect(operations().slice(3)).toEqual(['GetCacheEntryDownloadURL 200', 'GetCacheEntryDownloadURL 200']); // misses, no download

    expect((await restore(PR7, 'deps-1')).result).toBe('deps-1');
    expect(read('a.txt')).toBe('pr 7 only');
  });

  it('restore keys match by prefix and pick the newest entry; the primary key matches exactly first, then as a prefix', async () => {
    const { emulator, clock, write, read, save, restore } = await setup();
    for (const key of ['deps-b', 'deps-c', 'deps-a']) {
      write({ 'which.txt': key });
      expect((await save(MAIN, key)).result).toBeGreaterThan(0);
      clock.now += 1000;
    }

    const byPrefix = await restore(MAIN, 'deps-z', ['nothing-', 'deps-']);
    expect(byPrefix.result).toBe('deps-a'); // newest, not the lexically last
    expect(byPrefix.stdout).toContain('Cache hit for restore-key: deps-a');
    expect(read('which.txt')).toBe('deps-a');
    expect(emulator.state.requests.at(-3)!.body).toMatchObject({ key: 'deps-z', restore_keys: ['nothing-', 'deps-'] });

    expect((await restore(MAIN, 'deps-c', ['deps-'])).result).toBe('deps-c');
    expect(read('which.txt')).toBe('deps-c');
    expect((await restore(MAIN, 'deps-', [])).result).toBe('deps-a');
    expect((await restore(MAIN, 'deps-x', ['deps-b', 'deps-'])).result).toBe('deps-b'); // restore keys in order
    expect(read('which.txt')).toBe('deps-b');
  });

  it('saving a key that exists in the scope returns -1 (409 already_exists); other scopes and versions may reuse it', async () => {
    const { emulator, data, write, save, operations } = await setup();
    write({ 'a.txt': 'one' });
    expect((await save(MAIN, 'deps-1')).result).toBe(1);

    write({ 'a.txt': 'two' });
    const again = await save(MAIN, 'deps-1');
    expect(again.result).toBe(-1);
    expect(again.stdout).toContain('Failed to save: Unable to reserve cache with key deps-1, another job may be creating this cache.');
    expect(again.stdout).toContain(
      '::debug::Failed to reserve cache: Error: Failed to CreateCacheEntry: Received non-retryable error: Failed request: (409) Conflict: cache entry with the same key, version, and scope already exists',
    );
    expect(operations().slice(3)).toEqual(['CreateCacheEntry 409']); // nothing uploaded
    expect(emulator.state.entries).toHaveLength(1);

    expect((await save(PR7, 'deps-1')).result).toBe(2);
    const other = join(data, '..', 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'x'), 'x');
    expect((await save(MAIN, 'deps-1', [data, other])).result).toBe(3);
    expect(emulator.state.entries.map((e) => [e.key, e.scope])).toEqual([
      ['deps-1', 'refs/heads/main'],
      ['deps-1', 'refs/pull/7/merge'],
      ['deps-1', 'refs/heads/main'],
    ]);
  });

  it('restoring needs the same paths list: it is part of the version', async () => {
    const { emulator, data, workspace, write, read, save, restore } = await setup();
    const other = join(workspace, 'other');
    mkdirSync(other);
    write({ 'a.txt': 'alpha' });
    expect((await save(MAIN, 'deps-1', [data])).result).toBe(1);

    expect((await restore(MAIN, 'deps-1', ['deps-'], [data, other])).result).toBeUndefined();
    expect((await restore(MAIN, 'deps-1', ['deps-'], [join(workspace, 'data/')])).result).toBeUndefined();
    const versions = emulator.state.requests.filter((r) => r.operation === 'GetCacheEntryDownloadURL').map((r) => r.body!.version);
    expect(new Set([emulator.state.entries[0].version, ...versions]).size).toBe(3);
    expect(read('a.txt')).toBeNull();

    expect((await restore(MAIN, 'deps-1', [], [data])).result).toBe('deps-1');
    expect(read('a.txt')).toBe('alpha');
  });

  it('a read-only token cannot save (cache write denied) and a token without readable scopes cannot restore', async () => {
    const { write, save, restore, operations } = await setup();
    write({ 'a.txt': 'alpha' });
    const denied = await save({ readable: ['refs/heads/main'] }, 'deps-1');
    expect(denied.result).toBe(-1);
    expect(denied.warnings).toEqual(['Failed to save: Unable to reserve cache with key deps-1. More details: cache write denied: token has no writable scopes']);

    const writeOnly = await restore({ readable: [], writable: 'refs/heads/main' }, 'deps-1');
    expect(writeOnly.result).toBeUndefined();
    expect(writeOnly.warnings).toEqual([
      'Failed to restore: Failed to GetCacheEntryDownloadURL: Received non-retryable error: Failed request: (403) Forbidden: cache read denied: token has no readable scopes',
    ]);
    expect(operations()).toEqual(['CreateCacheEntry 200', 'GetCacheEntryDownloadURL 403']);
  });

  it('cacheEnv gives every token of one emulator the same RUNNER_TEMP and the variables the library reads', async () => {
    const { emulator } = await setup();
    const main = cacheEnv(emulator, MAIN);
    const pr = cacheEnv(emulator, PR7);
    expect(pr.RUNNER_TEMP).toBe(main.RUNNER_TEMP);
    expect(existsSync(main.RUNNER_TEMP)).toBe(true);
    expect(pr).toEqual({
      ACTIONS_CACHE_SERVICE_V2: 'True',
      ACTIONS_RESULTS_URL: `${emulator.origin}/`,
      ACTIONS_RUNTIME_TOKEN: expect.stringMatching(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/),
      ACTIONS_CACHE_MODE: '',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REF: 'refs/pull/7/merge',
      RUNNER_TEMP: main.RUNNER_TEMP,
      HTTP_PROXY: emulator.origin,
      http_proxy: emulator.origin,
      HTTPS_PROXY: emulator.origin,
      https_proxy: emulator.origin,
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
    });
    const claims = JSON.parse(Buffer.from(pr.ACTIONS_RUNTIME_TOKEN.split('.')[1], 'base64url').toString('utf8'));
    expect(JSON.parse(claims.ac)).toEqual([
      { Scope: 'refs/pull/7/merge', Permission: 3 },
      { Scope: 'refs/heads/main', Permission: 1 },
    ]);
    await withEnv(pr, async () => expect(cache.isFeatureAvailable()).toBe(true));
  });

  it('the same works from fresh node processes given only cacheEnv', async () => {
    const { emulator, env, data, write, read } = await setup();
    const script = `
      import * as cache from '@actions/cache';
      const [op, key, paths] = JSON.parse(process.env.CACHE_OP);
      const result = op === 'save' ? await cache.saveCache(paths, key) : await cache.restoreCache(paths, key);
      console.log('RESULT=' + JSON.stringify(result ?? null));`;
    const run = async (scopes: CacheScopeOptions, op: string, key: string) => {
      const child = await runNode(['--input-type=module', '-e', script], { env: { ...env(scopes), CACHE_OP: JSON.stringify([op, key, [data]]) } });
      expect(child.stderr).toBe('');
      return JSON.parse(/^RESULT=(.*)$/m.exec(child.stdout)![1]) as unknown;
    };
    write({ 'a.txt': 'from a child' });
    expect(await run(MAIN, 'save', 'deps-1')).toBe(1);
    rmSync(data, { recursive: true });
    expect(await run(PR7, 'restore', 'deps-1')).toBe('deps-1');
    expect(read('a.txt')).toBe('from a child');
    expect(emulator.state.requests.filter((r) => r.kind === 'blob').map((r) => `${r.operation} proxied=${r.proxied}`)).toEqual([
      'PutBlob proxied=true',
      'GetBlobProperties proxied=true',
      'GetBlob proxied=true',
    ]);
  });
});

describe('cache emulator: faults', () => {
  it('GetCacheEntryDownloadURL failing with a non-retryable status is a miss with a warning', async () => {
    const { emulator, write, read, save, restore } = await setup();
    write({ 'a.txt': 'alpha' });
    await save(MAIN, 'deps-1');
    emulator.faults.twirp = { GetCacheEntryDownloadURL: { status: 400, msg: 'lookup exploded' } };
    const restored = await restore(MAIN, 'deps-1');
    expect(restored.result).toBeUndefined();
    expect(restored.warnings).toEqual(['Failed to restore: Failed to GetCacheEntryDownloadURL: Received non-retryable error: Failed request: (400) Bad Request: lookup exploded']);
    expect(read('a.txt')).toBeNull();
  });

  it('a 500 from GetCacheEntryDownloadURL is retried (after 3 s) and the retry succeeds', { timeout: 20_000 }, async () => {
    const { emulator, write, read, save, restore, operations } = await setup();
    write({ 'a.txt': 'alpha' });
    await save(MAIN, 'deps-1');
    emulator.faults.twirp = { GetCacheEntryDownloadURL: { status: 500, times: 1 } };
    const restored = await restore(MAIN, 'deps-1');
    expect(restored.result).toBe('deps-1');
    expect(restored.stdout).toMatch(/Attempt 1 of 5 failed with error: Failed request: \(500\) Internal Server Error: injected GetCacheEntryDownloadURL failure\. Retrying request in 3000 ms/);
    expect(read('a.txt')).toBe('alpha');
    expect(operations().slice(3, 5)).toEqual(['GetCacheEntryDownloadURL 500', 'GetCacheEntryDownloadURL 200']);
    expect(emulator.faults.twirp).toEqual({});
  });

  it('a corrupt archive downloads but fails to extract: a miss with a warning', async () => {
    const { emulator, write, read, save, restore } = await setup();
    write({ 'a.txt': 'alpha' });
    await save(MAIN, 'deps-1');
    emulator.faults.corruptArchive = 1;
    const restored = await restore(MAIN, 'deps-1');
    expect(restored.result).toBeUndefined();
    expect(restored.warnings).toHaveLength(1);
    expect(restored.warnings[0]).toMatch(/^Failed to restore: "\/usr\/bin\/tar" failed with error: The process '\/usr\/bin\/tar' failed with exit code 2/);
    expect(read('a.txt')).toBeNull();
    expect(emulator.faults.corruptArchive).toBeUndefined();
    expect((await restore(MAIN, 'deps-1')).result).toBe('deps-1');
    expect(read('a.txt')).toBe('alpha');
  });

  it('a 403 on the blob download is a miss with a warning', async () => {
    const { emulator, write, read, save, restore, operations } = await setup();
    write({ 'a.txt': 'alpha' });
    await save(MAIN, 'deps-1');
    emulator.faults.blobDownload = { status: 403 };
    const restored = await restore(MAIN, 'deps-1');
    expect(restored.result).toBeUndefined();
    expect(restored.warnings).toHaveLength(1);
    // The Azure SDK's getProperties (HEAD: no error body) fails with an empty message, so the warning says nothing more.
    expect(restored.warnings).toEqual(['Failed to restore: ']);
    expect(operations().slice(3)).toEqual(['GetCacheEntryDownloadURL 200', 'GetBlobProperties 403']);
    expect(read('a.txt')).toBeNull();
  });

  it('a failed upload makes saveCache return -1 and leaves the entry reserved but unfinalized', async () => {
    const { emulator, write, save, restore } = await setup();
    write({ 'a.txt': 'alpha' });
    emulator.faults.blobUpload = { status: 403, times: 1 };
    const saved = await save(MAIN, 'deps-1');
    expect(saved.result).toBe(-1);
    expect(saved.warnings).toEqual([
      expect.stringMatching(/^uploadCacheArchiveSDK: internal error uploading cache archive: Server failed to authenticate the request\. \(injected fault\)\nRequestId:/),
      expect.stringMatching(/^Failed to save: Server failed to authenticate the request\. \(injected fault\)\nRequestId:/),
    ]);
    expect(emulator.state.entries).toMatchObject([{ key: 'deps-1', finalizedAt: null }]);
    expect((await restore(MAIN, 'deps-1')).result).toBeUndefined();
    write({ 'a.txt': 'alpha' });
    expect((await save(MAIN, 'deps-1')).result).toBe(-1); // the reservation still holds the key
  });
});

describe('cache emulator: local blob URLs (no proxy)', () => {
  it('@actions/cache downloads a non-Azure URL with one plain GET', async () => {
    const { emulator, write, read, save, restore, operations } = await setup({ blobUrlStyle: 'local' });
    write({ 'a.txt': 'alpha' });
    expect((await save(MAIN, 'deps-1')).result).toBe(1);
    expect((await restore(MAIN, 'deps-1')).result).toBe('deps-1');
    expect(read('a.txt')).toBe('alpha');
    expect(operations()).toEqual(['CreateCacheEntry 200', 'PutBlob 201', 'FinalizeCacheEntryUpload 200', 'GetCacheEntryDownloadURL 200', 'GetBlob 200']);
    expect(emulator.state.requests.at(-1)).toMatchObject({ proxied: false, userAgent: 'actions/cache', path: `/actions-cache/${emulator.state.entries[0].blob}` });
  });

  it('a 403 on that GET is written to the archive and fails extraction (the client does not check the status)', async () => {
    const { emulator, write, save, restore } = await setup({ blobUrlStyle: 'local' });
    write({ 'a.txt': 'alpha' });
    await save(MAIN, 'deps-1');
    emulator.faults.blobDownload = {};
    const restored = await restore(MAIN, 'deps-1');
    expect(restored.result).toBeUndefined();
    expect(restored.warnings[0]).toMatch(/^Failed to restore: "\/usr\/bin\/tar" failed with error/);
  });
});

describe('cache emulator: wire level', () => {
  it('answers Twirp errors in its envelope: no token, a forged token, an unknown method', async () => {
    const { emulator } = await setup();
    expect(await twirp(emulator, 'GetCacheEntryDownloadURL', { key: 'k', version: VERSION })).toEqual({
      status: 401,
      body: { code: 'unauthenticated', msg: 'missing bearer token', meta: {} },
    });
    const token = emulator.runtimeToken(MAIN);
    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await twirp(emulator, 'GetCacheEntryDownloadURL', { key: 'k', version: VERSION }, forged)).body).toMatchObject({ code: 'unauthenticated', msg: 'invalid token signature' });
    expect(await twirp(emulator, 'DeleteCacheEntry', {}, token)).toEqual({
      status: 404,
      body: { code: 'bad_route', msg: `no handler for path "/twirp/${TWIRP_SERVICE}/DeleteCacheEntry"`, meta: {} },
    });
    expect(await twirp(emulator, 'GetCacheEntryDownloadURL', { key: 'k', version: VERSION }, token)).toEqual({
      status: 200,
      body: { ok: false, signed_download_url: '', matched_key: '' },
    });
    expect((await twirp(emulator, 'CreateCacheEntry', { key: 'k' }, token)).body).toMatchObject({ code: 'invalid_argument', msg: 'version is required' });
    expect(await twirp(emulator, 'FinalizeCacheEntryUpload', { key: 'k', version: VERSION, size_bytes: '5' }, token)).toEqual({
      status: 404,
      body: { code: 'not_found', msg: 'cache entry not found', meta: {} },
    });
  });

  it('takes a block upload (Put Block + Put Block List) and serves ranged downloads to the Azure SDK', async () => {
    const { emulator, clock, env } = await setup();
    const token = emulator.runtimeToken(MAIN);
    const archive = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) % 251));

    const created = await twirp(emulator, 'CreateCacheEntry', { key: 'blocks', version: VERSION }, token);
    expect(created).toEqual({ status: 200, body: { ok: true, signed_upload_url: expect.any(String), message: '' } });
    const uploadUrl = new URL(created.body.signed_upload_url as string);
    expect(uploadUrl.host).toBe('actionscacheemulator.blob.core.windows.net');
    expect(Object.fromEntries(uploadUrl.searchParams)).toMatchObject({ sr: 'b', sp: 'cw', sig: expect.any(String) });

    const downloaded = await withEnv(env(MAIN), async () => {
      const uploader = new BlockBlobClient(uploadUrl.href);
      await uploader.uploadData(archive, { blockSize: 4096, maxSingleShotSize: 4096, concurrency: 2 });
      const finalized = await twirp(emulator, 'FinalizeCacheEntryUpload', { key: 'blocks', version: VERSION, size_bytes: String(archive.length) }, token);
      expect(finalized).toEqual({ status: 200, body: { ok: true, entry_id: '1', message: '' } });
      const found = await twirp(emulator, 'GetCacheEntryDownloadURL', { key: 'blo', version: VERSION }, token);
      expect(found.body).toMatchObject({ ok: true, matched_key: 'blocks' });
      const downloadUrl = found.body.signed_download_url as string;
      const reader = new BlockBlobClient(downloadUrl);
      const buffer = await reader.downloadToBuffer(0, undefined, { blockSize: 3000, concurrency: 2 });

      // The read-only URL cannot write; a tampered or expired one cannot read.
      const writeDenied = await new BlockBlobClient(downloadUrl).upload('x', 1).catch((e: unknown) => e);
      expect(writeDenied).toBeInstanceOf(RestError);
      expect(writeDenied).toMatchObject({ statusCode: 403, code: 'AuthorizationPermissionMismatch' });
      const tampered = new URL(downloadUrl);
      tampered.searchParams.set('sp', 'rcw');
      expect(await new BlockBlobClient(tampered.href).download().catch((e: unknown) => e)).toMatchObject({ statusCode: 403, code: 'AuthenticationFailed' });
      clock.now += 11 * 60 * 1000;
      expect(await reader.download(0, 10).catch((e: unknown) => e)).toMatchObject({ statusCode: 403, code: 'AuthenticationFailed' });
      return buffer;
    });
    expect(downloaded.result.equals(archive)).toBe(true);

    const blobOps = emulator.state.requests.filter((r) => r.kind === 'blob');
    expect(blobOps.slice(0, 4).map((r) => `${r.operation} ${r.status} ${r.bytes}`)).toEqual([
      'PutBlock 201 4096',
      'PutBlock 201 4096',
      'PutBlock 201 1808',
      'PutBlockList 201 10000',
    ]);
    expect(blobOps.filter((r) => r.operation === 'GetBlob' && r.status === 206).map((r) => r.range)).toEqual(['bytes=0-2999', 'bytes=3000-5999', 'bytes=6000-8999', 'bytes=9000-9999']);
    expect(emulator.state.entries[0]).toMatchObject({ sizeBytes: 10_000 });
  });

  it('refuses to finalize an entry whose archive was never uploaded or has another size', async () => {
    const { emulator } = await setup({ blobUrlStyle: 'local' });
    const token = emulator.runtimeToken(MAIN);
    await twirp(emulator, 'CreateCacheEntry', { key: 'k', version: VERSION }, token);
    expect((await twirp(emulator, 'FinalizeCacheEntryUpload', { key: 'k', version: VERSION, size_bytes: '3' }, token)).body).toEqual({
      ok: false,
      entry_id: '0',
      message: 'no archive was uploaded for cache entry 1',
    });
    const upload = (await twirp(emulator, 'CreateCacheEntry', { key: 'k2', version: VERSION }, token)).body.signed_upload_url as string;
    const put = await fetch(upload, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'abc' });
    expect(put.status).toBe(201);
    expect((await twirp(emulator, 'FinalizeCacheEntryUpload', { key: 'k2', version: VERSION, size_bytes: '4' }, token)).body).toMatchObject({ ok: false });
    expect((await twirp(emulator, 'FinalizeCacheEntryUpload', { key: 'k2', version: VERSION, size_bytes: '3' }, token)).body).toEqual({ ok: true, entry_id: '2', message: '' });
    const get = await fetch((await twirp(emulator, 'GetCacheEntryDownloadURL', { key: 'k2', version: VERSION }, token)).body.signed_download_url as string);
    expect([get.status, await get.text()]).toEqual([200, 'abc']);
  });
});
