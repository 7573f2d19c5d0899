/**
 * Anthropic prompt caching in the plan: which prefix of each request gets the cache breakpoint (src/plan/cache-prefix.ts),
 * and how a suite's `config.promptCaching` reaches it (loadSuite -> buildPlan -> markPromptCaching).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BatchRequest } from '../../src/batch/types.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { loadSuite } from '../../src/config/load.ts';
import type { ChatMessage } from '../../src/config/types.ts';
import { markCachePrefixes, markPromptCaching, minCacheableTokens } from '../../src/plan/cache-prefix.ts';
import { buildPlan } from '../../src/plan/plan.ts';
import { captureLog } from '../batch/support.ts';

const HAIKU = 'claude-haiku-4-5';
/** About 5,700 tokens at 3.5 characters a token: above Haiku 4.5's 4,096. */
const LONG_SYSTEM = `You are the support assistant of Stride. ${'Policy: returns are free within 30 days of delivery. '.repeat(380)}`;
/** About 860 tokens: below every model's minimum. */
const SHORT_SYSTEM = `You are terse. ${'Be brief. '.repeat(300)}`;
/** About 1,720 tokens: enough for Sonnet 4.5 (1,024), not for Haiku 4.5 (4,096). */
const MEDIUM_SYSTEM = `You are terse. ${'Be brief. '.repeat(600)}`;

function request(id: string, messages: ChatMessage[], params: Record<string, unknown> = {}): BatchRequest {
  return { id, model: HAIKU, messages, params };
}

const ask = (system: string, question: string): ChatMessage[] => [
  { role: 'system', content: system },
  { role: 'user', content: question },
];

function everyone(requests: BatchRequest[], ttl: '5m' | '1h' = '5m'): Map<string, '5m' | '1h'> {
  return new Map(requests.map((r) => [r.id, ttl]));
}

describe('the minimum cacheable prefix', () => {
  it("is Anthropic's per model, dated versions included; an unknown model gets the lowest, said to be assumed", () => {
    expect(minCacheableTokens('claude-haiku-4-5')).toEqual({ tokens: 4096, known: true });
    expect(minCacheableTokens('claude-haiku-4-5-20251001')).toEqual({ tokens: 4096, known: true });
    expect(minCacheableTokens('claude-opus-4-5')).toEqual({ tokens: 4096, known: true });
    expect(minCacheableTokens('claude-opus-4-1-20250805')).toEqual({ tokens: 1024, known: true });
    expect(minCacheableTokens('claude-opus-4-20250514')).toEqual({ tokens: 1024, known: true });
    expect(minCacheableTokens('claude-sonnet-4-6')).toEqual({ tokens: 1024, known: true });
    expect(minCacheableTokens('claude-sonnet-4-5-20250929')).toEqual({ tokens: 1024, known: true });
    expect(minCacheableTokens('claude-3-5-haiku-latest')).toEqual({ tokens: 2048, known: true });
    expect(minCacheableTokens('claude-next')).toEqual({ tokens: 1024, known: false });
  });
});

describe('choosing the cached prefix', () => {
  it('marks the shared system prompt of every request that shares it, and says so', () => {
    const requests = ['Where is my order?', 'Can I return shoes?', 'Do you ship abroad?'].map((q, i) => request(`r${i}`, ask(LONG_SYSTEM, q)));
    const { log, infos } = captureLog();
    const marking = markCachePrefixes(HAIKU, requests, everyone(requests), log);
    expect(requests.map((r) => r.cachePrefix)).toEqual([1, 2, 3].map(() => ({ blocks: 1, ttl: '5m' })));
    expect(marking).toMatchObject({ marked: 3, optedIn: 3, prefixes: [{ blocks: 1, requests: 3, tokens: Math.ceil(LONG_SYSTEM.length / 3.5) }] });
    expect(infos()).toEqual([
      `anthropic:${HAIKU}: prompt caching: a cache breakpoint on 3 of 3 requests, one prefix: about ${Math.ceil(LONG_SYSTEM.length / 3.5).toLocaleString('en-US')} tokens (1 block) shared by 3 (estimated at 3.5 characters a token). In a batch, cache hits are best-effort`,
    ]);
  });

  it('takes the longest prefix shared: few-shot examples after the system prompt are part of it', () => {
    const shots: ChatMessage[] = [
      { role: 'system', content: SHORT_SYSTEM },
      { role: 'user', content: `Example question. ${'Long context. '.repeat(1200)}` },
      { role: 'assistant', content: 'Example answer.' },
    ];
    const requests = ['one', 'two'].map((q, i) => request(`r${i}`, [...shots, { role: 'user', content: q }]));
    markCachePrefixes(HAIKU, requests, everyone(requests));
    // system, user example, assistant example: the breakpoint on the third block.
    expect(requests.map((r) => r.cachePrefix?.blocks)).toEqual([3, 3]);
  });

  it('gives each group of requests its own prefix, and leaves a request that shares nothing unmarked', () => {
    const other = `Another long prompt. ${'Warranty: two years on every pair. '.repeat(600)}`;
    const requests = [
      request('a1', ask(LONG_SYSTEM, 'q1')),
      request('a2', ask(LONG_SYSTEM, 'q2')),
      request('b1', ask(other, 'q1')),
      request('b2', ask(other, 'q2')),
      request('b3', ask(other, 'q3')),
      request('lonely', ask(`${LONG_SYSTEM} (unique)`, 'q')),
    ];
    const { log, infos } = captureLog();
    const marking = markCachePrefixes(HAIKU, requests, everyone(requests), log);
    expect(Object.fromEntries(requests.map((r) => [r.id, r.cachePrefix?.blocks]))).toEqual({ a1: 1, a2: 1, b1: 1, b2: 1, b3: 1, lonely: undefined });
    expect(marking.prefixes.map((p) => p.requests).sort()).toEqual([2, 3]);
    expect(infos()[0]).toMatch(/a cache breakpoint on 5 of 6 requests, 2 prefixes: .*shared by 3, .*shared by 2 .*; 1 shares no prefix long enough to cache and is sent without/);
  });

  it('marks a deeper shared prefix for the requests that have it, the shorter one for the others', () => {
    const example = `Example. ${'More context. '.repeat(1500)}`;
    const requests = [
      request('deep1', [{ role: 'system', content: LONG_SYSTEM }, { role: 'user', content: example }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'x' }]),
      request('deep2', [{ role: 'system', content: LONG_SYSTEM }, { role: 'user', content: example }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'y' }]),
      request('flat', ask(LONG_SYSTEM, 'z')),
    ];
    markCachePrefixes(HAIKU, requests, everyone(requests));
    expect(requests.map((r) => r.cachePrefix?.blocks)).toEqual([3, 3, 1]);
  });

  it('skips caching below the model minimum, saying how long the shared prefix is', () => {
    const requests = ['a', 'b'].map((q, i) => request(`r${i}`, ask(MEDIUM_SYSTEM, q)));
    const { log, infos } = captureLog();
    const marking = markCachePrefixes(HAIKU, requests, everyone(requests), log);
    expect(requests.every((r) => r.cachePrefix === undefined)).toBe(true);
    expect(marking.marked).toBe(0);
    const tokens = Math.ceil(MEDIUM_SYSTEM.length / 3.5);
    expect(infos()).toEqual([
      `anthropic:${HAIKU}: prompt caching skipped: the longest prefix 2 or more requests share is about ${tokens.toLocaleString('en-US')} tokens (estimated at 3.5 characters a token), below the 4,096 tokens Anthropic caches for ${HAIKU}`,
    ]);
    // Sonnet 4.5 caches from 1,024 tokens: the same prefix is long enough there.
    const sonnet = requests.map((r) => ({ ...r, model: 'claude-sonnet-4-5' }));
    markCachePrefixes('claude-sonnet-4-5', sonnet, everyone(sonnet));
    expect(sonnet.map((r) => r.cachePrefix)).toEqual([
      { blocks: 1, ttl: '5m' },
      { blocks: 1, ttl: '5m' },
    ]);
  });

  it('skips caching when no whole block is shared, saying where to put the shared part', () => {
    // One user message each: the shared text is inside the block, and a breakpoint goes between blocks only.
    const requests = ['a', 'b'].map((q, i) => request(`r${i}`, [{ role: 'user', content: `${LONG_SYSTEM}\n\nQuestion: ${q}` }]));
    const { log, infos } = captureLog();
    markCachePrefixes(HAIKU, requests, everyone(requests), log);
    expect(requests.every((r) => r.cachePrefix === undefined)).toBe(true);
    expect(infos()[0]).toMatch(/prompt caching skipped: no prefix \(the system prompt, then whole messages\) is shared by 2 or more of its 2 requests; put the shared part in a system message/);
  });

  it('counts only requests that asked, and only those whose prompt-shaping parameters match', () => {
    const requests = [
      request('hot', ask(LONG_SYSTEM, 'a'), { temperature: 1, max_tokens: 50 }),
      request('cold', ask(LONG_SYSTEM, 'b'), { temperature: 0 }),
      request('tool', ask(LONG_SYSTEM, 'c'), { tools: [{ name: 'lookup', input_schema: { type: 'object' } }] }),
      request('not-asked', ask(LONG_SYSTEM, 'd')),
    ];
    const optedIn = new Map<string, '5m' | '1h'>([
      ['hot', '1h'],
      ['cold', '1h'],
      ['tool', '1h'],
    ]);
    markCachePrefixes(HAIKU, requests, optedIn);
    // Sampling parameters do not change the cached prompt; tools do (they come before the system prompt).
    expect(Object.fromEntries(requests.map((r) => [r.id, r.cachePrefix]))).toEqual({
      hot: { blocks: 1, ttl: '1h' },
      cold: { blocks: 1, ttl: '1h' },
      tool: undefined,
      'not-asked': undefined,
    });
  });

  it('does not end a prefix on an empty block', () => {
    const requests = ['a', 'b'].map((q, i) =>
      request(`r${i}`, [
        { role: 'system', content: LONG_SYSTEM },
        { role: 'user', content: '' },
        { role: 'assistant', content: '' },
        { role: 'user', content: q },
      ]),
    );
    markCachePrefixes(HAIKU, requests, everyone(requests));
    expect(requests.map((r) => r.cachePrefix?.blocks)).toEqual([1, 1]);
  });
});

describe('promptCaching in a suite', () => {
  function suiteFile(text: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'be-cache-'));
    const file = join(dir, 'suite.yaml');
    writeFileSync(file, text);
    return file;
  }

  const suite = (config: string) => `prompts:
  - - role: system
      content: ${JSON.stringify(LONG_SYSTEM)}
    - role: user
      content: '{{ q }}'
providers:
  - id: anthropic:messages:${HAIKU}
    config: ${config}
  - openai:gpt-4.1-mini
tests:
  - vars: { q: [one, two, three] }
`;

  it('reaches the requests of the Anthropic provider, is not sent as a parameter, and leaves the request ids as they were', () => {
    const cached = loadSuite(suiteFile(suite("{ promptCaching: '1h', temperature: 0 }")));
    const plain = loadSuite(suiteFile(suite('{ temperature: 0 }')));
    expect(cached.suite.providers[0]).toMatchObject({ promptCaching: '1h', params: { temperature: 0 } });
    expect(cached.suite.providers[0].params).not.toHaveProperty('promptCaching');

    const plan = buildPlan(cached.suite);
    const { log, infos } = captureLog();
    markPromptCaching(plan.batches, plan.caching, log);
    const [anthropic, openai] = plan.batches;
    expect(anthropic.requests.map((r) => r.cachePrefix)).toEqual([1, 2, 3].map(() => ({ blocks: 1, ttl: '1h' })));
    expect(openai.requests.every((r) => r.cachePrefix === undefined)).toBe(true);
    expect(infos()).toHaveLength(1);
    // The marker is how a request is sent, not what is asked: the same ids with caching on and off.
    const plainPlan = buildPlan(plain.suite);
    expect(plainPlan.caching).toBeUndefined();
    expect(plan.cases.map((c) => c.requestId)).toEqual(plainPlan.cases.map((c) => c.requestId));
  });

  it('`true` is the 5-minute cache; false is off', () => {
    expect(loadSuite(suiteFile(suite('{ promptCaching: true }'))).suite.providers[0].promptCaching).toBe('5m');
    expect(loadSuite(suiteFile(suite("{ promptCaching: '5m' }"))).suite.providers[0].promptCaching).toBe('5m');
    expect(loadSuite(suiteFile(suite('{ promptCaching: false }'))).suite.providers[0]).not.toHaveProperty('promptCaching');
  });

  it('a bad value is an error at its line', () => {
    const file = suiteFile(suite('{ promptCaching: always }'));
    let error: unknown;
    try {
      loadSuite(file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issue = (error as ConfigError).issues[0];
    expect(issue.keyPath).toBe('providers[0].config.promptCaching');
    expect(issue.message).toMatch(/'always' is not one of true, false, 5m, 1h/);
    expect(issue.location).toMatchObject({ file, line: 8 });
  });

  it('on an OpenAI provider it is a warning at its line (OpenAI caches by itself), not sent', () => {
    const file = suiteFile(`prompts: ['{{ q }}']
providers:
  - id: openai:gpt-4.1-mini
    config:
      promptCaching: true
tests:
  - vars: { q: hi }
`);
    const { suite: loaded, warnings } = loadSuite(file);
    expect(loaded.providers[0]).not.toHaveProperty('promptCaching');
    expect(loaded.providers[0].params).toEqual({});
    expect(warnings).toEqual([
      {
        message: 'providers[0].config.promptCaching: ignored for OpenAI models, which cache prompt prefixes of 1,024 tokens or more by themselves (the report shows the tokens read from the cache)',
        location: { file, line: 5, column: 7 },
      },
    ]);
  });
});
