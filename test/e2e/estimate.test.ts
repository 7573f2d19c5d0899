/**
 * Estimate first, as a user runs it: `batch-evals estimate <config>` and `mode: estimate` send nothing and need no
 * key; `--max-cost` / the `max-cost` input refuse a run above it before any request reaches the provider emulators.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startAnthropicEmulator } from '../emulator/anthropic-emulator.ts';
import { startOpenAIEmulator } from '../emulator/openai-emulator.ts';
import { runnerEnv } from '../helpers/action-env.ts';
import { runNode } from '../helpers/node-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'src/cli-entry.ts');
const ACTION = join(ROOT, 'src/index.ts');
const QUICKSTART = 'examples/quickstart/promptfooconfig.yaml';
const QUICKSTART_SCRIPT = join(ROOT, 'test/emulator/quickstart-script.yaml');
const KEYS = { OPENAI_API_KEY: 'sk-emulator', ANTHROPIC_API_KEY: 'sk-ant-emulator' };

/**
 * The quickstart's estimate. gpt-4.1-mini: 7 distinct prompts of 413 tokens in all (o200k_base, checked against
 * js-tiktoken, another implementation of the same encoding), 256 output tokens assumed each (under its max_tokens
 * of 300): (413 x $0.40 + 1,792 x $1.60) / 1M / 2 = $0.0015. claude-haiku-4-5: the same prompts, 516 tokens at 3.5
 * characters a token: (516 x $1 + 1,792 x $5) / 1M / 2 = $0.0047. Grading: one llm-rubric case per model (gpt-4.1)
 * and a similar one (text-embedding-3-large).
 */
const QUICKSTART_ESTIMATE = `Estimate: Quickstart - a support bot for a shoe shop

14 cases, 14 distinct requests to send in 2 batches: expected batch cost $0.0092 (real time $0.0183), no upper bound: the grader openai:gpt-4.1 sets no max_tokens.

Model                                           Requests  Input tokens  Output tokens  Batch: input  Batch: output  Batch total  Real-time total  Batch, at most
----------------------------------------------  --------  ------------  -------------  ------------  -------------  -----------  ---------------  --------------
openai:gpt-4.1-mini                                    7           413         ~1,792     $0.000083        $0.0014      $0.0015          $0.0030         $0.0018
anthropic:claude-haiku-4-5                             7          ~516         ~1,792       $0.0003        $0.0045      $0.0047          $0.0095         $0.0055
grading: openai:gpt-4.1 (rough)                        2          ~818           ~512       $0.0008        $0.0020      $0.0029          $0.0057          no cap
grading: openai:text-embedding-3-large (rough)         3          ~527             ~0     $0.000034          $0.00    $0.000034        $0.000069       $0.000034
Total                                                 19        ~2,274         ~4,096       $0.0012        $0.0080      $0.0092          $0.0183          no cap

- Input tokens counted with the model's tokenizer, chat messages framed as the OpenAI API counts them: openai:gpt-4.1-mini with o200k_base.
- ~ approximate: anthropic:claude-haiku-4-5 at characters / 3.5, plus 3 a message (Anthropic publishes no offline tokenizer for current Claude models).
- Output tokens are not known before the answers are written: assumed 256 an answer (--output-tokens), capped at each request's max_tokens. "Batch, at most": every answer uses all of its max_tokens.
- Grading (model-graded assertions) is a second batch sent once the outputs are in: its line is rough, each grading prompt counted with the assumed output in place of the real one.
- Prices as of 2026-11; batch is 50% of real time. Retries of failed requests are not included.
`;

const REFUSAL =
  'the estimated batch cost $0.0092 is above max-cost $0.0050, so nothing was sent. Biggest contributors: ' +
  'anthropic:claude-haiku-4-5 $0.0047 (7 requests, ~516 input tokens); grading by openai:gpt-4.1 $0.0029 (2 requests, ~818 input tokens); ' +
  'openai:gpt-4.1-mini $0.0015 (7 requests, 413 input tokens). ' +
  '(Input tokens counted with the tokenizer, ~ approximate; output assumed 256 tokens an answer, capped at max_tokens.)';

const emulators: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

async function quickstartEmulators() {
  const openai = await startOpenAIEmulator({ instant: true, script: QUICKSTART_SCRIPT });
  const anthropic = await startAnthropicEmulator({ instant: true, script: QUICKSTART_SCRIPT });
  emulators.push(openai, anthropic);
  return { openai, anthropic };
}

const cli = (args: string[], env: Record<string, string> = KEYS) => runNode([CLI, ...args], { env, cwd: ROOT });

/** The action as the runner starts it, action.yml's defaults filled in, no GitHub token. */
async function runAction(inputs: Record<string, string>) {
  const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  const defaults: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) if (spec.default !== undefined) defaults[name] = String(spec.default);
  const runner = runnerEnv({ ...defaults, 'github-token': '', ...inputs });
  const result = await runNode([ACTION], { env: runner.env, cwd: ROOT });
  return { ...result, outputs: runner.outputs(), summary: runner.summary() };
}

describe('batch-evals estimate (CLI)', { timeout: 30_000 }, () => {
  it('prints the quickstart estimate per model and in total, with no API key and nothing sent', async () => {
    const r = await cli(['estimate', QUICKSTART], {});
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(QUICKSTART_ESTIMATE);
  });

  it('takes the assumed output length from --output-tokens, and exits 4 above --max-cost', async () => {
    const r = await cli(['estimate', QUICKSTART, '--output-tokens', '0', '--max-cost', '0.0005']);
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('assumed 0 an answer (--output-tokens)');
    expect(r.stdout).toMatch(/^openai:gpt-4\.1-mini +7 +413 +~0 +\$0\.000083 +\$0\.00 +\$0\.000083 +\$0\.0002 +\$0\.0018$/m);
    expect(r.stderr).toMatch(/^error: the estimated batch cost \$0\.0006 is above max-cost \$0\.0005, so nothing was sent\. Biggest contributors: /);

    const bad = await cli(['estimate', QUICKSTART, '--output-tokens', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("error: --output-tokens must be a whole number of tokens, 0 or more, not 'lots'");
  });

  it('run --max-cost: refuses the quickstart above the limit with exit 4, the estimate and why, before any request reaches the providers', async () => {
    const e = await quickstartEmulators();
    const r = await cli(['run', QUICKSTART, '--openai-base-url', e.openai.url, '--anthropic-base-url', e.anthropic.url, '--max-cost', '$0.005']);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe(QUICKSTART_ESTIMATE);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(`error: ${REFUSAL}`);
    expect(e.openai.state.requests).toEqual([]);
    expect(e.anthropic.state.requests).toEqual([]);

    const bad = await cli(['run', QUICKSTART, '--openai-base-url', e.openai.url, '--anthropic-base-url', e.anthropic.url, '--max-cost', 'five']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("error: --max-cost must be an amount in USD, 0 or more (e.g. 5 or 0.50), not 'five'");
    expect(e.openai.state.requests).toEqual([]);
  });

  it('run --max-cost within the estimate: the run goes ahead', async () => {
    const e = await quickstartEmulators();
    const r = await cli(['run', QUICKSTART, '--openai-base-url', e.openai.url, '--anthropic-base-url', e.anthropic.url, '--poll-interval', '50ms', '--max-cost', '1']);
    expect(r.stderr).toContain('estimated batch cost $0.0092 is within max-cost $1.00');
    expect(r.code).toBe(1); // the quickstart has failing cases
    expect(r.stdout).toMatch(/^## ❌ batch-evals: Quickstart/);
    expect(e.openai.state.batches.size).toBeGreaterThan(0);
    expect(e.anthropic.state.batches.size).toBe(1);
  });
});

describe('estimate with earlier outputs (CLI --reuse)', { timeout: 30_000 }, () => {
  it('counts what reuse spares: a run keeps its outputs, and the estimate of the same suite sends none of its requests', async () => {
    const e = await quickstartEmulators();
    const store = join(mkdtempSync(join(tmpdir(), 'batch-evals-estimate-')), 'outputs.json');
    const run = await cli(['run', QUICKSTART, '--openai-base-url', e.openai.url, '--anthropic-base-url', e.anthropic.url, '--poll-interval', '50ms', '--reuse', store]);
    expect(run.code).toBe(1);
    const r = await cli(['estimate', QUICKSTART, '--reuse', store], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('14 cases, 0 distinct requests to send (14 more reused) in 0 batches');
    expect(r.stdout).toMatch(/^openai:gpt-4\.1-mini +0 \(\+7 reused\) /m);
    // What the 14 reused requests would cost, at the estimate's own figures: $0.0015 + $0.0047 (within rounding).
    expect(r.stdout).toContain('- 14 requests reuse earlier outputs and are not sent: that saves $0.0063 at batch prices ($0.0125 real time), not in the totals.');
    // The grading of model-graded assertions depends on the outputs and is still counted.
    expect(r.stdout).toMatch(/^grading: openai:gpt-4\.1 \(rough\) +2 /m);
  });
});

describe('mode estimate and max-cost (action)', { timeout: 30_000 }, () => {
  it('mode estimate: the estimate in the job summary and the outputs, no key needed, nothing sent', async () => {
    const r = await runAction({ config: QUICKSTART, mode: 'estimate' });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/^::error/m);
    expect(r.outputs['estimated-cost']).toBe('0.009154');
    expect(r.outputs['estimated-realtime-cost']).toBe('0.018309');
    expect(r.summary).toContain('## 🧮 batch-evals estimate: Quickstart - a support bot for a shoe shop');
    expect(r.summary).toContain('| openai:gpt-4.1-mini | 7 | 413 | ~1,792 | $0.000083 | $0.0014 | $0.0015 | $0.0030 | $0.0018 |');
    expect(r.summary).toContain('| anthropic:claude-haiku-4-5 | 7 | ~516 | ~1,792 | $0.0003 | $0.0045 | $0.0047 | $0.0095 | $0.0055 |');
    expect(r.summary).toContain('assumed 256 an answer (the output-tokens input)');
    // The log has the plain table too.
    expect(r.stdout).toContain('openai:gpt-4.1-mini                                    7           413');
  });

  it('mode run with max-cost below the estimate: fails the step with why, sends nothing, and reports the estimate', async () => {
    const e = await quickstartEmulators();
    const r = await runAction({
      config: QUICKSTART,
      'max-cost': '0.005',
      'openai-api-key': KEYS.OPENAI_API_KEY,
      'openai-base-url': e.openai.url,
      'anthropic-api-key': KEYS.ANTHROPIC_API_KEY,
      'anthropic-base-url': e.anthropic.url,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`::error::${REFUSAL}`);
    expect(r.outputs).toMatchObject({ status: 'failed', 'estimated-cost': '0.009154', 'estimated-realtime-cost': '0.018309' });
    expect(r.summary).toContain('## 🧮 batch-evals estimate: Quickstart');
    expect(r.summary).toContain(`**Over max-cost:** ${REFUSAL}`);
    expect(e.openai.state.requests).toEqual([]);
    expect(e.anthropic.state.requests).toEqual([]);
  });

  it('mode estimate with max-cost below the estimate fails the step; a bad max-cost is refused', async () => {
    const over = await runAction({ config: QUICKSTART, mode: 'estimate', 'max-cost': '0.0005', 'output-tokens': '10' });
    expect(over.code).toBe(1);
    expect(over.stdout).toMatch(/^::error::the estimated batch cost \$0\.0010 is above max-cost \$0\.0005/m);
    expect(over.summary).toContain('assumed 10 an answer');

    const bad = await runAction({ config: QUICKSTART, mode: 'estimate', 'max-cost': '-1' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("::error::input max-cost must be an amount in USD, 0 or more (e.g. 5 or 0.50), not '-1'");
  });
});
