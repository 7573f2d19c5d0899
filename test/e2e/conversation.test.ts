/**
 * promptfoo's multi-turn conversations (`_conversation`) end to end: `evaluate()` in-process through the real `openai`
 * SDK against the OpenAI emulator. Each later turn goes out in a round of batches of its own, rendered with the
 * thread's earlier answers; a run cut short by its deadline leaves the later turns pending, and resumed runs carry
 * the thread on without sending anything twice.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluate, runState, type EvalOutcome } from '../../src/pipeline.ts';
import type { RunState } from '../../src/state/run-state.ts';
import { captureLog } from '../batch/support.ts';
import { startOpenAIEmulator, type OpenAIEmulator, type ScriptRule } from '../emulator/openai-emulator.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The thread so far, then the question: the earlier answers go in with `dump`, as JSON strings. */
const CHAT = `[
  {"role": "system", "content": "You are the support bot of a shoe shop."},
  {% for turn in _conversation %}
  {"role": "user", "content": {{ turn.input | dump }}},
  {"role": "assistant", "content": {{ turn.output | dump }}},
  {% endfor %}
  {"role": "user", "content": {{ question | dump }}}
]`;

const SUITE = `description: support threads
prompts:
  - id: file://chat.json
    label: thread
  - id: 'One question: {{ question }}'
    label: single
providers:
  - openai:gpt-4.1-mini
tests:
  - vars: { question: Where is my order 123? }
    metadata: { conversationId: order }
    assert: [{ type: icontains, value: monday }]
  - vars: { question: When will it arrive? }
    metadata: { conversationId: order }
    assert: [{ type: icontains, value: friday }]
  - vars: { question: Can I change the address? }
    metadata: { conversationId: order }
    assert: [{ type: icontains, value: address }]
  - vars: { question: Do you sell insoles? }
    metadata: { conversationId: insoles }
    assert: [{ type: icontains, value: insoles }]
  - vars: { question: In which sizes? }
    metadata: { conversationId: insoles }
    assert: [{ type: icontains, value: sizes }]
`;

/** Answers without quotes, one per question (the last user message). */
const ANSWERS: ScriptRule[] = [
  { match: 'order 123', reply: 'It shipped on Monday.' },
  { match: 'arrive', reply: 'It arrives on Friday.' },
  { match: 'address', reply: 'Yes, the address can change until Thursday.' },
  { match: 'insoles', reply: 'We sell insoles.' },
  { match: 'sizes', reply: 'In all sizes from 35 to 48.' },
];

function writeSuite(): string {
  const dir = mkdtempSync(join(tmpdir(), 'batch-evals-conversation-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'chat.json'), CHAT);
  writeFileSync(join(dir, 'suite.yaml'), SUITE);
  return join(dir, 'suite.yaml');
}

async function emulator(options: Parameters<typeof startOpenAIEmulator>[0]): Promise<OpenAIEmulator> {
  const e = await startOpenAIEmulator(options);
  cleanups.push(() => e.close());
  return e;
}

function run(configPath: string, e: OpenAIEmulator, extra: { maxWaitMs?: number; attach?: RunState } = {}) {
  const capture = captureLog();
  const outcome = evaluate({
    configPath,
    credentials: { openaiApiKey: 'test-key', openaiBaseUrl: e.url },
    maxWaitMs: extra.maxWaitMs ?? 10_000,
    pollIntervalMs: { initial: 20, max: 100 },
    attach: extra.attach,
    log: capture.log,
  });
  return { outcome, capture };
}

/** `prompt | question` -> status. */
function statuses(outcome: EvalOutcome): Record<string, string> {
  return Object.fromEntries(outcome.results.map((r) => [`${r.case.prompt} | ${r.case.vars.question}`, r.status]));
}

/** The messages of every request the emulator was sent, by batch, in order. */
function sent(e: OpenAIEmulator): { role: string; content: string }[][][] {
  return [...e.state.batches.values()].map((b) => b.requests.map((r) => (r.body as { messages: { role: string; content: string }[] }).messages));
}

describe('conversations (_conversation)', () => {
  it('sends each later turn in a round of its own, with the thread so far; the other prompts go in the first round', async () => {
    const e = await emulator({ instant: true, script: ANSWERS });
    const { outcome: running, capture } = run(writeSuite(), e);
    const outcome = await running;

    expect(outcome.status).toBe('completed');
    expect(Object.values(statuses(outcome))).toEqual(Array(10).fill('passed'));
    // Round 1: the five single questions and the two threads' first turns; round 2: both second turns; round 3: one.
    const batches = sent(e);
    expect(batches.map((b) => b.length)).toEqual([7, 2, 1]);
    expect(outcome.runs.map((r) => r.batch.key)).toEqual(['openai||gpt-4.1-mini', 'openai||gpt-4.1-mini~turn2', 'openai||gpt-4.1-mini~turn3']);
    // The third turn holds the first two, with their answers.
    expect(batches[2][0]).toEqual([
      { role: 'system', content: 'You are the support bot of a shoe shop.' },
      { role: 'user', content: 'Where is my order 123?' },
      { role: 'assistant', content: 'It shipped on Monday.' },
      { role: 'user', content: 'When will it arrive?' },
      { role: 'assistant', content: 'It arrives on Friday.' },
      { role: 'user', content: 'Can I change the address?' },
    ]);
    expect(capture.infos()).toContain('conversations: turn 2: 2 cases, sent with the turns before them');
    expect(e.state.doubleBilled()).toEqual([]);
  });

  it('a turn whose request failed is in the thread with no answer, and the thread goes on', async () => {
    const e = await emulator({ instant: true, script: [{ match: 'order 123', error: { status: 500, message: 'upstream broke' } }, ...ANSWERS] });
    const outcome = await run(writeSuite(), e, {}).outcome;
    const s = statuses(outcome);
    expect(s['thread | Where is my order 123?']).toBe('errored');
    expect(s['thread | When will it arrive?']).toBe('passed');
    // The 500 is retried (and fails again) before the second turn goes.
    expect(sent(e).flat().find((m) => m.at(-1)!.content === 'When will it arrive?')).toEqual([
      { role: 'system', content: 'You are the support bot of a shoe shop.' },
      { role: 'user', content: 'Where is my order 123?' },
      { role: 'assistant', content: '' },
      { role: 'user', content: 'When will it arrive?' },
    ]);
  });

  it('an answer the template cannot hold errors the turn after it, saying why, and the thread goes on', async () => {
    const e = await emulator({ instant: true, script: [{ match: 'order 123', reply: 'It shipped on "Monday".' }, ...ANSWERS] });
    const dir = mkdtempSync(join(tmpdir(), 'batch-evals-conversation-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // The answer goes into the JSON as it is, not with dump: its quotes break the list.
    writeFileSync(join(dir, 'chat.json'), CHAT.replace('{{ turn.output | dump }}', '"{{ turn.output }}"'));
    writeFileSync(join(dir, 'suite.yaml'), SUITE);
    const outcome = await run(join(dir, 'suite.yaml'), e).outcome;
    const second = outcome.results.find((r) => r.case.vars.question === 'When will it arrive?' && r.case.prompt === 'thread')!;
    expect(second.status).toBe('errored');
    expect(second.error).toBe(
      'turn 2 of conversation openai:gpt-4.1-mini:thread:order cannot be rendered with the turns before it: the rendered prompt is not a valid JSON list of {role, content} messages ' +
        '(an earlier answer may hold a quote or a line break that the template puts into the JSON as it is; `{{ completion.output | dump }}` writes it as a JSON string)',
    );
    // The third turn goes on without the second's answer.
    expect(statuses(outcome)['thread | Can I change the address?']).toBe('errored');
    expect(statuses(outcome)['thread | In which sizes?']).toBe('passed');
  });

  it('left pending at the deadline: later turns wait; each resumed run collects, sends the next turn, and nothing is sent twice', async () => {
    let now = Date.now();
    const e = await emulator({ clock: () => now, inProgressMs: 60 * 60_000, script: ANSWERS });
    const config = writeSuite();
    const meta = { suiteId: 'threads', configPath: 'suite.yaml', sha: 'a'.repeat(40) };

    // Submitted and left: every case pending, the later turns unsent.
    let outcome = await run(config, e, { maxWaitMs: 0 }).outcome;
    expect(outcome.status).toBe('pending');
    expect(new Set(Object.values(statuses(outcome)))).toEqual(new Set(['pending']));
    let state = runState(outcome, meta);
    expect(state.batches.map((b) => b.key)).toEqual(['openai||gpt-4.1-mini']);

    // Resumed once the first round is done: it is scored, and the second turns are sent and left.
    now += 2 * 60 * 60_000;
    outcome = await run(config, e, { maxWaitMs: 0, attach: state }).outcome;
    expect(statuses(outcome)['thread | Where is my order 123?']).toBe('passed');
    expect(statuses(outcome)['thread | When will it arrive?']).toBe('pending');
    expect(statuses(outcome)['thread | Can I change the address?']).toBe('pending');
    state = runState(outcome, meta, state);
    expect(state.batches.map((b) => b.key)).toEqual(['openai||gpt-4.1-mini', 'openai||gpt-4.1-mini~turn2']);

    // And again, twice: the third turn, then the end.
    now += 2 * 60 * 60_000;
    state = runState(await run(config, e, { maxWaitMs: 0, attach: state }).outcome, meta, state);
    now += 2 * 60 * 60_000;
    outcome = await run(config, e, { maxWaitMs: 0, attach: state }).outcome;
    expect(outcome.status).toBe('completed');
    expect(Object.values(statuses(outcome))).toEqual(Array(10).fill('passed'));
    // Three batches in all, each request sent once.
    expect(sent(e).map((b) => b.length)).toEqual([7, 2, 1]);
    expect(e.state.doubleBilled()).toEqual([]);
  });
});
