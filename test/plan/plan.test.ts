import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSuite } from '../../src/config/load.ts';
import type { Suite } from '../../src/config/types.ts';
import { expandVars } from '../../src/plan/expand-vars.ts';
import { buildPlan } from '../../src/plan/plan.ts';
import { renderPrompt } from '../../src/plan/render-prompt.ts';
import { canonicalJson, requestId } from '../../src/plan/request-id.ts';

const fixture = join(import.meta.dirname, '../fixtures/suite/suite.yaml');

describe('request ids', () => {
  const parts = { provider: 'openai', model: 'gpt-4o', params: { temperature: 0, max_tokens: 5 }, messages: [{ role: 'user', content: 'hi' }] };

  it('are valid Anthropic custom_ids and stable across key order', () => {
    const id = requestId(parts);
    expect(id).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(requestId({ ...parts, params: { max_tokens: 5, temperature: 0 } })).toBe(id);
  });

  it('change with anything that changes the answer', () => {
    const id = requestId(parts);
    expect(requestId({ ...parts, model: 'gpt-4o-mini' })).not.toBe(id);
    expect(requestId({ ...parts, params: { temperature: 1, max_tokens: 5 } })).not.toBe(id);
    expect(requestId({ ...parts, messages: [{ role: 'user', content: 'hi!' }] })).not.toBe(id);
    expect(requestId({ ...parts, baseURL: 'http://other/v1' })).not.toBe(id);
  });

  it('canonical JSON sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
  });
});

describe('expanding vars', () => {
  it('makes one case per list item, every combination for several lists', () => {
    expect(expandVars({ a: [1, 2], b: ['x', 'y'], c: 'k' })).toEqual([
      { a: 1, b: 'x', c: 'k' },
      { a: 1, b: 'y', c: 'k' },
      { a: 2, b: 'x', c: 'k' },
      { a: 2, b: 'y', c: 'k' },
    ]);
    expect(expandVars({})).toEqual([{}]);
  });
});

describe('rendering prompts', () => {
  it('renders text with nunjucks and promptfoo filters', () => {
    const prompt = { kind: 'text' as const, label: 'p', template: 'Tone: {{ (style | load).tone }}, {{ missing }}!' };
    expect(renderPrompt(prompt, { style: '{"tone":"formal"}' })).toEqual([{ role: 'user', content: 'Tone: formal, !' }]);
  });

  it('sends text that renders to a JSON message list as chat messages', () => {
    const prompt = { kind: 'text' as const, label: 'p', template: '[{"role":"system","content":"sys"},{"role":"user","content":"{{ q }}"}]' };
    expect(renderPrompt(prompt, { q: 'why' })).toEqual([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'why' },
    ]);
  });
});

describe('the plan', () => {
  const { suite } = loadSuite(fixture);
  const plan = buildPlan(suite);

  it('expands prompts x providers x tests, honouring provider prompt filters', () => {
    // 7 tests after expansion; the first provider gets 5 prompts, the labelled one 2.
    expect(plan.cases).toHaveLength(7 * 5 + 7 * 2);
    expect(new Set(plan.cases.filter((c) => c.provider === 'mini-hot').map((c) => c.prompt))).toEqual(new Set(['from-file: 1', 'Say hello to {{ name }}']));
  });

  it('sends identical requests once and shares the result', () => {
    const ids = plan.batches.flatMap((b) => b.requests.map((r) => r.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(13);
    const hello = plan.cases.filter((c) => c.provider === 'openai:gpt-4.1-mini' && c.prompt === 'Say hello to {{ name }}');
    expect(new Set(hello.map((c) => c.requestId)).size).toBe(1);
  });

  it('puts one model in one batch and renders assertion values per case', () => {
    expect(plan.batches.map((b) => b.model)).toEqual(['gpt-4.1-mini']);
    const hola = plan.cases.find((c) => c.vars.text === 'hola' && c.prompt === 'chat prompt 2')!;
    expect(hola.assertions[1]).toMatchObject({ type: 'contains', value: 'hola' });
    expect(hola.description).toBe('inline');
  });

  it('reports a prompt that cannot render for a test as a config error at the test', () => {
    const broken: Suite = { ...suite, prompts: [{ kind: 'text', label: 'j', template: '{{ (text | load).x }}' }] };
    expect(() => buildPlan(broken)).toThrow(/prompt 'j' cannot be rendered for this test/);
  });
});

describe('conversations (_conversation)', () => {
  it("threads a conversational prompt's cases by provider and conversationId in test order; only first turns are planned", async () => {
    const { suiteFiles } = await import('../helpers/config-files.ts');
    const path = suiteFiles({
      'suite.yaml': `prompts:
  - id: '{% for t in _conversation %}{{ t.input }} / {{ t.output }}; {% endfor %}{{ q }}'
    label: thread
  - id: 'Alone: {{ q }}'
    label: alone
providers: [openai:gpt-4.1-mini, anthropic:messages:claude-haiku-4-5]
tests:
  - vars: { q: one }
    metadata: { conversationId: a }
  - vars: { q: two }
  - vars: { q: three }
    metadata: { conversationId: a }
  - vars: { q: four }
`,
    });
    const plan = buildPlan(loadSuite(path).suite);
    expect(plan.cases).toHaveLength(16);
    // Per provider: thread a (one, three) and the prompt's own thread for tests without an id (two, four).
    expect(plan.conversations!.map((t) => [t.key, t.cases.map((c) => c.vars.q)])).toEqual([
      ['openai:gpt-4.1-mini:thread:a', ['one', 'three']],
      ['openai:gpt-4.1-mini:thread', ['two', 'four']],
      ['anthropic:messages:claude-haiku-4-5:thread:a', ['one', 'three']],
      ['anthropic:messages:claude-haiku-4-5:thread', ['two', 'four']],
    ]);
    // The later turns wait, without a request; first turns and the other prompt are planned as ever.
    const later = plan.cases.filter((c) => c.requestId === '');
    expect(later.map((c) => `${c.provider} ${c.vars.q}`)).toEqual(['openai:gpt-4.1-mini three', 'openai:gpt-4.1-mini four', 'anthropic:messages:claude-haiku-4-5 three', 'anthropic:messages:claude-haiku-4-5 four']);
    const firstTurn = plan.batches[0].requests.find((r) => r.messages[0].content === 'one');
    expect(firstTurn).toBeDefined();
    expect(plan.batches.map((b) => b.requests.length)).toEqual([6, 6]);
  });
});
