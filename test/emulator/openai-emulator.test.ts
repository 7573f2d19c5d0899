import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import nunjucks from 'nunjucks';
import OpenAI, { AuthenticationError, BadRequestError, ConflictError, NotFoundError, toFile } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { loadScript, parseScript, scriptedResponder, startOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions } from './openai-emulator.ts';
import { anthropicMessages } from './responder.ts';

// ---- helpers -------------------------------------------------------------------------------------------------------

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
let running: OpenAIEmulator[] = [];

afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});

/** An emulator on a fake clock (advance it with `clock.now += ms`) and an SDK client pointed at it. */
async function setup(options: OpenAIEmulatorOptions = {}) {
  const clock = { now: T0 };
  const emulator = await startOpenAIEmulator({ clock: () => clock.now, ...options });
  running.push(emulator);
  const client = new OpenAI({ apiKey: 'test', baseURL: emulator.url, maxRetries: 0 });
  return { emulator, client, clock };
}

function chatLine(customId: string, question: string, model = 'gpt-4.1-mini', extra: Record<string, unknown> = {}) {
  return { custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: question }], ...extra } };
}

function jsonl(lines: unknown[]): string {
  return lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
}

async function upload(client: OpenAI, content: string | Buffer, name = 'requests.jsonl') {
  return client.files.create({ file: await toFile(Buffer.from(content), name, { type: 'application/jsonl' }), purpose: 'batch' });
}

async function createBatch(client: OpenAI, lines: unknown[], metadata?: Record<string, string>) {
  const file = await upload(client, jsonl(lines));
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata });
}

/** The lines of a file, read from the SDK's streaming response one at a time. */
async function fileLines(client: OpenAI, fileId: string): Promise<any[]> {
  const response = await client.files.content(fileId);
  const input = Readable.fromWeb(response.body as unknown as WebReadableStream);
  const lines: any[] = [];
  for await (const line of createInterface({ input, crlfDelay: Infinity })) if (line.trim()) lines.push(JSON.parse(line));
  return lines;
}

async function raw(emulator: OpenAIEmulator, path: string, init: RequestInit = {}) {
  const response = await fetch(emulator.url + path, { ...init, headers: { authorization: 'Bearer test', ...(init.headers as Record<string, string>) } });
  return { status: response.status, body: await response.json() };
}

async function badRequest(promise: Promise<unknown>): Promise<BadRequestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BadRequestError);
  return error as BadRequestError;
}

// ---- tests ---------------------------------------------------------------------------------------------------------

describe('OpenAI emulator: the happy path through the official SDK', () => {
  it('uploads, validates, processes, finalizes and delivers the output file', async () => {
    const { emulator, client, clock } = await setup({ validatingMs: 1000, inProgressMs: 4000, finalizingMs: 1000 });
    const questions = ['What is 2+2?', 'Name a colour.', 'Where is Paris?', 'Say hi.'];
    const input = jsonl(questions.map((q, i) => chatLine(`case-${i}`, q)));

    const file = await upload(client, input, 'my requests.jsonl');
    expect(file).toEqual({
      id: expect.stringMatching(/^file-[A-Za-z0-9]{22}$/),
      object: 'file',
      bytes: Buffer.byteLength(input),
      created_at: T0 / 1000,
      filename: 'my requests.jsonl',
      purpose: 'batch',
      status: 'processed',
      status_details: null,
      expires_at: null,
    });
    expect(await client.files.retrieve(file.id)).toEqual(file);

    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { suite: 'demo' } });
    expect(created).toEqual({
      id: expect.stringMatching(/^batch_[0-9a-f]{32}$/),
      object: 'batch',
      endpoint: '/v1/chat/completions',
      model: null,
      errors: null,
      input_file_id: file.id,
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: T0 / 1000,
      in_progress_at: null,
      expires_at: T0 / 1000 + 24 * 3600,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: { suite: 'demo' },
    });

    clock.now += 999;
    expect((await client.batches.retrieve(created.id)).status).toBe('validating');
    clock.now += 1; // validated at T0+1s
    const started = await client.batches.retrieve(created.id);
    expect(started).toMatchObject({ status: 'in_progress', in_progress_at: T0 / 1000 + 1, model: 'gpt-4.1-mini', request_counts: { total: 4, completed: 0, failed: 0 } });

    clock.now += 2000; // half of inProgressMs: two of four answered
    expect((await client.batches.retrieve(created.id)).request_counts).toEqual({ total: 4, completed: 2, failed: 0 });
    expect(emulator.state.answered.get('case-2')).toBeUndefined();

    clock.now += 2000;
    const finalizing = await client.batches.retrieve(created.id);
    expect(finalizing).toMatchObject({ status: 'finalizing', finalizing_at: T0 / 1000 + 5, output_file_id: null, request_counts: { completed: 4 } });

    clock.now += 1000;
    const done = await client.batches.retrieve(created.id);
    expect(done).toMatchObject({ status: 'completed', completed_at: T0 / 1000 + 6, error_file_id: null, request_counts: { total: 4, completed: 4, failed: 0 } });
    expect(done.output_file_id).toMatch(/^file-/);
    expect(await client.files.retrieve(done.output_file_id!)).toMatchObject({ purpose: 'batch_output', filename: `batch_${done.id}_output.jsonl` });

    const lines = await fileLines(client, done.output_file_id!);
    expect(lines.map((l) => l.custom_id)).toEqual(['case-0', 'case-1', 'case-2', 'case-3']);
    let promptTotal = 0;
    let completionTotal = 0;
    lines.forEach((line, i) => {
      const content = `[emulated gpt-4.1-mini] You asked: "${questions[i]}"`;
      const promptTokens = Math.ceil(questions[i].length / 4);
      const completionTokens = Math.ceil(content.length / 4);
      promptTotal += promptTokens;
      completionTotal += completionTokens;
      expect(line).toEqual({
        id: expect.stringMatching(/^batch_req_/),
        custom_id: `case-${i}`,
        response: {
          status_code: 200,
          request_id: expect.stringMatching(/^req_/),
          body: {
            id: expect.stringMatching(/^chatcmpl-/),
            object: 'chat.completion',
            created: expect.any(Number),
            model: 'gpt-4.1-mini',
            choices: [{ index: 0, message: { role: 'assistant', content, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
            usage: {
              prompt_tokens: promptTokens,
              completion_tokens: completionTokens,
              total_tokens: promptTokens + completionTokens,
              prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
              completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
            },
            service_tier: 'default',
            system_fingerprint: 'fp_emulator',
          },
        },
        error: null,
      });
    });
    expect(done.usage).toEqual({
      input_tokens: promptTotal,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: completionTotal,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: promptTotal + completionTotal,
    });

    // Reading again bills nothing again.
    clock.now += 60_000;
    await client.batches.retrieve(created.id);
    await client.batches.list();
    expect([...emulator.state.answered.entries()]).toEqual([0, 1, 2, 3].map((i) => [`case-${i}`, 1]));
  });

  it('with instant timing a batch is completed at the first read after creation', async () => {
    const { client } = await setup({ instant: true });
    const batch = await createBatch(client, [chatLine('a', 'Hello?')]);
    expect(batch.status).toBe('validating');
    const done = await client.batches.retrieve(batch.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 1, completed: 1, failed: 0 });
  });

  it('deletes files and answers 404 for unknown files and batches', async () => {
    const { client } = await setup({ instant: true });
    const file = await upload(client, jsonl([chatLine('a', 'x')]));
    expect(await client.files.delete(file.id)).toEqual({ id: file.id, object: 'file', deleted: true });
    const notFound = await client.files.retrieve(file.id).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect((notFound as NotFoundError).error).toMatchObject({ message: `No such File object: ${file.id}`, type: 'invalid_request_error' });
    await expect(client.files.content(file.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.batches.retrieve('batch_nope')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.batches.cancel('batch_nope')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('OpenAI emulator: listing', () => {
  it('pages batches newest first with limit and after', async () => {
    const { emulator, client, clock } = await setup({ instant: true });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await createBatch(client, [chatLine(`r${i}`, 'q')])).id);
      if (i === 2) clock.now += 1000; // two creation seconds, so ordering covers ties and distinct times
    }
    const newestFirst = [...ids].reverse();

    const first = await client.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual(newestFirst.slice(0, 2));
    expect(first.has_more).toBe(true);
    const second = await first.getNextPage();
    expect(second.data.map((b) => b.id)).toEqual(newestFirst.slice(2, 4));

    const all: string[] = [];
    for await (const batch of client.batches.list({ limit: 2 })) all.push(batch.id);
    expect(all).toEqual(newestFirst);
    expect(emulator.state.requests.filter((r) => r.path === '/v1/batches' && r.method === 'GET').length).toBe(2 + 3);

    const page = await raw(emulator, `/batches?limit=2&after=${newestFirst[2]}`);
    expect(page.body).toMatchObject({ object: 'list', first_id: newestFirst[3], last_id: newestFirst[4], has_more: false });
    expect(page.body.data.map((b: { id: string }) => b.id)).toEqual(newestFirst.slice(3));
    expect((await raw(emulator, '/batches?limit=101')).status).toBe(400);
  });

  it('lists files with purpose filter', async () => {
    const { client } = await setup({ instant: true });
    const batch = await createBatch(client, [chatLine('a', 'q')]);
    const done = await client.batches.retrieve(batch.id);
    const outputs = [];
    for await (const f of client.files.list({ purpose: 'batch_output' })) outputs.push(f.id);
    expect(outputs).toEqual([done.output_file_id]);
    const all = [];
    for await (const f of client.files.list()) all.push(f.id);
    expect(all).toEqual([done.output_file_id, done.input_file_id]);
  });
});

describe('OpenAI emulator: cancel', () => {
  it('goes cancelling then cancelled, delivering the part already done', async () => {
    const { emulator, client, clock } = await setup({ validatingMs: 0, inProgressMs: 4000, cancellingMs: 500 });
    const batch = await createBatch(client, [0, 1, 2, 3].map((i) => chatLine(`c${i}`, `question ${i}`)));
    clock.now += 2000; // validated at once, then two of four answered

    const cancelling = await client.batches.cancel(batch.id);
    expect(cancelling).toMatchObject({ status: 'cancelling', cancelling_at: T0 / 1000 + 2, cancelled_at: null, request_counts: { total: 4, completed: 2, failed: 0 } });

    clock.now += 10_000; // would have finished by now had it not been cancelled
    const cancelled = await client.batches.retrieve(batch.id);
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelled_at: T0 / 1000 + 2, completed_at: null, request_counts: { total: 4, completed: 2, failed: 2 } });
    expect((await fileLines(client, cancelled.output_file_id!)).map((l) => l.custom_id)).toEqual(['c0', 'c1']);
    const errors = await fileLines(client, cancelled.error_file_id!);
    expect(errors.map((l) => [l.custom_id, l.response, l.error.code])).toEqual([
      ['c2', null, 'batch_cancelled'],
      ['c3', null, 'batch_cancelled'],
    ]);
    expect([...emulator.state.answered.keys()]).toEqual(['c0', 'c1']);

    expect((await client.batches.cancel(batch.id)).status).toBe('cancelled'); // cancelling a cancelled batch is allowed
  });

  it('refuses to cancel a completed batch with 409', async () => {
    const { client } = await setup({ instant: true });
    const batch = await createBatch(client, [chatLine('a', 'q')]);
    expect((await client.batches.retrieve(batch.id)).status).toBe('completed');
    const error = await client.batches.cancel(batch.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).message).toContain("Cannot cancel a batch with status 'completed'.");
  });
});

describe('OpenAI emulator: input validation', () => {
  it('fails the batch with errors.data for each bad line, allowing mixed models', async () => {
    const { emulator, client } = await setup({ instant: true });
    const batch = await createBatch(client, [
      chatLine('ok-1', 'fine'),
      '{"custom_id": "broken", ',
      { method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'no id' }] } },
      chatLine('ok-1', 'duplicate id'),
      { ...chatLine('wrong-url', 'x'), url: '/v1/embeddings' },
      chatLine('other-model', 'fine too', 'gpt-4.1-nano'),
      chatLine('streams', 'x', 'gpt-4.1-mini', { stream: true }),
    ]);
    const failed = await client.batches.retrieve(batch.id);
    expect(failed.status).toBe('failed');
    expect(failed.failed_at).toBe(T0 / 1000);
    expect(failed.in_progress_at).toBeNull();
    expect(failed.output_file_id).toBeNull();
    expect(failed.error_file_id).toBeNull();
    expect(failed.errors).toEqual({
      object: 'list',
      data: [
        { code: 'invalid_json_line', line: 2, message: 'This line is not parseable as valid JSON.', param: null },
        { code: 'missing_required_parameter', line: 3, message: "Missing required parameter: 'custom_id'.", param: 'custom_id' },
        { code: 'duplicate_custom_id', line: 4, message: expect.stringContaining('duplicate'), param: 'custom_id' },
        { code: 'invalid_url', line: 5, message: 'The URL provided for this request does not match the batch endpoint.', param: 'url' },
        { code: 'streaming_unsupported', line: 7, message: 'Chat Completions: Streaming is not supported in the Batch API.', param: 'body.stream' },
      ],
    });
    expect(emulator.state.answered.size).toBe(0);
  });

  it('fails a batch of more than 50,000 requests', async () => {
    const { client } = await setup({ instant: true });
    const line = JSON.stringify(chatLine('x', 'q'));
    const lines = Array.from({ length: 50_001 }, (_, i) => line.replace('"x"', `"r${i}"`));
    const batch = await createBatch(client, lines);
    const failed = await client.batches.retrieve(batch.id);
    expect(failed.status).toBe('failed');
    expect(failed.errors?.data).toEqual([{ code: 'invalid_request', line: null, message: expect.stringContaining('50001 requests, more than the maximum of 50000'), param: null }]);
  });

  it('fails a batch whose input file does not exist (or answers 400 with rejectUnknownInputFile)', async () => {
    const { client } = await setup({ instant: true });
    const batch = await client.batches.create({ input_file_id: 'file-missing', endpoint: '/v1/chat/completions', completion_window: '24h' });
    const failed = await client.batches.retrieve(batch.id);
    expect(failed.status).toBe('failed');
    expect(failed.errors?.data?.[0]).toMatchObject({ code: 'invalid_request', line: null, param: 'file_id', message: expect.stringContaining('file-missing') });

    const strict = await setup({ instant: true, rejectUnknownInputFile: true });
    const error = await badRequest(strict.client.batches.create({ input_file_id: 'file-missing', endpoint: '/v1/chat/completions', completion_window: '24h' }));
    expect(error.param).toBe('input_file_id');
  });

  it('rejects at upload a batch file that is not JSONL', async () => {
    const { client } = await setup({ instant: true });
    const error = await badRequest(upload(client, 'not json at all\n'));
    expect(error.message).toContain('Invalid file format for Batch API. Must be .jsonl');
    await badRequest(upload(client, jsonl([chatLine('a', 'q')]), 'requests.csv'));
  });
});

describe('OpenAI emulator: create-time validation answers 400 with the error envelope', () => {
  it('checks metadata, endpoint, completion_window and unknown parameters', async () => {
    const { client } = await setup({ instant: true });
    const file = await upload(client, jsonl([chatLine('a', 'q')]));
    const create = (params: Record<string, unknown>) =>
      client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', ...params } as OpenAI.Batches.BatchCreateParams);

    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    let error = await badRequest(create({ metadata: tooMany }));
    expect(error.status).toBe(400);
    expect(error.error).toEqual({ message: expect.stringContaining('at most 16 properties'), type: 'invalid_request_error', param: 'metadata', code: 'object_above_max_properties' });
    expect((await create({ metadata: Object.fromEntries(Object.entries(tooMany).slice(0, 16)) })).status).toBe('validating');

    error = await badRequest(create({ metadata: { ['k'.repeat(65)]: 'v' } }));
    expect(error.code).toBe('string_above_max_length');
    expect((await create({ metadata: { ['k'.repeat(64)]: 'v'.repeat(512) } })).metadata).toEqual({ ['k'.repeat(64)]: 'v'.repeat(512) });

    error = await badRequest(create({ metadata: { note: 'v'.repeat(513) } }));
    expect([error.code, error.param]).toEqual(['string_above_max_length', 'metadata.note']);

    error = await badRequest(create({ metadata: { tags: ['a', 'b'] } }));
    expect([error.code, error.param, error.message]).toEqual(['invalid_type', 'metadata.tags', expect.stringContaining('expected a string, but got an array')]);

    error = await badRequest(create({ endpoint: '/v1/invalid/endpoint' }));
    expect([error.code, error.param]).toEqual(['invalid_value', 'endpoint']);
    expect(error.message).toContain("Invalid value: '/v1/invalid/endpoint'. Supported values are:");

    error = await badRequest(create({ completion_window: '48h' }));
    expect([error.code, error.param, (error.error as { message: string }).message]).toEqual(['invalid_value', 'completion_window', "Invalid value: '48h'. Supported values are: '24h'."]);

    error = await badRequest(create({ input_file_id: undefined }));
    expect([error.code, error.param]).toEqual(['missing_required_parameter', 'input_file_id']);

    error = await badRequest(create({ priority: 'high' }));
    expect(error.error).toEqual({ message: 'Unrecognized request argument supplied: priority', type: 'invalid_request_error', param: null, code: null });
  });

  it('answers 400 to a body that is not JSON, 404 to unknown routes', async () => {
    const { emulator } = await setup({ instant: true });
    const bad = await raw(emulator, '/batches', { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', param: null, code: null, message: expect.stringContaining('could not parse the JSON body') });

    const missing = await raw(emulator, '/chat/completions', { method: 'POST', body: '{}' });
    expect(missing).toEqual({ status: 404, body: { error: { message: 'Invalid URL (POST /v1/chat/completions)', type: 'invalid_request_error', param: null, code: null } } });
    expect((await raw(emulator, '/files/x/y')).status).toBe(404);
  });
});

describe('OpenAI emulator: auth', () => {
  it('answers 401 with the envelope when no bearer key is sent', async () => {
    const { emulator } = await setup({ instant: true });
    const client = new OpenAI({ apiKey: 'unused', baseURL: emulator.url, maxRetries: 0, defaultHeaders: { Authorization: null } });
    const error = await client.batches.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).status).toBe(401);
    expect((error as AuthenticationError).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining("You didn't provide an API key") });

    const empty = await fetch(`${emulator.url}/batches`, { headers: { authorization: 'Bearer ' } });
    expect(empty.status).toBe(401);
    expect((await empty.json()).error.param).toBeNull();
    expect(emulator.state.batches.size).toBe(0);
  });
});

describe('OpenAI emulator: expiry', () => {
  it('expires an unfinished batch, delivering the part done and batch_expired errors for the rest', async () => {
    const { emulator, client, clock } = await setup({ validatingMs: 0, inProgressMs: 40_000, expireAfterMs: 10_000 });
    const batch = await createBatch(client, Array.from({ length: 8 }, (_, i) => chatLine(`e${i}`, `q${i}`)));
    expect(batch.expires_at).toBe(T0 / 1000 + 10);

    clock.now += 9_000;
    expect((await client.batches.retrieve(batch.id)).status).toBe('in_progress');
    clock.now += 5_000; // past the window: answered were those due by T0+10s, one every 5 s
    const expired = await client.batches.retrieve(batch.id);
    expect(expired).toMatchObject({ status: 'expired', expired_at: T0 / 1000 + 10, completed_at: null, request_counts: { total: 8, completed: 2, failed: 6 } });
    expect((await fileLines(client, expired.output_file_id!)).map((l) => l.custom_id)).toEqual(['e0', 'e1']);
    const errors = await fileLines(client, expired.error_file_id!);
    expect(errors).toHaveLength(6);
    expect(errors[0]).toEqual({
      id: expect.stringMatching(/^batch_req_/),
      custom_id: 'e2',
      response: null,
      error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
    });
    expect(emulator.state.answered.size).toBe(2);
  });
});

describe('OpenAI emulator: scripted responder', () => {
  const script = `
# first match wins
rules:
  - model: gpt-4.1-nano
    match: return
    reply: You can return them within 14 days.
  - match: return
    reply: Returns are free within 30 days.
  - match: /I am (\\w+)/i
    reply: Hello {{1}}! Yes, we sell running shoes ({{model}}).
  - match: overload
    error: { status: 429, code: rate_limit_exceeded, message: Rate limit reached. }
  - model: /^gpt-4\\.1-(mini|nano)$/
    customId: special
    reply: special case
`;

  it('answers by the first matching rule, falls back to the default, and puts errors in the error file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emulator-script-'));
    writeFileSync(join(dir, 'script.yaml'), script);
    const { emulator, client } = await setup({ instant: true, script: join(dir, 'script.yaml') });
    const batch = await createBatch(client, [
      chatLine('mini-return', 'How do I return shoes?'),
      chatLine('nano-return', 'How do I return shoes?', 'gpt-4.1-nano'),
      chatLine('greet', 'Hi, i am Ada. Running shoes?'),
      chatLine('busy', 'overload please'),
      chatLine('special', 'anything'),
      chatLine('other', 'Something else'),
    ]);
    const done = await client.batches.retrieve(batch.id);
    expect(done.request_counts).toEqual({ total: 6, completed: 5, failed: 1 });
    const replies = Object.fromEntries((await fileLines(client, done.output_file_id!)).map((l) => [l.custom_id, l.response.body.choices[0].message.content]));
    expect(replies).toEqual({
      'mini-return': 'Returns are free within 30 days.',
      'nano-return': 'You can return them within 14 days.',
      greet: 'Hello Ada! Yes, we sell running shoes (gpt-4.1-mini).',
      special: 'special case',
      other: '[emulated gpt-4.1-mini] You asked: "Something else"',
    });
    const errors = await fileLines(client, done.error_file_id!);
    expect(errors).toEqual([
      {
        id: expect.stringMatching(/^batch_req_/),
        custom_id: 'busy',
        response: { status_code: 429, request_id: expect.stringMatching(/^req_/), body: { error: { message: 'Rate limit reached.', type: 'invalid_request_error', param: null, code: 'rate_limit_exceeded' } } },
        error: null,
      },
    ]);
    expect(emulator.state.answered.get('busy')).toBe(1);
  });

  it('refuses scripts with mistakes', () => {
    expect(() => parseScript('- match: x\n  replly: y\n')).toThrow(/rule 1: unknown key "replly"/);
    expect(() => parseScript('- match: x\n')).toThrow(/exactly one of "reply", "grade" and "error"/);
    expect(() => parseScript('- match: "("\n  reply: y\n')).toThrow(/invalid regular expression/);
    expect(() => parseScript('rules: 3')).toThrow(/expected a list of rules/);
    expect(() => parseScript('- error: { status: 200 }')).toThrow(/error.status/);
    const dir = mkdtempSync(join(tmpdir(), 'emulator-script-'));
    writeFileSync(join(dir, 's.json'), JSON.stringify([{ match: 'x', reply: 'y' }]));
    expect(loadScript(join(dir, 's.json')).rules).toEqual([{ match: 'x', reply: 'y' }]);
  });

  describe('the quickstart script (test/emulator/quickstart-script.yaml)', () => {
    const responder = scriptedResponder(loadScript(join(import.meta.dirname, 'quickstart-script.yaml')));
    /** examples/quickstart's prompt, rendered as the action renders it (Nunjucks, no autoescape). */
    const template = readFileSync(join(import.meta.dirname, '../../examples/quickstart/prompts/support.txt'), 'utf8');
    const render = (question: string, name?: string) => new nunjucks.Environment(null, { autoescape: false }).renderString(template, { question, name });

    /** The reply to the quickstart prompt, asked the way each emulator asks its responder. */
    const ask = (shape: 'openai' | 'anthropic', model: string, question: string, name?: string): string => {
      const content = render(question, name);
      const result =
        shape === 'openai'
          ? responder({ customId: 'c', model, endpoint: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content }] } })
          : (() => {
              // As the Anthropic emulator does: the params' messages (here as text blocks) made provider-neutral.
              const params = { model, max_tokens: 300, temperature: 0, messages: [{ role: 'user', content: [{ type: 'text', text: content }] }] };
              return responder({ customId: 'c', model, provider: 'anthropic', endpoint: '/v1/messages', messages: anthropicMessages(params), body: params });
            })();
      if (!('content' in result)) throw new Error(`expected a reply, got ${JSON.stringify(result)}`);
      return result.content;
    };
    const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

    it('is written for the prompt the quickstart sends: the name line comes before the "Customer:" line', () => {
      expect(render('Hi! Do you sell running shoes?', 'Grace')).toMatch(/\nThe customer's name is Grace\.\nCustomer: Hi! Do you sell running shoes\?\s*$/);
      expect(render('Where is my order 1234?')).not.toContain("customer's name");
      expect(render('Where is my order 1234?')).toMatch(/\n\nCustomer: Where is my order 1234\?\s*$/);
    });

    it.each(['openai', 'anthropic'] as const)('makes claude-haiku-4-5 fail "Return policy" and "Order lookup answers in JSON", and gpt-4.1-mini "Keeps answers short" (%s request shape)', (shape) => {
      const mini = (q: string, name?: string) => ask(shape, 'gpt-4.1-mini', q, name);
      const haiku = (q: string, name?: string) => ask(shape, 'claude-haiku-4-5', q, name);

      // Return policy: contains "30 days".
      expect(mini('How many days do I have to return shoes?')).toBe('You have 30 days to return your shoes, and returns are free.');
      expect(haiku('How many days do I have to return shoes?')).toBe('You can return your shoes within 14 days of delivery.');

      // Order tracking: both pass (the order number and "track").
      for (const reply of [mini('Where is my order 1234?'), haiku('Where is my order 1234?')]) {
        expect(reply).toBe('Order 1234 has shipped. You can track it with the tracking link in your confirmation email.');
      }

      // Order lookup answers in JSON: is-json with order and status.
      expect(JSON.parse(mini('Reply only with JSON: the status of order 1234'))).toEqual({ order: '1234', status: 'shipped' });
      expect(haiku('Reply only with JSON: the status of order 1234')).toBe('Sure! Here it is: {"order": "1234", "status": "shipped"}');
      expect(() => JSON.parse(haiku('Reply only with JSON: the status of order 1234'))).toThrow(SyntaxError);

      // Greets the customer by name: the name comes from the line before the question.
      for (const name of ['Ada', 'Grace']) {
        expect(mini('Hi! Do you sell running shoes?', name)).toBe(`Hello ${name}! Yes, we sell running shoes for road and trail.`);
        expect(haiku('Hi! Do you sell running shoes?', name)).toBe(`Hello ${name}! Yes, we sell running shoes for road and trail.`);
      }

      // Keeps answers short: word-count max 60, and (default test) not-icontains "as an AI".
      const ramble = mini('Tell me everything about your shop.');
      expect(words(ramble)).toBe(75);
      expect(ramble.toLowerCase()).toContain('as an ai');
      const short = haiku('Tell me everything about your shop.');
      expect(short).toBe('Stride is an online shoe shop for running, trail and everyday shoes, with free returns within 30 days.');
      expect(words(short)).toBeLessThanOrEqual(60);
    });

    it('gives the model-specific failures to those two models only', () => {
      for (const model of ['gpt-4.1-nano', 'claude-sonnet-4-5']) {
        expect(ask('openai', model, 'How many days do I have to return shoes?')).toContain('30 days');
        expect(JSON.parse(ask('anthropic', model, 'Reply only with JSON: the status of order 1234'))).toEqual({ order: '1234', status: 'shipped' });
        expect(words(ask('openai', model, 'Tell me everything about your shop.'))).toBeLessThanOrEqual(60);
      }
      // Model names match exactly: a dated claude-haiku-4-5 is not the scripted one.
      expect(ask('anthropic', 'claude-haiku-4-5-20251001', 'How many days do I have to return shoes?')).toContain('30 days');
    });
  });

  it('scriptedResponder works as a plain function too', () => {
    const responder = scriptedResponder([{ model: /nano/, reply: 'small' }]);
    const request = (model: string) => ({ customId: 'c', model, endpoint: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi\nthere' }] }] } });
    expect(responder(request('gpt-4.1-nano'))).toEqual({ content: 'small', finishReason: undefined, usage: undefined });
    expect(responder(request('gpt-4.1'))).toEqual({ content: '[emulated gpt-4.1] You asked: "there"' });
  });
});

describe('OpenAI emulator: response details', () => {
  it('truncates to max_completion_tokens with finish_reason length, and honours scripted usage and n', async () => {
    const { client } = await setup({
      instant: true,
      responder: ({ customId }) => (customId === 'usage' ? { content: 'ok', usage: { promptTokens: 100, completionTokens: 7, cachedTokens: 40, reasoningTokens: 3 } } : { content: 'x'.repeat(100) }),
    });
    const batch = await createBatch(client, [chatLine('long', 'q', 'gpt-4.1-mini', { max_completion_tokens: 5 }), chatLine('usage', 'q'), chatLine('two', 'q', 'gpt-4.1-mini', { n: 2 })]);
    const done = await client.batches.retrieve(batch.id);
    const [long, usage, two] = (await fileLines(client, done.output_file_id!)).map((l) => l.response.body);
    expect(long.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'x'.repeat(20) } });
    expect(long.usage.completion_tokens).toBe(5);
    expect(usage.usage).toMatchObject({ prompt_tokens: 100, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 40 }, completion_tokens_details: { reasoning_tokens: 3 } });
    expect(two.choices.map((c: { index: number }) => c.index)).toEqual([0, 1]);
    expect(two.usage.completion_tokens).toBe(50);
    expect(done.usage).toMatchObject({ input_tokens_details: { cached_tokens: 40 }, output_tokens: 5 + 7 + 50, output_tokens_details: { reasoning_tokens: 3 } });
  });

  it('answers a responder that throws with a 500 line in the error file', async () => {
    const { client } = await setup({
      instant: true,
      responder: () => {
        throw new Error('script bug');
      },
    });
    const batch = await createBatch(client, [chatLine('a', 'q')]);
    const done = await client.batches.retrieve(batch.id);
    expect(done.output_file_id).toBeNull();
    const [line] = await fileLines(client, done.error_file_id!);
    expect(line.response.status_code).toBe(500);
    expect(line.response.body.error.type).toBe('server_error');
  });

  it('can write output lines in reverse order', async () => {
    const { client } = await setup({ instant: true, outputOrder: 'reversed' });
    const batch = await createBatch(client, [chatLine('a', 'q'), chatLine('b', 'q')]);
    const done = await client.batches.retrieve(batch.id);
    expect((await fileLines(client, done.output_file_id!)).map((l) => l.custom_id)).toEqual(['b', 'a']);
  });

  it('answers embeddings batches with deterministic unit vectors', async () => {
    const { client } = await setup({ instant: true });
    const line = (id: string, input: unknown, extra = {}) => ({ custom_id: id, method: 'POST', url: '/v1/embeddings', body: { model: 'text-embedding-3-small', input, ...extra } });
    const file = await upload(client, jsonl([line('a', 'hello'), line('b', ['hello', 'world'], { dimensions: 8 })]));
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h' });
    const done = await client.batches.retrieve(batch.id);
    const [a, b] = (await fileLines(client, done.output_file_id!)).map((l) => l.response.body);
    expect(a).toMatchObject({ object: 'list', model: 'text-embedding-3-small', usage: { prompt_tokens: 2, total_tokens: 2 } });
    expect(a.data[0].embedding).toHaveLength(1536);
    expect(b.data.map((d: { index: number }) => d.index)).toEqual([0, 1]);
    const v = b.data[0].embedding as number[];
    expect(v).toHaveLength(8);
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(v).not.toEqual(b.data[1].embedding);
  });
});

describe('OpenAI emulator: multipart uploads', () => {
  it('parses a hand-written multipart body with a quoted boundary and boundary-like bytes in the data', async () => {
    const { emulator, client } = await setup({ instant: true });
    const boundary = 'xYz-123';
    const data = jsonl([chatLine('a', 'text with --xYz-123 inside and\r\nCRLF')]);
    const body = [
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`,
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="with \\"quotes\\".jsonl"\r\nContent-Type: application/jsonl\r\n\r\n${data}\r\n`,
      `--${boundary}--\r\n`,
    ].join('');
    const response = await raw(emulator, '/files', { method: 'POST', body, headers: { 'content-type': `multipart/form-data; boundary="${boundary}"` } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ filename: 'with "quotes".jsonl', bytes: Buffer.byteLength(data), purpose: 'batch' });
    expect(await (await client.files.content(response.body.id)).text()).toBe(data);

    const noFile = await raw(emulator, '/files', { method: 'POST', body: `--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b--\r\n`, headers: { 'content-type': 'multipart/form-data; boundary=b' } });
    expect(noFile).toMatchObject({ status: 400, body: { error: { param: 'file', code: 'missing_required_parameter' } } });
    const truncated = await raw(emulator, '/files', { method: 'POST', body: `--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch`, headers: { 'content-type': 'multipart/form-data; boundary=b' } });
    expect(truncated.status).toBe(400);
    const notMultipart = await raw(emulator, '/files', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(notMultipart.status).toBe(400);
  });

  it('takes a large upload intact through the SDK', async () => {
    const { client } = await setup({ instant: true });
    const line = JSON.stringify(chatLine('x', 'y'.repeat(1000))) + '\n';
    const content = Buffer.from(line.repeat(Math.ceil((48 * 1024 * 1024) / line.length)));
    const file = await upload(client, content);
    expect(file.bytes).toBe(content.length);
    const back = Buffer.from(await (await client.files.content(file.id)).arrayBuffer());
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
  }, 60_000);
});

describe('OpenAI emulator: standalone main.ts', () => {
  it('prints its URL, serves the SDK, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'main.ts'), '--port', '0', '--instant', '--script', join(import.meta.dirname, 'quickstart-script.yaml')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => {
          output += chunk;
          const match = /OpenAI emulator listening on (http:\/\/127\.0\.0\.1:\d+\/v1)\n/.exec(output);
          if (match && output.includes('Ctrl-C to stop.')) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
      });
      expect(output).toContain(`--openai-base-url ${url}`);
      const client = new OpenAI({ apiKey: 'test', baseURL: url, maxRetries: 0 });
      const batch = await createBatch(client, [chatLine('a', 'Customer: How many days do I have to return shoes?')]);
      const done = await client.batches.retrieve(batch.id);
      const [line] = await fileLines(client, done.output_file_id!);
      expect(line.response.body.choices[0].message.content).toContain('30 days');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});
