/**
 * `openai:responses:<model>` end to end: `evaluate()` in-process through the real `openai` SDK against the emulator.
 * The same model on Chat Completions and on the Responses API is two models to the suite: two batches, one per
 * endpoint, each request in its own API's shape, both scored alike.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/pipeline.ts';
import { captureLog } from '../batch/support.ts';
import { startOpenAIEmulator } from '../emulator/openai-emulator.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const SUITE = `description: two APIs
prompts:
  - - role: system
      content: Answer in one sentence.
    - role: user
      content: '{{ question }}'
providers:
  - id: openai:chat:gpt-4.1-mini
    config: { max_tokens: 60 }
  - id: openai:responses:gpt-4.1-mini
    config: { max_tokens: 60, temperature: 0 }
tests:
  - vars: { question: What is the capital of France? }
    assert: [{ type: icontains, value: capital }]
  - vars: { question: Name a colour. }
    assert: [{ type: icontains, value: colour }]
`;

describe("OpenAI's Responses API", () => {
  it('runs beside Chat Completions: a batch per endpoint, max_tokens sent as max_output_tokens, every case scored', async () => {
    const e = await startOpenAIEmulator({ instant: true });
    cleanups.push(() => e.close());
    const dir = mkdtempSync(join(tmpdir(), 'batch-evals-responses-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'suite.yaml'), SUITE);

    const outcome = await evaluate({
      configPath: join(dir, 'suite.yaml'),
      credentials: { openaiApiKey: 'test-key', openaiBaseUrl: e.url },
      maxWaitMs: 10_000,
      pollIntervalMs: { initial: 20, max: 100 },
      log: captureLog().log,
    });

    expect(outcome.results.map((r) => [r.case.provider, r.status])).toEqual([
      ['openai:chat:gpt-4.1-mini', 'passed'],
      ['openai:chat:gpt-4.1-mini', 'passed'],
      ['openai:responses:gpt-4.1-mini', 'passed'],
      ['openai:responses:gpt-4.1-mini', 'passed'],
    ]);
    const batches = [...e.state.batches.values()];
    expect(batches.map((b) => b.endpoint).sort()).toEqual(['/v1/chat/completions', '/v1/responses']);
    const responses = batches.find((b) => b.endpoint === '/v1/responses')!;
    expect(responses.requests[0].body).toEqual({
      max_output_tokens: 60,
      temperature: 0,
      model: 'gpt-4.1-mini',
      input: [
        { role: 'system', content: 'Answer in one sentence.' },
        { role: 'user', content: 'What is the capital of France?' },
      ],
    });
    // The same question to the same model on two APIs: two requests, two ids.
    const ids = outcome.results.filter((r) => r.case.vars.question === 'Name a colour.').map((r) => r.case.requestId);
    expect(new Set(ids).size).toBe(2);
    expect(outcome.summary.providers.map((p) => [p.label, p.batchCost > 0])).toEqual([
      ['openai:chat:gpt-4.1-mini', true],
      ['openai:responses:gpt-4.1-mini', true],
    ]);
    expect(e.state.doubleBilled()).toEqual([]);
  });
});
