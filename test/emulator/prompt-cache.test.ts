/**
 * The Anthropic emulator's prompt cache (prompt-cache.ts, README.md "Prompt caching"), through the official SDK:
 * breakpoints write, later requests read within the TTL, hits are looked for at earlier block boundaries, prefixes
 * below the model minimum are not cached, and malformed cache_control is refused per request.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { startAnthropicEmulator, type AnthropicEmulator, type AnthropicEmulatorOptions } from './anthropic-emulator.ts';
import { defaultMinCacheTokens } from './prompt-cache.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const MODEL = 'claude-haiku-4-5';
/** 20,000 characters: 5,000 emulator tokens, above Haiku 4.5's 4,096. */
const SYSTEM = 'S'.repeat(20_000);
const tokens = (text: string) => Math.ceil(text.length / 4);

let running: AnthropicEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});

async function setup(options: AnthropicEmulatorOptions = {}) {
  const clock = { now: T0 };
  const emulator = await startAnthropicEmulator({ clock: () => clock.now, instant: true, ...options });
  running.push(emulator);
  const client = new Anthropic({ apiKey: 'test-key', baseURL: emulator.url, maxRetries: 0 });
  return { emulator, client, clock };
}

type Params = Record<string, unknown>;
const marker = (ttl?: '1h') => (ttl ? { type: 'ephemeral', ttl } : { type: 'ephemeral' });
/** The system prompt as a marked block, then a question. */
const cached = (question: string, ttl?: '1h'): Params => ({
  system: [{ type: 'text', text: SYSTEM, cache_control: marker(ttl) }],
  messages: [{ role: 'user', content: question }],
});

/** Sends one batch and returns each request's usage (or error) by custom_id, once it has ended. */
async function run(client: Anthropic, requests: [id: string, params: Params][], model = MODEL) {
  const batch = await client.messages.batches.create({
    requests: requests.map(([custom_id, params]) => ({ custom_id, params: { model, max_tokens: 100, ...params } })) as Anthropic.Messages.BatchCreateParams.Request[],
  });
  await client.messages.batches.retrieve(batch.id);
  const out: Record<string, Anthropic.Messages.Usage | string> = {};
  for await (const { custom_id, result } of await client.messages.batches.results(batch.id)) {
    out[custom_id] = result.type === 'succeeded' ? result.message.usage : result.type === 'errored' ? `${result.error.error.type}: ${result.error.error.message}` : result.type;
  }
  return out;
}

const usage = (input: number, write: number, read: number, write1h = 0) =>
  expect.objectContaining({
    input_tokens: input,
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
    cache_creation: { ephemeral_5m_input_tokens: write - write1h, ephemeral_1h_input_tokens: write1h },
  });

describe('the emulated prompt cache', () => {
  it('the first request with a marked prefix writes it, the later ones read it; the rest of the prompt is input', async () => {
    const { client, emulator } = await setup();
    const total = tokens(`${SYSTEM}\nWhat is a?`);
    const prefix = tokens(SYSTEM);
    const out = await run(client, [
      ['a', cached('What is a?')],
      ['b', cached('What is b?')],
      ['c', cached('What is c?')],
    ]);
    expect(out).toEqual({ a: usage(total - prefix, prefix, 0), b: usage(total - prefix, 0, prefix), c: usage(total - prefix, 0, prefix) });
    expect([...emulator.state.promptCache.values()]).toEqual([{ model: MODEL, tokens: prefix, ttl: '5m', expires: T0 + 5 * 60_000 }]);
  });

  it('without cache_control nothing is cached, whatever is shared', async () => {
    const { client, emulator } = await setup();
    const out = await run(client, [
      ['a', { system: SYSTEM, messages: [{ role: 'user', content: 'a' }] }],
      ['b', { system: SYSTEM, messages: [{ role: 'user', content: 'b' }] }],
    ]);
    expect(out.b).toEqual(usage(tokens(`${SYSTEM}\nb`), 0, 0));
    expect(emulator.state.promptCache.size).toBe(0);
  });

  it('a string prompt and the same text as a block are one prefix; the marker is not part of it', async () => {
    const { client } = await setup();
    const out = await run(client, [
      ['block', cached('a')],
      ['string-content', { system: [{ type: 'text', text: SYSTEM }], messages: [{ role: 'user', content: [{ type: 'text', text: 'b', cache_control: marker() }] }] }],
    ]);
    // The second request's breakpoint is on its question; the lookback finds the system prompt the first one cached.
    expect(out['string-content']).toEqual(usage(0, tokens(`${SYSTEM}\nb`) - tokens(SYSTEM), tokens(SYSTEM)));
  });

  it('5-minute entries live 5 minutes from their last use; 1-hour entries an hour, written in their own count', async () => {
    const { client, clock } = await setup();
    const prefix = tokens(SYSTEM);
    expect((await run(client, [['w', cached('w')]])).w).toEqual(usage(tokens(`${SYSTEM}\nw`) - prefix, prefix, 0));
    clock.now += 4 * 60_000;
    expect((await run(client, [['r', cached('r')]])).r).toEqual(usage(tokens(`${SYSTEM}\nr`) - prefix, 0, prefix));
    // Read at 4 minutes: alive until 9.
    clock.now += 4 * 60_000;
    expect((await run(client, [['r2', cached('r2')]])).r2).toMatchObject({ cache_read_input_tokens: prefix });
    clock.now += 6 * 60_000;
    expect((await run(client, [['again', cached('again')]])).again).toMatchObject({ cache_creation_input_tokens: prefix, cache_read_input_tokens: 0 });

    const hour = await run(client, [['h1', cached('h1', '1h')]]);
    // Another TTL is another marker, not another prefix: the live 5-minute entry is read.
    expect(hour.h1).toMatchObject({ cache_read_input_tokens: prefix });
    clock.now += 10 * 60_000;
    expect((await run(client, [['h2', cached('h2', '1h')]])).h2).toEqual(usage(tokens(`${SYSTEM}\nh2`) - prefix, prefix, 0, prefix));
    clock.now += 50 * 60_000;
    expect((await run(client, [['h3', cached('h3', '1h')]])).h3).toMatchObject({ cache_read_input_tokens: prefix });
  });

  it('a prefix shorter than the model minimum is not cached: Haiku 4.5 needs 4,096 tokens, Sonnet 4.5 1,024', async () => {
    expect([defaultMinCacheTokens('claude-haiku-4-5-20251001'), defaultMinCacheTokens('claude-sonnet-4-5'), defaultMinCacheTokens('claude-3-haiku-20240307')]).toEqual([4096, 1024, 2048]);
    const { client } = await setup();
    const short = (q: string): Params => ({ system: [{ type: 'text', text: 'T'.repeat(8_000), cache_control: marker() }], messages: [{ role: 'user', content: q }] });
    const haiku = await run(client, [
      ['a', short('a')],
      ['b', short('b')],
    ]);
    expect(haiku.b).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    const sonnet = await run(
      client,
      [
        ['a', short('a')],
        ['b', short('b')],
      ],
      'claude-sonnet-4-5',
    );
    expect(sonnet).toMatchObject({ a: { cache_creation_input_tokens: 2000 }, b: { cache_read_input_tokens: 2000 } });
  });

  it('models and tools are part of the prefix', async () => {
    const { client } = await setup({ minCacheTokens: 1 });
    const tool = { name: 'lookup', description: 'Looks up an order.', input_schema: { type: 'object' } };
    const out = await run(client, [
      ['plain', cached('a')],
      ['with-tool', { ...cached('b'), tools: [tool] }],
    ]);
    expect(out['with-tool']).toMatchObject({ cache_creation_input_tokens: tokens(SYSTEM), cache_read_input_tokens: 0 });
    const other = await run(client, [['sonnet', cached('c')]], 'claude-sonnet-4-5');
    expect(other.sonnet).toMatchObject({ cache_read_input_tokens: 0 });
  });

  it('refuses malformed cache_control, and more than 4 breakpoints, as errored results', async () => {
    const { client } = await setup();
    const block = (control: unknown) => ({ type: 'text', text: 'x', cache_control: control });
    const out = await run(client, [
      ['type', { messages: [{ role: 'user', content: [block({ type: 'persistent' })] }] }],
      ['ttl', { system: [block({ type: 'ephemeral', ttl: '10m' })], messages: [{ role: 'user', content: 'q' }] }],
      ['five', { messages: [{ role: 'user', content: [1, 2, 3, 4, 5].map(() => block({ type: 'ephemeral' })) }] }],
      ['null-is-none', { messages: [{ role: 'user', content: [block(null)] }] }],
    ]);
    expect(out).toEqual({
      type: "invalid_request_error: messages.0.content.0.cache_control.type: Input should be 'ephemeral'",
      ttl: "invalid_request_error: system.0.cache_control.ttl: Input should be '5m' or '1h'",
      five: 'invalid_request_error: A maximum of 4 blocks with cache_control may be provided. Found 5.',
      'null-is-none': expect.objectContaining({ cache_creation_input_tokens: 0 }),
    });
  });

  it('a script that gives the cache counts wins over the emulated cache', async () => {
    const { client, emulator } = await setup({ script: [{ match: 'scripted', reply: 'ok', usage: { promptTokens: 100, cachedTokens: 60 } }] });
    const out = await run(client, [['s', cached('scripted')]]);
    expect(out.s).toEqual(usage(40, 0, 60));
    expect(emulator.state.promptCache.size).toBe(0);
  });
});
