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
const RUNNABLE: Record<string, { cases: number; models: string[] }> = {
  'getting-started/promptfooconfig.yaml': { cases: 8, models: ['openai:gpt-4.1', 'openai:o4-mini'] },
  'simple-csv/promptfooconfig.yaml': { cases: 8, models: ['openai:gpt-3.5-turbo'] },
  'config-prompts-per-model/promptfooconfig.yaml': { cases: 48, models: ['openai:chat:gpt-5.4-mini', 'openai:chat:gpt-5.5'] },
  'anthropic/promptfooconfig.basic.yaml': { cases: 45, models: ['Claude 3.7 Sonnet', 'Claude 3.5 Sonnet', 'Claude 3.5 Haiku'] },
  'anthropic/promptfooconfig.thinking.yaml': { cases: 15, models: ['Claude 3.7 with Thinking', 'Claude 3.7 (thinking hidden)', 'Claude 3.7 (no thinking)'] },
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
      const results = JSON.parse(readFileSync(out, 'utf8')) as { cases: { status: string; provider: string; error?: string }[] };
      expect(results.cases).toHaveLength(expected.cases);
      expect(results.cases.filter((c) => c.status === 'errored' || c.status === 'pending')).toEqual([]);
      expect([...new Set(results.cases.map((c) => c.provider))]).toEqual(expected.models);
    }, 30_000);
  }
});
