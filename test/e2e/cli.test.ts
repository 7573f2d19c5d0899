/**
 * The CLI as a user runs it: `node src/cli-entry.ts run <config>` in a child process, against the OpenAI Batch API
 * and Anthropic Message Batches emulators over real HTTP (started in this process).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startAnthropicEmulator, type AnthropicEmulator, type AnthropicEmulatorOptions } from '../emulator/anthropic-emulator.ts';
import { startOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions } from '../emulator/openai-emulator.ts';
import { runNode, tempTree } from '../helpers/node-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'src/cli-entry.ts');
const QUICKSTART = join(ROOT, 'examples/quickstart/promptfooconfig.yaml');
const QUICKSTART_SCRIPT = join(ROOT, 'test/emulator/quickstart-script.yaml');
const QUICKSTART_TITLE = 'Quickstart - a support bot for a shoe shop';
const MINI = 'openai:gpt-4.1-mini';
const HAIKU = 'anthropic:messages:claude-haiku-4-5';

/** Published real-time prices in USD per million tokens (input, output); batch is half. */
const PRICES: Record<string, { input: number; output: number }> = {
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'claude-haiku-4-5': { input: 1, output: 5 },
};

const OPENAI_KEY = 'sk-emulator';
const ANTHROPIC_KEY = 'sk-ant-emulator';
const KEYS = { OPENAI_API_KEY: OPENAI_KEY, ANTHROPIC_API_KEY: ANTHROPIC_KEY };

const emulators: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

async function emulator(options: OpenAIEmulatorOptions): Promise<OpenAIEmulator> {
  const e = await startOpenAIEmulator(options);
  emulators.push(e);
  return e;
}

/** An Anthropic emulator that only takes ANTHROPIC_KEY, so a run through it proves the key was sent. */
async function anthropicEmulator(options: AnthropicEmulatorOptions): Promise<AnthropicEmulator> {
  const e = await startAnthropicEmulator({ apiKey: ANTHROPIC_KEY, ...options });
  emulators.push(e);
  return e;
}

/** Both emulators answering from the quickstart script. */
async function quickstartEmulators(openai: OpenAIEmulatorOptions = { instant: true }, anthropic: AnthropicEmulatorOptions = { instant: true }) {
  return { openai: await emulator({ script: QUICKSTART_SCRIPT, ...openai }), anthropic: await anthropicEmulator({ script: QUICKSTART_SCRIPT, ...anthropic }) };
}

const baseUrls = (e: { openai: OpenAIEmulator; anthropic: AnthropicEmulator }) => ['--openai-base-url', e.openai.url, '--anthropic-base-url', e.anthropic.url];

function cli(args: string[], env: Record<string, string> = KEYS) {
  return runNode([CLI, ...args], { env, cwd: ROOT });
}

interface CaseRecord {
  provider: string;
  model: string;
  description?: string;
  requestId: string;
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

/** The lines of `lines` from the first that starts with `first`, `count` of them. */
function section(lines: string[], first: string, count: number): string[] {
  const start = lines.findIndex((l) => l.startsWith(first));
  expect(start, `a line starting with ${first}`).toBeGreaterThanOrEqual(0);
  return lines.slice(start, start + count);
}

/** examples/quickstart/prompts/support.txt rendered for a question (and a name). */
function quickstartPrompt(question: string, name?: string): string {
  return (
    'You are the support assistant of Stride, an online shoe shop. Returns are free within 30 days.\n' +
    'Answer the customer briefly and politely, and address them by name when they give it.\n\n' +
    (name ? `The customer's name is ${name}.\n` : '') +
    `Customer: ${question}`
  );
}

/**
 * custom_id -> the text of the one user message each emulator received for it, in the generation batches (the OpenAI
 * emulator also takes the grading batches of model-graded assertions, to gpt-4.1 and text-embedding-3-large).
 */
function promptsSent(openai: OpenAIEmulator, anthropic: AnthropicEmulator): Map<string, string> {
  const sent = new Map<string, string>();
  for (const batch of openai.state.batches.values()) {
    if (batch.metadata?.model !== 'gpt-4.1-mini') continue;
    const lines = openai.state.files.get(batch.inputFileId)!.content.toString('utf8').split('\n').filter(Boolean);
    for (const line of lines) {
      const { custom_id, body } = JSON.parse(line) as { custom_id: string; body: { model: string; messages: { role: string; content: string }[] } };
      expect(body.model).toBe('gpt-4.1-mini');
      expect(body.messages.map((m) => m.role)).toEqual(['user']);
      sent.set(custom_id, body.messages[0].content);
    }
  }
  for (const batch of anthropic.state.batches.values()) {
    for (const request of batch.requests) {
      const messages = request.params.messages as { role: string; content: string }[];
      expect(messages.map((m) => m.role)).toEqual(['user']);
      sent.set(request.customId, messages[0].content);
    }
  }
  return sent;
}

/**
 * Every request the emulators log, in the order they were served across both, numbered: the emulators log a request
 * when its response has been sent, so `seq` orders them as the CLI saw them answered.
 */
function timeline(logs: Record<string, { method: string; path: string; status: number }[]>) {
  const events: { api: string; method: string; path: string; status: number; seq: number }[] = [];
  for (const [api, log] of Object.entries(logs)) {
    const push = log.push.bind(log);
    log.push = (...entries) => {
      for (const { method, path, status } of entries) events.push({ api, method, path, status, seq: events.length });
      return push(...entries);
    };
  }
  return events;
}

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
  it('runs the quickstart on both providers: report on stdout, exit 1 for the failing cases, results JSON and markdown files', async () => {
    const e = await quickstartEmulators();
    const out = join(tempTree({}), 'nested', 'results.json');
    const md = join(tempTree({}), 'report.md');

    const r = await cli(['run', QUICKSTART, ...baseUrls(e), '--poll-interval', '50ms', '--out', out, '--markdown', md]);

    expect(r.stderr).not.toMatch(/^(error|warning):/m);
    expect(r.code).toBe(1);
    const report = r.stdout;
    const lines = report.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      `## ❌ batch-evals: ${QUICKSTART_TITLE}`,
      '',
      '**71.4% passed** (10 of 14 cases) · batch cost $0.0013 · saved $0.0013 against real time · below the required 100%',
    ]);
    // gpt-4.1-mini: $0.000243 at batch price, claude-haiku-4-5: $0.000510 (the token counts are checked below);
    // grading the model-graded case: $0.000513885 (gpt-4.1 and text-embedding-3-large, 4 requests).
    expect(section(lines, '| Model |', 6)).toEqual([
      '| Model | Cases | Passed | Failed | Errored | Pass rate | Batch cost | Real-time cost | Saved |',
      '|:--|--:|--:|--:|--:|--:|--:|--:|--:|',
      `| ${MINI} | 7 | 6 | 1 | 0 | 85.7% | $0.0002 | $0.0005 | $0.0002 |`,
      `| ${HAIKU} | 7 | 4 | 3 | 0 | 57.1% | $0.0005 | $0.0010 | $0.0005 |`,
      '| Grading (openai:gpt-4.1, openai:text-embedding-3-large; 4 requests) | | | | | | $0.0005 | $0.0010 | $0.0005 |',
      '| **Total** | 14 | 10 | 4 | 0 | 71.4% | $0.0013 | $0.0025 | $0.0013 |',
    ]);
    expect(section(lines, '<details open>', 11)).toEqual([
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
      '',
    ]);
    // The failing cases, in plan order (gpt-4.1-mini's first); passing assertions are listed without a reason.
    expect(section(lines, '<details><summary>', 1)).toEqual(['<details><summary>4 failing cases</summary>']);
    expect(lines.filter((l) => l.startsWith('**❌ failed**') || l.startsWith('**⚠️ errored**'))).toEqual([
      `**❌ failed** · ${MINI} · prompt support · Keeps answers short`,
      `**❌ failed** · ${HAIKU} · prompt support · Return policy`,
      `**❌ failed** · ${HAIKU} · prompt support · Order lookup answers in JSON`,
      `**❌ failed** · ${HAIKU} · prompt support · Explains returns \\(graded by a model\\)`,
    ]);
    expect(section(lines, `**❌ failed** · ${MINI} · prompt support · Keeps answers short`, 9)).toEqual([
      `**❌ failed** · ${MINI} · prompt support · Keeps answers short`,
      '',
      '- ✔️ `cost` (threshold 0.001)',
      '- ✖️ `not-icontains` as an AI: Expected output to not contain "as an AI"',
      '- ✖️ `word-count` \\{"max":60\\}: Word count 75 is not at most 60',
      '',
      'Output:',
      '',
      '```text',
    ]);
    expect(section(lines, `**❌ failed** · ${HAIKU} · prompt support · Return policy`, 11)).toEqual([
      `**❌ failed** · ${HAIKU} · prompt support · Return policy`,
      '',
      '- ✔️ `cost` (threshold 0.001)',
      '- ✔️ `not-icontains` as an AI',
      '- ✖️ `contains` 30 days: Expected output to contain "30 days"',
      '',
      'Output:',
      '',
      '```text',
      'You can return your shoes within 14 days of delivery.',
      '```',
    ]);
    expect(section(lines, `**❌ failed** · ${HAIKU} · prompt support · Order lookup answers in JSON`, 11)).toEqual([
      `**❌ failed** · ${HAIKU} · prompt support · Order lookup answers in JSON`,
      '',
      '- ✔️ `cost` (threshold 0.001)',
      '- ✔️ `not-icontains` as an AI',
      '- ✖️ `is-json` \\{"type":"object","required":\\["order","status"\\]\\}: Expected output to be valid JSON',
      '',
      'Output:',
      '',
      '```text',
      'Sure! Here it is: {"order": "1234", "status": "shipped"}',
      '```',
    ]);
    // A model-graded case lists the grader's verdict and the similarity as the reasons.
    expect(section(lines, `**❌ failed** · ${HAIKU} · prompt support · Explains returns \\(graded by a model\\)`, 12)).toEqual([
      `**❌ failed** · ${HAIKU} · prompt support · Explains returns \\(graded by a model\\)`,
      '',
      '- ✔️ `cost` (threshold 0.001)',
      '- ✔️ `not-icontains` as an AI',
      '- ✖️ `llm-rubric` Says that returns are free: The grader failed the output \\(score 0\\): The output has 0 of the 2 content words of the rubric; missing: "returns", "free".',
      '- ✖️ `similar` (threshold 0.8) You have 30 days to return your shoes, and returns are free.: Similarity 0.41 is less than threshold 0.8',
      '',
      'Output:',
      '',
      '```text',
      'You can return your shoes within 14 days of delivery.',
      '```',
    ]);
    // One generation batch per provider, and on OpenAI the two grading batches: the llm-rubric grader and the
    // embeddings for `similar`.
    const openaiBatches = [...e.openai.state.batches.values()];
    expect(openaiBatches.map((b) => `${b.metadata?.model} ${b.endpoint}`).sort()).toEqual([
      'gpt-4.1 /v1/chat/completions',
      'gpt-4.1-mini /v1/chat/completions',
      'text-embedding-3-large /v1/embeddings',
    ]);
    const [openaiBatch, rubricBatch, embeddingsBatch] = ['gpt-4.1-mini', 'gpt-4.1', 'text-embedding-3-large'].map((m) => openaiBatches.find((b) => b.metadata?.model === m)!);
    const [anthropicBatch, ...moreAnthropic] = e.anthropic.state.batches.values();
    expect(moreAnthropic).toEqual([]);
    // Turnaround: OpenAI's created_at has whole seconds, so a batch that ends at once may read 0s or 1s.
    expect(lines.at(-2)).toMatch(
      new RegExp(
        `^<sub>Batches: openai:gpt-4\\.1-mini: \`${openaiBatch.id}\` completed in [01]s · anthropic:claude-haiku-4-5: \`${anthropicBatch.id}\` ended in 0s · ` +
          `openai:gpt-4\\.1 grading: \`${rubricBatch.id}\` completed in [01]s · openai:text-embedding-3-large grading: \`${embeddingsBatch.id}\` completed in [01]s\\. ` +
          `Prices as of 2026-11; batch is 50% of real time\\.</sub>$`,
      ),
    );

    // --markdown holds exactly what went to stdout; progress went to stderr.
    expect(readFileSync(md, 'utf8')).toBe(report);
    expect(report).not.toContain('uploading');
    expect(r.stderr).toContain(`${QUICKSTART_TITLE}: 14 cases, 14 distinct requests in 2 batches`);
    expect(r.stderr).toContain('grading 2 cases with model-graded assertions: 4 grading requests in 2 batches');
    expect(r.stderr).toContain(`results written to ${out}`);
    for (const key of Object.values(KEYS)) expect(r.stdout + r.stderr).not.toContain(key);

    // --out: every case with its status, output, usage and cost.
    const results = readResults(out);
    expect(results).toMatchObject({ version: 1, suite: QUICKSTART_TITLE, status: 'failed', minPassRate: 1 });
    expect(results.summary.total).toMatchObject({ cases: 14, passed: 10, failed: 4, errored: 0, pending: 0, passRate: 10 / 14 });
    expect(results.batches).toMatchObject([
      { label: 'openai:gpt-4.1-mini', batchId: openaiBatch.id, providerStatus: 'completed', submittedAt: expect.any(String), endedAt: expect.any(String) },
      { label: 'anthropic:claude-haiku-4-5', batchId: anthropicBatch.id, providerStatus: 'ended', submittedAt: expect.any(String), endedAt: expect.any(String) },
      { label: 'openai:gpt-4.1 grading', batchId: rubricBatch.id, providerStatus: 'completed', submittedAt: expect.any(String), endedAt: expect.any(String) },
      { label: 'openai:text-embedding-3-large grading', batchId: embeddingsBatch.id, providerStatus: 'completed', submittedAt: expect.any(String), endedAt: expect.any(String) },
    ]);
    expect(Object.fromEntries(results.cases.map((c) => [caseKey(c), c.status]))).toEqual({
      [`${MINI} | Return policy`]: 'passed',
      [`${MINI} | Order tracking`]: 'passed',
      [`${MINI} | Order lookup answers in JSON`]: 'passed',
      [`${MINI} | Greets the customer by name (Ada)`]: 'passed',
      [`${MINI} | Greets the customer by name (Grace)`]: 'passed',
      [`${MINI} | Keeps answers short`]: 'failed',
      [`${MINI} | Explains returns (graded by a model)`]: 'passed',
      [`${HAIKU} | Return policy`]: 'failed',
      [`${HAIKU} | Order tracking`]: 'passed',
      [`${HAIKU} | Order lookup answers in JSON`]: 'failed',
      [`${HAIKU} | Greets the customer by name (Ada)`]: 'passed',
      [`${HAIKU} | Greets the customer by name (Grace)`]: 'passed',
      [`${HAIKU} | Keeps answers short`]: 'passed',
      [`${HAIKU} | Explains returns (graded by a model)`]: 'failed',
    });
    expect(results.cases.find((c) => caseKey(c) === `${HAIKU} | Greets the customer by name (Grace)`)?.output).toBe('Hello Grace! Yes, we sell running shoes for road and trail.');

    // What each provider was sent: the rendered quickstart prompt, the name line only where a name is given.
    const sent = promptsSent(e.openai, e.anthropic);
    expect(sent.size).toBe(14);
    for (const c of results.cases) {
      const question = String(c.vars.question);
      const name = c.vars.name === undefined ? undefined : String(c.vars.name);
      expect(sent.get(c.requestId), caseKey(c)).toBe(quickstartPrompt(question, name));
    }
    expect(anthropicBatch.requests[0].params).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 300,
      temperature: 0,
      messages: [{ role: 'user', content: quickstartPrompt('How many days do I have to return shoes?') }],
    });

    // Usage as the emulators billed it (tokens are ceil(characters / 4) of the prompt and of the output), costs
    // from the published prices.
    for (const c of results.cases) {
      expect(c.usage, caseKey(c)).toEqual({ inputTokens: Math.ceil(sent.get(c.requestId)!.length / 4), outputTokens: Math.ceil(c.output!.length / 4), cachedInputTokens: 0, cacheWriteTokens: 0 });
      const price = PRICES[c.model];
      const realtime = (c.usage!.inputTokens * price.input + c.usage!.outputTokens * price.output) / 1e6;
      expect(c.cost!.realtime, caseKey(c)).toBeCloseTo(realtime, 12);
      expect(c.cost!.batch, caseKey(c)).toBeCloseTo(realtime / 2, 12);
    }
    const byLabel = Object.fromEntries(results.summary.providers.map((p) => [p.label, p]));
    expect(byLabel[MINI]).toMatchObject({ cases: 7, passed: 6, failed: 1 });
    expect(byLabel[MINI].batchCost).toBeCloseTo(0.000243, 12);
    expect(byLabel[MINI].realtimeCost).toBeCloseTo(0.000486, 12);
    expect(byLabel[HAIKU]).toMatchObject({ cases: 7, passed: 4, failed: 3 });
    expect(byLabel[HAIKU].batchCost).toBeCloseTo(0.00051, 12);
    expect(byLabel[HAIKU].realtimeCost).toBeCloseTo(0.00102, 12);
    // The Total adds the grading batches: gpt-4.1 ($2 / $8 per million) for 304 input and 52 output tokens, and
    // text-embedding-3-large ($0.13 per million) for 29 input tokens, halved.
    expect(rubricBatch.usage).toMatchObject({ input: 304, output: 52 });
    expect(embeddingsBatch.usage).toMatchObject({ input: 29, output: 0 });
    expect(results.summary.total.batchCost).toBeCloseTo(0.000243 + 0.00051 + 0.000513885, 12);
    expect(results.summary.total.realtimeCost).toBeCloseTo(0.000486 + 0.00102 + 0.00102777, 12);
    const openaiCases = results.cases.filter((c) => c.model === 'gpt-4.1-mini');
    expect(openaiCases.reduce((n, c) => n + c.usage!.inputTokens, 0)).toBe(openaiBatch.usage.input);
    expect(openaiCases.reduce((n, c) => n + c.usage!.outputTokens, 0)).toBe(openaiBatch.usage.output);
    expect(anthropicBatch.counts).toEqual({ succeeded: 7, errored: 0, canceled: 0, expired: 0 });
  });

  it('submits the two providers\' batches concurrently, and reports a row per model and a Total', async () => {
    // Batches that take a second: a run that waited for one before sending the other would create the second
    // only after collecting the first.
    const e = await quickstartEmulators({ validatingMs: 100, inProgressMs: 1_000, finalizingMs: 100 }, { inProgressMs: 1_200 });
    const events = timeline({ openai: e.openai.state.requests, anthropic: e.anthropic.state.requests });

    const r = await cli(['run', QUICKSTART, ...baseUrls(e), '--poll-interval', '100ms']);

    expect(r.stderr).not.toMatch(/^(error|warning):/m);
    expect(r.code).toBe(1);
    const openaiBatch = [...e.openai.state.batches.values()].find((b) => b.metadata?.model === 'gpt-4.1-mini')!;
    const [anthropicBatch] = e.anthropic.state.batches.values();
    const all = (api: string, method: string, path: string) => {
      const found = events.filter((x) => x.api === api && x.method === method && x.path === path);
      expect(found.map((x) => x.status), `${api} ${method} ${path}`).toEqual(found.map(() => 200));
      return found.map((x) => x.seq);
    };
    const seq = (api: string, method: string, path: string) => {
      const found = all(api, method, path);
      expect(found, `${api} ${method} ${path}`).toHaveLength(1);
      return found[0];
    };
    // The OpenAI emulator takes three batches: gpt-4.1-mini's, then the two grading batches of the model-graded case
    // (gpt-4.1 for llm-rubric, text-embedding-3-large for similar), which can only go once the outputs are in.
    const openaiCreates = all('openai', 'POST', '/v1/batches');
    expect(openaiCreates).toHaveLength(3);
    const created = [openaiCreates[0], seq('anthropic', 'POST', '/v1/messages/batches')];
    const collected = [seq('openai', 'GET', `/v1/files/${openaiBatch.outputFileId}/content`), seq('anthropic', 'GET', `/v1/messages/batches/${anthropicBatch.id}/results`)];
    expect(Math.max(...created)).toBeLessThan(Math.min(...collected));
    expect(Math.min(...openaiCreates.slice(1))).toBeGreaterThan(Math.max(...collected));
    // Both were polled while both were running, and each batch was created before the other had ended.
    const polls = (api: string, path: string) => events.filter((x) => x.api === api && x.method === 'GET' && x.path === path).length;
    expect(polls('openai', `/v1/batches/${openaiBatch.id}`)).toBeGreaterThanOrEqual(2);
    expect(polls('anthropic', `/v1/messages/batches/${anthropicBatch.id}`)).toBeGreaterThanOrEqual(2);
    expect(openaiBatch.at.created!).toBeLessThan(anthropicBatch.at.ended!);
    expect(anthropicBatch.at.created).toBeLessThan(openaiBatch.at.completed!);

    expect(r.stdout).toContain(`| ${MINI} | 7 | 6 | 1 | 0 | 85.7% | $0.0002 | $0.0005 | $0.0002 |\n`);
    expect(r.stdout).toContain(`| ${HAIKU} | 7 | 4 | 3 | 0 | 57.1% | $0.0005 | $0.0010 | $0.0005 |\n`);
    expect(r.stdout).toContain('| Grading (openai:gpt-4.1, openai:text-embedding-3-large; 4 requests) | | | | | | $0.0005 | $0.0010 | $0.0005 |\n');
    expect(r.stdout).toContain('| **Total** | 14 | 10 | 4 | 0 | 71.4% | $0.0013 | $0.0025 | $0.0013 |\n');
    expect(r.stderr).toContain(`openai:gpt-4.1-mini: submitted 7 requests as ${openaiBatch.id}`);
    expect(r.stderr).toContain(`anthropic:claude-haiku-4-5: submitted 7 requests as ${anthropicBatch.id}`);
    expect(r.stderr).toContain('anthropic:claude-haiku-4-5: ended, collected 7 of 7 results');
    expect(r.stderr).toContain('openai:gpt-4.1-mini: completed, collected 7 of 7 results');
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
    const e = await quickstartEmulators();
    const md = join(tempTree({}), 'report.md');
    const r = await cli(['run', QUICKSTART, ...baseUrls(e), '--poll-interval', '50ms', '--min-pass-rate', '0.7', '--markdown', md]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^## ✅ batch-evals: Quickstart/);
    expect(r.stdout).toContain('**71.4% passed** (10 of 14 cases) · batch cost $0.0013 · saved $0.0013 against real time\n');
    expect(r.stdout).not.toContain('below the required');
    // Passing the gate does not hide the cases where the models disagree, nor the failing ones.
    expect(r.stdout).toContain('<details open><summary>4 cases where the models disagree</summary>');
    expect(r.stdout).toContain('<details><summary>4 failing cases</summary>');
    expect(readFileSync(md, 'utf8')).toBe(r.stdout);
  });

  it('refuses a suite with an anthropic provider when ANTHROPIC_API_KEY is not set (exit 2), sending nothing to either provider', async () => {
    const e = await quickstartEmulators();
    const message = 'error: anthropic:claude-haiku-4-5 needs an API key: set the anthropic-api-key input (or ANTHROPIC_API_KEY for the CLI)';

    // The quickstart: the OpenAI key alone is not enough, and the OpenAI batch is not sent either.
    const quickstart = await cli(['run', QUICKSTART, ...baseUrls(e), '--poll-interval', '50ms'], { OPENAI_API_KEY: OPENAI_KEY });
    expect(quickstart.code).toBe(2);
    expect(quickstart.stdout).toBe('');
    expect(quickstart.stderr).toContain(`\n${message}\n`);
    expect(quickstart.stderr).not.toContain('    at ');

    // A suite with only an anthropic provider (written anthropic:<model>), and no key at all.
    const dir = tempTree({
      'suite.yaml': `prompts:
  - "Answer briefly. {{ question }}"
providers:
  - anthropic:claude-haiku-4-5
tests:
  - vars: { question: hello }
    assert: [{ type: icontains, value: hello }]
`,
    });
    const onlyAnthropic = await cli(['run', join(dir, 'suite.yaml'), ...baseUrls(e)], {});
    expect(onlyAnthropic.code).toBe(2);
    expect(onlyAnthropic.stdout).toBe('');
    expect(onlyAnthropic.stderr.trim().split('\n').at(-1)).toBe(message);
    expect(onlyAnthropic.stderr).not.toContain('OPENAI_API_KEY');

    expect(e.openai.state.requests).toEqual([]);
    expect(e.anthropic.state.requests).toEqual([]);
  });
});
