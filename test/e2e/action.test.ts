/**
 * The action as GitHub runs it: `node src/index.ts` in a child process with the runner's environment (INPUT_* with
 * action.yml's defaults filled in, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP...), against the OpenAI Batch
 * API emulator over real HTTP (started in this process).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions, type ScriptRule } from '../emulator/openai-emulator.ts';
import { runnerEnv } from '../helpers/action-env.ts';
import { runNode, tempTree } from '../helpers/node-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'src/index.ts');
const QUICKSTART = 'examples/quickstart/promptfooconfig.yaml';
const QUICKSTART_SCRIPT = join(ROOT, 'test/emulator/quickstart-script.yaml');

const OUTPUT_NAMES = ['status', 'pass-rate', 'passed', 'failed', 'errored', 'cost', 'realtime-cost', 'savings', 'batch-ids', 'results-file'];

const emulators: OpenAIEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

async function emulator(options: OpenAIEmulatorOptions): Promise<OpenAIEmulator> {
  const e = await startOpenAIEmulator(options);
  emulators.push(e);
  return e;
}

/** GitHub sets INPUT_<NAME> for every input of action.yml that has a default, whether the workflow gives it or not. */
function withDefaults(inputs: Record<string, string>): Record<string, string> {
  const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) if (spec.default !== undefined) out[name] = String(spec.default);
  return { ...out, ...inputs };
}

/**
 * Runs the action entry like the runner does: cwd is the workspace. `workspace` defaults to the repository
 * (runnerEnv's GITHUB_WORKSPACE).
 */
async function runAction(inputs: Record<string, string>, workspace?: string) {
  const runner = runnerEnv(withDefaults(inputs));
  if (workspace) runner.env.GITHUB_WORKSPACE = workspace;
  const result = await runNode([ENTRY], { env: runner.env, cwd: runner.env.GITHUB_WORKSPACE });
  return { ...result, runner, outputs: runner.outputs(), summary: runner.summary() };
}

const newKey = () => `sk-e2e-${randomBytes(12).toString('hex')}`;

/**
 * The lines of stdout that are workflow commands of one kind (`::error ...::message`), with the runner's escapes
 * (%25 for %, %0A for a newline, %3A and %2C in properties) decoded as GitHub shows them.
 */
const commands = (stdout: string, kind: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith(`::${kind} `) || l.startsWith(`::${kind}::`))
    .map((l) => l.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%'));

function expectMasked(result: { stdout: string; stderr: string; summary: string }, key: string, outputFile: string) {
  const lines = result.stdout.split('\n');
  expect(lines[0]).toBe(`::add-mask::${key}`);
  expect(lines.filter((l) => l.includes(key))).toEqual([`::add-mask::${key}`]);
  expect(result.stderr).not.toContain(key);
  expect(result.summary).not.toContain(key);
  expect(readFileSync(outputFile, 'utf8')).not.toContain(key);
}

/** A workspace with evals/suite.yaml: four questions to gpt-4.1-mini, each answered with a known token usage. */
const USAGE = { promptTokens: 1000, completionTokens: 500 };
const SCRIPT: ScriptRule[] = [
  { match: 'overload', error: { status: 500, message: 'The server had an error while processing your request.' } },
  { match: 'capital of France', reply: 'Paris.', usage: USAGE },
  { match: '2\\+2', reply: '4', usage: USAGE },
  { match: 'colour of the sky', reply: 'Green, obviously.', usage: USAGE },
];
function workspace(extraTestLines = ''): string {
  return tempTree({
    'evals/suite.yaml': `description: Small action suite
prompts:
  - "Answer briefly. {{ question }}"
providers:
  - openai:gpt-4.1-mini
tests:
  - vars: { question: What is the capital of France? }
${extraTestLines}    assert:
      - type: icontains
        value: paris
  - vars: { question: "What is 2+2?" }
    assert:
      - type: equals
        value: "4"
  - description: wrong colour
    vars: { question: What is the colour of the sky? }
    assert:
      - type: icontains
        value: blue
  - description: server error
    vars: { question: Please overload the server }
    assert:
      - type: icontains
        value: anything
`,
  });
}

describe('batch-evals action end to end', { timeout: 30_000 }, () => {
  it('sets every output, writes the job summary and masks the key (quickstart, min-pass-rate under the achieved rate)', async () => {
    const e = await emulator({ instant: true, script: QUICKSTART_SCRIPT });
    const key = newKey();
    const r = await runAction({ config: QUICKSTART, 'openai-api-key': key, 'openai-base-url': e.url, 'max-wait': '2m', 'min-pass-rate': '0.7' });

    expect(commands(r.stdout, 'error')).toEqual([]);
    expect(commands(r.stdout, 'warning')).toEqual([]);
    expect(r.code).toBe(0);

    const batchIds = [...e.state.batches.keys()];
    expect(batchIds).toHaveLength(2);
    const resultsFile = join(r.runner.dir, 'batch-evals-results.json');
    expect(Object.keys(r.outputs).sort()).toEqual([...OUTPUT_NAMES].sort());
    expect(r.outputs).toMatchObject({ status: 'completed', 'pass-rate': '0.7500', passed: '9', failed: '3', errored: '0', 'results-file': resultsFile });
    expect(r.outputs['batch-ids'].split(',').sort()).toEqual([...batchIds].sort());

    // The cost outputs agree with the results file and with each other (batch is half the real-time price).
    const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
    expect(results.cases).toHaveLength(12);
    expect(results.status).toBe('completed');
    expect(results.minPassRate).toBe(0.7);
    const total = results.summary.total;
    expect(total.batchCost).toBeGreaterThan(0);
    expect(r.outputs.cost).toBe(total.batchCost.toFixed(6));
    expect(r.outputs['realtime-cost']).toBe(total.realtimeCost.toFixed(6));
    expect(r.outputs.savings).toBe((total.realtimeCost - total.batchCost).toFixed(6));
    expect(total.realtimeCost).toBeCloseTo(2 * total.batchCost, 12);

    // The job summary is the report.
    expect(r.summary.startsWith('## ✅ batch-evals: Quickstart - a support bot for a shoe shop\n')).toBe(true);
    expect(r.summary).toContain('**75.0% passed** (9 of 12 cases)');
    expect(r.summary).toMatch(/^\| openai:gpt-4\.1-mini \| 6 \| 6 \| 0 \| 0 \| 100% \|/m);
    expect(r.summary).toMatch(/^\| openai:gpt-4\.1-nano \| 6 \| 3 \| 3 \| 0 \| 50\.0% \|/m);
    expect(r.summary).toContain('<details><summary>3 failing cases</summary>');
    for (const id of batchIds) expect(r.summary).toContain(`\`${id}\` completed`);

    // The batches carry the run's metadata.
    for (const batch of e.state.batches.values()) {
      expect(batch.metadata).toEqual({ tool: 'batch-evals', suite: 'Quickstart - a support bot for a shoe shop', repo: 'acme/prompts', sha: 'a'.repeat(40) });
    }
    expectMasked(r, key, r.runner.env.GITHUB_OUTPUT);
  });

  it('fails the step when min-pass-rate is above the achieved rate, still setting the outputs', async () => {
    const e = await emulator({ instant: true, script: QUICKSTART_SCRIPT });
    const key = newKey();
    const r = await runAction({ config: QUICKSTART, 'openai-api-key': key, 'openai-base-url': e.url, 'min-pass-rate': '0.8' });

    expect(r.code).toBe(1);
    expect(commands(r.stdout, 'error')).toEqual(['::error::pass rate 75.0% is below the required 80.0%']);
    expect(r.outputs).toMatchObject({ status: 'failed', 'pass-rate': '0.7500', passed: '9', failed: '3', errored: '0' });
    expect(existsSync(r.outputs['results-file'])).toBe(true);
    expect(r.summary.startsWith('## ❌ batch-evals: Quickstart')).toBe(true);
    expect(r.summary).toContain('below the required 80.0%');
    expectMasked(r, key, r.runner.env.GITHUB_OUTPUT);

    // A percentage works too.
    const pct = await runAction({ config: QUICKSTART, 'openai-api-key': key, 'openai-base-url': e.url, 'min-pass-rate': '90%' });
    expect(pct.code).toBe(1);
    expect(commands(pct.stdout, 'error')).toEqual(['::error::pass rate 75.0% is below the required 90.0%']);
  });

  it('without min-pass-rate the suite needs 100%; errored cases count against the pass rate; exact costs', async () => {
    const e = await emulator({ instant: true, script: SCRIPT });
    const ws = workspace();
    const resultsFile = join(ws, 'out', 'evals.json');
    const r = await runAction({ config: 'evals/suite.yaml', 'openai-api-key': newKey(), 'openai-base-url': e.url, 'results-file': resultsFile }, ws);

    expect(r.code).toBe(1);
    expect(commands(r.stdout, 'error')).toEqual(['::error::pass rate 50.0% is below the required 100.0%']);
    const [batch] = e.state.batches.values();
    // 3 answered requests of 1000 input and 500 output tokens on gpt-4.1-mini ($0.40 / $1.60 per million):
    // $0.0012 each in real time, $0.0006 at batch price. The errored request is not billed.
    expect(r.outputs).toEqual({
      status: 'failed',
      'pass-rate': '0.5000',
      passed: '2',
      failed: '1',
      errored: '1',
      cost: '0.001800',
      'realtime-cost': '0.003600',
      savings: '0.001800',
      'batch-ids': batch.id,
      'results-file': resultsFile,
    });
    const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
    expect(results.cases.map((c: { status: string }) => c.status)).toEqual(['passed', 'passed', 'failed', 'errored']);
    expect(results.cases[3].error).toBe('server_error: The server had an error while processing your request. (retryable)');
    expect(r.summary).toContain('**50.0% passed** (2 of 4 cases) · batch cost $0.0018 · saved $0.0018 against real time · below the required 100%');
    expect(r.summary).toMatch(/^\| openai:gpt-4\.1-mini \| 4 \| 2 \| 1 \| 1 \| 50\.0% \| \$0\.0018 \| \$0\.0036 \| \$0\.0018 \|$/m);
    expect(r.summary).toContain('<details><summary>2 failing cases</summary>');
    expect(r.summary).toContain('**⚠️ errored** · openai:gpt-4.1-mini');
    expect(r.summary).toContain('Green, obviously.');
  });

  it('annotates a config error on its file and line, fails, and sends nothing', async () => {
    const e = await emulator({ instant: true });
    const ws = tempTree({
      'evals/suite.yaml': `prompts:
  - "Say {{ word }}"
providers:
  - openai:gpt-4.1-mini
tests:
  - vars: { word: hello }
    assert:
      - type: containz
        value: hello
`,
    });
    const key = newKey();
    const r = await runAction({ config: 'evals/suite.yaml', 'openai-api-key': key, 'openai-base-url': e.url }, ws);

    expect(r.code).toBe(1);
    const errors = commands(r.stdout, 'error');
    expect(errors[0]).toBe(
      "::error title=batch-evals config,file=evals/suite.yaml,line=8,col=15::tests[0].assert[0].type: unknown assertion type 'containz' (did you mean 'contains'?)",
    );
    expect(errors).toHaveLength(2); // and the step failure itself
    expect(errors[1]).toBe('::error::the eval config has a problem: see the annotations above');
    expect(r.outputs).toEqual({ status: 'failed' });
    expect(r.summary).toBe('');
    expect(e.state.requests).toEqual([]);
    expectMasked(r, key, r.runner.env.GITHUB_OUTPUT);
  });

  it('annotates a YAML syntax error with file, line and column', async () => {
    const e = await emulator({ instant: true });
    const ws = tempTree({
      'suite.yaml': `prompts:
  - "Say {{ word }}"
providers:
  - openai:gpt-4.1-mini
tests:
  - vars: { word: hello
    assert: []
`,
    });
    const r = await runAction({ config: 'suite.yaml', 'openai-api-key': newKey(), 'openai-base-url': e.url }, ws);
    expect(r.code).toBe(1);
    expect(commands(r.stdout, 'error')[0]).toBe(
      '::error title=batch-evals config,file=suite.yaml,line=7,col=5::invalid YAML: Flow map in block collection must be sufficiently indented and end with a }',
    );
    expect(r.outputs.status).toBe('failed');
    expect(e.state.requests).toEqual([]);
  });

  it('turns unknown keys into warning annotations with file and line, and runs the suite', async () => {
    const e = await emulator({ instant: true, script: SCRIPT });
    const ws = workspace(`    asert:
      - type: icontains
        value: paris
`);
    const r = await runAction({ config: 'evals/suite.yaml', 'openai-api-key': newKey(), 'openai-base-url': e.url, 'min-pass-rate': '50%' }, ws);

    expect(commands(r.stdout, 'warning')).toEqual([
      "::warning title=batch-evals config,file=evals/suite.yaml,line=8,col=5::tests[0].asert: unknown key 'asert' is ignored (did you mean 'assert'?)",
    ]);
    expect(commands(r.stdout, 'error')).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ status: 'completed', 'pass-rate': '0.5000', passed: '2' });
  });

  it('reports pending when the batches outlast max-wait, without failing the step', async () => {
    const e = await emulator({ instant: true, inProgressMs: 60_000, script: SCRIPT });
    const ws = workspace();
    const started = Date.now();
    const r = await runAction({ config: 'evals/suite.yaml', 'openai-api-key': newKey(), 'openai-base-url': e.url, 'max-wait': '1s' }, ws);

    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(commands(r.stdout, 'error')).toEqual([]);
    expect(r.code).toBe(0);
    const [batch] = e.state.batches.values();
    expect(batch.status).toBe('in_progress');
    expect(r.outputs).toMatchObject({ status: 'pending', 'pass-rate': '', passed: '0', failed: '0', errored: '0', cost: '0.000000', 'batch-ids': batch.id });
    expect(r.summary.startsWith('## ⏳ batch-evals: Small action suite')).toBe(true);
    expect(r.summary).toContain('**4 cases pending** in running batches');
    expect(r.stdout).toMatch(/max-wait reached after \d+s: 1 batch\(es\) still running, left pending/);
  });

  it('fails with a clear error when the suite needs an OpenAI key and none is given', async () => {
    const e = await emulator({ instant: true });
    const r = await runAction({ config: QUICKSTART, 'openai-base-url': e.url });
    expect(r.code).toBe(1);
    expect(commands(r.stdout, 'error')).toEqual([
      '::error::openai:gpt-4.1-mini needs an API key: set the openai-api-key input (or OPENAI_API_KEY for the CLI)',
    ]);
    expect(r.stdout).not.toContain('::add-mask::');
    expect(r.outputs).toEqual({ status: 'failed' });
    expect(e.state.requests).toEqual([]);
  });
});
