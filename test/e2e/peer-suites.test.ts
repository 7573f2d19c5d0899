/**
 * Real promptfoo suites written by others, run end to end through the CLI against both emulators: every suite
 * that uses only OpenAI and Anthropic chat models and supported assertions must run, with every case scored.
 * The suites live beside the project in development and are absent from a user's clone: then this skips.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicEmulator, type AnthropicEmulator } from '../emulator/anthropic-emulator.ts';
import { startOpenAIEmulator, type OpenAIEmulator } from '../emulator/openai-emulator.ts';
import { runNode, tempTree } from '../helpers/node-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const peerDir = join(ROOT, '../shared/peer-suites');
const present = existsSync(peerDir);
if (!present) console.warn(`skipping the peer-suite runs: ${peerDir} is absent (it is not part of the project)`);

/** The runnable suites, with their cases and the providers of their report rows. */
const RUNNABLE: Record<string, { cases: number; models: string[]; graded?: boolean }> = {
  'getting-started/promptfooconfig.yaml': { cases: 8, models: ['openai:gpt-4.1', 'openai:o4-mini'] },
  'simple-csv/promptfooconfig.yaml': { cases: 8, models: ['openai:gpt-3.5-turbo'] },
  'config-prompts-per-model/promptfooconfig.yaml': { cases: 48, models: ['openai:chat:gpt-5.4-mini', 'openai:chat:gpt-5.5'] },
  'anthropic/promptfooconfig.basic.yaml': { cases: 45, models: ['Claude 3.7 Sonnet', 'Claude 3.5 Sonnet', 'Claude 3.5 Haiku'] },
  'anthropic/promptfooconfig.thinking.yaml': { cases: 15, models: ['Claude 3.7 with Thinking', 'Claude 3.7 (thinking hidden)', 'Claude 3.7 (no thinking)'] },
  // With model-graded assertions (llm-rubric), graded in a second batch by the default grader.
  'anthropic/opus-4-5-coding/promptfooconfig.yaml': { cases: 5, models: ['anthropic:messages:claude-opus-4-5-20251101'], graded: true },
  'anthropic/opus-4-8-coding/promptfooconfig.yaml': { cases: 4, models: ['anthropic:messages:claude-opus-4-8'], graded: true },
  'anthropic/opus-5/promptfooconfig.yaml': { cases: 4, models: ['opus-5-xhigh', 'opus-5-low'], graded: true },
  'anthropic/sonnet-4-6/promptfooconfig.yaml': { cases: 4, models: ['anthropic:messages:claude-sonnet-4-6'], graded: true },
  'anthropic/sonnet-5/promptfooconfig.yaml': { cases: 2, models: ['anthropic:messages:claude-sonnet-5'], graded: true },
  'csv-metadata/promptfooconfig.yaml': { cases: 3, models: ['openai:gpt-4.1'], graded: true },
  'eval-self-grading/promptfooconfig.yaml': { cases: 4, models: ['openai:chat:gpt-5.2'], graded: true },
  'gpt-3.5-vs-4/promptfooconfig.yaml': { cases: 30, models: ['openai:gpt-3.5-turbo', 'openai:gpt-4'], graded: true },
  'gpt-4o-vs-4o-mini/promptfooconfig.yaml': { cases: 30, models: ['openai:gpt-5', 'openai:gpt-5-mini'], graded: true },
  'openai-model-comparison/promptfooconfig.yaml': { cases: 30, models: ['openai:gpt-5', 'openai:gpt-5.2'], graded: true },
  'self-grading/promptfooconfig.yaml': { cases: 20, models: ['openai:chat:gpt-4.1'], graded: true },
};

describe.skipIf(!present)('the peer suites through the CLI', () => {
  let openai: OpenAIEmulator;
  let anthropic: AnthropicEmulator;
  const dir = tempTree({});
  beforeAll(async () => {
    openai = await startOpenAIEmulator({ instant: true });
    anthropic = await startAnthropicEmulator({ instant: true });
  });
  afterAll(async () => {
    await Promise.all([openai?.close(), anthropic?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, expected] of Object.entries(RUNNABLE)) {
    it(`${name} runs, every case scored`, async () => {
      const out = join(dir, `${name.replace(/\W/g, '_')}.json`);
      const r = await runNode(
        [join(ROOT, 'src/cli-entry.ts'), 'run', join(peerDir, name), '--out', out, '--openai-base-url', openai.url, '--anthropic-base-url', anthropic.url, '--poll-interval', '100ms'],
        { env: { OPENAI_API_KEY: 'sk-emulator', ANTHROPIC_API_KEY: 'sk-ant-emulator' }, cwd: ROOT },
      );
      // 0 or 1 (the emulator's default answers fail many assertions), never a config or usage error.
      expect([0, 1], r.stderr).toContain(r.code);
      type Assertion = { type: string; pass: boolean; reason: string };
      const results = JSON.parse(readFileSync(out, 'utf8')) as { cases: { status: string; provider: string; error?: string; assertions?: Assertion[] }[] };
      expect(results.cases).toHaveLength(expected.cases);
      expect(results.cases.filter((c) => c.status === 'errored' || c.status === 'pending')).toEqual([]);
      expect([...new Set(results.cases.map((c) => c.provider))]).toEqual(expected.models);
      if (expected.graded) {
        // Every model-graded assertion has the grader's verdict and reasoning, none is left awaiting its grade.
        const graded = results.cases.flatMap((c) => c.assertions ?? []).filter((a) => a.type.replace(/^not-/, '') === 'llm-rubric');
        expect(graded.length).toBeGreaterThan(0);
        for (const a of graded) expect(a.reason).toMatch(/content words of the rubric/);
      }
    }, 30_000);
  }

  it('multiple-turn-conversation/promptfooconfig.yaml runs turn by turn; its template puts answers into JSON unescaped, and the later turns say so', async () => {
    const out = join(dir, 'multiple-turn.json');
    const r = await runNode(
      [join(ROOT, 'src/cli-entry.ts'), 'run', join(peerDir, 'multiple-turn-conversation/promptfooconfig.yaml'), '--out', out, '--openai-base-url', openai.url, '--poll-interval', '100ms'],
      { env: { OPENAI_API_KEY: 'sk-emulator' }, cwd: ROOT },
    );
    expect([0, 1], r.stderr).toContain(r.code);
    const results = JSON.parse(readFileSync(out, 'utf8')) as { cases: { status: string; vars: Record<string, unknown>; error?: string }[] };
    expect(results.cases).toHaveLength(7);
    // The first turn of each thread is answered; the emulator's answers quote the question, and the suite's template
    // writes `"{{ completion.output }}"` into a JSON list, so every later turn cannot be rendered, as in promptfoo.
    const first = ['Who founded Facebook?', "What's the weather like in San Francisco?", 'Whats a good recipe for pasta?'];
    for (const c of results.cases) {
      if (first.includes(String(c.vars.question))) expect(c.status).toBe('passed');
      else expect(c.error).toMatch(/^turn [23] of conversation openai:gpt-4\.1-mini:multi-turn-conversation:\w+_thread cannot be rendered with the turns before it: .*completion\.output \| dump/);
    }
  }, 30_000);
});
