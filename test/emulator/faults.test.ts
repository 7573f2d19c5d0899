/**
 * Fault injection in the OpenAI and Anthropic emulators, shown through the official SDKs: each documented fault
 * behaves as README.md says, and the SDKs react to it as a client of the real APIs would.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Anthropic, {
  APIConnectionError as AnthropicConnectionError,
  InternalServerError as AnthropicInternalServerError,
  OverloadedError,
  RateLimitError as AnthropicRateLimitError,
  ServiceUnavailableError,
} from '@anthropic-ai/sdk';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, InternalServerError, RateLimitError, toFile } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startAnthropicEmulator, type AnthropicEmulator, type AnthropicEmulatorOptions } from './anthropic-emulator.ts';
import { compileEndpoint, parseFaults, type Fault } from './faults.ts';
import { startOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions } from './openai-emulator.ts';

// ---- helpers -------------------------------------------------------------------------------------------------------

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const HOUR = 3600 * 1000;
const CLAUDE = 'claude-haiku-4-5';
let running: (OpenAIEmulator | AnthropicEmulator)[] = [];

afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});

/** An OpenAI emulator on a fake clock (`clock.now += ms`) and an SDK client; `maxRetries` 0 unless given. */
async function openai(options: OpenAIEmulatorOptions = {}, client: { maxRetries?: number; timeout?: number } = {}) {
  const clock = { now: T0 };
  const emulator = await startOpenAIEmulator({ clock: () => clock.now, ...options });
  running.push(emulator);
  return { emulator, clock, client: sdk(emulator, client) };
}

function sdk(emulator: OpenAIEmulator, options: { maxRetries?: number; timeout?: number } = {}) {
  return new OpenAI({ apiKey: 'test', baseURL: emulator.url, maxRetries: options.maxRetries ?? 0, timeout: options.timeout });
}

async function anthropic(options: AnthropicEmulatorOptions = {}, client: { maxRetries?: number } = {}) {
  const clock = { now: T0 };
  const emulator = await startAnthropicEmulator({ clock: () => clock.now, ...options });
  running.push(emulator);
  return { emulator, clock, client: claude(emulator, client) };
}

function claude(emulator: AnthropicEmulator, options: { maxRetries?: number } = {}) {
  return new Anthropic({ apiKey: 'test', baseURL: emulator.url, maxRetries: options.maxRetries ?? 0 });
}

function chatLine(customId: string, question = `Question ${customId}?`) {
  return { custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: question }] } };
}

async function createBatch(client: OpenAI, ids: string[]) {
  const content = ids.map((id) => JSON.stringify(chatLine(id))).join('\n') + '\n';
  const file = await client.files.create({ file: await toFile(Buffer.from(content), 'requests.jsonl'), purpose: 'batch' });
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
}

/** The text of a file as downloaded through the SDK. */
async function download(client: OpenAI, fileId: string): Promise<string> {
  return (await client.files.content(fileId)).text();
}

const parseLines = (text: string) => text.trimEnd().split('\n').map((line) => JSON.parse(line));

function claudeRequest(customId: string, question = `Question ${customId}?`): Anthropic.Messages.BatchCreateParams.Request {
  return { custom_id: customId, params: { model: CLAUDE, max_tokens: 100, messages: [{ role: 'user', content: question }] } };
}

function createMessageBatch(client: Anthropic, ids: string[]) {
  return client.messages.batches.create({ requests: ids.map((id) => claudeRequest(id)) });
}

/** The results through the SDK's JSONL stream: the lines decoded before any failure, and the failure. */
async function claudeResults(client: Anthropic, id: string): Promise<{ lines: Anthropic.Messages.MessageBatchIndividualResponse[]; error?: unknown }> {
  const lines: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
  try {
    for await (const line of await client.messages.batches.results(id)) lines.push(line);
  } catch (error) {
    return { lines, error };
  }
  return { lines };
}

const textOf = (line: Anthropic.Messages.MessageBatchIndividualResponse) =>
  line.result.type === 'succeeded' ? (line.result.message.content[0] as { text: string }).text : line.result.type;

async function rejection<T>(promise: Promise<unknown>, type: abstract new (...args: never[]) => T): Promise<T> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as T;
}

/** Milliseconds the promise took, and its value. */
async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await promise;
  return { value, ms: performance.now() - start };
}

const statusesOf = (emulator: OpenAIEmulator | AnthropicEmulator, method: string, path: string | RegExp) =>
  emulator.state.requests.filter((r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path))).map((r) => (r.fault ? `${r.status} ${r.fault}` : r.status));

// ---- HTTP faults: OpenAI --------------------------------------------------------------------------------------------

describe('HTTP faults: OpenAI', () => {
  it('answers 429 with retry-after and the rate-limit body; the SDK waits retry-after seconds, then succeeds', async () => {
    const { emulator, client } = await openai({ instant: true, faults: [{ kind: 'http', endpoint: 'POST /v1/batches', status: 429, retryAfter: 1, times: 2 }] });

    // Without retries the caller sees the 429 as OpenAI sends it.
    const error = await rejection(createBatch(client, ['a']), RateLimitError);
    expect(error.status).toBe(429);
    expect(error.headers?.get('retry-after')).toBe('1');
    expect(error.headers?.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(error.error).toEqual({
      message: 'Rate limit reached for requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.',
      type: 'requests',
      param: null,
      code: 'rate_limit_exceeded',
    });
    expect([error.code, error.type]).toEqual(['rate_limit_exceeded', 'requests']);

    // With retries, the SDK sleeps the 1 s it was told (its own first backoff would be at most 0.5 s) and gets through.
    const retrying = sdk(emulator, { maxRetries: 2 });
    const file = await retrying.files.create({ file: await toFile(Buffer.from(JSON.stringify(chatLine('b')) + '\n'), 'r.jsonl'), purpose: 'batch' });
    const { value: batch, ms } = await timed(retrying.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
    expect(batch.status).toBe('validating');
    expect(ms).toBeGreaterThanOrEqual(990);
    expect(ms).toBeLessThan(3000);

    expect(statusesOf(emulator, 'POST', '/v1/batches')).toEqual(['429 429', '429 429', 200]);
    // Rejected creates created nothing: one batch, the one that got through.
    expect([...emulator.state.batches.keys()]).toEqual([batch.id]);
    // seen counts every matching request, including the one after it was used up.
    const [handle] = emulator.state.faults;
    expect([handle.seen, handle.fired, handle.active]).toEqual([3, 2, false]);
  });

  it('answers 500 and 503 with OpenAI bodies; the SDK retries and gives up after maxRetries', async () => {
    const { emulator } = await openai({ instant: true });
    const client = sdk(emulator, { maxRetries: 2 });
    const batch = await createBatch(client, ['a']);
    emulator.state.addFault({ kind: 'http', endpoint: 'GET /v1/batches/:id', status: 503, retryAfter: 0, times: 3 });

    const error = await rejection(client.batches.retrieve(batch.id), InternalServerError);
    expect(error.status).toBe(503);
    expect(error.error).toEqual({ message: 'The server is overloaded or not ready yet.', type: 'server_error', param: null, code: null });
    expect(error.headers?.get('retry-after')).toBe('0');
    // 1 try + maxRetries 2 = three 503s; the fault is used up, so the next read works.
    expect(statusesOf(emulator, 'GET', `/v1/batches/${batch.id}`)).toEqual(['503 503', '503 503', '503 503']);
    expect((await client.batches.retrieve(batch.id)).status).toBe('completed');

    // A 500 on the second list only: the SDK's one retry hides it from the caller.
    emulator.state.addFault({ kind: 'http', endpoint: 'GET /v1/batches', status: 500, retryAfter: 0, skip: 1, times: 1 });
    const once = sdk(emulator, { maxRetries: 1 });
    expect((await once.batches.list()).data.map((b) => b.id)).toEqual([batch.id]);
    expect((await once.batches.list()).data.map((b) => b.id)).toEqual([batch.id]);
    expect(statusesOf(emulator, 'GET', '/v1/batches')).toEqual([200, '500 500', 200]);
    expect((await fetch(`${emulator.url}/batches`, { headers: { authorization: 'Bearer test' } })).status).toBe(200); // used up
  });

  it('answers the 500 body OpenAI sends, and x-should-retry: false stops the SDK from retrying', async () => {
    const { emulator } = await openai({ faults: [{ kind: 'http', endpoint: '/v1/files', status: 500, shouldRetry: false, times: 1 }] });
    const client = sdk(emulator, { maxRetries: 3 });
    const error = await rejection(client.files.list(), InternalServerError);
    expect(error.error).toEqual({ message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null });
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.headers?.get('retry-after')).toBeNull();
    expect(statusesOf(emulator, 'GET', '/v1/files')).toEqual(['500 500']);
  });

  it('drops the connection without an answer: a connection error, retried by the SDK', async () => {
    const { emulator, client } = await openai({ instant: true });
    const batch = await createBatch(client, ['a']);
    emulator.state.addFault({ kind: 'http', endpoint: 'GET /v1/batches/:id', drop: true, times: 1 });
    await rejection(client.batches.retrieve(batch.id), APIConnectionError);
    expect(statusesOf(emulator, 'GET', `/v1/batches/${batch.id}`)).toEqual(['0 drop']);

    emulator.state.addFault({ kind: 'http', endpoint: 'GET /v1/batches/:id', drop: true, times: 1 });
    const retrying = sdk(emulator, { maxRetries: 1 });
    expect((await retrying.batches.retrieve(batch.id)).status).toBe('completed');
    expect(statusesOf(emulator, 'GET', `/v1/batches/${batch.id}`)).toEqual(['0 drop', '0 drop', 200]);
  });

  it('a dropped create is not handled; with handleFirst it takes effect and the retry creates a second batch', async () => {
    const { emulator } = await openai({ instant: true });
    const client = sdk(emulator, { maxRetries: 1 });
    const file = await client.files.create({ file: await toFile(Buffer.from(JSON.stringify(chatLine('a')) + '\n'), 'r.jsonl'), purpose: 'batch' });
    const params = { input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' } as const;

    emulator.state.addFault({ kind: 'http', endpoint: 'POST /v1/batches', drop: true, times: 1 });
    const first = await client.batches.create(params);
    expect([...emulator.state.batches.keys()]).toEqual([first.id]);

    // The answer is lost after the batch was created: the SDK's retry submits the same requests again.
    emulator.state.addFault({ kind: 'http', endpoint: 'POST /v1/batches', drop: true, handleFirst: true, times: 1 });
    const second = await client.batches.create(params);
    expect(emulator.state.batches.size).toBe(3);
    expect(statusesOf(emulator, 'POST', '/v1/batches')).toEqual(['0 drop', 200, '0 drop', 200]);
    for (const id of emulator.state.batches.keys()) await client.batches.retrieve(id);
    expect(emulator.state.billed.get('a')).toBe(3);
    expect(emulator.state.doubleBilled()).toEqual(['a']);
    expect(second.id).not.toBe(first.id);

    // handleFirst with a status: the upload is stored, yet the client is told it failed.
    emulator.state.addFault({ kind: 'http', endpoint: 'POST /v1/files', status: 500, handleFirst: true, times: 1 });
    const files = emulator.state.files.size;
    await rejection(sdk(emulator).files.create({ file: await toFile(Buffer.from(JSON.stringify(chatLine('z')) + '\n'), 'z.jsonl'), purpose: 'batch' }), InternalServerError);
    expect(emulator.state.files.size).toBe(files + 1);
    expect(statusesOf(emulator, 'POST', '/v1/files').at(-1)).toBe('500 500');
  });

  it('delays an answer: the SDK times out and retries; a delay shorter than the timeout only slows the answer', async () => {
    const { emulator } = await openai({ instant: true });
    const client = sdk(emulator, { maxRetries: 1, timeout: 200 });
    const batch = await createBatch(client, ['a']);

    emulator.state.addFault({ kind: 'http', endpoint: 'GET /v1/batches/:id', delayMs: 1500, times: 1 });
    const { value, ms } = await timed(client.batches.retrieve(batch.id));
    expect(value.status).toBe('completed');
    expect(ms).toBeGreaterThanOrEqual(200);
    expect(ms).toBeLessThan(1500);
    // The first request got no answer (the client left) and was never handled; the retry was answered.
    expect(statusesOf(emulator, 'GET', `/v1/batches/${batch.id}`)).toEqual(['0 delay', 200]);

    emulator.state.addFault({ kind: 'http', endpoint: 'GET /v1/batches/:id', delayMs: 300, times: 1 });
    const { value: late, ms: delayed } = await timed(sdk(emulator, { maxRetries: 0 }).batches.retrieve(batch.id));
    expect(late.id).toBe(batch.id);
    expect(delayed).toBeGreaterThanOrEqual(295);
    expect(statusesOf(emulator, 'GET', `/v1/batches/${batch.id}`).slice(-1)).toEqual(['200 delay']);
  });

  it('times out a create that takes effect (delay with handleFirst): the retry makes a duplicate batch', async () => {
    const { emulator } = await openai({ instant: true });
    const client = sdk(emulator, { maxRetries: 1, timeout: 200 });
    emulator.state.addFault({ kind: 'http', endpoint: 'POST /v1/batches', delayMs: 600, handleFirst: true, times: 1 });
    await expect(createBatch(client, ['a'])).resolves.toMatchObject({ status: 'validating' });
    expect(emulator.state.batches.size).toBe(2);

    // Without handleFirst, a client that gave up during the delay leaves nothing behind.
    emulator.state.addFault({ kind: 'http', endpoint: 'POST /v1/batches', delayMs: 600, times: 1 });
    await createBatch(client, ['b']);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(emulator.state.batches.size).toBe(3);
    const noRetry = sdk(emulator, { maxRetries: 0, timeout: 200 });
    emulator.state.addFault({ kind: 'http', endpoint: 'POST /v1/batches', delayMs: 600, times: 1 });
    await rejection(createBatch(noRetry, ['c']), APIConnectionTimeoutError);
  });

  it('schedules by skip, times, after and until, first matching fault first; faults can be removed and cleared', async () => {
    const { emulator, clock } = await openai();
    const get = async (path: string, method = 'GET') => (await fetch(emulator.url + path, { method, headers: { authorization: 'Bearer test' } })).status;

    const window = emulator.state.addFault({ kind: 'http', endpoint: 'GET /v1/files', status: 503, after: T0 + 10_000, until: new Date(T0 + 20_000) });
    const skip = emulator.state.addFault({ kind: 'http', endpoint: '/v1/files', status: 500, skip: 1, times: 2 });
    const statuses = [];
    for (const advance of [0, 0, 10_000, 9_999, 1, 0, 0]) {
      clock.now += advance;
      statuses.push(await get('/files'));
    }
    // T0: skipped, then 500 (the 503 window has not opened); T0+10s..T0+19.999s: 503; T0+20s: the 500's second time, then nothing.
    expect(statuses).toEqual([200, 500, 503, 503, 500, 200, 200]);
    expect([window.seen, window.fired, window.active]).toEqual([2, 2, true]);
    // The requests the 503 window took never reached the second fault.
    expect([skip.seen, skip.fired, skip.active]).toEqual([5, 2, false]);

    const drop = emulator.state.addFault({ kind: 'http', endpoint: /^DELETE \/v1\/files\//, status: 404, message: 'gone', code: 'nope' });
    const deleted = await fetch(`${emulator.url}/files/file-x`, { method: 'DELETE', headers: { authorization: 'Bearer test' } });
    expect([deleted.status, await deleted.json()]).toEqual([404, { error: { message: 'gone', type: 'invalid_request_error', param: null, code: 'nope' } }]);
    drop.remove();
    expect(emulator.state.faults).toEqual([window, skip]);
    expect(await get('/files/file-x', 'DELETE')).toBe(404); // the real not-found now
    expect(emulator.state.requests.at(-1)).toEqual({ method: 'DELETE', path: '/v1/files/file-x', status: 404 });
    emulator.state.clearFaults();
    expect(emulator.state.faults).toEqual([]);
    expect(window.active).toBe(false);
  });

  it('matches endpoints by METHOD /path with :param and * wildcards, or by RegExp', () => {
    const batch = compileEndpoint('GET /v1/batches/:id');
    expect([batch('GET', '/v1/batches/batch_1'), batch('get', '/v1/batches/b'), batch('POST', '/v1/batches/b'), batch('GET', '/v1/batches/b/cancel'), batch('GET', '/v1/batches')]).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
    const anyMethod = compileEndpoint('/v1/files/:id/content');
    expect([anyMethod('GET', '/v1/files/f/content'), anyMethod('DELETE', '/v1/files/f/content'), anyMethod('GET', '/v1/files/f')]).toEqual([true, true, false]);
    const star = compileEndpoint('* /v1/messages/batches/*');
    expect([star('GET', '/v1/messages/batches/x/results'), star('POST', '/v1/messages/batches/x/cancel'), star('GET', '/v1/messages/batches')]).toEqual([true, true, false]);
    expect(compileEndpoint('*')('PUT', '/anything')).toBe(true);
    const literal = compileEndpoint('GET /v1/a.b');
    expect([literal('GET', '/v1/a.b'), literal('GET', '/v1/aXb')]).toEqual([true, false]);
    expect(compileEndpoint(/^POST \/v1\/(files|batches)$/)('POST', '/v1/batches')).toBe(true);
  });

  it('refuses malformed faults with a message naming the problem', async () => {
    const { emulator } = await openai();
    const bad = (fault: unknown) => () => emulator.state.addFault(fault as Fault);
    expect(bad({ kind: 'http', endpoint: '/v1/batches' })).toThrow('fault http: give "status", "drop" or "delayMs"');
    expect(bad({ kind: 'http', endpoint: '/v1/batches', status: 500, drop: true })).toThrow('give "status" or "drop", not both');
    expect(bad({ kind: 'http', endpoint: '/v1/batches', status: 200 })).toThrow('"status" must be an HTTP status from 400 to 599');
    expect(bad({ kind: 'http', endpoint: 'v1/batches', status: 500 })).toThrow('endpoint path must start with "/"');
    expect(bad({ kind: 'http', endpoint: '/v1/batches', status: 500, retries: 2 })).toThrow('fault http: unknown key "retries"');
    expect(bad({ kind: 'truncate', times: -1 })).toThrow('"times" must be a non-negative integer');
    expect(bad({ kind: 'fail', lines: [0] })).toThrow('"lines" must be a non-empty list of 1-based line numbers');
    expect(bad({ kind: 'request', error: { status: 200 } })).toThrow('"error.status" must be an HTTP status from 400 to 599');
    expect(bad({ kind: 'explode' })).toThrow('fault: unknown kind "explode"');
    await expect(startOpenAIEmulator({ faults: [{ kind: 'stuck', skip: 1.5 }] })).rejects.toThrow('fault stuck: "skip" must be a non-negative integer');
    expect(emulator.state.faults).toEqual([]);

    const { emulator: claudeEmulator } = await anthropic();
    expect(() => claudeEmulator.state.addFault({ kind: 'fail', lines: [1] })).toThrow('Anthropic batches never fail as a whole');
    expect(() => claudeEmulator.state.addFault({ kind: 'truncate', file: 'output' })).toThrow('"file" is for OpenAI');
  });
});

// ---- HTTP faults: Anthropic ------------------------------------------------------------------------------------------

describe('HTTP faults: Anthropic', () => {
  it('answers 429 rate_limit_error with retry-after; the SDK waits retry-after seconds, then succeeds', async () => {
    const { emulator, client } = await anthropic({ faults: [{ kind: 'http', endpoint: 'POST /v1/messages/batches', status: 429, times: 2 }] });

    const error = await rejection(createMessageBatch(client, ['a']), AnthropicRateLimitError);
    expect(error.status).toBe(429);
    expect(error.headers?.get('retry-after')).toBe('1'); // the default for 429
    expect(error.error).toEqual({
      type: 'error',
      error: {
        type: 'rate_limit_error',
        message: 'Number of requests has exceeded your per-minute rate limit (https://docs.claude.com/en/api/rate-limits); see the response headers for current usage. Please try again later.',
      },
      request_id: error.requestID,
    });
    expect(error.requestID).toMatch(/^req_011[A-Za-z0-9]{21}$/);

    const { value: batch, ms } = await timed(createMessageBatch(claude(emulator, { maxRetries: 2 }), ['b']));
    expect(batch.processing_status).toBe('in_progress');
    expect(ms).toBeGreaterThanOrEqual(990);
    expect(statusesOf(emulator, 'POST', '/v1/messages/batches')).toEqual(['429 429', '429 429', 200]);
    expect([...emulator.state.batches.keys()]).toEqual([batch.id]);
  });

  it('answers 529 overloaded_error, 500 api_error and 503; the SDK retries them all', async () => {
    const { emulator } = await anthropic({ instant: true });
    const client = claude(emulator, { maxRetries: 0 });
    const batch = await createMessageBatch(client, ['a']);
    const read = `GET /v1/messages/batches/${batch.id}`;

    emulator.state.addFault({ kind: 'http', endpoint: read, status: 529, times: 1 });
    const overloaded = await rejection(client.messages.batches.retrieve(batch.id), OverloadedError);
    expect(overloaded.error).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: overloaded.requestID });
    expect(overloaded.headers?.get('retry-after')).toBeNull();

    emulator.state.addFault({ kind: 'http', endpoint: read, status: 500, times: 1 });
    const internal = await rejection(client.messages.batches.retrieve(batch.id), AnthropicInternalServerError);
    expect([internal.status, internal.type, internal.apiMessage]).toEqual([500, 'api_error', 'Internal server error']);

    emulator.state.addFault({ kind: 'http', endpoint: read, status: 503, times: 1 });
    const unavailable = await rejection(client.messages.batches.retrieve(batch.id), ServiceUnavailableError);
    expect([unavailable.status, unavailable.type, unavailable.apiMessage]).toEqual([503, 'api_error', 'Service unavailable']);
    emulator.state.addFault({ kind: 'http', endpoint: read, status: 503, type: 'overloaded_error', message: 'Service busy', times: 1 });
    const custom = await rejection(client.messages.batches.retrieve(batch.id), ServiceUnavailableError);
    expect([custom.type, custom.apiMessage]).toEqual(['overloaded_error', 'Service busy']);

    // retry-after 0.05 s: honoured by the SDK (it would otherwise back off 0.375..0.5 s, then 0.75..1 s).
    for (const status of [529, 500, 503]) emulator.state.addFault({ kind: 'http', endpoint: read, status, retryAfter: 0.05, times: 1 });
    const { value, ms } = await timed(claude(emulator, { maxRetries: 3 }).messages.batches.retrieve(batch.id));
    expect(value.processing_status).toBe('ended');
    expect(ms).toBeLessThan(1000); // the SDK's own backoff for three retries would take over 2.5 s
    expect(statusesOf(emulator, 'GET', `/v1/messages/batches/${batch.id}`)).toEqual(['529 529', '500 500', '503 503', '503 503', '529 529', '500 500', '503 503', 200]);
  });

  it('drops the results download: a connection error, and the SDK retries it', async () => {
    const { emulator, client } = await anthropic({ instant: true });
    const batch = await createMessageBatch(client, ['a', 'b']);
    await client.messages.batches.retrieve(batch.id);
    emulator.state.addFault({ kind: 'http', endpoint: 'GET /v1/messages/batches/:id/results', drop: true, times: 1 });
    const { lines, error } = await claudeResults(client, batch.id);
    expect(error).toBeInstanceOf(AnthropicConnectionError);
    expect(lines).toEqual([]);

    emulator.state.addFault({ kind: 'http', endpoint: 'GET /v1/messages/batches/:id/results', drop: true, times: 1 });
    const retried = await claudeResults(claude(emulator, { maxRetries: 1 }), batch.id);
    expect(retried.error).toBeUndefined();
    expect(retried.lines.map((l) => l.custom_id)).toEqual(['a', 'b']);
    expect(statusesOf(emulator, 'GET', /\/results$/)).toEqual(['0 drop', '0 drop', 200]);
  });
});

// ---- results stream faults -------------------------------------------------------------------------------------------

describe('Results stream faults: OpenAI output and error files', () => {
  /** A completed batch of 4: case-0..2 answered, case-3 an error (scripted 500). */
  async function finished(faults: Fault[] = []) {
    const setup = await openai({ instant: true, faults, script: [{ customId: 'case-3', error: { status: 500, message: 'boom', type: 'server_error' } }] });
    const batch = await createBatch(setup.client, ['case-0', 'case-1', 'case-2', 'case-3']);
    const done = await setup.client.batches.retrieve(batch.id);
    expect(done.request_counts).toEqual({ total: 4, completed: 3, failed: 1 });
    return { ...setup, batch: done, output: done.output_file_id!, errors: done.error_file_id! };
  }

  it('truncates mid-line by closing the connection: the download fails, and a second download is whole', async () => {
    const { emulator, client, output, errors } = await finished([{ kind: 'truncate', file: 'output', bytes: 100, times: 1 }]);
    const whole = emulator.state.files.get(output)!.content;
    expect(whole.length).toBeGreaterThan(300);

    const error = await rejection(download(client, output), Error);
    expect(String(error) + String((error as { cause?: unknown }).cause)).toMatch(/terminated|other side closed/i);
    expect((await download(client, output)).length).toBe(whole.length);
    expect(parseLines(await download(client, output)).map((l) => l.custom_id)).toEqual(['case-0', 'case-1', 'case-2']);
    expect(parseLines(await download(client, errors)).map((l) => l.custom_id)).toEqual(['case-3']); // file: 'output' only
    expect(statusesOf(emulator, 'GET', `/v1/files/${output}/content`)).toEqual(['200 truncate', 200, 200]);
  });

  it('with cleanEnd the short body ends normally, mid-line, without any error', async () => {
    const { client, output } = await finished([{ kind: 'truncate', file: 'output', bytes: 100, cleanEnd: true, times: 1 }]);
    const text = await download(client, output);
    expect(text.length).toBe(100);
    expect(text.endsWith('\n')).toBe(false);
    expect(text.split('\n')).toHaveLength(1);
    expect(() => JSON.parse(text)).toThrow(SyntaxError);

    // By default the cut is half the body, moved off any line boundary.
    const { emulator: other, client: second, output: file } = await finished([{ kind: 'truncate', cleanEnd: true }]);
    const half = await download(second, file);
    const whole = other.state.files.get(file)!.content.toString();
    expect(half.length).toBeGreaterThanOrEqual(Math.floor(whole.length / 2));
    expect(whole.startsWith(half)).toBe(true);
    const cut = half.split('\n');
    expect(cut.slice(0, -1).map((l) => JSON.parse(l).custom_id)).toEqual(['case-0']);
    expect(() => JSON.parse(cut.at(-1)!)).toThrow(SyntaxError);
  });

  it('inserts a malformed line into the error file', async () => {
    const { client, output, errors } = await finished([{ kind: 'malformed', file: 'error', line: 0 }]);
    const lines = (await download(client, errors)).split('\n');
    expect(lines).toEqual(['{"id": "batch_req_garbage", "custom_id": <<not JSON>>', expect.stringContaining('"custom_id":"case-3"'), '']);
    expect(() => JSON.parse(lines[0])).toThrow(SyntaxError);
    expect(JSON.parse(lines[1]).response.body.error.message).toBe('boom');
    expect(parseLines(await download(client, output))).toHaveLength(3); // the output file is untouched
  });

  it('inserts a malformed line with the given text at the given position', async () => {
    const { client, output } = await finished([{ kind: 'malformed', line: 2, text: 'Internal Server Error' }]);
    const lines = (await download(client, output)).trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toBe('Internal Server Error');
    expect([lines[0], lines[1], lines[3]].map((l) => JSON.parse(l).custom_id)).toEqual(['case-0', 'case-1', 'case-2']);
  });

  it('duplicates a custom_id with different content in the output file, and in the error file', async () => {
    const { client, output, errors } = await finished([{ kind: 'duplicate', file: 'output', customId: 'case-1' }, { kind: 'duplicate', file: 'error' }]);
    const lines = parseLines(await download(client, output));
    expect(lines.map((l) => l.custom_id)).toEqual(['case-0', 'case-1', 'case-2', 'case-1']);
    const [first, second] = [lines[1], lines[3]];
    expect(first.response.body.choices[0].message.content).toBe('[emulated gpt-4.1-mini] You asked: "Question case-1?"');
    expect(second.response.body.choices[0].message.content).toBe('[duplicate] [emulated gpt-4.1-mini] You asked: "Question case-1?"');
    expect(second.id).not.toBe(first.id);
    expect(second.response.request_id).not.toBe(first.response.request_id);
    expect(second.response.body.id).not.toBe(first.response.body.id);

    const errorLines = parseLines(await download(client, errors));
    expect(errorLines.map((l) => [l.custom_id, l.response.status_code, l.response.body.error.message])).toEqual([
      ['case-3', 500, 'boom'],
      ['case-3', 500, '[duplicate] boom'],
    ]);
  });

  it('corrupts only the batch named by batchId', async () => {
    const { emulator, client, batch, output } = await finished();
    const other = await createBatch(client, ['x-0', 'x-1']);
    const otherOutput = (await client.batches.retrieve(other.id)).output_file_id!;
    const handle = emulator.state.addFault({ kind: 'duplicate', batchId: other.id });
    expect(parseLines(await download(client, output))).toHaveLength(3);
    expect(parseLines(await download(client, otherOutput)).map((l) => l.custom_id)).toEqual(['x-0', 'x-1', 'x-0']);
    expect([handle.fired, handle.batches]).toEqual([1, [other.id]]);
    expect(batch.id).not.toBe(other.id);
    // Input files are never corrupted.
    emulator.state.addFault({ kind: 'truncate' });
    const input = await download(client, batch.input_file_id);
    expect(input.trimEnd().split('\n')).toHaveLength(4);
  });
});

describe('Results stream faults: Anthropic results', () => {
  async function ended(faults: Fault[]) {
    const setup = await anthropic({ instant: true, faults });
    const batch = await createMessageBatch(setup.client, ['case-0', 'case-1', 'case-2', 'case-3']);
    expect((await setup.client.messages.batches.retrieve(batch.id)).request_counts.succeeded).toBe(4);
    return { ...setup, batch };
  }

  it('truncates mid-line by closing the connection: the SDK stream fails after the complete lines', async () => {
    const { emulator, client, batch } = await ended([{ kind: 'truncate', bytes: 700, times: 1 }]);
    const { lines, error } = await claudeResults(client, batch.id);
    expect(error).toBeInstanceOf(Error);
    expect(String(error) + String((error as { cause?: unknown }).cause)).toMatch(/terminated|other side closed/i);
    expect(lines.length).toBeLessThan(4);
    const again = await claudeResults(client, batch.id);
    expect([again.error, again.lines.map((l) => l.custom_id)]).toEqual([undefined, ['case-0', 'case-1', 'case-2', 'case-3']]);
    expect(statusesOf(emulator, 'GET', /\/results$/)).toEqual(['200 truncate', 200]);
  });

  it('with cleanEnd the SDK reads the complete lines, then fails to parse the cut one', async () => {
    const { client, batch } = await ended([{ kind: 'truncate', cleanEnd: true }]);
    const { lines, error } = await claudeResults(client, batch.id);
    expect(error).toBeInstanceOf(SyntaxError);
    expect(lines.map((l) => l.custom_id)).toEqual(['case-0', 'case-1']);
  });

  it('inserts a malformed line: the SDK stream throws a SyntaxError there', async () => {
    const { client, batch } = await ended([{ kind: 'malformed', line: 1 }]);
    const { lines, error } = await claudeResults(client, batch.id);
    expect(error).toBeInstanceOf(SyntaxError);
    expect(lines.map((l) => l.custom_id)).toEqual(['case-0']);
  });

  it('duplicates a custom_id with different content', async () => {
    const { emulator, client, batch } = await ended([{ kind: 'duplicate', customId: 'case-2' }]);
    const { lines, error } = await claudeResults(client, batch.id);
    expect(error).toBeUndefined();
    expect(lines.map((l) => l.custom_id)).toEqual(['case-0', 'case-1', 'case-2', 'case-3', 'case-2']);
    expect(textOf(lines[2])).toBe('[emulated claude-haiku-4-5] You asked: "Question case-2?"');
    expect(textOf(lines[4])).toBe('[duplicate] [emulated claude-haiku-4-5] You asked: "Question case-2?"');
    const ids = [lines[2], lines[4]].map((l) => (l.result.type === 'succeeded' ? l.result.message.id : ''));
    expect(ids[0]).not.toBe(ids[1]);
    expect(statusesOf(emulator, 'GET', /\/results$/)).toEqual(['200 duplicate']);
    // Billing is what was answered, not what was served.
    expect(emulator.state.billed.get('case-2')).toBe(1);
  });
});

// ---- lifecycle faults -----------------------------------------------------------------------------------------------

describe('Lifecycle faults: OpenAI', () => {
  it('holds a batch in finalizing until released', async () => {
    const { emulator, client, clock } = await openai({ instant: true, faults: [{ kind: 'stuck', times: 1 }] });
    const stuck = await createBatch(client, ['a', 'b']);
    const normal = await createBatch(client, ['c']);
    clock.now += 6 * HOUR;
    const held = await client.batches.retrieve(stuck.id);
    expect([held.status, held.request_counts, held.output_file_id, held.finalizing_at]).toEqual(['finalizing', { total: 2, completed: 2, failed: 0 }, null, T0 / 1000]);
    expect((await client.batches.retrieve(normal.id)).status).toBe('completed');
    clock.now += 48 * HOUR; // no expiry while finalizing
    expect((await client.batches.retrieve(stuck.id)).status).toBe('finalizing');

    expect(emulator.state.releaseBatch()).toEqual([stuck.id]);
    expect(emulator.state.releaseBatch()).toEqual([]);
    const done = await client.batches.retrieve(stuck.id);
    expect([done.status, done.completed_at]).toEqual(['completed', (T0 + 54 * HOUR) / 1000]);
    expect(parseLines(await download(client, done.output_file_id!)).map((l) => l.custom_id)).toEqual(['a', 'b']);

    // A held batch can still be cancelled; everything was answered, so it all lands in the output file.
    emulator.state.addFault({ kind: 'stuck', times: 1 });
    const again = await createBatch(client, ['d']);
    expect((await client.batches.retrieve(again.id)).status).toBe('finalizing');
    expect((await client.batches.cancel(again.id)).status).toBe('cancelling');
    const cancelled = await client.batches.retrieve(again.id);
    expect([cancelled.status, cancelled.request_counts, cancelled.error_file_id]).toEqual(['cancelled', { total: 1, completed: 1, failed: 0 }, null]);
  });

  it('holds a batch named at runtime, released by id', async () => {
    const { emulator, client } = await openai({ validatingMs: 0, inProgressMs: 0, finalizingMs: 1000 });
    const batch = await createBatch(client, ['a']);
    const handle = emulator.state.addFault({ kind: 'stuck', batchId: batch.id });
    expect((await client.batches.retrieve(batch.id)).status).toBe('finalizing');
    expect(handle.batches).toEqual([batch.id]);
    expect(emulator.state.releaseBatch(batch.id)).toEqual([batch.id]);
    // Released, it still waits out its finalizingMs.
    expect((await client.batches.retrieve(batch.id)).status).toBe('finalizing');
  });

  it('fails validation on the given lines: failed, with errors.data, nothing answered', async () => {
    const { emulator, client } = await openai({ instant: true, faults: [{ kind: 'fail', lines: [2, 4], times: 1 }] });
    const batch = await createBatch(client, ['a', 'b', 'c', 'd']);
    const failed = await client.batches.retrieve(batch.id);
    expect(failed.status).toBe('failed');
    expect(failed.failed_at).toBe(T0 / 1000);
    expect(failed.errors).toEqual({
      object: 'list',
      data: [
        { code: 'invalid_request', line: 2, message: 'Line 2 failed validation (emulated fault).', param: null },
        { code: 'invalid_request', line: 4, message: 'Line 4 failed validation (emulated fault).', param: null },
      ],
    });
    expect([failed.request_counts, failed.output_file_id, failed.error_file_id]).toEqual([{ total: 0, completed: 0, failed: 0 }, null, null]);
    expect([emulator.state.answered.size, emulator.state.billed.size]).toEqual([0, 0]);

    // times: 1, so resubmitting works; custom errors are given as they are.
    const retry = await createBatch(client, ['a', 'b', 'c', 'd']);
    expect((await client.batches.retrieve(retry.id)).status).toBe('completed');
    emulator.state.addFault({ kind: 'fail', errors: [{ code: 'invalid_value', message: "Invalid value for 'temperature'.", param: 'body.temperature', line: 3 }] });
    const third = await client.batches.retrieve((await createBatch(client, ['e'])).id);
    expect(third.errors?.data).toEqual([{ code: 'invalid_value', line: 3, message: "Invalid value for 'temperature'.", param: 'body.temperature' }]);
    expect([...emulator.state.billed.values()]).toEqual([1, 1, 1, 1]);
  });

  it('expires with partial output: answered requests in the output file, the rest batch_expired', async () => {
    const { emulator, client, clock } = await openai({ validatingMs: 0, inProgressMs: 4000, faults: [{ kind: 'expire', answered: 2 }] });
    const batch = await createBatch(client, ['a', 'b', 'c', 'd']);
    clock.now += 1000;
    expect((await client.batches.retrieve(batch.id)).status).toBe('in_progress');
    clock.now += 1000;
    const expired = await client.batches.retrieve(batch.id);
    expect([expired.status, expired.expired_at, expired.expires_at]).toEqual(['expired', T0 / 1000 + 2, T0 / 1000 + 2]);
    expect(expired.request_counts).toEqual({ total: 4, completed: 2, failed: 2 });
    expect(parseLines(await download(client, expired.output_file_id!)).map((l) => l.custom_id)).toEqual(['a', 'b']);
    expect(parseLines(await download(client, expired.error_file_id!)).map((l) => [l.custom_id, l.response, l.error.code])).toEqual([
      ['c', null, 'batch_expired'],
      ['d', null, 'batch_expired'],
    ]);
    expect(emulator.state.billed).toEqual(new Map([['a', 1], ['b', 1]]));
  });

  it('cancels with partial output: answered requests in the output file, the rest batch_cancelled', async () => {
    const { emulator, client, clock } = await openai({ validatingMs: 0, inProgressMs: 3000, cancellingMs: 500, faults: [{ kind: 'cancel', answered: 1 }] });
    const batch = await createBatch(client, ['a', 'b', 'c']);
    clock.now += 1000;
    const cancelling = await client.batches.retrieve(batch.id);
    expect([cancelling.status, cancelling.cancelling_at]).toEqual(['cancelling', T0 / 1000 + 1]);
    clock.now += 500;
    const cancelled = await client.batches.retrieve(batch.id);
    expect([cancelled.status, cancelled.request_counts]).toEqual(['cancelled', { total: 3, completed: 1, failed: 2 }]);
    expect(parseLines(await download(client, cancelled.output_file_id!)).map((l) => l.custom_id)).toEqual(['a']);
    expect(parseLines(await download(client, cancelled.error_file_id!)).map((l) => [l.custom_id, l.error.code])).toEqual([
      ['b', 'batch_cancelled'],
      ['c', 'batch_cancelled'],
    ]);
    expect([...emulator.state.answered.keys()]).toEqual(['a']);
  });

  it('applies lifecycle faults to batches by creation order (skip, times)', async () => {
    const { emulator, client } = await openai({ instant: true, faults: [{ kind: 'expire', answered: 0, skip: 1, times: 1 }] });
    const statuses = [];
    for (const id of ['a', 'b', 'c']) statuses.push((await client.batches.retrieve((await createBatch(client, [id, `${id}2`])).id)).status);
    expect(statuses).toEqual(['completed', 'expired', 'completed']);
    expect([...emulator.state.billed.keys()]).toEqual(['a', 'a2', 'c', 'c2']);
  });
});

describe('Lifecycle faults: Anthropic', () => {
  it('holds a batch in_progress until released; unreleased, it expires at expires_at', async () => {
    const { emulator, client, clock } = await anthropic({ inProgressMs: 1000, cancelingMs: 0, faults: [{ kind: 'stuck', times: 3 }] });
    const released = await createMessageBatch(client, ['a', 'b', 'c']);
    const forgotten = await createMessageBatch(client, ['d']);
    clock.now += HOUR;
    const held = await client.messages.batches.retrieve(released.id);
    expect([held.processing_status, held.request_counts.processing, held.results_url]).toEqual(['in_progress', 3, null]);
    expect(emulator.state.answered.size).toBe(0);

    expect(emulator.state.releaseBatch(released.id)).toEqual([released.id]);
    const ended = await client.messages.batches.retrieve(released.id);
    expect([ended.processing_status, ended.ended_at, ended.request_counts.succeeded]).toEqual(['ended', new Date(T0 + HOUR).toISOString(), 3]);
    expect((await claudeResults(client, released.id)).lines.map((l) => l.custom_id)).toEqual(['a', 'b', 'c']);

    clock.now += 23 * HOUR;
    const expired = await client.messages.batches.retrieve(forgotten.id);
    expect([expired.processing_status, expired.request_counts.expired, expired.ended_at]).toEqual(['ended', 1, new Date(T0 + 24 * HOUR).toISOString()]);
    expect((await claudeResults(client, forgotten.id)).lines.map((l) => [l.custom_id, l.result.type])).toEqual([['d', 'expired']]);

    // A held batch can still be cancelled.
    const cancelled = await createMessageBatch(client, ['e', 'f']);
    clock.now += HOUR;
    expect((await client.messages.batches.cancel(cancelled.id)).processing_status).toBe('canceling');
    const ended2 = await client.messages.batches.retrieve(cancelled.id);
    expect([ended2.processing_status, ended2.request_counts.canceled]).toEqual(['ended', 2]);
  });

  it('expires with partial results: some succeeded, the rest expired', async () => {
    const { emulator, client, clock } = await anthropic({ inProgressMs: 4000, faults: [{ kind: 'expire', answered: 2 }] });
    const batch = await createMessageBatch(client, ['a', 'b', 'c', 'd']);
    expect(batch.expires_at).toBe(new Date(T0 + 2000).toISOString());
    clock.now += 2000;
    const ended = await client.messages.batches.retrieve(batch.id);
    expect([ended.processing_status, ended.request_counts]).toEqual(['ended', { processing: 0, succeeded: 2, errored: 0, canceled: 0, expired: 2 }]);
    expect((await claudeResults(client, batch.id)).lines.map((l) => [l.custom_id, l.result.type])).toEqual([
      ['a', 'succeeded'],
      ['b', 'succeeded'],
      ['c', 'expired'],
      ['d', 'expired'],
    ]);
    expect(emulator.state.billed).toEqual(new Map([['a', 1], ['b', 1]]));

    // A duplicate of a result without text is an errored result.
    emulator.state.addFault({ kind: 'duplicate', customId: 'c', times: 1 });
    const duplicated = (await claudeResults(client, batch.id)).lines;
    expect(duplicated.map((l) => l.custom_id)).toEqual(['a', 'b', 'c', 'd', 'c']);
    expect(duplicated[4].result).toEqual({ type: 'errored', error: { type: 'error', error: { type: 'api_error', message: '[duplicate] expired result' } } });
  });

  it('cancels with partial results: canceling, then ended with the rest canceled', async () => {
    const { client, clock } = await anthropic({ inProgressMs: 3000, cancelingMs: 500, faults: [{ kind: 'cancel', answered: 1 }] });
    const batch = await createMessageBatch(client, ['a', 'b', 'c']);
    clock.now += 1000;
    const canceling = await client.messages.batches.retrieve(batch.id);
    expect([canceling.processing_status, canceling.cancel_initiated_at]).toEqual(['canceling', new Date(T0 + 1000).toISOString()]);
    clock.now += 500;
    const ended = await client.messages.batches.retrieve(batch.id);
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 1, errored: 0, canceled: 2, expired: 0 });
    expect((await claudeResults(client, batch.id)).lines.map((l) => [l.custom_id, l.result.type])).toEqual([
      ['a', 'succeeded'],
      ['b', 'canceled'],
      ['c', 'canceled'],
    ]);
  });
});

// ---- per-request errors and billing ----------------------------------------------------------------------------------

describe('Per-request retryable errors and billing', () => {
  const FLAKY = [
    { customId: 'flaky-429', error: { status: 429, code: 'rate_limit_exceeded', type: 'requests', message: 'Rate limit reached.' }, failTimes: 1 },
    { customId: 'flaky-500', error: { status: 500, type: 'server_error', message: 'The server had an error.' }, failTimes: 1 },
  ];

  it('OpenAI: failTimes fails a custom_id on its first submission; the retry batch succeeds, nothing billed twice', async () => {
    const { emulator, client } = await openai({ instant: true, script: FLAKY });
    const first = await client.batches.retrieve((await createBatch(client, ['ok', 'flaky-429', 'flaky-500'])).id);
    expect(first.request_counts).toEqual({ total: 3, completed: 1, failed: 2 });
    expect(parseLines(await download(client, first.output_file_id!)).map((l) => l.custom_id)).toEqual(['ok']);
    expect(parseLines(await download(client, first.error_file_id!)).map((l) => [l.custom_id, l.response.status_code, l.response.body.error])).toEqual([
      ['flaky-429', 429, { message: 'Rate limit reached.', type: 'requests', param: null, code: 'rate_limit_exceeded' }],
      ['flaky-500', 500, { message: 'The server had an error.', type: 'server_error', param: null, code: null }],
    ]);

    // The retry resubmits only the failed custom_ids.
    const retry = await client.batches.retrieve((await createBatch(client, ['flaky-429', 'flaky-500'])).id);
    expect([retry.request_counts, retry.error_file_id]).toEqual([{ total: 2, completed: 2, failed: 0 }, null]);
    expect(parseLines(await download(client, retry.output_file_id!)).map((l) => l.response.body.choices[0].message.content)).toEqual([
      '[emulated gpt-4.1-mini] You asked: "Question flaky-429?"',
      '[emulated gpt-4.1-mini] You asked: "Question flaky-500?"',
    ]);
    expect(emulator.state.answered).toEqual(new Map([['ok', 1], ['flaky-429', 2], ['flaky-500', 2]]));
    expect(emulator.state.billed).toEqual(new Map([['ok', 1], ['flaky-429', 1], ['flaky-500', 1]]));
    expect(emulator.state.doubleBilled()).toEqual([]);

    // Resubmitting one that had succeeded is caught.
    await client.batches.retrieve((await createBatch(client, ['flaky-500', 'ok'])).id);
    expect(emulator.state.billed.get('ok')).toBe(2);
    expect(emulator.state.doubleBilled()).toEqual(['ok', 'flaky-500']); // in the order first billed
  });

  it('Anthropic: failTimes makes the first result errored (rate_limit_error, api_error) and the retry succeed', async () => {
    const { emulator, client } = await anthropic({ instant: true, script: FLAKY });
    const first = await createMessageBatch(client, ['ok', 'flaky-429', 'flaky-500']);
    await client.messages.batches.retrieve(first.id);
    expect((await claudeResults(client, first.id)).lines.map((l) => [l.custom_id, l.result.type === 'errored' ? l.result.error.error : textOf(l)])).toEqual([
      ['ok', '[emulated claude-haiku-4-5] You asked: "Question ok?"'],
      ['flaky-429', { type: 'rate_limit_error', message: 'Rate limit reached.' }],
      ['flaky-500', { type: 'api_error', message: 'The server had an error.' }],
    ]);
    const retry = await createMessageBatch(client, ['flaky-429', 'flaky-500']);
    expect((await client.messages.batches.retrieve(retry.id)).request_counts).toEqual({ processing: 0, succeeded: 2, errored: 0, canceled: 0, expired: 0 });
    expect(emulator.state.billed).toEqual(new Map([['ok', 1], ['flaky-429', 1], ['flaky-500', 1]]));
    expect(emulator.state.doubleBilled()).toEqual([]);
  });

  it('a request fault fails each matching custom_id `times` times, with any responder, added at runtime', async () => {
    const { emulator, client } = await openai({ instant: true });
    const handle = emulator.state.addFault({ kind: 'request', customId: /^retry-/, error: { status: 429 }, times: 1 });
    const first = await client.batches.retrieve((await createBatch(client, ['retry-1', 'retry-2', 'steady'])).id);
    expect(parseLines(await download(client, first.error_file_id!)).map((l) => [l.custom_id, l.response.status_code, l.response.body.error.code, l.response.body.error.type])).toEqual([
      ['retry-1', 429, 'rate_limit_exceeded', 'requests'],
      ['retry-2', 429, 'rate_limit_exceeded', 'requests'],
    ]);
    const second = await client.batches.retrieve((await createBatch(client, ['retry-1', 'retry-2'])).id);
    expect(second.request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
    expect([handle.fired, [...handle.customIds], handle.active]).toEqual([2, [['retry-1', 1], ['retry-2', 1]], true]);
    expect(emulator.state.doubleBilled()).toEqual([]);

    const { emulator: other, client: claudeClient } = await anthropic({ instant: true, faults: [{ kind: 'request', error: { status: 500 }, skip: 1, times: 1 }] });
    const batch = await createMessageBatch(claudeClient, ['x']);
    await claudeClient.messages.batches.retrieve(batch.id);
    const again = await createMessageBatch(claudeClient, ['x']);
    await claudeClient.messages.batches.retrieve(again.id);
    const third = await createMessageBatch(claudeClient, ['x']);
    await claudeClient.messages.batches.retrieve(third.id);
    // skip: 1 lets x's first answer through, then fails it once.
    const types = [];
    for (const id of [batch.id, again.id, third.id]) types.push((await claudeResults(claudeClient, id)).lines.map((l) => (l.result.type === 'errored' ? l.result.error.error.type : l.result.type))[0]);
    expect(types).toEqual(['succeeded', 'api_error', 'succeeded']);
    expect(other.state.billed.get('x')).toBe(2);
    expect(other.state.doubleBilled()).toEqual(['x']);
  });
});

// ---- faults from a file -----------------------------------------------------------------------------------------------

describe('Faults from a file', () => {
  it('parses YAML faults with dates and regular expressions, refusing mistakes', () => {
    const faults = parseFaults(
      `faults:
  - { kind: http, endpoint: 'GET /v1/batches/:id', status: 503, after: '2025-01-01T12:00:10Z', times: 2 }
  - { kind: request, customId: '/^case-[12]$/', error: { status: 429 }, times: 1 }
  - { kind: truncate, bytes: 10, times: .inf }
`,
      'openai',
    );
    expect(faults).toEqual([
      { kind: 'http', endpoint: 'GET /v1/batches/:id', status: 503, after: new Date(T0 + 10_000), times: 2 },
      { kind: 'request', customId: '/^case-[12]$/', error: { status: 429 }, times: 1 },
      { kind: 'truncate', bytes: 10, times: Infinity },
    ]);
    expect(() => parseFaults('- { kind: fail }', 'anthropic', 'f.yaml')).toThrow('f.yaml: fault 1: fault fail: Anthropic batches never fail as a whole');
    expect(() => parseFaults('kind: http', 'openai', 'f.yaml')).toThrow('f.yaml: expected a list of faults');
  });

  it('main.ts --faults serves the faults from the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faults-'));
    const path = join(dir, 'faults.yaml');
    writeFileSync(path, '- { kind: http, endpoint: GET /v1/batches, status: 503, times: 1 }\n');
    const child = spawn(process.execPath, [join(import.meta.dirname, 'main.ts'), '--port', '0', '--faults', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let output = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk;
          if (output.includes('Ctrl-C to stop.')) resolve();
        });
        child.stderr.resume();
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
      });
      expect(output).toContain(`faults from ${path}`);
      const url = /OpenAI emulator listening on (http:\/\/127\.0\.0\.1:\d+\/v1)\n/.exec(output)![1];
      const statuses = [];
      for (let i = 0; i < 2; i++) statuses.push((await fetch(`${url}/batches`, { headers: { authorization: 'Bearer x' } })).status);
      expect(statuses).toEqual([503, 200]);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});
