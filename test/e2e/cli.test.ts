/**
 * The CLI as a user runs it: `node src/cli-entry.ts run <config>` in a child process, against the OpenAI Batch API
 * emulator over real HTTP (started in this process).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions } from '../emulator/openai-emulator.ts';
import { runNode, tempTree } from '../helpers/node-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'src/cli-entry.ts');
const QUICKSTART = join(ROOT, 'examples/quickstart/promptfooconfig.yaml');
const QUICKSTART_SCRIPT = join(ROOT, 'test/emulator/quickstart-script.yaml');

/** Published real-time prices in USD per million tokens (input, output); batch is half. */
const PRICES: Record<string, { input: number; output: number }> = {
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
};

const emulators: OpenAIEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

async function emulator(options: OpenAIEmulatorOptions): Promise<OpenAIEmulator> {
  const e = await startOpenAIEmulator(options);
  emulators.push(e);
  return e;
}

function cli(args: string[], env: Record<string, string> = { OPENAI_API_KEY: 'sk-emulator' }) {
  return runNode([CLI, ...args], { env, cwd: ROOT });
}

interface CaseRecord {
  provider: string;
  model: string;
  description?: string;
  vars: Record<string, unknown>;
  status: string;
  output?: string;
  error?: string;
  usage?: { inputTokens: number; cachedInputTokens: number; outputTokens: number; cacheWriteTokens: number };
  cost?: { batch: number; realtime: number };
  assertions?: { type: string; pass: boolean }[];
}

interface ResultsFile {
  version: number;
  suite: string;
  status: string;
  minPassRate: number;
  summary: { total: Record<string, number>; providers: (Record<string, number> & { label: string })[] };
  batches: { label: string; batchId?: string; providerStatus?: string }[];
  cases: CaseRecord[];
}

function readResults(path: string): ResultsFile {
  return JSON.parse(readFileSync(path, 'utf8')) as ResultsFile;
}

const caseKey = (c: CaseRecord) => `${c.provider} | ${c.description}${c.vars.name ? ` (${String(c.vars.name)})` : ''}`;

/** A one-provider suite on gpt-4.1-mini, written to a temp dir. */
function tinySuite(tests: string, extra = ''): string {
  const dir = tempTree({
    'suite.yaml': `description: Tiny suite
prompts:
  - "Answer briefly. {{ question }}"
providers:
  - openai:gpt-4.1-mini
${extra}tests:
${tests}`,
  });
  return join(dir, 'suite.yaml');
}

describe('batch-evals CLI end to end', { timeout: 30_000 }, () => {
  it('runs the quickstart: report on stdout, exit 1 for the failing cases, results JSON and markdown files', async () => {
    const e = await emulator({ instant: true, script: QUICKSTART_SCRIPT });
    const out = join(tempTree({}), 'nested', 'results.json');
    const md = join(tempTree({}), 'report.md');

    const r = await cli(['run', QUICKSTART, '--openai-base-url', e.url, '--poll-interval', '50ms', '--out', out, '--markdown', md]);

    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.code).toBe(1);
    const report = r.stdout;
    expect(report.startsWith('## ❌ batch-evals: Quickstart - a support bot for a shoe shop\n')).toBe(true);
    expect(report).toContain('**75.0% passed** (9 of 12 cases)');
    expect(report).toContain('below the required 100%');
    expect(report).toContain('| Model | Cases | Passed | Failed | Errored | Pass rate | Batch cost | Real-time cost | Saved |');
    expect(report).toMatch(/^\| openai:gpt-4\.1-mini \| 6 \| 6 \| 0 \| 0 \| 100% \| \$0\.\d{4} \| \$0\.\d{4} \| \$0\.\d{4} \|$/m);
    expect(report).toMatch(/^\| openai:gpt-4\.1-nano \| 6 \| 3 \| 3 \| 0 \| 50\.0% \| \$0\.\d{4,6} \| \$0\.\d{4,6} \| \$0\.\d{4,6} \|$/m);
    expect(report).toMatch(/^\| \*\*Total\*\* \| 12 \| 9 \| 3 \| 0 \| 75\.0% \|/m);
    expect(report).toContain('<details><summary>3 failing cases</summary>');
    expect(report).toContain('**❌ failed** · openai:gpt-4.1-nano · prompt support · Return policy');
    expect(report).toContain('You can return your shoes within 14 days of delivery.');
    expect(report).toContain('- ✖️ `word-count` \\{"max":60\\}: Word count 75 is not at most 60');
    const batchIds = [...e.state.batches.keys()];
    expect(batchIds).toHaveLength(2);
    for (const id of batchIds) expect(report).toContain(`\`${id}\` completed`);

    // --markdown holds exactly what went to stdout; progress went to stderr.
    expect(readFileSync(md, 'utf8')).toBe(report);
    expect(report).not.toContain('uploading');
    expect(r.stderr).toContain('Quickstart - a support bot for a shoe shop: 12 cases, 12 distinct requests in 2 batches');
    expect(r.stderr).toContain(`results written to ${out}`);

    // --out: every case with its status, output, usage and cost.
    const results = readResults(out);
    expect(results).toMatchObject({ version: 1, suite: 'Quickstart - a support bot for a shoe shop', status: 'failed', minPassRate: 1 });
    expect(results.summary.total).toMatchObject({ cases: 12, passed: 9, failed: 3, errored: 0, pending: 0, passRate: 0.75 });
    expect(results.batches.map((b) => b.batchId).sort()).toEqual([...batchIds].sort());
    expect(Object.fromEntries(results.cases.map((c) => [caseKey(c), c.status]))).toEqual({
      'openai:gpt-4.1-mini | Return policy': 'passed',
      'openai:gpt-4.1-mini | Order tracking': 'passed',
      'openai:gpt-4.1-mini | Order lookup answers in JSON': 'passed',
      'openai:gpt-4.1-mini | Greets the customer by name (Ada)': 'passed',
      'openai:gpt-4.1-mini | Greets the customer by name (Grace)': 'passed',
      'openai:gpt-4.1-mini | Keeps answers short': 'passed',
      'openai:gpt-4.1-nano | Return policy': 'failed',
      'openai:gpt-4.1-nano | Order tracking': 'passed',
      'openai:gpt-4.1-nano | Order lookup answers in JSON': 'failed',
      'openai:gpt-4.1-nano | Greets the customer by name (Ada)': 'passed',
      'openai:gpt-4.1-nano | Greets the customer by name (Grace)': 'passed',
      'openai:gpt-4.1-nano | Keeps answers short': 'failed',
    });
    expect(results.cases.find((c) => caseKey(c) === 'openai:gpt-4.1-mini | Greets the customer by name (Grace)')?.output).toBe(
      'Hello Grace! Yes, we sell running shoes for road and trail.',
    );

    // Usage as the emulator billed it (output tokens are ceil(characters / 4)), costs from the published prices.
    let batchTotal = 0;
    for (const c of results.cases) {
      expect(c.usage?.outputTokens, caseKey(c)).toBe(Math.ceil(c.output!.length / 4));
      const price = PRICES[c.model];
      const realtime = (c.usage!.inputTokens * price.input + c.usage!.outputTokens * price.output) / 1e6;
      expect(c.cost!.realtime).toBeCloseTo(realtime, 12);
      expect(c.cost!.batch).toBeCloseTo(realtime / 2, 12);
      batchTotal += c.cost!.batch;
    }
    expect(results.summary.total.batchCost).toBeCloseTo(batchTotal, 12);
    expect(results.summary.total.realtimeCost).toBeCloseTo(batchTotal * 2, 12);
    for (const batch of e.state.batches.values()) {
      const cases = results.cases.filter((c) => c.model === batch.model);
      expect(cases.reduce((n, c) => n + c.usage!.inputTokens, 0)).toBe(batch.usage.input);
      expect(cases.reduce((n, c) => n + c.usage!.outputTokens, 0)).toBe(batch.usage.output);
    }
  });

  it('exits 0 when every case of a suite passes', async () => {
    const e = await emulator({
      instant: true,
      script: [
        { match: '2\\+2', reply: '4' },
        { match: 'capital of France', reply: 'Paris.' },
      ],
    });
    const config = tinySuite(`  - vars: { question: "What is 2+2?" }
    assert:
      - type: equals
        value: "4"
  - vars: { question: What is the capital of France? }
    assert:
      - type: icontains
        value: paris
`);
    const r = await cli(['run', config, '--openai-base-url', e.url, '--poll-interval', '50ms']);
    expect(r.stderr).not.toMatch(/^(error|warning):/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^## ✅ batch-evals: Tiny suite$/m);
    expect(r.stdout).toContain('**100% passed** (2 of 2 cases)');
    expect(r.stdout).toMatch(/^\| openai:gpt-4\.1-mini \| 2 \| 2 \| 0 \| 0 \| 100% \|/m);
    expect(r.stdout).not.toContain('**Total**');
    expect(r.stdout).not.toContain('failing case');
    expect([...e.state.answered.values()]).toEqual([1, 1]);
  });

  it('counts a per-request error from the provider as an errored case', async () => {
    const e = await emulator({
      instant: true,
      script: [
        { match: 'overload', error: { status: 429, code: 'rate_limit_exceeded', message: 'Rate limit reached.' } },
        { match: 'capital of France', reply: 'Paris.' },
      ],
    });
    const config = tinySuite(`  - description: answered
    vars: { question: What is the capital of France? }
    assert:
      - type: icontains
        value: paris
  - description: overloaded
    vars: { question: Please overload the server }
    assert:
      - type: icontains
        value: anything
`);
    const out = join(tempTree({}), 'results.json');
    const r = await cli(['run', config, '--openai-base-url', e.url, '--poll-interval', '50ms', '--out', out]);

    expect(r.code).toBe(1);
    expect(r.stdout).toContain('**50.0% passed** (1 of 2 cases)');
    expect(r.stdout).toMatch(/^\| openai:gpt-4\.1-mini \| 2 \| 1 \| 0 \| 1 \| 50\.0% \|/m);
    expect(r.stdout).toContain('**⚠️ errored** · openai:gpt-4.1-mini');
    // stdout is markdown: underscores and parentheses are escaped so they render literally.
    expect(r.stdout).toContain('- rate\\_limit\\_exceeded: Rate limit reached. \\(retryable\\)');
    const [batch] = e.state.batches.values();
    expect(e.state.batchObject(batch.id)).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 1, failed: 1 } });

    const results = readResults(out);
    expect(results.summary.total).toMatchObject({ passed: 1, failed: 0, errored: 1, passRate: 0.5 });
    const errored = results.cases.find((c) => c.description === 'overloaded')!;
    expect(errored).toMatchObject({ status: 'errored', error: 'rate_limit_exceeded: Rate limit reached. (retryable)' });
    expect(errored.output).toBeUndefined();
    expect(errored.cost).toBeUndefined();
    expect(results.cases.find((c) => c.description === 'answered')).toMatchObject({ status: 'passed', output: 'Paris.' });
  });

  it('leaves slow batches pending at --max-wait and exits 3', async () => {
    const e = await emulator({ instant: true, inProgressMs: 60_000 });
    const config = tinySuite(`  - vars: { question: one }
    assert: [{ type: contains, value: one }]
  - vars: { question: two }
    assert: [{ type: contains, value: two }]
`);
    const out = join(tempTree({}), 'results.json');
    const started = Date.now();
    const r = await cli(['run', config, '--openai-base-url', e.url, '--max-wait', '1s', '--poll-interval', '100ms', '--out', out]);
    const elapsed = Date.now() - started;

    expect(r.code).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    expect(elapsed).toBeLessThan(15_000);
    expect(r.stdout).toMatch(/^## ⏳ batch-evals: Tiny suite$/m);
    expect(r.stdout).toContain('**2 cases pending** in running batches');
    expect(r.stdout).not.toContain('% passed');
    expect(r.stdout).toMatch(/^\| openai:gpt-4\.1-mini \| 2 \| 0 \| 0 \| 0 \| – \| \$0\.00 \|/m);
    expect(r.stdout).toContain(`\`${[...e.state.batches.keys()][0]}\` in\\_progress`);
    expect(r.stderr).toMatch(/max-wait reached after \d+s: 1 batch\(es\) still running, left pending/);

    const [batch] = e.state.batches.values();
    expect(batch.status).toBe('in_progress');
    expect(e.state.answered.size).toBe(0);
    const results = readResults(out);
    expect(results.status).toBe('pending');
    expect(results.cases.map((c) => c.status)).toEqual(['pending', 'pending']);
  });

  it('refuses a YAML syntax error with exit 2 and file:line:col, sending nothing', async () => {
    const e = await emulator({ instant: true });
    const config = tinySuite(`  - vars: { question: hello
    assert: []
`);
    const r = await cli(['run', config, '--openai-base-url', e.url]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`error: ${config}:8:5 invalid YAML: Flow map in block collection must be sufficiently indented and end with a }`);
    expect(e.state.requests).toEqual([]);
  });

  it('refuses a schema error with exit 2, file:line:col and the key path', async () => {
    const e = await emulator({ instant: true });
    const config = tinySuite(`  - vars: { question: hello }
    assert:
      - type: containz
        value: hello
`);
    const r = await cli(['run', config, '--openai-base-url', e.url]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`error: ${config}:9:15 tests[0].assert[0].type: unknown assertion type 'containz' (did you mean 'contains'?)`);
    expect(e.state.requests).toEqual([]);
  });

  it('warns about an unknown key with file:line:col and still runs the suite', async () => {
    const e = await emulator({ instant: true });
    const config = tinySuite(`  - vars: { question: hello }
    asert:
      - type: icontains
        value: nope
    assert:
      - type: icontains
        value: hello
`);
    const r = await cli(['run', config, '--openai-base-url', e.url, '--poll-interval', '50ms']);
    expect(r.stderr).toContain(`warning: ${config}:8:5 tests[0].asert: unknown key 'asert' is ignored (did you mean 'assert'?)`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('**100% passed** (1 of 1 case)');
  });

  it('treats bad options and a missing API key as usage errors (exit 2, no stack trace)', async () => {
    const e = await emulator({ instant: true });
    const config = tinySuite(`  - vars: { question: hello }
    assert: [{ type: icontains, value: hello }]
`);

    const badWait = await cli(['run', config, '--openai-base-url', e.url, '--max-wait', '5x']);
    expect(badWait.code).toBe(2);
    expect(badWait.stderr.trim()).toBe("error: --max-wait: '5x' is not a duration: write e.g. 90s, 20m or 1h30m");

    const badRate = await cli(['run', config, '--openai-base-url', e.url, '--min-pass-rate', '1.5']);
    expect(badRate.code).toBe(2);
    expect(badRate.stderr.trim()).toBe('error: --min-pass-rate must be between 0 and 1');

    const noKey = await cli(['run', config, '--openai-base-url', e.url], {});
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('error: openai:gpt-4.1-mini needs an API key: set the openai-api-key input (or OPENAI_API_KEY for the CLI)');
    expect(noKey.stderr).not.toContain('    at ');

    const noCommand = await cli([config]);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toContain('usage: batch-evals run <config.yaml> [options]');

    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 passed, 1 failed or errored, 2 bad config or usage, 3 batches still pending at --max-wait.');

    expect(e.state.requests).toEqual([]);
  });

  it('--min-pass-rate below the achieved rate turns the quickstart into a pass', async () => {
    const e = await emulator({ instant: true, script: QUICKSTART_SCRIPT });
    const md = join(tempTree({}), 'report.md');
    const r = await cli(['run', QUICKSTART, '--openai-base-url', e.url, '--poll-interval', '50ms', '--min-pass-rate', '0.75', '--markdown', md]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^## ✅ batch-evals: Quickstart/);
    expect(r.stdout).not.toContain('below the required');
    expect(existsSync(md)).toBe(true);
  });
});
