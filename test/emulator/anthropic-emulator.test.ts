import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import Anthropic, { AnthropicError, APIError, AuthenticationError, BadRequestError, ContentTooLargeError, NotFoundError } from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { startAnthropicEmulator, type AnthropicEmulator, type AnthropicEmulatorOptions, type ResponderRequest } from './anthropic-emulator.ts';

// ---- helpers -------------------------------------------------------------------------------------------------------

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const at = (ms: number) => new Date(T0 + ms).toISOString();
const MODEL = 'claude-haiku-4-5';
let running: AnthropicEmulator[] = [];

afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});

/** An emulator on a fake clock (advance it with `clock.now += ms`) and an SDK client pointed at it. */
async function setup(options: AnthropicEmulatorOptions = {}) {
  const clock = { now: T0 };
  const emulator = await startAnthropicEmulator({ clock: () => clock.now, ...options });
  running.push(emulator);
  const client = new Anthropic({ apiKey: 'test-key', baseURL: emulator.url, maxRetries: 0 });
  return { emulator, client, clock };
}

type Request = Anthropic.Messages.BatchCreateParams.Request;

function request(customId: string, question: string, params: Record<string, unknown> = {}): Request {
  return { custom_id: customId, params: { model: MODEL, max_tokens: 1024, messages: [{ role: 'user', content: question }], ...params } } as Request;
}

function create(client: Anthropic, requests: unknown[]) {
  return client.messages.batches.create({ requests: requests as Request[] });
}

/** Every decoded line of the batch's results, through the SDK's JSONL stream. */
async function results(client: Anthropic, id: string): Promise<Anthropic.Messages.MessageBatchIndividualResponse[]> {
  const lines = [];
  for await (const line of await client.messages.batches.results(id)) lines.push(line);
  return lines;
}

/** Replies (or result types) by custom_id. */
async function outcomes(client: Anthropic, id: string): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await results(client, id)).map(({ custom_id, result }) => [
      custom_id,
      result.type === 'succeeded' ? (result.message.content[0] as { text: string }).text : result.type === 'errored' ? `${result.error.error.type}: ${result.error.error.message}` : result.type,
    ]),
  );
}

async function raw(emulator: AnthropicEmulator, path: string, init: RequestInit = {}, headers: Record<string, string> = { 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01' }) {
  const response = await fetch(emulator.url + path, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: response.headers.get('content-type') === 'application/json' ? JSON.parse(text) : undefined };
}

async function rejection<T extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => T): Promise<T> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as T;
}

/** The SDK error for a 400 with the Anthropic envelope and this message. */
async function invalidRequest(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  const error = await rejection(promise, BadRequestError);
  expect(error.status).toBe(400);
  expect(error.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: typeof message === 'string' ? message : expect.stringMatching(message) }, request_id: error.requestID });
  expect(error.requestID).toMatch(/^req_011[A-Za-z0-9]{21}$/);
}

// ---- tests ---------------------------------------------------------------------------------------------------------

describe('Anthropic emulator: the happy path through the official SDK', () => {
  it('creates a batch, keeps every request processing until the batch ends, then serves the results', async () => {
    const { emulator, client, clock } = await setup({ inProgressMs: 4000 });
    const created = await create(client, [
      request('case-0', 'What is 2+2?', { system: 'You are a calculator.' }),
      request('case-1', 'Name a colour.'),
      request('case-2', 'Where is Paris?'),
      request('case-3', 'Say hi.'),
    ]);
    expect(created).toEqual({
      id: expect.stringMatching(/^msgbatch_01[A-Za-z0-9]{22}$/),
      type: 'message_batch',
      processing_status: 'in_progress',
      request_counts: { processing: 4, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      created_at: '2025-01-01T12:00:00.000Z',
      expires_at: '2025-01-02T12:00:00.000Z',
      archived_at: null,
      cancel_initiated_at: null,
      results_url: null,
    });

    // Midway half the requests are answered, but the counts only move when the whole batch ends.
    clock.now += 2000;
    const midway = await client.messages.batches.retrieve(created.id);
    expect(midway).toMatchObject({ processing_status: 'in_progress', request_counts: { processing: 4, succeeded: 0 }, results_url: null });
    expect(emulator.state.batches.get(created.id)!.processed).toBe(2);
    expect([...emulator.state.answered.keys()]).toEqual(['case-0', 'case-1']);
    await expect(client.messages.batches.results(created.id)).rejects.toThrow(/No batch `results_url`; Has it finished processing\? in_progress/);

    clock.now += 1999;
    expect((await client.messages.batches.retrieve(created.id)).processing_status).toBe('in_progress');
    clock.now += 1;
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended).toEqual({
      ...created,
      processing_status: 'ended',
      request_counts: { processing: 0, succeeded: 4, errored: 0, canceled: 0, expired: 0 },
      ended_at: '2025-01-01T12:00:04.000Z',
      results_url: `${emulator.url}/v1/messages/batches/${created.id}/results`,
    });
    expect(ended.results_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/messages\/batches\/msgbatch_/);
    expect(await client.messages.batches.retrieve(created.id)).toEqual(ended);

    const lines = await results(client, created.id);
    expect(lines.map((l) => l.custom_id)).toEqual(['case-0', 'case-1', 'case-2', 'case-3']);
    const text = '[emulated claude-haiku-4-5] You asked: "What is 2+2?"';
    expect(lines[0]).toEqual({
      custom_id: 'case-0',
      result: {
        type: 'succeeded',
        message: {
          id: expect.stringMatching(/^msg_01[A-Za-z0-9]{22}$/),
          type: 'message',
          role: 'assistant',
          model: MODEL,
          content: [{ type: 'text', text }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: {
            // The system prompt counts: ceil("You are a calculator.\nWhat is 2+2?".length / 4) = ceil(34 / 4).
            input_tokens: 9,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
            output_tokens: Math.ceil(text.length / 4),
            service_tier: 'batch',
          },
        },
      },
    });
    // "Name a colour." is 14 characters; the 55-character reply '[emulated claude-haiku-4-5] You asked: "Name a colour."' is 14 tokens.
    expect(lines[1].result).toMatchObject({ message: { usage: { input_tokens: 4, output_tokens: 14 } } });
    expect(emulator.state.answered).toEqual(new Map([['case-0', 1], ['case-1', 1], ['case-2', 1], ['case-3', 1]]));

    // The results URL serves JSONL as a download, one line per request.
    const download = await raw(emulator, new URL(ended.results_url!).pathname);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('binary/octet-stream');
    expect(download.text.endsWith('\n')).toBe(true);
    expect(download.text.trimEnd().split('\n').map((l) => JSON.parse(l).custom_id)).toEqual(['case-0', 'case-1', 'case-2', 'case-3']);

    // The SDK sends its anthropic-version; every request is logged.
    expect(emulator.state.requests[0]).toEqual({ method: 'POST', path: '/v1/messages/batches', status: 200, anthropicVersion: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    // The midway results() call failed in the SDK (results_url null) without reaching the results endpoint.
    expect(emulator.state.requests.filter((r) => r.path.endsWith('/results')).map((r) => r.status)).toEqual([200, 200]);
  });

  it('with instant timing a batch has ended at the first read after creation', async () => {
    const { client } = await setup({ instant: true });
    const created = await create(client, [request('a', 'q'), request('b', 'q')]);
    expect(created.processing_status).toBe('in_progress');
    const done = await client.messages.batches.retrieve(created.id);
    expect(done).toMatchObject({ processing_status: 'ended', ended_at: created.created_at, request_counts: { processing: 0, succeeded: 2 } });
  });

  it('answers 404 not_found_error for an unknown batch and unknown routes', async () => {
    const { client, emulator } = await setup();
    const error = await rejection(client.messages.batches.retrieve('msgbatch_nope'), NotFoundError);
    expect(error.error).toEqual({ type: 'error', error: { type: 'not_found_error', message: 'Message batch msgbatch_nope not found.' }, request_id: error.requestID });
    await rejection(client.messages.batches.cancel('msgbatch_nope'), NotFoundError);
    expect((await raw(emulator, '/v1/batches')).body).toEqual({ type: 'error', error: { type: 'not_found_error', message: 'Not Found' }, request_id: expect.stringMatching(/^req_/) });
    expect((await raw(emulator, '/v1/messages/batches/x/results/more')).status).toBe(404);
  });
});

describe('Anthropic emulator: listing', () => {
  it('pages newest first with limit, after_id and before_id, and the SDK iterates every page', async () => {
    const { client, emulator, clock } = await setup({ instant: true });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await create(client, [request(`r${i}`, 'q')])).id);
      clock.now += 1000;
    }
    const [b0, b1, b2, b3, b4] = ids;

    const first = await client.messages.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual([b4, b3]);
    expect([first.has_more, first.first_id, first.last_id]).toEqual([true, b4, b3]);
    // Listing advances the batches it shows.
    expect(first.data.map((b) => b.processing_status)).toEqual(['ended', 'ended']);

    const all: string[] = [];
    for await (const batch of client.messages.batches.list({ limit: 2 })) all.push(batch.id);
    expect(all).toEqual([b4, b3, b2, b1, b0]);
    expect(emulator.state.requests.filter((r) => r.method === 'GET' && r.path === '/v1/messages/batches')).toHaveLength(1 + 3);

    const after = await client.messages.batches.list({ limit: 2, after_id: b3 });
    expect([after.data.map((b) => b.id), after.has_more]).toEqual([[b2, b1], true]);
    const last = await client.messages.batches.list({ limit: 2, after_id: b1 });
    expect([last.data.map((b) => b.id), last.has_more, last.first_id, last.last_id]).toEqual([[b0], false, b0, b0]);

    const before = await client.messages.batches.list({ limit: 2, before_id: b1 });
    expect([before.data.map((b) => b.id), before.has_more]).toEqual([[b3, b2], true]);
    const newest = await client.messages.batches.list({ limit: 2, before_id: b3 });
    expect([newest.data.map((b) => b.id), newest.has_more]).toEqual([[b4], false]);

    expect((await raw(emulator, '/v1/messages/batches')).body).toMatchObject({ has_more: false, first_id: b4, last_id: b0 });
    expect((await raw(emulator, '/v1/messages/batches')).body.data).toHaveLength(5);
    expect((await raw(emulator, `/v1/messages/batches?after_id=${b0}`)).body).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
    await invalidRequest(client.messages.batches.list({ limit: 0 }), 'limit: Input should be greater than or equal to 1');
    await invalidRequest(client.messages.batches.list({ limit: 1001 }), 'limit: Input should be less than or equal to 1000');
    await invalidRequest(client.messages.batches.list({ before_id: b1, after_id: b3 }), 'Only one of before_id and after_id may be given.');
  });
});

describe('Anthropic emulator: cancel and delete', () => {
  it('goes canceling then ended, the unanswered requests counted and returned as canceled', async () => {
    const { emulator, client, clock } = await setup({ inProgressMs: 4000, cancelingMs: 500 });
    const created = await create(client, [request('a', 'q'), request('b', 'q'), request('c', 'q'), request('d', 'q')]);
    clock.now += 2000;
    const canceling = await client.messages.batches.cancel(created.id);
    expect(canceling).toEqual({
      ...created,
      processing_status: 'canceling',
      cancel_initiated_at: at(2000),
      request_counts: { processing: 4, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
    });
    clock.now += 100;
    expect(await client.messages.batches.cancel(created.id)).toEqual(canceling);
    clock.now += 399;
    expect((await client.messages.batches.retrieve(created.id)).processing_status).toBe('canceling');
    clock.now += 1;
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended).toMatchObject({
      processing_status: 'ended',
      cancel_initiated_at: at(2000),
      ended_at: at(2500),
      request_counts: { processing: 0, succeeded: 2, errored: 0, canceled: 2, expired: 0 },
      results_url: `${emulator.url}/v1/messages/batches/${created.id}/results`,
    });
    const lines = await results(client, created.id);
    expect(lines.map((l) => [l.custom_id, l.result.type])).toEqual([
      ['a', 'succeeded'],
      ['b', 'succeeded'],
      ['c', 'canceled'],
      ['d', 'canceled'],
    ]);
    expect(lines[2]).toEqual({ custom_id: 'c', result: { type: 'canceled' } });
    expect([...emulator.state.answered.keys()]).toEqual(['a', 'b']);

    await invalidRequest(client.messages.batches.cancel(created.id), `Message batch ${created.id} has already ended and can no longer be canceled.`);
  });

  it('deletes only ended batches', async () => {
    const { emulator, client, clock } = await setup({ inProgressMs: 1000 });
    const created = await create(client, [request('a', 'q')]);
    await invalidRequest(client.messages.batches.delete(created.id), /cannot be deleted while it is still processing/);
    clock.now += 1000;
    expect(await client.messages.batches.delete(created.id)).toEqual({ id: created.id, type: 'message_batch_deleted' });
    expect(emulator.state.batches.size).toBe(0);
    await rejection(client.messages.batches.retrieve(created.id), NotFoundError);
    expect((await client.messages.batches.list()).data).toEqual([]);
  });
});

describe('Anthropic emulator: expiry', () => {
  it('ends an unfinished batch at expires_at, the rest of the requests expired', async () => {
    const { emulator, client, clock } = await setup({ inProgressMs: 4000, expireAfterMs: 3000 });
    const created = await create(client, [request('a', 'q'), request('b', 'q'), request('c', 'q'), request('d', 'q')]);
    expect(created.expires_at).toBe(at(3000));
    clock.now += 2999;
    expect((await client.messages.batches.retrieve(created.id)).request_counts).toEqual({ processing: 4, succeeded: 0, errored: 0, canceled: 0, expired: 0 });
    clock.now += 60_000;
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended).toMatchObject({ processing_status: 'ended', ended_at: at(3000), request_counts: { processing: 0, succeeded: 3, errored: 0, canceled: 0, expired: 1 } });
    expect(await outcomes(client, created.id)).toEqual({
      a: '[emulated claude-haiku-4-5] You asked: "q"',
      b: '[emulated claude-haiku-4-5] You asked: "q"',
      c: '[emulated claude-haiku-4-5] You asked: "q"',
      d: 'expired',
    });
    expect(emulator.state.answered.has('d')).toBe(false);
  });

  it('expires a batch whose cancellation outlasts the expiry', async () => {
    const { client, clock } = await setup({ inProgressMs: 10_000, cancelingMs: 10_000, expireAfterMs: 6000 });
    const created = await create(client, [request('a', 'q'), request('b', 'q')]);
    clock.now += 5000;
    await client.messages.batches.cancel(created.id);
    clock.now += 20_000;
    expect(await client.messages.batches.retrieve(created.id)).toMatchObject({
      processing_status: 'ended',
      ended_at: at(6000),
      cancel_initiated_at: at(5000),
      request_counts: { processing: 0, succeeded: 1, errored: 0, canceled: 0, expired: 1 },
    });
  });

  it('with the default timing a batch expires 24 hours after creation', async () => {
    const { client, clock } = await setup({ inProgressMs: 48 * 3600 * 1000 });
    const created = await create(client, [request('a', 'q'), request('b', 'q'), request('c', 'q')]);
    clock.now += 24 * 3600 * 1000;
    expect(await client.messages.batches.retrieve(created.id)).toMatchObject({ ended_at: created.expires_at, request_counts: { succeeded: 1, expired: 2 } });
  });
});

describe('Anthropic emulator: create-time validation answers 400 with the error envelope', () => {
  it('checks custom_id pattern and uniqueness, required params and the request count', async () => {
    const { emulator, client } = await setup({ instant: true, maxRequestsPerBatch: 3 });
    const pattern = "String should match pattern '^[a-zA-Z0-9_-]{1,64}$'";
    await invalidRequest(create(client, [request('ok', 'q'), request('has space', 'q')]), `requests.1.custom_id: ${pattern}`);
    await invalidRequest(create(client, [request('x'.repeat(65), 'q')]), `requests.0.custom_id: ${pattern}`);
    await invalidRequest(create(client, [request('', 'q')]), `requests.0.custom_id: ${pattern}`);
    await invalidRequest(create(client, [request('a', 'q'), request('b', 'q'), request('a', 'q')]), "requests.2.custom_id: Duplicate custom_id 'a'. Each request in a batch must have a unique custom_id.");
    await invalidRequest(create(client, [request('a', 'q', { max_tokens: undefined })]), 'requests.0.params.max_tokens: Field required');
    await invalidRequest(create(client, [request('a', 'q', { max_tokens: 0 })]), 'requests.0.params.max_tokens: Input should be greater than or equal to 1');
    await invalidRequest(create(client, [request('a', 'q', { messages: undefined })]), 'requests.0.params.messages: Field required');
    await invalidRequest(create(client, [request('a', 'q', { model: undefined })]), 'requests.0.params.model: Field required');
    await invalidRequest(create(client, [{ custom_id: 'a' }]), 'requests.0.params: Field required');
    await invalidRequest(create(client, [{ params: request('a', 'q').params }]), 'requests.0.custom_id: Field required');
    await invalidRequest(create(client, [{ ...request('a', 'q'), method: 'POST' }]), 'requests.0.method: Extra inputs are not permitted');
    await invalidRequest(create(client, []), 'requests: List should have at least 1 item after validation, not 0');
    await invalidRequest(create(client, ['a', 'b', 'c', 'd'].map((id) => request(id, 'q'))), 'requests: List should have at most 3 items after validation, not 4');
    expect(emulator.state.batches.size).toBe(0);

    // The longest custom_id allowed, with every allowed character class.
    const longest = `aZ09_-${'x'.repeat(58)}`;
    expect((await create(client, [request(longest, 'q')])).request_counts.processing).toBe(1);
  });

  it('refuses more than 100,000 requests by default', async () => {
    const { emulator, client } = await setup({ instant: true });
    const requests = Array.from({ length: 100_001 }, (_, i) => ({ custom_id: `r${i}`, params: { model: MODEL, max_tokens: 1, messages: [] } }));
    await invalidRequest(create(client, requests), 'requests: List should have at most 100000 items after validation, not 100001');
    expect(emulator.state.batches.size).toBe(0);
  }, 30_000);

  it('answers 413 request_too_large above the size limit', async () => {
    const { emulator, client } = await setup({ instant: true, maxBatchBytes: 2000 });
    const error = await rejection(create(client, [request('a', 'x'.repeat(2000))]), ContentTooLargeError);
    expect(error.status).toBe(413);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' } });
    expect((await create(client, [request('a', 'x'.repeat(1000))])).type).toBe('message_batch');
    expect(emulator.state.batches.size).toBe(1);
  });

  it('answers 400 to a body that is not a JSON object', async () => {
    const { emulator } = await setup();
    const notJson = await raw(emulator, '/v1/messages/batches', { method: 'POST', body: '{"requests": [', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toEqual({ type: 'invalid_request_error', message: expect.stringMatching(/^There was an issue with your request body: it is not valid JSON/) });
    const array = await raw(emulator, '/v1/messages/batches', { method: 'POST', body: '[]' });
    expect([array.status, array.body.error.message]).toEqual([400, 'The request body should be a JSON object, got an array.']);
    const extra = await raw(emulator, '/v1/messages/batches', { method: 'POST', body: JSON.stringify({ requests: [request('a', 'q')], completion_window: '24h' }) });
    expect([extra.status, extra.body.error.message]).toEqual([400, 'completion_window: Extra inputs are not permitted']);
  });
});

describe('Anthropic emulator: auth and headers', () => {
  it('needs x-api-key and anthropic-version', async () => {
    const { emulator } = await setup({ instant: true });
    const noKey = await raw(emulator, '/v1/messages/batches', {}, { 'anthropic-version': '2023-06-01' });
    expect(noKey.status).toBe(401);
    expect(noKey.body).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' }, request_id: noKey.headers.get('request-id') });
    const noVersion = await raw(emulator, '/v1/messages/batches', {}, { 'x-api-key': 'k' });
    expect([noVersion.status, noVersion.body.error]).toEqual([400, { type: 'invalid_request_error', message: 'anthropic-version: header is required' }]);
    const badVersion = await raw(emulator, '/v1/messages/batches', {}, { 'x-api-key': 'k', 'anthropic-version': 'latest' });
    expect([badVersion.status, badVersion.body.error.message]).toEqual([400, 'anthropic-version: "latest" is not a valid version']);
    expect((await raw(emulator, '/v1/messages/batches')).status).toBe(200);
    expect(emulator.state.requests.map((r) => [r.status, r.anthropicVersion])).toEqual([
      [401, '2023-06-01'],
      [400, null],
      [400, 'latest'],
      [200, '2023-06-01'],
    ]);
  });

  it('checks the key when given one, and takes a Bearer token too', async () => {
    const { emulator } = await setup({ instant: true, apiKey: 'right' });
    const wrong = new Anthropic({ apiKey: 'wrong', baseURL: emulator.url, maxRetries: 0 });
    const error = await rejection(wrong.messages.batches.list(), AuthenticationError);
    expect(error.error).toMatchObject({ error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    const right = new Anthropic({ apiKey: 'right', baseURL: emulator.url, maxRetries: 0 });
    expect((await right.messages.batches.create({ requests: [request('a', 'q')] })).type).toBe('message_batch');
    const bearer = new Anthropic({ authToken: 'right', baseURL: emulator.url, maxRetries: 0 });
    expect((await bearer.messages.batches.list()).data).toHaveLength(1);
  });
});

describe('Anthropic emulator: scripted responder and per-request errors', () => {
  const script = [
    { model: '/haiku/', match: 'return', reply: 'You can return them within 14 days.' },
    { match: 'return', reply: 'Returns are free within 30 days.' },
    { match: '/I am (\\w+)/i', reply: 'Hello {{1}}! ({{model}}, {{customId}})' },
    { match: 'overload', error: { status: 529, message: 'Overloaded' } },
    { match: 'crash', error: { status: 500, message: 'Internal server error' } },
    { match: 'too long', error: { status: 400, message: 'prompt is too long: 210000 tokens > 200000 maximum' } },
    { match: 'slow down', error: { status: 429, type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } },
    { customId: '/^special-/', reply: 'special case' },
  ];

  it('answers by the first matching rule and turns error rules into errored results', async () => {
    const { emulator, client } = await setup({ instant: true, script });
    const created = await create(client, [
      request('haiku-return', 'How do I return shoes?'),
      request('sonnet-return', 'How do I return shoes?', { model: 'claude-sonnet-4-5' }),
      request('greet', 'Hi, i am Ada.'),
      request('busy', 'overload please'),
      request('crash', 'crash now'),
      request('long', 'this prompt is too long'),
      request('rate', 'slow down'),
      request('special-1', 'anything'),
      request('other', 'Something else'),
    ]);
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 5, errored: 4, canceled: 0, expired: 0 });
    expect(await outcomes(client, created.id)).toEqual({
      'haiku-return': 'You can return them within 14 days.',
      'sonnet-return': 'Returns are free within 30 days.',
      greet: 'Hello Ada! (claude-haiku-4-5, greet)',
      busy: 'overloaded_error: Overloaded',
      crash: 'api_error: Internal server error',
      long: 'invalid_request_error: prompt is too long: 210000 tokens > 200000 maximum',
      rate: 'rate_limit_error: Number of request tokens has exceeded your per-minute rate limit',
      'special-1': 'special case',
      other: '[emulated claude-haiku-4-5] You asked: "Something else"',
    });
    const busy = (await results(client, created.id)).find((l) => l.custom_id === 'busy');
    expect(busy).toEqual({ custom_id: 'busy', result: { type: 'errored', error: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } } });
    // Scripted errors reached the "model": they are counted as answered.
    expect(emulator.state.answered.get('busy')).toBe(1);
  });

  it('gives the responder a provider-neutral view: model, custom id, and the messages with the system prompt first', async () => {
    const seen: ResponderRequest[] = [];
    const { client } = await setup({
      instant: true,
      responder: (req) => {
        seen.push(req);
        return { content: 'ok' };
      },
    });
    const params = {
      model: 'claude-opus-4-1',
      max_tokens: 50,
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: [{ type: 'text', text: 'Hello' }] },
        { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }, { type: 'text', text: 'Part one' }, { type: 'text', text: 'Part two' }] },
      ],
    };
    await create(client, [{ custom_id: 'view', params }]);
    await client.messages.batches.list();
    expect(seen).toEqual([
      {
        customId: 'view',
        model: 'claude-opus-4-1',
        provider: 'anthropic',
        endpoint: '/v1/messages',
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello' },
          { role: 'user', content: 'Part one\nPart two' },
        ],
        body: params,
      },
    ]);
  });

  it('answers the quickstart script: claude-haiku-4-5 gets the return window and the JSON wrong, other models do not', async () => {
    const { client } = await setup({ instant: true, script: join(import.meta.dirname, 'quickstart-script.yaml') });
    const content = (q: string, name?: string) =>
      `You are the support assistant of Stride. Returns are free within 30 days.\n\n${name ? `The customer's name is ${name}.\n` : ''}Customer: ${q}`;
    const questions = { ret: 'How many days do I have to return shoes?', order: 'Where is my order 1234?', json: 'Reply only with JSON: the status of order 1234', short: 'Tell me everything about your shop.' };
    const requests = (model: string, prefix: string) => [
      ...Object.entries(questions).map(([id, q]) => request(`${prefix}-${id}`, content(q), { model })),
      request(`${prefix}-greet`, content('Hi! Do you sell running shoes?', 'Grace'), { model }),
    ];
    const created = await create(client, [...requests(MODEL, 'haiku'), ...requests('claude-sonnet-4-5', 'sonnet')]);
    await client.messages.batches.retrieve(created.id);
    const replies = await outcomes(client, created.id);
    expect(replies).toEqual({
      'haiku-ret': 'You can return your shoes within 14 days of delivery.',
      'haiku-order': 'Order 1234 has shipped. You can track it with the tracking link in your confirmation email.',
      'haiku-json': 'Sure! Here it is: {"order": "1234", "status": "shipped"}',
      'haiku-short': 'Stride is an online shoe shop for running, trail and everyday shoes, with free returns within 30 days.',
      'haiku-greet': 'Hello Grace! Yes, we sell running shoes for road and trail.',
      'sonnet-ret': 'You have 30 days to return your shoes, and returns are free.',
      'sonnet-order': 'Order 1234 has shipped. You can track it with the tracking link in your confirmation email.',
      'sonnet-json': '{"order": "1234", "status": "shipped"}',
      'sonnet-short': 'Stride is an online shoe shop for running, trail and everyday shoes, with free returns within 30 days.',
      'sonnet-greet': 'Hello Grace! Yes, we sell running shoes for road and trail.',
    });
  });

  it('checks the params only when processing, making invalid requests errored (not answered)', async () => {
    const { emulator, client } = await setup({ instant: true, knownModels: [MODEL] });
    const created = await create(client, [
      request('good', 'q'),
      request('system-role', 'q', { messages: [{ role: 'system', content: 'Be nice' }, { role: 'user', content: 'q' }] }),
      request('unknown-model', 'q', { model: 'claude-nonexistent' }),
      request('hot', 'q', { temperature: 1.5 }),
      request('openai-n', 'q', { n: 2 }),
      request('stream', 'q', { stream: true }),
      request('empty', 'q', { messages: [] }),
      request('bad-role', 'q', { messages: [{ role: 'tool', content: 'x' }] }),
    ]);
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 1, errored: 7, canceled: 0, expired: 0 });
    expect(await outcomes(client, created.id)).toEqual({
      good: '[emulated claude-haiku-4-5] You asked: "q"',
      'system-role': 'invalid_request_error: messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.',
      'unknown-model': 'not_found_error: model: claude-nonexistent',
      hot: 'invalid_request_error: temperature: Input should be less than or equal to 1',
      'openai-n': 'invalid_request_error: n: Extra inputs are not permitted',
      stream: 'invalid_request_error: stream: Streaming is not supported in the Message Batches API.',
      empty: 'invalid_request_error: messages: at least one message is required',
      'bad-role': "invalid_request_error: messages.0.role: Input should be 'user' or 'assistant'",
    });
    expect([...emulator.state.answered.keys()]).toEqual(['good']);
  });
});

describe('Anthropic emulator: response details', () => {
  it('honours stop_sequences and max_tokens, scripted usage and finish reasons', async () => {
    const { client } = await setup({
      instant: true,
      responder: ({ customId }) => {
        if (customId === 'usage') return { content: 'ok', usage: { promptTokens: 100, cachedTokens: 40, cacheWriteTokens: 10, completionTokens: 7 } };
        if (customId === 'refusal') return { content: 'I cannot help with that.', finishReason: 'content_filter' };
        if (customId === 'empty') return { content: '' };
        return { content: 'alpha beta STOP gamma END delta' };
      },
    });
    const created = await create(client, [
      request('stop', 'q', { stop_sequences: ['END', 'STOP'] }),
      request('short', 'q', { max_tokens: 2 }),
      request('usage', 'q'),
      request('refusal', 'q'),
      request('empty', 'q'),
    ]);
    await client.messages.batches.retrieve(created.id);
    const messages = Object.fromEntries((await results(client, created.id)).map((l) => [l.custom_id, l.result.type === 'succeeded' ? l.result.message : null]));
    expect(messages.stop).toMatchObject({ content: [{ type: 'text', text: 'alpha beta ' }], stop_reason: 'stop_sequence', stop_sequence: 'STOP', usage: { output_tokens: 3 } });
    expect(messages.short).toMatchObject({ content: [{ type: 'text', text: 'alpha be' }], stop_reason: 'max_tokens', stop_sequence: null, usage: { output_tokens: 2 } });
    expect(messages.usage!.usage).toEqual({
      input_tokens: 50,
      cache_creation_input_tokens: 10,
      cache_read_input_tokens: 40,
      cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 0 },
      output_tokens: 7,
      service_tier: 'batch',
    });
    expect(messages.refusal).toMatchObject({ stop_reason: 'refusal', content: [{ type: 'text', text: 'I cannot help with that.' }] });
    expect(messages.empty).toMatchObject({ content: [], stop_reason: 'end_turn', usage: { output_tokens: 0 } });
  });

  it('answers a responder that throws with an api_error result', async () => {
    const { client } = await setup({
      instant: true,
      responder: () => {
        throw new Error('script bug');
      },
    });
    const created = await create(client, [request('a', 'q')]);
    expect((await client.messages.batches.retrieve(created.id)).request_counts).toMatchObject({ succeeded: 0, errored: 1 });
    expect(await results(client, created.id)).toEqual([{ custom_id: 'a', result: { type: 'errored', error: { type: 'error', error: { type: 'api_error', message: 'Internal server error' } } } }]);
  });

  it('can return results reversed or in a shuffled order that is the same on every run', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `r${i}`);
    const order = async (resultsOrder: AnthropicEmulatorOptions['resultsOrder']) => {
      const { client } = await setup({ instant: true, resultsOrder });
      const created = await create(client, ids.map((id) => request(id, 'q')));
      await client.messages.batches.retrieve(created.id);
      return (await results(client, created.id)).map((l) => l.custom_id);
    };
    expect(await order('input')).toEqual(ids);
    expect(await order('reversed')).toEqual([...ids].reverse());
    const shuffled = await order('shuffled');
    expect(shuffled).not.toEqual(ids);
    expect([...shuffled].sort()).toEqual([...ids].sort());
    expect(await order('shuffled')).toEqual(shuffled);
  });

  it('refuses the results endpoint before the batch has ended', async () => {
    const { emulator, client } = await setup({ inProgressMs: 1000 });
    const created = await create(client, [request('a', 'q')]);
    const early = await raw(emulator, `/v1/messages/batches/${created.id}/results`);
    expect([early.status, early.body.error.type]).toEqual([400, 'invalid_request_error']);
    const error = await rejection(client.messages.batches.results(created.id), AnthropicError);
    expect(error).not.toBeInstanceOf(APIError);
  });
});

describe('Anthropic emulator: standalone main.ts', () => {
  /** Starts main.ts and waits until it says it is ready. */
  async function startMain(args: string[]) {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'main.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('Ctrl-C to stop.')) resolve();
      });
      child.stderr.resume();
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
    });
    return { child, output };
  }

  async function stop(child: ReturnType<typeof spawn>) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  }

  it('serves the Anthropic API with --provider anthropic', async () => {
    const { child, output } = await startMain(['--provider', 'anthropic', '--port', '0', '--instant', '--script', join(import.meta.dirname, 'quickstart-script.yaml')]);
    try {
      const url = /Anthropic emulator listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(output)?.[1];
      expect(url).toBeDefined();
      expect(output).not.toContain('OpenAI emulator');
      expect(output).toContain(`ANTHROPIC_BASE_URL=${url}`);
      const client = new Anthropic({ apiKey: 'test', baseURL: url, maxRetries: 0 });
      const created = await create(client, [request('a', 'Customer: How many days do I have to return shoes?')]);
      await client.messages.batches.retrieve(created.id);
      // MODEL is claude-haiku-4-5, which the quickstart script makes get the return window wrong.
      expect((await outcomes(client, created.id)).a).toBe('You can return your shoes within 14 days of delivery.');
      await stop(child);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);

  it('serves both APIs with --anthropic-port', async () => {
    const { child, output } = await startMain(['--port', '0', '--anthropic-port', '0', '--instant']);
    try {
      const openai = /OpenAI emulator listening on (http:\/\/127\.0\.0\.1:\d+\/v1)\n/.exec(output)?.[1];
      const anthropic = /Anthropic emulator listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(output)?.[1];
      expect(openai).toBeDefined();
      expect(anthropic).toBeDefined();
      const batches = await fetch(`${openai}/batches`, { headers: { authorization: 'Bearer x' } });
      expect([batches.status, (await batches.json()).object]).toEqual([200, 'list']);
      const client = new Anthropic({ apiKey: 'test', baseURL: anthropic, maxRetries: 0 });
      expect((await client.messages.batches.list()).data).toEqual([]);
      await stop(child);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);

  it('refuses an unknown provider', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'main.ts'), '--provider', 'gemini'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toContain('--provider must be openai, anthropic or both, got gemini');
  }, 30_000);
});
