/**
 * AnthropicBatchProvider through the real `@anthropic-ai/sdk` over real HTTP, against the project's Message Batches
 * emulator (test/emulator/anthropic-emulator.ts) running on a fake clock.
 */
import Anthropic, { BadRequestError, ContentTooLargeError } from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_DEFAULT_MAX_TOKENS, ANTHROPIC_LIMITS, AnthropicBatchProvider, splitSystem, toResult } from '../../src/batch/anthropic.ts';
import { BatchLimitError } from '../../src/batch/jsonl-file.ts';
import { MissingCredentialsError, providerFor } from '../../src/batch/providers.ts';
import { collectResults, submitBatches, waitForBatches, type BatchRun } from '../../src/batch/run-batches.ts';
import type { BatchHandle, BatchMetadata, BatchProvider, BatchRequest, RequestResult } from '../../src/batch/types.ts';
import type { ChatMessage } from '../../src/config/types.ts';
import type { Logger } from '../../src/logger.ts';
import { startAnthropicEmulator, type AnthropicEmulator, type AnthropicEmulatorOptions } from '../emulator/anthropic-emulator.ts';
import { captureLog, chatRequests, closeAll, closers, emulatorOnFakeClock, providerAt, runFor, T0 } from './support.ts';

const METADATA: BatchMetadata = { suite: 'Support bot regression', repo: 'acme/prompts', pr: '42', sha: 'c0ffee1234' };
const MODEL = 'claude-haiku-4-5';

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
  await closeAll();
});

// ---- helpers -------------------------------------------------------------------------------------------------------

/** An Anthropic emulator whose clock only moves when the test moves it; pass `clock` to share one with another emulator. */
async function anthropicOnFakeClock(options: AnthropicEmulatorOptions = {}, clock = { now: T0 }) {
  const emulator = await startAnthropicEmulator({ clock: () => clock.now, ...options });
  closers.push(() => emulator.close());
  return { emulator, clock };
}

/** Typed as the interface run-batches uses (the class's own submit leaves out the metadata, which Message Batches cannot carry). */
function anthropicAt(baseURL: string, log: Logger = captureLog().log): BatchProvider {
  return new AnthropicBatchProvider({ apiKey: 'test-key', baseURL, log });
}

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

/** What the emulator received for a batch: `{ custom_id, params }` per request, as parsed from the HTTP body. */
function received(emulator: AnthropicEmulator, batchId: string) {
  const batch = emulator.state.batches.get(batchId);
  if (!batch) throw new Error(`no batch ${batchId} in the emulator`);
  return batch.requests.map((r) => ({ custom_id: r.customId, params: r.params }));
}

const calls = (emulator: AnthropicEmulator) => emulator.state.requests.map((r) => `${r.method} ${r.path} ${r.status}`);

/** The default responder's reply to a question. */
const echo = (question: string, model = MODEL) => `[emulated ${model}] You asked: "${question}"`;
const tokens = (text: string) => Math.ceil(text.length / 4);

function anthropicRun(requests: BatchRequest[], provider: BatchProvider): BatchRun {
  const model = requests[0].model;
  return { batch: { key: `anthropic||${model}`, provider: 'anthropic', model, requests }, provider };
}

/** A results line for toResult, as the SDK would decode it (only the fields toResult and a reader would look at). */
function line(custom_id: string, result: unknown): Anthropic.Messages.Batches.MessageBatchIndividualResponse {
  return { custom_id, result } as Anthropic.Messages.Batches.MessageBatchIndividualResponse;
}

function succeeded(content: unknown[], usage: Record<string, unknown> = { input_tokens: 10, output_tokens: 3 }, stop_reason: string | null = 'end_turn') {
  return { type: 'succeeded', message: { id: 'msg_01x', type: 'message', role: 'assistant', model: MODEL, content, stop_reason, stop_sequence: null, usage } };
}

function errored(type: string, message: string) {
  return { type: 'errored', error: { type: 'error', error: { type, message } } };
}

// ---- submit --------------------------------------------------------------------------------------------------------

describe('AnthropicBatchProvider.submit', () => {
  it('sends one {custom_id, params} per request: system messages become the system field, stop becomes stop_sequences', async () => {
    const { emulator } = await anthropicOnFakeClock();
    const { log, infos } = captureLog();
    const provider = anthropicAt(emulator.url, log);
    const conversation: ChatMessage[] = [
      { role: 'system', content: 'You are a terse support bot.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello! How can I help?' },
      { role: 'developer', content: 'Answer in English.' },
      { role: 'user', content: 'Can I return shoes?' },
    ];
    const params = { max_tokens: 256, temperature: 0.2, top_p: 0.9, top_k: 40, stop: ['\n\nHuman:', 'END'] };
    const requests: BatchRequest[] = [
      { id: 'case-1', model: MODEL, messages: conversation, params },
      { id: 'case-2', model: MODEL, messages: [{ role: 'user', content: 'No system prompt here.' }], params },
    ];

    const handle = await provider.submit(requests, METADATA);

    const sent = received(emulator, handle.batchId);
    expect(sent).toEqual([
      {
        custom_id: 'case-1',
        params: {
          model: MODEL,
          max_tokens: 256,
          temperature: 0.2,
          top_p: 0.9,
          top_k: 40,
          stop_sequences: ['\n\nHuman:', 'END'],
          system: 'You are a terse support bot.\n\nAnswer in English.',
          messages: [
            { role: 'user', content: 'Hi' },
            { role: 'assistant', content: 'Hello! How can I help?' },
            { role: 'user', content: 'Can I return shoes?' },
          ],
        },
      },
      {
        custom_id: 'case-2',
        params: { model: MODEL, max_tokens: 256, temperature: 0.2, top_p: 0.9, top_k: 40, stop_sequences: ['\n\nHuman:', 'END'], messages: [{ role: 'user', content: 'No system prompt here.' }] },
      },
    ]);
    // Not merely undefined: absent from the JSON that went over the wire (as are promptfoo's own names).
    expect(Object.keys(sent[1].params)).not.toContain('system');
    expect(Object.keys(sent[0].params)).not.toContain('stop');
    // The caller's params are not changed by the renaming.
    expect(params).toEqual({ max_tokens: 256, temperature: 0.2, top_p: 0.9, top_k: 40, stop: ['\n\nHuman:', 'END'] });

    expect(handle).toEqual({ provider: 'anthropic', batchId: expect.stringMatching(/^msgbatch_01\w+$/), requestCount: 2, submittedAt: new Date(T0).toISOString() });
    expect(emulator.state.batches.has(handle.batchId)).toBe(true);
    expect(calls(emulator)).toEqual(['POST /v1/messages/batches 200']);
    expect(emulator.state.requests[0].anthropicVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(infos()).toEqual([expect.stringMatching(/^anthropic:claude-haiku-4-5: sending 2 requests \(0\.00 MB\)$/)]);
    expect(infos().some((m) => m.includes('max_tokens'))).toBe(false);
  });

  it('the params are understood by the API: stop_sequences cut the reply, max_tokens truncates, and neither request errors', async () => {
    const script = { rules: [{ match: 'capital', reply: 'Paris. It is also the largest city.' }] };
    const { emulator, clock } = await anthropicOnFakeClock({ instant: true, script });
    const provider = anthropicAt(emulator.url);
    const requests: BatchRequest[] = [
      { id: 'stops', model: MODEL, messages: [{ role: 'user', content: 'What is the capital of France?' }], params: { stop: ['.'], temperature: 0 } },
      { id: 'short', model: MODEL, messages: [{ role: 'user', content: 'Tell me the capital of France.' }], params: { max_tokens: 2 } },
    ];

    const handle = await provider.submit(requests, METADATA);
    clock.now += 1;
    const results = byId(await collect(provider.results(handle)));

    expect(ok(results.get('stops'))).toMatchObject({ text: 'Paris', finishReason: 'stop_sequence' });
    // max_tokens 2: the emulator cuts the reply to 2 * 4 characters.
    expect(ok(results.get('short'))).toMatchObject({ text: 'Paris. I', finishReason: 'max_tokens', usage: { outputTokens: 2 } });
  });

  it('without max_tokens sends 1024 and says so once; the request params cannot replace the model, messages or system', async () => {
    const { emulator } = await anthropicOnFakeClock();
    const { log, infos } = captureLog();
    const provider = anthropicAt(emulator.url, log);
    const requests = chatRequests(MODEL, ['first?', 'second?'], { model: 'claude-opus-4-1', messages: [], system: 'from params', temperature: 1 });
    requests.push({ id: 'with-max', model: MODEL, messages: [{ role: 'user', content: 'third?' }], params: { max_tokens: 64 } });

    const handle = await provider.submit(requests, METADATA);

    expect(ANTHROPIC_DEFAULT_MAX_TOKENS).toBe(1024);
    const sent = received(emulator, handle.batchId);
    expect(sent.map((r) => r.params.max_tokens)).toEqual([1024, 1024, 64]);
    expect(sent[0].params).toEqual({ model: MODEL, max_tokens: 1024, temperature: 1, system: 'Answer briefly.', messages: [{ role: 'user', content: 'first?' }] });
    expect(infos()).toEqual([
      'anthropic:claude-haiku-4-5: max_tokens not set in the provider config; sending 1024 (the API requires it)',
      expect.stringMatching(/^anthropic:claude-haiku-4-5: sending 3 requests \(\d+\.\d\d MB\)$/),
    ]);
  });

  it('request ids round-trip: every submitted id comes back exactly once as a custom_id, answered once', async () => {
    const { emulator, clock } = await anthropicOnFakeClock({ instant: true });
    const provider = anthropicAt(emulator.url);
    const requests = chatRequests(MODEL, ['a?', 'b?', 'c?', 'd?', 'e?'], {}, 'case_0f3a');

    const handle = await provider.submit(requests, METADATA);
    clock.now += 1;
    expect((await provider.status(handle)).providerStatus).toBe('ended');
    const results = await collect(provider.results(handle));

    expect(results.map((r) => r.id).sort()).toEqual(requests.map((r) => r.id).sort());
    expect([...emulator.state.answered.entries()].sort()).toEqual(requests.map((r) => [r.id, 1]).sort());
  });

  it('an error answer to the create call rejects submit with the API message', async () => {
    const { emulator } = await anthropicOnFakeClock();
    const provider = anthropicAt(emulator.url);
    // custom_id must match ^[a-zA-Z0-9_-]{1,64}$; the API refuses the whole batch.
    const requests = chatRequests(MODEL, ['a?'], {}, 'sha256:0f3a');

    const error = await provider.submit(requests, METADATA).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toContain("requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'");
    expect(emulator.state.batches.size).toBe(0);
    // A 400 is not retried.
    expect(calls(emulator)).toEqual(['POST /v1/messages/batches 400']);
  });
});

describe('splitSystem', () => {
  it('joins every system and developer message (in order) with a blank line and keeps user and assistant messages in order', () => {
    expect(
      splitSystem([
        { role: 'user', content: 'u1' },
        { role: 'developer', content: 'd1' },
        { role: 'assistant', content: 'a1' },
        { role: 'system', content: 's1' },
        { role: 'user', content: 'u2' },
      ]),
    ).toEqual({ system: 'd1\n\ns1', messages: [{ role: 'user', content: 'u1' }, { role: 'assistant', content: 'a1' }, { role: 'user', content: 'u2' }] });
  });

  it('no system prompt: system is undefined and the messages are copies', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'hi' }];
    const split = splitSystem(messages);
    expect(split).toEqual({ system: undefined, messages: [{ role: 'user', content: 'hi' }] });
    expect(split.messages[0]).not.toBe(messages[0]);
    expect(splitSystem([])).toEqual({ system: undefined, messages: [] });
  });
});

// ---- status --------------------------------------------------------------------------------------------------------

describe('AnthropicBatchProvider.status', () => {
  it('in_progress is running with everything processing (even when some are answered); ended is ended with the split', async () => {
    const { emulator, clock } = await anthropicOnFakeClock({ inProgressMs: 4_000 });
    const provider = anthropicAt(emulator.url);
    const handle = await provider.submit(chatRequests(MODEL, ['q1', 'q2', 'q3', 'q4']), METADATA);

    const seen = [];
    const answered = [];
    for (const at of [0, 2_000, 3_999, 4_000]) {
      clock.now = T0 + at;
      seen.push(await provider.status(handle));
      answered.push(emulator.state.answered.size);
    }

    expect(seen).toEqual([
      { phase: 'running', providerStatus: 'in_progress', total: 4, completed: 0, failed: 0, errors: [] },
      { phase: 'running', providerStatus: 'in_progress', total: 4, completed: 0, failed: 0, errors: [] },
      { phase: 'running', providerStatus: 'in_progress', total: 4, completed: 0, failed: 0, errors: [] },
      { phase: 'ended', providerStatus: 'ended', total: 4, completed: 4, failed: 0, errors: [] },
    ]);
    // The emulator really had answered some of them while the counts still showed them all as processing.
    expect(answered).toEqual([0, 2, 3, 4]);
    expect(calls(emulator).slice(1)).toEqual(Array(4).fill(`GET /v1/messages/batches/${handle.batchId} 200`));
  });

  it('canceling is running; failed counts errored + canceled; completed counts succeeded only', async () => {
    const script = { rules: [{ match: 'broken', error: { status: 500, message: 'Internal server error' } }] };
    const { emulator, clock } = await anthropicOnFakeClock({ inProgressMs: 4_000, cancelingMs: 500, script });
    const provider = anthropicAt(emulator.url);
    // Answered at 1, 2, 3 and 4 s; canceled at 2 s: one succeeded, one errored, two canceled.
    const handle = await provider.submit(chatRequests(MODEL, ['fine', 'broken', 'later', 'later still']), METADATA);

    clock.now = T0 + 2_000;
    await provider.cancel(handle);
    expect(await provider.status(handle)).toEqual({ phase: 'running', providerStatus: 'canceling', total: 4, completed: 0, failed: 0, errors: [] });
    clock.now = T0 + 2_500;
    expect(await provider.status(handle)).toEqual({ phase: 'ended', providerStatus: 'ended', total: 4, completed: 1, failed: 3, errors: [] });
    expect(emulator.state.batchObject(handle.batchId).request_counts).toEqual({ processing: 0, succeeded: 1, errored: 1, canceled: 2, expired: 0 });
  });

  it('an expired batch: failed counts the expired requests', async () => {
    // Answered at 1, 2, 3, 4 s; the batch expires at 3 s with the last one unanswered.
    const { emulator, clock } = await anthropicOnFakeClock({ inProgressMs: 4_000, expireAfterMs: 3_000 });
    const provider = anthropicAt(emulator.url);
    const handle = await provider.submit(chatRequests(MODEL, ['one', 'two', 'three', 'four']), METADATA);

    clock.now = T0 + 60_000;
    expect(await provider.status(handle)).toEqual({ phase: 'ended', providerStatus: 'ended', total: 4, completed: 3, failed: 1, errors: [] });
    expect(emulator.state.batchObject(handle.batchId).request_counts).toEqual({ processing: 0, succeeded: 3, errored: 0, canceled: 0, expired: 1 });

    const results = byId(await collect(provider.results(handle)));
    expect(ok(results.get(`${MODEL}-2`)).text).toBe(echo('three'));
    expect(failed(results.get(`${MODEL}-3`)).error).toEqual({ code: 'expired', message: 'the batch expired (24 hours) before this request ran', retryable: true });
    expect([...emulator.state.answered.keys()]).toEqual([`${MODEL}-0`, `${MODEL}-1`, `${MODEL}-2`]);
  });

  it('an unknown batch id rejects with the API error', async () => {
    const { emulator } = await anthropicOnFakeClock();
    const provider = anthropicAt(emulator.url);
    const handle: BatchHandle = { provider: 'anthropic', batchId: 'msgbatch_01nope', requestCount: 1, submittedAt: new Date(T0).toISOString() };
    await expect(provider.status(handle)).rejects.toThrow(/404 .*Message batch msgbatch_01nope not found\./);
  });
});

// ---- results -------------------------------------------------------------------------------------------------------

describe('AnthropicBatchProvider.results', () => {
  const script = {
    rules: [
      { match: 'malformed', error: { status: 400, message: 'messages.0.content: bad content' } },
      { match: 'crash', error: { status: 500, message: 'Internal server error' } },
      { match: 'overload', error: { status: 529, message: 'Overloaded' } },
      { match: 'slow down', error: { status: 429, message: 'Number of request tokens has exceeded your rate limit.' } },
      { match: 'cache', reply: 'Cached answer.', usage: { promptTokens: 100, completionTokens: 5, cachedTokens: 40, cacheWriteTokens: 20 } },
    ],
  };

  it('text and usage (cache reads and writes split out), and per-request errors with code, message and retryable', async () => {
    const { emulator, clock } = await anthropicOnFakeClock({ instant: true, script });
    const provider = anthropicAt(emulator.url);
    const questions = ['use the cache', 'What is the capital of France?', 'malformed', 'crash now', 'overload me', 'slow down', 'too hot'];
    const requests = chatRequests(MODEL, questions);
    requests[6] = { ...requests[6], params: { temperature: 1.5 } };
    const handle = await provider.submit(requests, METADATA);
    clock.now += 1;
    expect(await provider.status(handle)).toEqual({ phase: 'ended', providerStatus: 'ended', total: 7, completed: 2, failed: 5, errors: [] });

    const list = await collect(provider.results(handle));
    const results = byId(list);

    expect(list).toHaveLength(7);
    // results() reads the batch for its results_url, then streams that (absolute) URL.
    expect(calls(emulator).slice(-2)).toEqual([`GET /v1/messages/batches/${handle.batchId} 200`, `GET /v1/messages/batches/${handle.batchId}/results 200`]);
    expect(ok(results.get(`${MODEL}-0`))).toEqual({
      id: `${MODEL}-0`,
      ok: true,
      text: 'Cached answer.',
      finishReason: 'end_turn',
      usage: { inputTokens: 40, cachedInputTokens: 40, cacheWriteTokens: 20, outputTokens: 5 },
    });
    const text = echo('What is the capital of France?');
    expect(ok(results.get(`${MODEL}-1`))).toEqual({
      id: `${MODEL}-1`,
      ok: true,
      text,
      finishReason: 'end_turn',
      // The system prompt counts: ceil(characters / 4) of the system prompt and the messages joined by \n.
      usage: { inputTokens: tokens('Answer briefly.\nWhat is the capital of France?'), cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: tokens(text) },
    });
    expect(failed(results.get(`${MODEL}-2`)).error).toEqual({ code: 'invalid_request_error', message: 'messages.0.content: bad content', retryable: false });
    expect(failed(results.get(`${MODEL}-3`)).error).toEqual({ code: 'api_error', message: 'Internal server error', retryable: true });
    expect(failed(results.get(`${MODEL}-4`)).error).toEqual({ code: 'overloaded_error', message: 'Overloaded', retryable: true });
    expect(failed(results.get(`${MODEL}-5`)).error).toEqual({ code: 'rate_limit_error', message: 'Number of request tokens has exceeded your rate limit.', retryable: true });
    // Checked by the API itself while processing, not by a script.
    expect(failed(results.get(`${MODEL}-6`)).error).toEqual({ code: 'invalid_request_error', message: 'temperature: Input should be less than or equal to 1', retryable: false });
    expect(failed(results.get(`${MODEL}-6`)).usage).toBeUndefined();
  });

  it('only text blocks make the text: thinking, redacted thinking and tool use blocks in the stream are skipped', async () => {
    const { emulator, clock } = await anthropicOnFakeClock({ instant: true });
    const provider = anthropicAt(emulator.url);
    const handle = await provider.submit(chatRequests(MODEL, ['think first', 'say nothing']), METADATA);
    clock.now += 1;
    await provider.status(handle);
    // The emulator's responder only writes text; give its stored result the blocks an extended-thinking model returns.
    const stored = emulator.state.batches.get(handle.batchId)!.results;
    const message = (i: number) => (stored[i].result as { message: Record<string, unknown> }).message;
    message(0).content = [
      { type: 'thinking', thinking: 'The user wants me to think. Let me think.', signature: 'EqQBCgIYAhIM' },
      { type: 'text', text: 'First part, ' },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
      { type: 'tool_use', id: 'toolu_01', name: 'lookup', input: { q: 'x' } },
      { type: 'text', text: 'second part.' },
    ];
    message(1).content = [];

    const results = byId(await collect(provider.results(handle)));

    expect(ok(results.get(`${MODEL}-0`)).text).toBe('First part, second part.');
    expect(ok(results.get(`${MODEL}-1`)).text).toBe('');
  });

  for (const order of ['reversed', 'shuffled'] as const) {
    it(`joins on custom_id when the results come ${order}`, async () => {
      const { emulator, clock } = await anthropicOnFakeClock({ instant: true, resultsOrder: order });
      const provider = anthropicAt(emulator.url);
      const questions = ['first question', 'second question', 'third question', 'fourth question', 'fifth question', 'sixth question'];
      const requests = chatRequests(MODEL, questions);
      const handle = await provider.submit(requests, METADATA);
      clock.now += 1;
      await provider.status(handle);

      const results = await collect(provider.results(handle));

      // The stream really was out of input order.
      const ids = results.map((r) => r.id);
      expect(ids).not.toEqual(requests.map((r) => r.id));
      expect([...ids].sort()).toEqual(requests.map((r) => r.id).sort());
      if (order === 'reversed') expect(ids).toEqual(requests.map((r) => r.id).reverse());
      const joined = byId(results);
      requests.forEach((r, i) => expect(ok(joined.get(r.id)).text).toBe(echo(questions[i])));
    });
  }

  it('results of a batch still in progress: the SDK refuses (no results_url) and nothing is yielded', async () => {
    const { emulator } = await anthropicOnFakeClock({ inProgressMs: 10_000 });
    const provider = anthropicAt(emulator.url);
    const handle = await provider.submit(chatRequests(MODEL, ['a']), METADATA);

    const seen: RequestResult[] = [];
    const error = await (async () => {
      for await (const r of provider.results(handle)) seen.push(r);
    })().catch((e: unknown) => e);

    expect((error as Error).message).toMatch(/No batch `results_url`.*in_progress/);
    expect(seen).toEqual([]);
    expect(calls(emulator).some((c) => c.includes('/results'))).toBe(false);
  });

  describe('toResult', () => {
    it('succeeded: text blocks joined, other blocks skipped, usage mapped, null cache counts as 0', () => {
      const result = toResult(
        line(
          'x',
          succeeded(
            [
              { type: 'thinking', thinking: 'hmm', signature: 's' },
              { type: 'text', text: 'A' },
              { type: 'redacted_thinking', data: 'd' },
              { type: 'text', text: 'B' },
            ],
            { input_tokens: 12, output_tokens: 7, cache_read_input_tokens: null, cache_creation_input_tokens: null },
          ),
        ),
      );
      expect(result).toEqual({ id: 'x', ok: true, text: 'AB', finishReason: 'end_turn', usage: { inputTokens: 12, outputTokens: 7, cachedInputTokens: 0, cacheWriteTokens: 0 } });
    });

    it('succeeded: cache reads and writes are their own counts, not part of inputTokens', () => {
      const result = toResult(line('x', succeeded([{ type: 'text', text: 'ok' }], { input_tokens: 5, output_tokens: 2, cache_read_input_tokens: 900, cache_creation_input_tokens: 300 })));
      expect(ok(result).usage).toEqual({ inputTokens: 5, outputTokens: 2, cachedInputTokens: 900, cacheWriteTokens: 300 });
    });

    it('a null stop_reason gives no finishReason', () => {
      expect(ok(toResult(line('x', succeeded([{ type: 'text', text: 'ok' }], undefined, null)))).finishReason).toBeUndefined();
    });

    it('errored: only invalid_request_error is final; api, overloaded and rate-limit errors are retryable', () => {
      const cases = Object.fromEntries(
        ['invalid_request_error', 'api_error', 'overloaded_error', 'rate_limit_error'].map((type) => [type, failed(toResult(line('x', errored(type, `a ${type}`)))).error]),
      );
      expect(cases).toEqual({
        invalid_request_error: { code: 'invalid_request_error', message: 'a invalid_request_error', retryable: false },
        api_error: { code: 'api_error', message: 'a api_error', retryable: true },
        overloaded_error: { code: 'overloaded_error', message: 'a overloaded_error', retryable: true },
        rate_limit_error: { code: 'rate_limit_error', message: 'a rate_limit_error', retryable: true },
      });
    });

    it('canceled and expired are retryable, with codes canceled and expired', () => {
      expect(toResult(line('c', { type: 'canceled' }))).toEqual({ id: 'c', ok: false, error: { code: 'canceled', message: 'the batch was canceled before this request ran', retryable: true } });
      expect(toResult(line('e', { type: 'expired' }))).toEqual({ id: 'e', ok: false, error: { code: 'expired', message: 'the batch expired (24 hours) before this request ran', retryable: true } });
    });
  });
});

// ---- cancel --------------------------------------------------------------------------------------------------------

describe('AnthropicBatchProvider.cancel', () => {
  it('moves the batch to canceling, then ended; answered requests are kept, the rest are retryable canceled', async () => {
    const { emulator, clock } = await anthropicOnFakeClock({ inProgressMs: 4_000, cancelingMs: 500 });
    const provider = anthropicAt(emulator.url);
    const requests = chatRequests(MODEL, ['one', 'two', 'three', 'four']);
    const handle = await provider.submit(requests, METADATA);

    clock.now = T0 + 2_000; // two of four answered
    await provider.cancel(handle);
    expect(calls(emulator).at(-1)).toBe(`POST /v1/messages/batches/${handle.batchId}/cancel 200`);
    expect(emulator.state.batchObject(handle.batchId)).toMatchObject({ processing_status: 'canceling', cancel_initiated_at: new Date(T0 + 2_000).toISOString() });
    expect(await provider.status(handle)).toMatchObject({ phase: 'running', providerStatus: 'canceling' });

    clock.now = T0 + 2_500;
    expect(await provider.status(handle)).toEqual({ phase: 'ended', providerStatus: 'ended', total: 4, completed: 2, failed: 2, errors: [] });

    const results = byId(await collect(provider.results(handle)));
    expect(results.size).toBe(4);
    expect(ok(results.get(`${MODEL}-1`)).text).toBe(echo('two'));
    for (const id of [`${MODEL}-2`, `${MODEL}-3`]) {
      expect(failed(results.get(id)).error).toEqual({ code: 'canceled', message: 'the batch was canceled before this request ran', retryable: true });
    }
    // Nothing was answered (billed) after the cancel.
    expect([...emulator.state.answered.keys()]).toEqual([`${MODEL}-0`, `${MODEL}-1`]);
  });

  it('canceling an ended batch rejects with the API error', async () => {
    const { emulator, clock } = await anthropicOnFakeClock({ instant: true });
    const provider = anthropicAt(emulator.url);
    const handle = await provider.submit(chatRequests(MODEL, ['one']), METADATA);
    clock.now += 1;
    await expect(provider.cancel(handle)).rejects.toThrow(/400 .*has already ended and can no longer be canceled/);
  });
});

// ---- base URL and credentials --------------------------------------------------------------------------------------

describe('the base URL', () => {
  it('is never taken from ANTHROPIC_BASE_URL: a dead address there does not stop the provider talking to the given baseURL', async () => {
    vi.stubEnv('ANTHROPIC_BASE_URL', 'http://127.0.0.1:9');
    const { emulator, clock } = await anthropicOnFakeClock({ instant: true });
    const provider: BatchProvider = new AnthropicBatchProvider({ apiKey: 'test-key', baseURL: emulator.url, log: captureLog().log });

    const handle = await provider.submit(chatRequests(MODEL, ['ping']), METADATA);
    clock.now += 1;
    expect((await provider.status(handle)).providerStatus).toBe('ended');
    expect(ok((await collect(provider.results(handle)))[0]).text).toBe(echo('ping'));
    await expect(provider.cancel(handle)).rejects.toThrow(/already ended/);
    expect(calls(emulator)).toEqual([
      'POST /v1/messages/batches 200',
      `GET /v1/messages/batches/${handle.batchId} 200`,
      `GET /v1/messages/batches/${handle.batchId} 200`,
      `GET /v1/messages/batches/${handle.batchId}/results 200`,
      `POST /v1/messages/batches/${handle.batchId}/cancel 400`,
    ]);
  });

  it('providerFor: the batch base URL wins over the credentials one, and the environment is never consulted', async () => {
    vi.stubEnv('ANTHROPIC_BASE_URL', 'http://127.0.0.1:9');
    const a = await anthropicOnFakeClock({ instant: true });
    const b = await anthropicOnFakeClock({ instant: true });
    const requests = chatRequests(MODEL, ['ping']);
    const log = captureLog().log;

    const fromBatch = providerFor({ key: 'k', provider: 'anthropic', model: MODEL, baseURL: a.emulator.url, requests }, { anthropicApiKey: 'k', anthropicBaseUrl: b.emulator.url }, log);
    expect(fromBatch).toBeInstanceOf(AnthropicBatchProvider);
    expect(fromBatch.name).toBe('anthropic');
    await fromBatch.submit(requests, METADATA);
    expect(a.emulator.state.batches.size).toBe(1);
    expect(b.emulator.state.batches.size).toBe(0);

    const fromCredentials = providerFor({ key: 'k', provider: 'anthropic', model: MODEL, requests }, { anthropicApiKey: 'k', anthropicBaseUrl: b.emulator.url }, log);
    await fromCredentials.submit(requests, METADATA);
    expect(a.emulator.state.batches.size).toBe(1);
    expect(b.emulator.state.batches.size).toBe(1);
  });

  it('providerFor: no Anthropic key is a MissingCredentialsError naming the anthropic-api-key input, an OpenAI key does not count', () => {
    const batch = { key: 'k', provider: 'anthropic' as const, model: MODEL, requests: [] };
    for (const credentials of [{}, { anthropicApiKey: '' }, { openaiApiKey: 'sk-openai', anthropicBaseUrl: 'http://127.0.0.1:9' }]) {
      let error: unknown;
      try {
        providerFor(batch, credentials, captureLog().log);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MissingCredentialsError);
      expect((error as Error).message).toBe(`anthropic:${MODEL} needs an API key: set the anthropic-api-key input (or ANTHROPIC_API_KEY for the CLI)`);
    }
  });

  it('with no base URL configured it is api.anthropic.com, even when ANTHROPIC_BASE_URL points at a live server; env keys are not sent', async () => {
    const { emulator } = await anthropicOnFakeClock({ instant: true });
    vi.stubEnv('ANTHROPIC_BASE_URL', emulator.url);
    vi.stubEnv('ANTHROPIC_API_KEY', 'sk-ant-from-env');
    vi.stubEnv('ANTHROPIC_AUTH_TOKEN', 'token-from-env');
    // Do not reach the real API: record where the SDK sends the request and answer it here.
    const seen: { url: string; headers: Headers }[] = [];
    vi.stubGlobal('fetch', async (input: string | URL | Request, init?: RequestInit) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      seen.push({ url, headers: new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)) });
      return new Response(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'stubbed' }, request_id: 'req_1' }), {
        status: 404,
        headers: { 'content-type': 'application/json' },
      });
    });
    const provider = providerFor({ key: 'k', provider: 'anthropic', model: MODEL, requests: [] }, { anthropicApiKey: 'sk-ant-configured' }, captureLog().log);

    const handle: BatchHandle = { provider: 'anthropic', batchId: 'msgbatch_01abc', requestCount: 1, submittedAt: new Date(T0).toISOString() };
    await expect(provider.status(handle)).rejects.toThrow(/stubbed/);

    expect(ANTHROPIC_DEFAULT_BASE_URL).toBe('https://api.anthropic.com');
    expect(seen.map((s) => s.url)).toEqual(['https://api.anthropic.com/v1/messages/batches/msgbatch_01abc']);
    // This SDK sends the key as a bearer token; either way only the configured key goes out, not the environment's.
    const credentials = [seen[0].headers.get('x-api-key'), seen[0].headers.get('authorization')].filter((v) => v !== null);
    expect(credentials.length).toBeGreaterThan(0);
    for (const value of credentials) expect(value).toMatch(/^(Bearer )?sk-ant-configured$/);
    expect([...seen[0].headers.values()].join('\n')).not.toMatch(/from-env/);
    expect(emulator.state.requests).toEqual([]);
  });
});

// ---- limits --------------------------------------------------------------------------------------------------------

describe('batch limits', () => {
  const oneRequest = (i: number, content = 'hi'): BatchRequest => ({ id: `r${i}`, model: MODEL, messages: [{ role: 'user', content }], params: { max_tokens: 16 } });

  it('more than 100,000 requests: BatchLimitError before any HTTP request', async () => {
    const { emulator } = await anthropicOnFakeClock({ instant: true });
    const provider = anthropicAt(emulator.url);
    expect(ANTHROPIC_LIMITS.maxRequests).toBe(100_000);
    const requests = Array.from({ length: 100_001 }, (_, i) => oneRequest(i));

    const error = await provider.submit(requests, METADATA).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BatchLimitError);
    expect((error as Error).message).toBe('anthropic:claude-haiku-4-5: 100,001 requests, more than the 100,000 a Message Batch takes');
    expect(emulator.state.requests).toEqual([]);
    expect(emulator.state.batches.size).toBe(0);
  });

  it('exactly 100,000 requests are sent, and the API takes them', async () => {
    const { emulator } = await anthropicOnFakeClock();
    const provider = anthropicAt(emulator.url);
    const requests = Array.from({ length: 100_000 }, (_, i) => oneRequest(i));

    const handle = await provider.submit(requests, METADATA);

    expect(handle.requestCount).toBe(100_000);
    expect(emulator.state.batches.get(handle.batchId)!.requests).toHaveLength(100_000);
  }, 30_000);

  it('more than 256 MB of requests: BatchLimitError before any HTTP request', async () => {
    const { emulator } = await anthropicOnFakeClock({ instant: true });
    const provider = anthropicAt(emulator.url);
    expect(ANTHROPIC_LIMITS.maxBytes).toBe(256 * 1024 * 1024);
    // Three requests sharing one 90 MiB string: 270 MiB of JSON, only one copy of the text held.
    const big = 'x'.repeat(90 * 1024 * 1024);
    const requests = [0, 1, 2].map((i) => oneRequest(i, big));

    const error = await provider.submit(requests, METADATA).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BatchLimitError);
    expect((error as Error).message).toBe("anthropic:claude-haiku-4-5: the batch passes the provider's limit of 256 MB per batch");
    expect(emulator.state.requests).toEqual([]);
  }, 30_000);

  describe('the size check counts the bytes of the body the SDK sends (with a lowered limit)', () => {
    const LIMIT = 4_096;
    let saved: number;

    /** Requests whose create body, as the SDK serialises it, is exactly `size` bytes. */
    function requestsOfBodySize(size: number, count: number): BatchRequest[] {
      const body = (pad: number) => ({
        requests: Array.from({ length: count }, (_, i) => ({
          custom_id: `r${i}`,
          params: { max_tokens: 16, model: MODEL, messages: [{ role: 'user', content: i === 0 ? 'x'.repeat(pad) : 'hi' }] },
        })),
      });
      const pad = size - Buffer.byteLength(JSON.stringify(body(0)));
      expect(Buffer.byteLength(JSON.stringify(body(pad)))).toBe(size);
      return Array.from({ length: count }, (_, i) => oneRequest(i, i === 0 ? 'x'.repeat(pad) : 'hi'));
    }

    afterEach(() => {
      ANTHROPIC_LIMITS.maxBytes = saved;
    });

    async function setup() {
      saved = ANTHROPIC_LIMITS.maxBytes;
      ANTHROPIC_LIMITS.maxBytes = LIMIT;
      const { emulator } = await anthropicOnFakeClock({ instant: true, maxBatchBytes: LIMIT });
      return { emulator, provider: anthropicAt(emulator.url) };
    }

    it('the emulator itself refuses a body one byte over the limit (413), so the provider must stop there first', async () => {
      const { emulator } = await setup();
      const client = new Anthropic({ apiKey: 'test-key', baseURL: emulator.url, maxRetries: 0 });
      const over = requestsOfBodySize(LIMIT + 1, 1);
      const create = (requests: BatchRequest[]) =>
        client.messages.batches.create({
          requests: requests.map((r) => ({ custom_id: r.id, params: { max_tokens: 16, model: MODEL, messages: r.messages as Anthropic.MessageParam[] } })),
        });
      await expect(create(over)).rejects.toBeInstanceOf(ContentTooLargeError);
      await expect(create(requestsOfBodySize(LIMIT, 1))).resolves.toMatchObject({ processing_status: 'in_progress' });
    });

    for (const count of [1, 3]) {
      it(`${count} request(s): a body of exactly the limit is sent; one byte more is a BatchLimitError with nothing sent`, async () => {
        const { emulator, provider } = await setup();

        const handle = await provider.submit(requestsOfBodySize(LIMIT, count), METADATA);
        expect(emulator.state.batches.get(handle.batchId)!.requests).toHaveLength(count);

        const error = await provider.submit(requestsOfBodySize(LIMIT + 1, count), METADATA).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BatchLimitError);
        expect((error as Error).message).toBe(`anthropic:claude-haiku-4-5: the batch passes the provider's limit of ${LIMIT.toLocaleString('en-US')} bytes per batch`);
        expect(calls(emulator)).toEqual(['POST /v1/messages/batches 200']);
      });
    }
  });
});

// ---- run-batches with both providers -------------------------------------------------------------------------------

describe('run-batches with an OpenAI and an Anthropic batch at once', () => {
  it('submits both, polls both until ended, and collects both', async () => {
    const clock = { now: T0 };
    const openai = await emulatorOnFakeClock({ clock: () => clock.now, validatingMs: 0, inProgressMs: 2_000, finalizingMs: 0 });
    const script = { rules: [{ model: MODEL, match: 'overload', error: { status: 529, message: 'Overloaded' } }] };
    const anthropic = await anthropicOnFakeClock({ inProgressMs: 5_000, script }, clock);
    const { log, infos, warnings } = captureLog();
    const openaiRun = runFor(chatRequests('gpt-4.1-mini', ['o1', 'o2']), providerAt(openai.emulator.url, log));
    const claudeRun = anthropicRun(chatRequests(MODEL, ['a1', 'overload', 'a3']), anthropicAt(anthropic.emulator.url, log));
    const runs = [openaiRun, claudeRun];
    const sleeps: number[] = [];

    await submitBatches(runs, METADATA, log);
    expect(infos()).toContain(`anthropic:${MODEL}: submitted 3 requests as ${claudeRun.handle!.batchId}`);
    expect(infos()).toContain(`openai:gpt-4.1-mini: submitted 2 requests as ${openaiRun.handle!.batchId}`);

    await waitForBatches(
      runs,
      {
        deadline: T0 + 3_600_000,
        initialIntervalMs: 1_000,
        maxIntervalMs: 2_000,
        now: () => clock.now,
        sleep: async (ms) => {
          sleeps.push(ms);
          clock.now += ms;
        },
      },
      log,
    );

    // Reads at 0, 1, 2.5, 4.5 and 6.5 s: OpenAI completes at 2 s, Anthropic ends at 5 s.
    expect(sleeps).toEqual([1_000, 1_500, 2_000, 2_000]);
    expect(openaiRun.status).toEqual({ phase: 'ended', providerStatus: 'completed', total: 2, completed: 2, failed: 0, errors: [] });
    expect(claudeRun.status).toEqual({ phase: 'ended', providerStatus: 'ended', total: 3, completed: 2, failed: 1, errors: [] });
    expect(infos().filter((m) => m.startsWith(`anthropic:${MODEL}: `) && m.endsWith('elapsed'))).toEqual([
      `anthropic:${MODEL}: in_progress, 0/3 done (0 failed), 0s elapsed`,
      `anthropic:${MODEL}: in_progress, 0/3 done (0 failed), 1s elapsed`,
      `anthropic:${MODEL}: in_progress, 0/3 done (0 failed), 3s elapsed`,
      `anthropic:${MODEL}: in_progress, 0/3 done (0 failed), 5s elapsed`,
      `anthropic:${MODEL}: ended, 3/3 done (1 failed), 7s elapsed`,
    ]);
    // An ended batch is not asked again.
    expect(openai.emulator.state.requests.filter((r) => r.method === 'GET' && /^\/v1\/batches\/batch_\w+$/.test(r.path))).toHaveLength(3);

    const results = await collectResults(runs, log);

    expect([...results.keys()].sort()).toEqual([`${MODEL}-0`, `${MODEL}-1`, `${MODEL}-2`, 'gpt-4.1-mini-0', 'gpt-4.1-mini-1']);
    expect(results.get('gpt-4.1-mini-1')).toMatchObject({ ok: true, text: '[emulated gpt-4.1-mini] You asked: "o2"' });
    expect(results.get(`${MODEL}-2`)).toMatchObject({ ok: true, text: echo('a3') });
    expect(results.get(`${MODEL}-1`)).toEqual({ id: `${MODEL}-1`, ok: false, error: { code: 'overloaded_error', message: 'Overloaded', retryable: true } });
    expect(infos()).toContain('openai:gpt-4.1-mini: completed, collected 2 of 2 results');
    expect(infos()).toContain(`anthropic:${MODEL}: ended, collected 3 of 3 results`);
    expect(openaiRun.error).toBeUndefined();
    expect(claudeRun.error).toBeUndefined();
    expect(warnings()).toEqual([]);
  });
});
