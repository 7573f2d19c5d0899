/**
 * Anthropic prompt caching on the wire: AnthropicBatchProvider sends a request's `cachePrefix` as `cache_control` on the
 * last block of the prefix (system prompt as a text block list, message content as blocks), through the real SDK to the
 * Message Batches emulator, and reads the cache writes and reads back into Usage.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AnthropicBatchProvider, toResult, withCacheBreakpoint } from '../../src/batch/anthropic.ts';
import type { BatchRequest, RequestResult } from '../../src/batch/types.ts';
import type { ChatMessage } from '../../src/config/types.ts';
import { startAnthropicEmulator } from '../emulator/anthropic-emulator.ts';
import { captureLog, closeAll, closers, T0 } from './support.ts';

const MODEL = 'claude-haiku-4-5';
const SYSTEM = `Policy. ${'Returns are free within 30 days. '.repeat(700)}`;
const EXAMPLE = 'Example: Can I return worn shoes?';
const ANSWER = 'Example answer: Only unworn shoes.';
const tokens = (text: string) => Math.ceil(text.length / 4);

afterEach(closeAll);

async function emulator() {
  const clock = { now: T0 };
  const e = await startAnthropicEmulator({ clock: () => clock.now, instant: true });
  closers.push(() => e.close());
  return { emulator: e, clock };
}

function conversation(question: string): ChatMessage[] {
  return [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: EXAMPLE },
    { role: 'assistant', content: ANSWER },
    { role: 'user', content: question },
  ];
}

async function submitAndRead(provider: AnthropicBatchProvider, requests: BatchRequest[], clock: { now: number }) {
  const handle = await provider.submit(requests);
  clock.now += 1;
  await provider.status(handle);
  const results = new Map<string, RequestResult>();
  for await (const r of provider.results(handle)) results.set(r.id, r);
  return { handle, results };
}

describe('cache breakpoints on the wire', () => {
  it('marks the system prompt as a text block, or a message as content blocks, with the TTL asked; the rest is sent as without', async () => {
    const { emulator: e, clock } = await emulator();
    const { log, infos } = captureLog();
    const provider = new AnthropicBatchProvider({ apiKey: 'k', baseURL: e.url, log });
    const requests: BatchRequest[] = [
      { id: 'system', model: MODEL, messages: conversation('a'), params: { max_tokens: 50 }, cachePrefix: { blocks: 1, ttl: '5m' } },
      { id: 'shots', model: MODEL, messages: conversation('b'), params: { max_tokens: 50 }, cachePrefix: { blocks: 3, ttl: '1h' } },
      { id: 'plain', model: MODEL, messages: conversation('c'), params: { max_tokens: 50 } },
    ];
    const { handle } = await submitAndRead(provider, requests, clock);
    const sent = Object.fromEntries(e.state.batches.get(handle.batchId)!.requests.map((r) => [r.customId, r.params]));
    expect(sent.system).toEqual({
      model: MODEL,
      max_tokens: 50,
      system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: EXAMPLE },
        { role: 'assistant', content: ANSWER },
        { role: 'user', content: 'a' },
      ],
    });
    expect(sent.shots).toEqual({
      model: MODEL,
      max_tokens: 50,
      system: SYSTEM,
      messages: [
        { role: 'user', content: EXAMPLE },
        { role: 'assistant', content: [{ type: 'text', text: ANSWER, cache_control: { type: 'ephemeral', ttl: '1h' } }] },
        { role: 'user', content: 'b' },
      ],
    });
    expect(sent.plain).toEqual({ model: MODEL, max_tokens: 50, system: SYSTEM, messages: conversation('c').slice(1) });
    expect(infos()).toContain(`anthropic:${MODEL}: sending 3 requests (${(Buffer.byteLength(JSON.stringify({ requests: Object.entries(sent).map(([custom_id, params]) => ({ custom_id, params })) })) / 1e6).toFixed(2)} MB), 2 with a prompt-cache breakpoint`);
  });

  it('reads cache writes and reads into Usage: the first request writes the prefix, the others read it', async () => {
    const { emulator: e, clock } = await emulator();
    const provider = new AnthropicBatchProvider({ apiKey: 'k', baseURL: e.url, log: captureLog().log });
    const requests: BatchRequest[] = ['a', 'b', 'c'].map((q) => ({ id: q, model: MODEL, messages: conversation(q), params: {}, cachePrefix: { blocks: 1, ttl: '5m' } }));
    const { results } = await submitAndRead(provider, requests, clock);
    const prefix = tokens(SYSTEM);
    const total = tokens([SYSTEM, EXAMPLE, ANSWER, 'a'].join('\n'));
    const usage = (id: string) => (results.get(id) as Extract<RequestResult, { ok: true }>).usage;
    expect(usage('a')).toEqual({ inputTokens: total - prefix, cachedInputTokens: 0, cacheWriteTokens: prefix, outputTokens: expect.any(Number) });
    expect(usage('b')).toEqual({ inputTokens: total - prefix, cachedInputTokens: prefix, cacheWriteTokens: 0, outputTokens: expect.any(Number) });
    expect(usage('c')).toMatchObject({ cachedInputTokens: prefix, cacheWriteTokens: 0 });
  });

  it('splits writes to the 1-hour cache out of the 5-minute ones', async () => {
    const { emulator: e, clock } = await emulator();
    const provider = new AnthropicBatchProvider({ apiKey: 'k', baseURL: e.url, log: captureLog().log });
    const requests: BatchRequest[] = ['a', 'b'].map((q) => ({ id: q, model: MODEL, messages: conversation(q), params: {}, cachePrefix: { blocks: 1, ttl: '1h' } }));
    const { results } = await submitAndRead(provider, requests, clock);
    expect((results.get('a') as Extract<RequestResult, { ok: true }>).usage).toMatchObject({ cacheWriteTokens: 0, cacheWrite1hTokens: tokens(SYSTEM), cachedInputTokens: 0 });
    expect((results.get('b') as Extract<RequestResult, { ok: true }>).usage).toMatchObject({ cacheWriteTokens: 0, cachedInputTokens: tokens(SYSTEM) });
    expect((results.get('b') as Extract<RequestResult, { ok: true }>).usage).not.toHaveProperty('cacheWrite1hTokens');
  });

  it('toResult: cache_creation splits the writes; without it they are 5-minute writes', () => {
    const message = (usage: Record<string, unknown>) =>
      toResult({
        custom_id: 'x',
        result: { type: 'succeeded', message: { id: 'm', type: 'message', role: 'assistant', model: MODEL, content: [], stop_reason: 'end_turn', stop_sequence: null, usage } },
      } as never);
    expect(message({ input_tokens: 5, output_tokens: 1, cache_creation_input_tokens: 300, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 } })).toMatchObject({
      usage: { inputTokens: 5, cacheWriteTokens: 100, cacheWrite1hTokens: 200, cachedInputTokens: 0 },
    });
    expect(message({ input_tokens: 5, output_tokens: 1, cache_creation_input_tokens: 300, cache_read_input_tokens: 7 })).toMatchObject({
      usage: { inputTokens: 5, cacheWriteTokens: 300, cachedInputTokens: 7 },
    });
  });

  it('withCacheBreakpoint leaves the request as it is for a breakpoint past the end or on an empty message', () => {
    const messages = [{ role: 'user' as const, content: '' }];
    expect(withCacheBreakpoint(undefined, messages, { blocks: 1, ttl: '5m' })).toEqual({ system: undefined, messages });
    expect(withCacheBreakpoint('sys', messages, { blocks: 5, ttl: '5m' })).toEqual({ system: 'sys', messages });
    expect(withCacheBreakpoint('sys', messages, { blocks: 1, ttl: '5m' }).system).toEqual([{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }]);
  });
});
