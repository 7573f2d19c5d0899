/**
 * OpenAIBatchProvider through the real `openai` SDK over real HTTP, against the project's emulator
 * (test/emulator/openai-emulator.ts) running on a fake clock.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchLimitError, writeJsonl } from '../../src/batch/jsonl-file.ts';
import { OPENAI_DEFAULT_BASE_URL, OPENAI_LIMITS, OpenAIBatchProvider, parseResultLine, responsesParams } from '../../src/batch/openai.ts';
import { providerFor } from '../../src/batch/providers.ts';
import type { BatchHandle, BatchMetadata, RequestResult } from '../../src/batch/types.ts';
import { captureLog, chatRequests, closeAll, emulatorOnFakeClock, fileJson, providerAt, T0 } from './support.ts';

const METADATA: BatchMetadata = { suite: 'Support bot regression', repo: 'acme/prompts', pr: '42', sha: 'c0ffee1234' };

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
  await closeAll();
});

async function collect(results: AsyncIterable<RequestResult>): Promise<RequestResult[]> {
  const out: RequestResult[] = [];
  for await (const r of results) out.push(r);
  return out;
}

function byId(results: RequestResult[]): Map<string, RequestResult> {
  return new Map(results.map((r) => [r.id, r]));
}

function ok(result: RequestResult | undefined) {
  if (!result?.ok) throw new Error(`expected a successful result, got ${JSON.stringify(result)}`);
  return result;
}

function failed(result: RequestResult | undefined) {
  if (!result || result.ok) throw new Error(`expected a failed result, got ${JSON.stringify(result)}`);
  return result;
}

describe('OpenAIBatchProvider.submit', () => {
  it('uploads one JSONL line per request and creates a 24h chat-completions batch with the metadata', async () => {
    const { emulator } = await emulatorOnFakeClock();
    const { log, infos } = captureLog();
    const provider = providerAt(emulator.url, log);
    const requests = chatRequests('gpt-4.1-mini', ['What is 2+2?', 'Name a colour.', 'Where is Paris?'], { temperature: 0, max_completion_tokens: 64 });

    const handle = await provider.submit(requests, METADATA);

    // The uploaded input file, as the emulator stored it.
    const uploads = [...emulator.state.files.values()].filter((f) => f.object.purpose === 'batch');
    expect(uploads).toHaveLength(1);
    const upload = uploads[0];
    expect(upload.object.filename).toMatch(/\.jsonl$/);
    const text = upload.content.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n').filter(Boolean)).toHaveLength(3);
    expect(fileJson(emulator, upload.object.id)).toEqual(
      requests.map((r) => ({
        custom_id: r.id,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4.1-mini', messages: r.messages, temperature: 0, max_completion_tokens: 64 },
      })),
    );

    // The batch.
    expect(emulator.state.batches.size).toBe(1);
    const batch = emulator.state.batches.get(handle.batchId);
    expect(batch).toBeDefined();
    expect(batch!.inputFileId).toBe(upload.object.id);
    expect(batch!.endpoint).toBe('/v1/chat/completions');
    expect(batch!.completionWindow).toBe('24h');
    // The model too: a batch found by listing is matched to its planned batch by provider and model.
    expect(batch!.metadata).toEqual({ tool: 'batch-evals', suite: 'Support bot regression', repo: 'acme/prompts', pr: '42', sha: 'c0ffee1234', model: 'gpt-4.1-mini' });

    expect(handle).toEqual({ provider: 'openai', batchId: batch!.id, requestCount: 3, submittedAt: new Date(T0).toISOString() });
    expect(infos().some((m) => m.includes('uploading 3 requests'))).toBe(true);
    expect(emulator.state.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['POST /v1/files 200', 'POST /v1/batches 200']);
  });

  it('leaves out empty metadata values, and the request params cannot replace the model or the messages', async () => {
    const { emulator } = await emulatorOnFakeClock();
    const provider = providerAt(emulator.url);
    const [request] = chatRequests('gpt-4.1-mini', ['Hello?'], { model: 'gpt-4o', messages: [], seed: 7 });

    const handle = await provider.submit([request], { suite: 'only a suite', pr: '', sha: undefined });

    expect(emulator.state.batches.get(handle.batchId)!.metadata).toEqual({ tool: 'batch-evals', suite: 'only a suite', model: expect.any(String) });
    const upload = [...emulator.state.files.values()].find((f) => f.object.purpose === 'batch')!;
    const [line] = fileJson(emulator, upload.object.id);
    expect(line.body).toEqual({ model: 'gpt-4.1-mini', messages: request.messages, seed: 7 });
  });

  it('request ids round-trip: every submitted id comes back exactly once as a custom_id', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true });
    const provider = providerAt(emulator.url);
    const requests = chatRequests('gpt-4.1-nano', ['a?', 'b?', 'c?', 'd?', 'e?'], {}, 'sha256:0f3a');

    const handle = await provider.submit(requests, METADATA);
    clock.now += 1;
    expect((await provider.status(handle)).providerStatus).toBe('completed');
    const results = await collect(provider.results(handle));

    expect(results.map((r) => r.id).sort()).toEqual(requests.map((r) => r.id).sort());
    expect([...emulator.state.answered.entries()].sort()).toEqual(requests.map((r) => [r.id, 1]).sort());
  });
});

describe('OpenAIBatchProvider.status', () => {
  it('maps validating, in_progress and finalizing to running, and completed to ended, with the request counts', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ validatingMs: 1000, inProgressMs: 4000, finalizingMs: 1000 });
    const provider = providerAt(emulator.url);
    const handle = await provider.submit(chatRequests('gpt-4.1-mini', ['q1', 'q2', 'q3', 'q4']), METADATA);

    const seen = [];
    for (const at of [0, 1000, 3000, 5000, 6000]) {
      clock.now = T0 + at;
      seen.push(await provider.status(handle));
    }

    expect(seen).toEqual([
      { phase: 'running', providerStatus: 'validating', total: 0, completed: 0, failed: 0, errors: [] },
      { phase: 'running', providerStatus: 'in_progress', total: 4, completed: 0, failed: 0, errors: [] },
      // Requests are answered evenly over the 4 s: at 2 s in, two of four are done.
      { phase: 'running', providerStatus: 'in_progress', total: 4, completed: 2, failed: 0, errors: [] },
      { phase: 'running', providerStatus: 'finalizing', total: 4, completed: 4, failed: 0, errors: [] },
      { phase: 'ended', providerStatus: 'completed', total: 4, completed: 4, failed: 0, errors: [] },
    ]);
  });

  it('a batch that fails validation (unknown model) ends as failed with an error naming each line', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true, knownModels: ['gpt-4.1-mini'] });
    const provider = providerAt(emulator.url);
    const handle = await provider.submit(chatRequests('gpt-9-imaginary', ['q1', 'q2']), METADATA);
    clock.now += 1;

    const status = await provider.status(handle);

    expect(status).toEqual({
      phase: 'ended',
      providerStatus: 'failed',
      total: 0,
      completed: 0,
      failed: 0,
      errors: [
        "line 1: model_not_found: The provided model 'gpt-9-imaginary' is not supported by the Batch API.",
        "line 2: model_not_found: The provided model 'gpt-9-imaginary' is not supported by the Batch API.",
      ],
      // Each line is one request of the batch: the pipeline gives each refused case its own reason.
      lineErrors: [
        { line: 1, message: "model_not_found: The provided model 'gpt-9-imaginary' is not supported by the Batch API." },
        { line: 2, message: "model_not_found: The provided model 'gpt-9-imaginary' is not supported by the Batch API." },
      ],
    });
    // Nothing was answered, so there is nothing to read.
    expect(await collect(provider.results(handle))).toEqual([]);
    expect(emulator.state.answered.size).toBe(0);
  });

  it('names the line of a request that alone fails validation', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true });
    const provider = providerAt(emulator.url);
    const requests = chatRequests('gpt-4.1-mini', ['fine', 'streams', 'fine too']);
    requests[1] = { ...requests[1], params: { stream: true } };
    const handle = await provider.submit(requests, METADATA);
    clock.now += 1;

    const status = await provider.status(handle);

    expect(status.phase).toBe('ended');
    expect(status.providerStatus).toBe('failed');
    expect(status.errors).toEqual(['line 2: streaming_unsupported: Chat Completions: Streaming is not supported in the Batch API.']);
  });
});

describe('OpenAIBatchProvider.results', () => {
  const script = {
    rules: [
      { match: 'overload', error: { status: 429, code: 'rate_limit_exceeded', message: 'Rate limit reached for gpt-4.1-mini.' } },
      { match: 'crash', error: { status: 500, message: 'The server had an error while processing your request.' } },
      { match: 'unavailable', error: { status: 503, code: 'service_unavailable', message: 'Overloaded.' } },
      { match: 'malformed', error: { status: 400, code: 'invalid_value', param: 'temperature', message: "Invalid value for 'temperature'." } },
      { match: 'think', reply: '42', usage: { promptTokens: 100, completionTokens: 5, cachedTokens: 40, reasoningTokens: 3 } },
    ],
  };

  it('gives text and usage (cached tokens split out of the input tokens) and per-request errors with code, message and retryable', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true, script });
    const provider = providerAt(emulator.url);
    const questions = ['think hard', 'What is the capital of France?', 'overload me', 'crash now', 'unavailable?', 'malformed'];
    const requests = chatRequests('gpt-4.1-mini', questions);
    const handle = await provider.submit(requests, METADATA);
    clock.now += 1;
    const status = await provider.status(handle);
    expect(status).toMatchObject({ phase: 'ended', providerStatus: 'completed', total: 6, completed: 2, failed: 4 });

    const results = byId(await collect(provider.results(handle)));

    expect(results.size).toBe(6);
    expect(ok(results.get('gpt-4.1-mini-0'))).toEqual({
      id: 'gpt-4.1-mini-0',
      ok: true,
      text: '42',
      finishReason: 'stop',
      usage: { inputTokens: 60, cachedInputTokens: 40, outputTokens: 5, cacheWriteTokens: 0 },
    });
    // Default responder: the prompt is every message's text joined by \n, ceil(characters / 4) tokens each way.
    const text = '[emulated gpt-4.1-mini] You asked: "What is the capital of France?"';
    const promptTokens = Math.ceil('Answer briefly.\nWhat is the capital of France?'.length / 4);
    expect(ok(results.get('gpt-4.1-mini-1'))).toEqual({
      id: 'gpt-4.1-mini-1',
      ok: true,
      text,
      finishReason: 'stop',
      usage: { inputTokens: promptTokens, cachedInputTokens: 0, outputTokens: Math.ceil(text.length / 4), cacheWriteTokens: 0 },
    });

    expect(failed(results.get('gpt-4.1-mini-2')).error).toEqual({ code: 'rate_limit_exceeded', message: 'Rate limit reached for gpt-4.1-mini.', retryable: true });
    // No code: the error type stands in.
    expect(failed(results.get('gpt-4.1-mini-3')).error).toEqual({ code: 'server_error', message: 'The server had an error while processing your request.', retryable: true });
    expect(failed(results.get('gpt-4.1-mini-4')).error).toEqual({ code: 'service_unavailable', message: 'Overloaded.', retryable: true });
    expect(failed(results.get('gpt-4.1-mini-5')).error).toEqual({ code: 'invalid_value', message: "Invalid value for 'temperature'.", retryable: false });
  });

  it('joins on custom_id when the output file is not in input order', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true, outputOrder: 'reversed' });
    const provider = providerAt(emulator.url);
    const questions = ['first question', 'second question', 'third question', 'fourth question'];
    const requests = chatRequests('gpt-4.1-nano', questions);
    const handle = await provider.submit(requests, METADATA);
    clock.now += 1;
    await provider.status(handle);

    // The emulator really did write the output backwards.
    const batch = emulator.state.batches.get(handle.batchId)!;
    expect(fileJson(emulator, batch.outputFileId!).map((l) => l.custom_id)).toEqual(requests.map((r) => r.id).reverse());

    const results = await collect(provider.results(handle));
    expect(results.map((r) => r.id)).toEqual(requests.map((r) => r.id).reverse());
    const joined = byId(results);
    requests.forEach((r, i) => {
      expect(ok(joined.get(r.id)).text).toBe(`[emulated gpt-4.1-nano] You asked: "${questions[i]}"`);
    });
  });

  it('an expired batch: the finished part is delivered, the rest are retryable batch_expired errors', async () => {
    // 4 requests answered evenly over 10 s (at 2.5, 5, 7.5, 10 s); the batch expires at 3 s, after the first.
    const { emulator, clock } = await emulatorOnFakeClock({ validatingMs: 0, inProgressMs: 10_000, finalizingMs: 0, expireAfterMs: 3_000 });
    const provider = providerAt(emulator.url);
    const requests = chatRequests('gpt-4.1-mini', ['one', 'two', 'three', 'four']);
    const handle = await provider.submit(requests, METADATA);

    clock.now = T0 + 2_000;
    expect(await provider.status(handle)).toMatchObject({ phase: 'running', providerStatus: 'in_progress' });
    clock.now = T0 + 60_000;
    expect(await provider.status(handle)).toEqual({ phase: 'ended', providerStatus: 'expired', total: 4, completed: 1, failed: 3, errors: [] });

    const results = byId(await collect(provider.results(handle)));
    expect(results.size).toBe(4);
    expect(ok(results.get('gpt-4.1-mini-0')).text).toBe('[emulated gpt-4.1-mini] You asked: "one"');
    for (const id of ['gpt-4.1-mini-1', 'gpt-4.1-mini-2', 'gpt-4.1-mini-3']) {
      expect(failed(results.get(id)).error).toEqual({
        code: 'batch_expired',
        message: 'This request could not be executed before the completion window expired.',
        retryable: true,
      });
    }
    // Only the finished request was billed.
    expect([...emulator.state.answered.keys()]).toEqual(['gpt-4.1-mini-0']);
  });

  it('warns about an unreadable line in a result file and reads on', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true });
    const { log, warnings } = captureLog();
    const provider = providerAt(emulator.url, log);
    const handle = await provider.submit(chatRequests('gpt-4.1-mini', ['one', 'two']), METADATA);
    clock.now += 1;
    await provider.status(handle);
    const output = emulator.state.files.get(emulator.state.batches.get(handle.batchId)!.outputFileId!)!;
    const [first, second] = output.content.toString('utf8').split('\n');
    output.content = Buffer.from(`${first}\n{"truncated":\n${second}\n`);

    const results = await collect(provider.results(handle));

    expect(results.map((r) => r.id)).toEqual(['gpt-4.1-mini-0', 'gpt-4.1-mini-1']);
    expect(warnings()).toEqual([expect.stringMatching(/^openai: skipped an unreadable line in file-\w+: \{"truncated":$/)]);
  });

  it('parseResultLine: lines without an id are unreadable; odd but readable lines still give a result', () => {
    expect(parseResultLine('not json')).toBeUndefined();
    expect(parseResultLine('{"response":null}')).toBeUndefined();
    expect(parseResultLine('{"custom_id":"x","response":null,"error":null}')).toEqual({
      id: 'x',
      ok: false,
      error: { code: 'unknown_error', message: 'the provider returned neither a response nor an error', retryable: false },
    });
    expect(parseResultLine(JSON.stringify({ custom_id: 'y', response: { status_code: 408, body: {} }, error: null }))).toEqual({
      id: 'y',
      ok: false,
      error: { code: 'http_408', message: 'HTTP 408', retryable: true },
    });
    expect(
      parseResultLine(JSON.stringify({ custom_id: 'z', response: { status_code: 200, body: { choices: [{ message: { content: null, refusal: 'I cannot help.' }, finish_reason: 'stop' }] } } })),
    ).toEqual({ id: 'z', ok: true, text: 'I cannot help.', finishReason: 'stop', usage: { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, cacheWriteTokens: 0 } });
  });
});

describe('OpenAIBatchProvider.cancel', () => {
  it('moves the batch to cancelling, then cancelled; answered requests are kept, the rest are retryable batch_cancelled', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ validatingMs: 0, inProgressMs: 4_000, finalizingMs: 0, cancellingMs: 500 });
    const provider = providerAt(emulator.url);
    const requests = chatRequests('gpt-4.1-mini', ['one', 'two', 'three', 'four']);
    const handle = await provider.submit(requests, METADATA);

    clock.now = T0 + 2_000; // two of four answered
    await provider.cancel(handle);
    expect(emulator.state.requests.at(-1)).toEqual({ method: 'POST', path: `/v1/batches/${handle.batchId}/cancel`, status: 200 });
    expect(await provider.status(handle)).toMatchObject({ phase: 'running', providerStatus: 'cancelling' });

    clock.now = T0 + 2_500;
    expect(await provider.status(handle)).toEqual({ phase: 'ended', providerStatus: 'cancelled', total: 4, completed: 2, failed: 2, errors: [] });

    const results = byId(await collect(provider.results(handle)));
    expect(ok(results.get('gpt-4.1-mini-1')).text).toBe('[emulated gpt-4.1-mini] You asked: "two"');
    expect(failed(results.get('gpt-4.1-mini-3')).error).toMatchObject({ code: 'batch_cancelled', retryable: true });
    expect([...results.values()].filter((r) => r.ok)).toHaveLength(2);
  });
});

describe('the base URL', () => {
  it('is never taken from OPENAI_BASE_URL: a dead address there does not stop the provider talking to the given baseURL', async () => {
    vi.stubEnv('OPENAI_BASE_URL', 'http://127.0.0.1:9/v1');
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true });
    const provider = new OpenAIBatchProvider({ apiKey: 'test-key', baseURL: emulator.url, log: captureLog().log });

    const handle = await provider.submit(chatRequests('gpt-4.1-mini', ['ping']), METADATA);
    clock.now += 1;
    expect((await provider.status(handle)).providerStatus).toBe('completed');
    expect(ok((await collect(provider.results(handle)))[0]).text).toBe('[emulated gpt-4.1-mini] You asked: "ping"');
    expect(emulator.state.requests.length).toBeGreaterThanOrEqual(4);
  });

  it('providerFor: the batch base URL wins over the credentials one, and the environment is never consulted', async () => {
    vi.stubEnv('OPENAI_BASE_URL', 'http://127.0.0.1:9/v1');
    const a = await emulatorOnFakeClock({ instant: true });
    const b = await emulatorOnFakeClock({ instant: true });
    const requests = chatRequests('gpt-4.1-mini', ['ping']);
    const log = captureLog().log;

    const fromBatch = providerFor({ key: 'k', provider: 'openai', model: 'gpt-4.1-mini', baseURL: a.emulator.url, requests }, { openaiApiKey: 'k', openaiBaseUrl: b.emulator.url }, log);
    await fromBatch.submit(requests, METADATA);
    expect(a.emulator.state.batches.size).toBe(1);
    expect(b.emulator.state.batches.size).toBe(0);

    const fromCredentials = providerFor({ key: 'k', provider: 'openai', model: 'gpt-4.1-mini', requests }, { openaiApiKey: 'k', openaiBaseUrl: b.emulator.url }, log);
    await fromCredentials.submit(requests, METADATA);
    expect(b.emulator.state.batches.size).toBe(1);
  });

  it('with no base URL configured it is api.openai.com, even when OPENAI_BASE_URL points at a live server', async () => {
    const { emulator } = await emulatorOnFakeClock({ instant: true });
    vi.stubEnv('OPENAI_BASE_URL', emulator.url);
    // Do not reach the real API: record where the SDK sends the request and answer it here.
    const urls: string[] = [];
    vi.stubGlobal('fetch', async (input: string | URL | Request) => {
      urls.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      return new Response(JSON.stringify({ error: { message: 'stubbed', type: 'invalid_request_error', param: null, code: null } }), {
        status: 404,
        headers: { 'content-type': 'application/json' },
      });
    });
    const provider = providerFor({ key: 'k', provider: 'openai', model: 'gpt-4.1-mini', requests: [] }, { openaiApiKey: 'k' }, captureLog().log);

    const handle: BatchHandle = { provider: 'openai', batchId: 'batch_abc', requestCount: 1, submittedAt: new Date(T0).toISOString() };
    await expect(provider.status(handle)).rejects.toThrow(/stubbed/);

    expect(urls).toEqual([`${OPENAI_DEFAULT_BASE_URL}/batches/batch_abc`]);
    expect(emulator.state.requests).toEqual([]);
  });
});

describe('batch limits', () => {
  it('more than 50,000 requests: BatchLimitError before anything is uploaded', async () => {
    const { emulator } = await emulatorOnFakeClock({ instant: true });
    const provider = providerAt(emulator.url);
    const requests = Array.from({ length: OPENAI_LIMITS.maxRequests + 1 }, (_, i) => ({ id: `r${i}`, model: 'gpt-4.1-mini', messages: [{ role: 'user' as const, content: 'hi' }], params: {} }));

    const error = await provider.submit(requests, METADATA).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(BatchLimitError);
    expect((error as Error).message).toMatch(/^openai:gpt-4\.1-mini: .*limit of 50,000 requests per batch/);
    expect(emulator.state.requests).toEqual([]);
  });

  describe('writeJsonl', () => {
    const line = (i: number) => ({ n: i, pad: 'x'.repeat(20) }); // each line is 33 or 34 bytes
    let dir: string;

    /** A private TMPDIR, so the test can see that nothing is left behind. */
    function privateTmp() {
      dir = mkdtempSync(join(tmpdir(), 'be-limits-'));
      vi.stubEnv('TMPDIR', dir);
      return () => readdirSync(dir);
    }

    afterEach(() => {
      vi.unstubAllEnvs();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('writes up to the limits exactly, one JSON line per item', async () => {
      const left = privateTmp();
      const items = [0, 1, 2];
      const expected = items.map((i) => `${JSON.stringify(line(i))}\n`).join('');
      const file = await writeJsonl(items, line, { maxRequests: 3, maxBytes: Buffer.byteLength(expected) }, 'openai:m');
      expect(file.path.startsWith(dir)).toBe(true);
      expect(file.lines).toBe(3);
      expect(file.bytes).toBe(Buffer.byteLength(expected));
      expect(readFileSync(file.path, 'utf8')).toBe(expected);
      await file.remove();
      expect(left()).toEqual([]);
    });

    it('one request over the maximum: BatchLimitError naming the request limit, and no temporary file left', async () => {
      const left = privateTmp();
      const error = await writeJsonl([0, 1, 2, 3], line, { maxRequests: 3, maxBytes: 1e9 }, 'openai:gpt-4.1-mini').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BatchLimitError);
      expect((error as Error).message).toMatch(/^openai:gpt-4\.1-mini: the batch passes the provider's limit of 3 requests per batch$/);
      expect(left()).toEqual([]);
    });

    it('one byte over the maximum: BatchLimitError naming the size limit, and no temporary file left', async () => {
      const left = privateTmp();
      const size = Buffer.byteLength(`${JSON.stringify(line(0))}\n`) + Buffer.byteLength(`${JSON.stringify(line(1))}\n`);
      const error = await writeJsonl([0, 1], line, { maxRequests: 100, maxBytes: size - 1 }, 'openai:gpt-4.1-mini').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BatchLimitError);
      expect((error as Error).message).toMatch(new RegExp(`limit of ${size - 1} bytes per batch`));
      expect((error as Error).message).not.toMatch(/requests/);
      expect(left()).toEqual([]);
    });

    it('passing the limit while writes are still in flight fails with the BatchLimitError alone (no stray stream error)', async () => {
      const left = privateTmp();
      // Enough lines that the file stream still has writes pending when the limit is passed.
      const items = Array.from({ length: 50_001 }, (_, i) => i);
      const error = await writeJsonl(items, line, { maxRequests: 50_000, maxBytes: 1e9 }, 'openai:m').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BatchLimitError);
      // An 'error' event on the destroyed stream would surface here as an uncaught exception (vitest fails the run).
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(left()).toEqual([]);
    });

    it('states a size limit in MB the way the provider documents it (200 MB = 200 × 1024 × 1024 bytes)', async () => {
      privateTmp();
      // Two lines of 1.5 MiB pass a 2 MiB limit; the real limit is the same arithmetic at 200 MiB.
      const big = 'y'.repeat(1.5 * 1024 * 1024);
      const error = await writeJsonl([big, big], (s) => ({ s }), { maxRequests: OPENAI_LIMITS.maxRequests, maxBytes: 2 * 1024 * 1024 }, 'openai:m').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BatchLimitError);
      expect((error as Error).message).toContain("limit of 2 MB per batch");
      expect(OPENAI_LIMITS.maxBytes).toBe(200 * 1024 * 1024);
    });
  });
});

describe('OpenAIBatchProvider.findRunning', () => {
  afterEach(closeAll);

  it("finds this tool's batches still running for the repository, with their metadata, by listing", async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ validatingMs: 0, inProgressMs: 60_000, finalizingMs: 0 });
    const provider = providerAt(emulator.url);
    const ours = await provider.submit(chatRequests('gpt-4.1-mini', ['a?']), { ...METADATA, config: 'evals/x.yaml', suite_id: 'abc123def456' });
    await provider.submit(chatRequests('gpt-4.1-mini', ['b?'], {}, 'other'), { ...METADATA, repo: 'someone/else' });
    const finished = await provider.submit(chatRequests('gpt-4.1-nano', ['c?']), METADATA);
    // The third batch finishes; the first two are still in progress.
    emulator.state.batches.get(finished.batchId)!.status = 'completed';
    clock.now += 1_000;

    const found = await provider.findRunning('acme/prompts');
    expect(found.map((f) => f.handle.batchId)).toEqual([ours.batchId]);
    expect(found[0]).toMatchObject({
      model: 'gpt-4.1-mini',
      handle: { provider: 'openai', batchId: ours.batchId, requestCount: 1 },
      metadata: { tool: 'batch-evals', repo: 'acme/prompts', pr: '42', sha: 'c0ffee1234', config: 'evals/x.yaml', suite_id: 'abc123def456' },
    });
  });
});

describe("OpenAI's Responses API (openai:responses:<model>)", () => {
  it('sends a /v1/responses batch with the messages as input and the cap as max_output_tokens, and reads the answers', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true, script: { rules: [{ match: 'think', reply: '42', usage: { promptTokens: 100, completionTokens: 5, cachedTokens: 40, reasoningTokens: 3 } }, { match: 'long', reply: 'word '.repeat(100) }] } });
    const provider = providerAt(emulator.url);
    const requests = chatRequests('gpt-4.1-mini', ['think hard', 'Write something long'], { temperature: 0, max_tokens: 20 }).map((r) => ({ ...r, api: 'responses' as const }));
    const handle = await provider.submit(requests, METADATA);

    const [batch] = emulator.state.batches.values();
    expect(batch.endpoint).toBe('/v1/responses');
    const [line] = fileJson(emulator, batch.inputFileId);
    expect(line).toEqual({
      custom_id: 'gpt-4.1-mini-0',
      method: 'POST',
      url: '/v1/responses',
      body: {
        temperature: 0,
        max_output_tokens: 20,
        model: 'gpt-4.1-mini',
        input: [
          { role: 'system', content: 'Answer briefly.' },
          { role: 'user', content: 'think hard' },
        ],
      },
    });

    clock.now += 1;
    await provider.status(handle);
    const results = byId(await collect(provider.results(handle)));
    expect(ok(results.get('gpt-4.1-mini-0'))).toEqual({
      id: 'gpt-4.1-mini-0',
      ok: true,
      text: '42',
      finishReason: 'stop',
      usage: { inputTokens: 60, cachedInputTokens: 40, outputTokens: 5, cacheWriteTokens: 0 },
    });
    // Cut at max_output_tokens: the response is incomplete, said as Chat Completions' `length`.
    const long = ok(results.get('gpt-4.1-mini-1'));
    expect(long.finishReason).toBe('length');
    expect(long.text.length).toBe(80);
  });

  it('parseResultLine reads a response: message items only (reasoning left out), output_text parts joined, a refusal as its text', () => {
    const line = (output: unknown[], extra: Record<string, unknown> = {}) =>
      JSON.stringify({ custom_id: 'r1', response: { status_code: 200, body: { object: 'response', status: 'completed', output, usage: { input_tokens: 10, output_tokens: 4 }, ...extra } } });
    const reasoning = { type: 'reasoning', summary: [] };
    expect(parseResultLine(line([reasoning, { type: 'message', content: [{ type: 'output_text', text: 'Par' }, { type: 'output_text', text: 'is' }] }]))).toMatchObject({ ok: true, text: 'Paris', usage: { inputTokens: 10, outputTokens: 4 } });
    expect(parseResultLine(line([{ type: 'message', content: [{ type: 'refusal', refusal: 'I cannot help with that.' }] }]))).toMatchObject({ ok: true, text: 'I cannot help with that.' });
    expect(parseResultLine(line([], { status: 'incomplete', incomplete_details: { reason: 'content_filter' } }))).toMatchObject({ ok: true, text: '', finishReason: 'content_filter' });
  });

  it('responsesParams: the cap as max_output_tokens, response_format as text.format (json_schema unwrapped), the rest as written', () => {
    expect(responsesParams({ max_tokens: 10, temperature: 0 })).toEqual({ max_output_tokens: 10, temperature: 0 });
    expect(responsesParams({ max_completion_tokens: 20, max_output_tokens: 30 })).toEqual({ max_output_tokens: 30 });
    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    expect(responsesParams({ response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } } })).toEqual({
      text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
    });
    expect(responsesParams({ response_format: { type: 'json_object' } })).toEqual({ text: { format: { type: 'json_object' } } });
    // Written for the Responses API already: kept.
    expect(responsesParams({ text: { format: { type: 'text' } }, reasoning: { effort: 'low' } })).toEqual({ text: { format: { type: 'text' } }, reasoning: { effort: 'low' } });
  });

  it('the emulator refuses max_tokens on /v1/responses as the API does (what the renaming above guards against)', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true });
    const client = new OpenAI({ apiKey: 'test-key', baseURL: emulator.url });
    const line = { custom_id: 'r1', method: 'POST', url: '/v1/responses', body: { model: 'gpt-4.1-mini', input: 'hi', max_tokens: 5 } };
    const file = await client.files.create({ file: new File([JSON.stringify(line)], 'in.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/responses', completion_window: '24h' });
    clock.now += 1;
    const ended = await client.batches.retrieve(batch.id);
    const [error] = fileJson(emulator, ended.error_file_id!);
    expect(error.response).toMatchObject({
      status_code: 400,
      body: { error: { type: 'invalid_request_error', param: 'max_tokens', code: 'unsupported_parameter', message: "Unsupported parameter: 'max_tokens'. In the Responses API, this parameter has moved to 'max_output_tokens'." } },
    });
  });
});
