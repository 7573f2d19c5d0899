/**
 * The action as GitHub runs it: `node src/index.ts` in a child process with the runner's environment (INPUT_* with
 * action.yml's defaults filled in, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP...), against the OpenAI Batch
 * API and Anthropic Message Batches emulators over real HTTP (started in this process).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startAnthropicEmulator, type AnthropicEmulator, type AnthropicEmulatorOptions } from '../emulator/anthropic-emulator.ts';
import { startOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions, type ScriptRule } from '../emulator/openai-emulator.ts';
import { runnerEnv } from '../helpers/action-env.ts';
import { runNode, tempTree } from '../helpers/node-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'src/index.ts');
const QUICKSTART = 'examples/quickstart/promptfooconfig.yaml';
const QUICKSTART_SCRIPT = join(ROOT, 'test/emulator/quickstart-script.yaml');

const OUTPUT_NAMES = ['status', 'pass-rate', 'passed', 'failed', 'errored', 'cost', 'realtime-cost', 'savings', 'batch-ids', 'results-file', 'regressions'];

const MINI = 'openai:gpt-4.1-mini';
const HAIKU = 'anthropic:messages:claude-haiku-4-5';

const emulators: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

async function emulator(options: OpenAIEmulatorOptions): Promise<OpenAIEmulator> {
  const e = await startOpenAIEmulator(options);
  emulators.push(e);
  return e;
}

async function anthropicEmulator(options: AnthropicEmulatorOptions): Promise<AnthropicEmulator> {
  const e = await startAnthropicEmulator(options);
  emulators.push(e);
  return e;
}

/**
 * Both emulators answering from the quickstart script, and fresh keys for them; the Anthropic emulator takes only its
 * key, so a run through it proves the anthropic-api-key input is what was sent.
 */
async function quickstart() {
  const keys = { openai: newKey(), anthropic: `sk-ant-e2e-${randomBytes(12).toString('hex')}` };
  const openai = await emulator({ instant: true, script: QUICKSTART_SCRIPT });
  const anthropic = await anthropicEmulator({ instant: true, script: QUICKSTART_SCRIPT, apiKey: keys.anthropic });
  const inputs = { config: QUICKSTART, 'openai-api-key': keys.openai, 'openai-base-url': openai.url, 'anthropic-api-key': keys.anthropic, 'anthropic-base-url': anthropic.url };
  return { openai, anthropic, keys, inputs };
}

/** GitHub sets INPUT_<NAME> for every input of action.yml that has a default, whether the workflow gives it or not. */
function withDefaults(inputs: Record<string, string>): Record<string, string> {
  const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) if (spec.default !== undefined) out[name] = String(spec.default);
  // The runner resolves expressions; these runs have no GitHub token unless a test gives one.
  out['github-token'] = '';
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

/**
 * Each key is masked (`::add-mask::`) before anything else is printed, and appears nowhere else: not in another line
 * of stdout, stderr, the job summary, or any of `files` (GITHUB_OUTPUT, the results file).
 */
function expectMasked(result: { stdout: string; stderr: string; summary: string }, keys: string[], files: string[]) {
  const lines = result.stdout.split('\n');
  const masks = keys.map((key) => `::add-mask::${key}`);
  expect([...lines.slice(0, keys.length)].sort()).toEqual([...masks].sort());
  for (const key of keys) {
    expect(lines.filter((l) => l.includes(key))).toEqual([`::add-mask::${key}`]);
    expect(result.stderr).not.toContain(key);
    expect(result.summary).not.toContain(key);
    for (const file of files) expect(readFileSync(file, 'utf8'), file).not.toContain(key);
  }
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
  it('sets every output, writes the job summary and masks both keys (quickstart on both providers, min-pass-rate under the achieved rate)', async () => {
    const { openai, anthropic, keys, inputs } = await quickstart();
    const r = await runAction({ ...inputs, 'max-wait': '2m', 'min-pass-rate': '0.7' });

    expect(commands(r.stdout, 'error')).toEqual([]);
    // A warning on the YAML line of each failing case's test.
    expect(commands(r.stdout, 'warning')).toEqual([
      '::warning title=batch-evals: failed case,file=examples/quickstart/promptfooconfig.yaml,line=58,col=5::openai:gpt-4.1-mini: Keeps answers short: Expected output to not contain "as an AI"',
      '::warning title=batch-evals: failed case,file=examples/quickstart/promptfooconfig.yaml,line=27,col=5::anthropic:messages:claude-haiku-4-5: Return policy: Expected output to contain "30 days"',
      '::warning title=batch-evals: failed case,file=examples/quickstart/promptfooconfig.yaml,line=41,col=5::anthropic:messages:claude-haiku-4-5: Order lookup answers in JSON: Expected output to be valid JSON',
      '::warning title=batch-evals: failed case,file=examples/quickstart/promptfooconfig.yaml,line=66,col=5::anthropic:messages:claude-haiku-4-5: Explains returns (graded by a model): The grader failed the output (score 0): The output has 0 of the 2 content words of the rubric; missing: "returns", "free".',
    ]);
    expect(r.code).toBe(0);

    // One generation batch per provider; the OpenAI emulator also took the two grading batches of the model-graded
    // case (the llm-rubric grader, and the embeddings for `similar`).
    const openaiBatches = [...openai.state.batches.values()];
    expect(openaiBatches.map((b) => `${b.metadata?.model} ${b.endpoint}`).sort()).toEqual([
      'gpt-4.1 /v1/chat/completions',
      'gpt-4.1-mini /v1/chat/completions',
      'text-embedding-3-large /v1/embeddings',
    ]);
    const [openaiBatch, rubricBatch, embeddingsBatch] = ['gpt-4.1-mini', 'gpt-4.1', 'text-embedding-3-large'].map((m) => openaiBatches.find((b) => b.metadata?.model === m)!);
    const [anthropicBatch, ...moreAnthropic] = anthropic.state.batches.values();
    expect(moreAnthropic).toEqual([]);
    const resultsFile = join(r.runner.dir, 'batch-evals-results.json');
    expect(Object.keys(r.outputs).sort()).toEqual([...OUTPUT_NAMES].sort());
    // Batch cost: gpt-4.1-mini $0.000243 ($0.40 / $1.60 per million, halved) + claude-haiku-4-5 $0.000510 ($1 / $5, halved)
    // + grading $0.000513885 (gpt-4.1 at $2 / $8 and text-embedding-3-large at $0.13 per million, halved).
    expect(r.outputs).toEqual({
      status: 'completed',
      'pass-rate': '0.7143',
      passed: '10',
      failed: '4',
      errored: '0',
      cost: '0.001267',
      'realtime-cost': '0.002534',
      savings: '0.001267',
      'batch-ids': `${openaiBatch.id},${anthropicBatch.id},${rubricBatch.id},${embeddingsBatch.id}`,
      'results-file': resultsFile,
      regressions: '', // no baseline: these runs have no Actions cache
    });

    // The cost outputs agree with the results file.
    const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
    expect(results.cases).toHaveLength(14);
    expect(results.status).toBe('completed');
    expect(results.minPassRate).toBe(0.7);
    const total = results.summary.total;
    expect(r.outputs.cost).toBe(total.batchCost.toFixed(6));
    expect(r.outputs['realtime-cost']).toBe(total.realtimeCost.toFixed(6));
    expect(total.realtimeCost).toBeCloseTo(2 * total.batchCost, 12);
    expect(results.cases.map((c: { provider: string; description: string; status: string }) => `${c.provider} | ${c.description} | ${c.status}`)).toEqual([
      `${MINI} | Return policy | passed`,
      `${MINI} | Order tracking | passed`,
      `${MINI} | Order lookup answers in JSON | passed`,
      `${MINI} | Greets the customer by name | passed`,
      `${MINI} | Greets the customer by name | passed`,
      `${MINI} | Keeps answers short | failed`,
      `${MINI} | Explains returns (graded by a model) | passed`,
      `${HAIKU} | Return policy | failed`,
      `${HAIKU} | Order tracking | passed`,
      `${HAIKU} | Order lookup answers in JSON | failed`,
      `${HAIKU} | Greets the customer by name | passed`,
      `${HAIKU} | Greets the customer by name | passed`,
      `${HAIKU} | Keeps answers short | passed`,
      `${HAIKU} | Explains returns (graded by a model) | failed`,
    ]);

    // The job summary is the report.
    expect(r.summary.startsWith('## ✅ batch-evals: Quickstart - a support bot for a shoe shop\n')).toBe(true);
    expect(r.summary).toContain('**71.4% passed** (10 of 14 cases) · batch cost $0.0013 · saved $0.0013 against real time\n');
    expect(r.summary).toContain(
      [
        `| ${MINI} | 7 | 6 | 1 | 0 | 85.7% | $0.0002 | $0.0005 | $0.0002 |`,
        `| ${HAIKU} | 7 | 4 | 3 | 0 | 57.1% | $0.0005 | $0.0010 | $0.0005 |`,
        '| Grading (openai:gpt-4.1, openai:text-embedding-3-large; 4 requests) | | | | | | $0.0005 | $0.0010 | $0.0005 |',
        '| **Total** | 14 | 10 | 4 | 0 | 71.4% | $0.0013 | $0.0025 | $0.0013 |',
      ].join('\n'),
    );
    expect(r.summary).toContain(
      [
        '<details open><summary>4 cases where the models disagree</summary>',
        '',
        `| Case | ${MINI} | ${HAIKU} |`,
        '|:--|:-:|:-:|',
        '| Return policy \\(prompt support\\) | ✅ | ❌ |',
        '| Order lookup answers in JSON \\(prompt support\\) | ✅ | ❌ |',
        '| Keeps answers short \\(prompt support\\) | ❌ | ✅ |',
        '| Explains returns \\(graded by a model\\) \\(prompt support\\) | ✅ | ❌ |',
        '',
        '</details>',
      ].join('\n'),
    );
    expect(r.summary).toContain('<details><summary>4 failing cases</summary>');
    expect(r.summary.split('\n').filter((l) => l.startsWith('**❌ failed**'))).toEqual([
      `**❌ failed** · ${MINI} · prompt support · Keeps answers short`,
      `**❌ failed** · ${HAIKU} · prompt support · Return policy`,
      `**❌ failed** · ${HAIKU} · prompt support · Order lookup answers in JSON`,
      `**❌ failed** · ${HAIKU} · prompt support · Explains returns \\(graded by a model\\)`,
    ]);
    expect(r.summary).toMatch(
      new RegExp(
        `openai:gpt-4\\.1-mini: \`${openaiBatch.id}\` completed in [01]s · anthropic:claude-haiku-4-5: \`${anthropicBatch.id}\` ended in 0s · ` +
          `openai:gpt-4\\.1 grading: \`${rubricBatch.id}\` completed in [01]s · openai:text-embedding-3-large grading: \`${embeddingsBatch.id}\` completed in [01]s\\.`,
      ),
    );

    // The OpenAI batch carries the run's metadata (Message Batches take none); the Anthropic emulator took its key.
    // The config path and suite id let a lost run be found again by listing batches.
    expect(openaiBatch.metadata).toEqual({
      tool: 'batch-evals',
      suite: 'Quickstart - a support bot for a shoe shop',
      repo: 'acme/prompts',
      sha: 'a'.repeat(40),
      config: 'examples/quickstart/promptfooconfig.yaml',
      suite_id: expect.stringMatching(/^[0-9a-f]{12}$/),
      model: 'gpt-4.1-mini',
    });
    expect(anthropic.state.requests.length).toBeGreaterThanOrEqual(3);
    expect(anthropic.state.requests.filter((q) => q.status !== 200)).toEqual([]);
    expectMasked(r, [keys.openai, keys.anthropic], [r.runner.env.GITHUB_OUTPUT, resultsFile]);
  });

  it('fails the step when min-pass-rate is above the achieved rate, still setting the outputs', async () => {
    const { keys, inputs } = await quickstart();
    const r = await runAction({ ...inputs, 'min-pass-rate': '0.8' });

    expect(r.code).toBe(1);
    expect(commands(r.stdout, 'error')).toEqual(['::error::pass rate 71.4% is below the required 80.0%']);
    expect(r.outputs).toMatchObject({ status: 'failed', 'pass-rate': '0.7143', passed: '10', failed: '4', errored: '0', cost: '0.001267' });
    expect(existsSync(r.outputs['results-file'])).toBe(true);
    expect(r.summary.startsWith('## ❌ batch-evals: Quickstart')).toBe(true);
    expect(r.summary).toContain('**71.4% passed** (10 of 14 cases) · batch cost $0.0013 · saved $0.0013 against real time · below the required 80.0%\n');
    expect(r.summary).toContain('<details open><summary>4 cases where the models disagree</summary>');
    expectMasked(r, [keys.openai, keys.anthropic], [r.runner.env.GITHUB_OUTPUT, r.outputs['results-file']]);

    // A percentage works too.
    const pct = await runAction({ ...inputs, 'min-pass-rate': '90%' });
    expect(pct.code).toBe(1);
    expect(commands(pct.stdout, 'error')).toEqual(['::error::pass rate 71.4% is below the required 90.0%']);
  });

  it('runs the bundled dist/index.js, as the runner does, also without GITHUB_REPOSITORY (a runner outside GitHub)', async () => {
    const e = await emulator({ instant: true, script: SCRIPT });
    const ws = workspace();
    const runner = runnerEnv(withDefaults({ config: 'evals/suite.yaml', 'openai-api-key': newKey(), 'openai-base-url': e.url, 'min-pass-rate': '0.5' }));
    runner.env.GITHUB_WORKSPACE = ws;
    delete runner.env.GITHUB_REPOSITORY;
    const r = await runNode([join(ROOT, 'dist/index.js')], { env: runner.env, cwd: ws });

    expect(commands(r.stdout, 'error')).toEqual([]);
    expect(r.code).toBe(0);
    expect(runner.outputs()).toMatchObject({ status: 'completed', 'pass-rate': '0.5000', passed: '2', failed: '1', errored: '1' });
    const [batch] = e.state.batches.values();
    expect(batch.metadata).not.toHaveProperty('repo');
    expect(batch.metadata).toMatchObject({ tool: 'batch-evals' });
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
      // The request that failed with a server error went again twice (max-retries 2), alone, in new batches.
      'batch-ids': [...e.state.batches.keys()].join(','),
      'results-file': resultsFile,
      regressions: '', // no baseline: these runs have no Actions cache
    });
    const [first, ...retries] = e.state.batches.values();
    expect(first.id).toBe(batch.id);
    expect(retries.map((b) => b.requests.length)).toEqual([1, 1]);
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
    expectMasked(r, [key], [r.runner.env.GITHUB_OUTPUT]);
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
      '::warning title=batch-evals: failed case,file=evals/suite.yaml,line=18,col=5::openai:gpt-4.1-mini: wrong colour: Expected output to contain "blue"',
      '::warning title=batch-evals: errored case,file=evals/suite.yaml,line=23,col=5::openai:gpt-4.1-mini: server error: server_error: The server had an error while processing your request. (retryable)',
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

  it('fails with a clear error when the suite needs an Anthropic key and none is given, sending nothing to either provider', async () => {
    const { openai, anthropic, keys, inputs } = await quickstart();
    const { 'anthropic-api-key': _, ...withoutAnthropicKey } = inputs;
    const r = await runAction(withoutAnthropicKey);
    expect(r.code).toBe(1);
    expect(commands(r.stdout, 'error')).toEqual([
      '::error::anthropic:claude-haiku-4-5 needs an API key: set the anthropic-api-key input (or ANTHROPIC_API_KEY for the CLI)',
    ]);
    expect(r.outputs).toEqual({ status: 'failed' });
    expect(r.summary).toBe('');
    expect(openai.state.requests).toEqual([]);
    expect(anthropic.state.requests).toEqual([]);
    expectMasked(r, [keys.openai], [r.runner.env.GITHUB_OUTPUT]);
    expect(r.stdout).not.toContain(keys.anthropic);
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
