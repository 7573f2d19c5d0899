/**
 * The engine under provider faults: `evaluate()` (load, plan, split, submit, poll, stream and score, retry rounds) run
 * in-process against the OpenAI and Anthropic emulators through the real SDKs, with one fault injected at a time
 * (test/emulator/README.md, "Faults"). For every fault the run must
 *
 * - end: no hang (it returns within max-wait plus the SDK's retry waits) and no crash (evaluate resolves);
 * - account for every case: passed, failed, errored with a reason naming the provider's code or message, or pending
 *   (its batch still running at the deadline), the counts adding up to the plan's cases;
 * - bill no request twice (`state.doubleBilled()` empty after the emulator is advanced to now, so batches the run
 *   never read are processed and billed too, as the provider would) and resubmit nothing that succeeded (the requests
 *   of every created batch are counted per custom_id).
 *
 * Each suite has N cases, one request each ("Question i"); the emulator echoes the question, every case but the last
 * asserts the echo (passes when answered), and the last asserts something the echo never says (fails when answered),
 * so passed and failed both show up next to errored and pending.
 *
 * Bugs these faults found, fixed in src (see the report of the change):
 * - A results download that broke off midway (truncate) left every unread request errored though the provider had
 *   answered and billed it; a download that ended short without an error (truncate cleanEnd) lost them silently as
 *   "no result". streamResults now downloads again (3 reads at most) when the body breaks off or fewer results came
 *   than the batch reports answered; what the first read scored is not scored twice.
 * - Anthropic: one line of the results that is not JSON (malformed) threw in the SDK's JSONL reader and lost every
 *   result after it. The provider now reads the results file itself and skips such a line with a warning, as the
 *   OpenAI provider did.
 * - OpenAI: a batch created whose answer was lost (dropped connection, or a 5xx, after the batch was made) was created
 *   again by the SDK's retry: two batches, every request billed twice. batches.create is now retried by the provider,
 *   which first lists the newest batches for one made from the same (single-use) input file and uses it; when the
 *   listing fails with a retryable error it asks again before any new create, and a server without the listing
 *   (404) gets the plain retry the SDK made before.
 *
 * - Anthropic: the same lost answer on Message Batches' create. The SDK's retry (maxRetries 4) made a second batch.
 *   A Message Batch has no metadata or input file to find it by, so the create is now retried by the provider, which
 *   after a try that may have made a batch (no answer, or a 5xx) lists the batches made since its first try: the one
 *   of the same size that this process did not make is used; with none the create goes again; with several (another
 *   job's of the same size) none is used and none created, and the cases say why.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluate, type EvalOutcome } from '../../src/pipeline.ts';
import type { CaseStatus } from '../../src/score/score-run.ts';
import { captureLog } from '../batch/support.ts';
import { startAnthropicEmulator, type AnthropicEmulator, type AnthropicEmulatorOptions } from '../emulator/anthropic-emulator.ts';
import { startOpenAIEmulator, type Fault, type OpenAIEmulator, type OpenAIEmulatorOptions, type ScriptRule } from '../emulator/openai-emulator.ts';

type Provider = 'openai' | 'anthropic';
const MODEL: Record<Provider, string> = { openai: 'gpt-4.1-mini', anthropic: 'claude-haiku-4-5' };
/** Max-wait of a run whose batches all end: generous, as a run that ends does not wait for it. */
const MAX_WAIT_MS = 8_000;
const TEST_TIMEOUT_MS = 30_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// ---- the suite -------------------------------------------------------------------------------------------------------

interface SuiteOptions {
  provider: Provider;
  /** Default 5; cases are `case 1` … `case N`, the last one failing by design. */
  cases?: number;
  /** Words added to a case's question (1-based), for script rules to `match`. */
  tags?: Record<number, string>;
  /** The suite's `batch:` block, as YAML flow mapping text, e.g. `{ maxRequests: 3 }`. */
  batch?: string;
}

function writeSuite({ provider, cases = 5, tags = {}, batch }: SuiteOptions): string {
  const dir = mkdtempSync(join(tmpdir(), 'batch-evals-faults-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const tests = Array.from({ length: cases }, (_, k) => {
    const i = k + 1;
    const question = `Question ${i}${tags[i] ? ` ${tags[i]}` : ''}`;
    // The emulator answers `[emulated MODEL] You asked: "QUESTION"`; the last case asks for what it never says.
    const expected = i === cases ? 'Paris' : `asked: "${question}"`;
    return `  - description: case ${i}\n    vars: { question: ${JSON.stringify(question)} }\n    assert:\n      - type: icontains\n        value: ${JSON.stringify(expected)}\n`;
  }).join('');
  const file = join(dir, 'suite.yaml');
  writeFileSync(
    file,
    `description: fault suite\nprompts:\n  - '{{ question }}'\nproviders:\n  - ${provider}:${MODEL[provider]}\n${batch ? `batch: ${batch}\n` : ''}tests:\n${tests}`,
  );
  return file;
}

// ---- running it ------------------------------------------------------------------------------------------------------

type Emulator = OpenAIEmulator | AnthropicEmulator;

interface RunOptions extends SuiteOptions {
  faults?: Fault[];
  script?: ScriptRule[];
  emulator?: OpenAIEmulatorOptions & AnthropicEmulatorOptions;
  maxWaitMs?: number;
  maxRetries?: number;
  /** Called once the emulator listens, before the run. */
  beforeRun?: (emulator: Emulator) => Promise<void>;
}

async function startEmulator(provider: Provider, options: OpenAIEmulatorOptions & AnthropicEmulatorOptions): Promise<Emulator> {
  const emulator = provider === 'openai' ? await startOpenAIEmulator(options) : await startAnthropicEmulator(options);
  cleanups.push(() => emulator.close());
  return emulator;
}

async function run(options: RunOptions) {
  const emulator = await startEmulator(options.provider, { instant: true, faults: options.faults, script: options.script, ...options.emulator });
  await options.beforeRun?.(emulator);
  const capture = captureLog();
  const maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS;
  const started = Date.now();
  const outcome = await evaluate({
    configPath: writeSuite(options),
    credentials: { openaiApiKey: 'test-key', openaiBaseUrl: emulator.url, anthropicApiKey: 'test-key', anthropicBaseUrl: emulator.url },
    maxWaitMs,
    pollIntervalMs: { initial: 20, max: 100 },
    maxRetries: options.maxRetries,
    log: capture.log,
  });
  const elapsedMs = Date.now() - started;
  // No hang: a run ends by max-wait, give or take the last poll and the SDK's retry waits (a few seconds at most here).
  expect(elapsedMs).toBeLessThan(maxWaitMs + 8_000);
  const counts = expectAccounted(outcome);
  return { emulator, outcome, counts, elapsedMs, ...capture, ...caseViews(outcome) };
}

/** Every case has exactly one of the four statuses, with a reason when errored, and the tallies add up to the plan. */
function expectAccounted(outcome: EvalOutcome): Record<CaseStatus, number> {
  expect(outcome.results).toHaveLength(outcome.plan.cases.length);
  const counts: Record<CaseStatus, number> = { passed: 0, failed: 0, errored: 0, pending: 0 };
  outcome.results.forEach((r, i) => {
    expect(r.case).toBe(outcome.plan.cases[i]);
    expect(['passed', 'failed', 'errored', 'pending']).toContain(r.status);
    counts[r.status]++;
    if (r.status === 'errored') expect(r.error).toMatch(/\S/);
    if (r.status === 'passed' || r.status === 'failed') {
      expect(r.error).toBeUndefined();
      expect(r.output).toMatch(/\S/);
    }
    if (r.status === 'pending') expect(r.output ?? r.error).toBeUndefined();
  });
  const { total } = outcome.summary;
  expect(total.cases).toBe(outcome.plan.cases.length);
  expect({ passed: total.passed, failed: total.failed, errored: total.errored, pending: total.pending }).toEqual(counts);
  expect(counts.passed + counts.failed + counts.errored + counts.pending).toBe(outcome.plan.cases.length);
  return counts;
}

function caseViews(outcome: EvalOutcome) {
  const byCase = new Map(outcome.results.map((r) => [r.case.description, r]));
  const get = (description: string) => {
    const result = byCase.get(description);
    if (!result) throw new Error(`no case '${description}'`);
    return result;
  };
  return {
    /** `case i` -> status, for every case. */
    statuses: Object.fromEntries(outcome.results.map((r) => [r.case.description, r.status])),
    /** The case's result. */
    result: get,
    /** The custom_id of the case's request. */
    requestId: (description: string) => get(description).case.requestId,
  };
}

/** What a clean run of N cases gives: all passed but the last, which fails by design. */
function allAnswered(cases = 5): Record<string, CaseStatus> {
  return Object.fromEntries(Array.from({ length: cases }, (_, k) => [`case ${k + 1}`, k + 1 === cases ? 'failed' : 'passed']));
}

// ---- billing ---------------------------------------------------------------------------------------------------------

interface Submissions {
  /** custom_id -> how many created batches held it. */
  perId: Map<string, number>;
  /** Each created batch's custom_ids, in creation order. */
  batches: string[][];
  /** custom_ids sent again in a batch created after one that answered them successfully. */
  resubmittedAfterSuccess: string[];
}

/** The requests of every batch the emulator created, in order, and which of them succeeded. */
function submissions(emulator: Emulator): Submissions {
  // Processed to now, as the provider would whether or not anyone reads them (a batch the run lost still bills).
  emulator.state.advance();
  const batches: { ids: string[]; succeeded: string[] }[] = [];
  for (const b of emulator.state.batches.values()) {
    if ('outputLines' in b) {
      batches.push({ ids: b.requests.map((r) => r.customId), succeeded: b.outputLines.map((l) => JSON.parse(l).custom_id as string) });
    } else {
      batches.push({ ids: b.requests.map((r) => r.customId), succeeded: b.results.filter((r) => r.result.type === 'succeeded').map((r) => r.custom_id) });
    }
  }
  const perId = new Map<string, number>();
  const succeeded = new Set<string>();
  const resubmittedAfterSuccess: string[] = [];
  for (const batch of batches) {
    for (const id of batch.ids) {
      perId.set(id, (perId.get(id) ?? 0) + 1);
      if (succeeded.has(id)) resubmittedAfterSuccess.push(id);
    }
    for (const id of batch.succeeded) succeeded.add(id);
  }
  return { perId, batches: batches.map((b) => b.ids), resubmittedAfterSuccess };
}

/** Nothing billed twice, nothing that succeeded sent again; returns the submissions for more checks. */
function expectBilledOnce(emulator: Emulator): Submissions {
  const sent = submissions(emulator);
  expect(emulator.state.doubleBilled()).toEqual([]);
  expect(sent.resubmittedAfterSuccess).toEqual([]);
  for (const times of emulator.state.billed.values()) expect(times).toBe(1);
  return sent;
}

/** Each case's request was in exactly `times` created batches. */
function expectSentTimes(sent: Submissions, ids: string[], times: number): void {
  expect(ids.map((id) => sent.perId.get(id) ?? 0)).toEqual(ids.map(() => times));
}

function faultHits(emulator: Emulator, fault: string | number): string[] {
  return emulator.state.requests.filter((r) => r.fault === String(fault) || r.fault === fault).map((r) => `${r.method} ${r.path}`);
}

const CASES = ['case 1', 'case 2', 'case 3', 'case 4', 'case 5'];
const CREATE: Record<Provider, string> = { openai: 'POST /v1/batches', anthropic: 'POST /v1/messages/batches' };
const STATUS: Record<Provider, string> = { openai: 'GET /v1/batches/:id', anthropic: 'GET /v1/messages/batches/:id' };
const DOWNLOAD: Record<Provider, string> = { openai: 'GET /v1/files/:id/content', anthropic: 'GET /v1/messages/batches/:id/results' };

// ---- HTTP faults -----------------------------------------------------------------------------------------------------

describe('HTTP 429 with retry-after', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: 429 twice on batch create: waits the retry-after, creates one batch, every case answered`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, faults: [{ kind: 'http', endpoint: CREATE[provider], status: 429, retryAfter: 0.3, times: 2 }] });

      expect(r.statuses).toEqual(allAnswered());
      expect(faultHits(r.emulator, 429)).toEqual([CREATE[provider], CREATE[provider]]);
      expect(r.elapsedMs).toBeGreaterThanOrEqual(2 * 300 - 50);
      expect(r.emulator.state.batches.size).toBe(1);
      expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
      if (provider === 'openai') {
        // Before each new try, the batches are listed for one made from the same input file: none was.
        expect(r.emulator.state.requests.filter((q) => q.method === 'GET' && q.path === '/v1/batches')).toHaveLength(2);
      }
    });

    it(`${provider}: 429 on status reads past the SDK's retries: the poll warns, asks again, and the run completes`, { timeout: TEST_TIMEOUT_MS }, async () => {
      // The SDK tries 5 times (maxRetries 4): six 429s make one poll fail in the engine, the next one succeeds.
      const r = await run({ provider, faults: [{ kind: 'http', endpoint: STATUS[provider], status: 429, retryAfter: 0.02, times: 6 }] });

      expect(r.statuses).toEqual(allAnswered());
      expect(faultHits(r.emulator, 429)).toHaveLength(6);
      const warned = r.warnings().filter((w) => w.includes('could not read the batch status, will ask again'));
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatch(provider === 'openai' ? /: 429 Rate limit reached for requests per min/ : /: 429 .*rate_limit_error/);
      expect(r.outcome.status).toBe('failed'); // 4 of 5 passed, below the default pass rate of 1
      expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
    });
  }

  it('anthropic: 529 overloaded on every status read: the batch is left pending at the deadline, nothing resubmitted', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({ provider: 'anthropic', maxWaitMs: 1_500, faults: [{ kind: 'http', endpoint: STATUS.anthropic, status: 529, retryAfter: 0.05 }] });

    expect(r.statuses).toEqual(Object.fromEntries(CASES.map((c) => [c, 'pending'])));
    expect(r.outcome.status).toBe('pending');
    expect(r.warnings().length).toBeGreaterThan(0);
    expect(r.warnings().every((w) => /could not read the batch status, will ask again: 529 .*overloaded_error/.test(w))).toBe(true);
    // The batch the run could not see is left for a resume job: it runs once, billed once.
    expect(r.outcome.runs.map((run) => run.handle?.batchId)).toEqual([...r.emulator.state.batches.keys()]);
    expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
  });
});

describe('HTTP 500 and 503 on file upload (OpenAI)', () => {
  it('500 twice: the SDK retries the upload, the run completes', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({ provider: 'openai', faults: [{ kind: 'http', endpoint: 'POST /v1/files', status: 500, retryAfter: 0.05, times: 2 }] });

    expect(r.statuses).toEqual(allAnswered());
    expect(faultHits(r.emulator, 500)).toEqual(['POST /v1/files', 'POST /v1/files']);
    expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
  });

  for (const status of [500, 503]) {
    it(`${status} on every upload: nothing is submitted, every case errored naming the provider's message`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider: 'openai', faults: [{ kind: 'http', endpoint: 'POST /v1/files', status, retryAfter: 0.02 }] });

      const message = status === 500 ? 'The server had an error while processing your request. Sorry about that!' : 'The server is overloaded or not ready yet.';
      expect(r.counts).toEqual({ passed: 0, failed: 0, errored: 5, pending: 0 });
      for (const c of CASES) expect(r.result(c).error).toBe(`batch not submitted: ${status} ${message}`);
      expect(faultHits(r.emulator, status)).toHaveLength(5);
      expect(r.emulator.state.batches.size).toBe(0);
      expect(r.emulator.state.billed.size).toBe(0);
    });
  }
});

describe('HTTP 500, 503 and 529 on the results download', () => {
  const cases: [Provider, number, RegExp][] = [
    ['openai', 500, /^batch results could not be read completely: 500 The server had an error while processing your request\. Sorry about that!$/],
    ['openai', 503, /^batch results could not be read completely: 503 The server is overloaded or not ready yet\.$/],
    ['anthropic', 500, /^batch results could not be read completely: 500 .*"api_error".*Internal server error/],
    ['anthropic', 529, /^batch results could not be read completely: 529 .*"overloaded_error".*Overloaded/],
  ];
  for (const [provider, status, reason] of cases) {
    it(`${provider}: ${status} twice: the SDK retries the download, every case answered`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, faults: [{ kind: 'http', endpoint: DOWNLOAD[provider], status, retryAfter: 0.05, times: 2 }] });

      expect(r.statuses).toEqual(allAnswered());
      expect(faultHits(r.emulator, status)).toEqual([DOWNLOAD[provider], DOWNLOAD[provider]].map((e) => expect.stringMatching(new RegExp(`^${e.replace(/:id/g, '[\\w-]+')}$`))));
      expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
    });

    it(`${provider}: ${status} on every download: every case errored with the provider's message, and not sent again (it is paid for)`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, faults: [{ kind: 'http', endpoint: DOWNLOAD[provider], status, retryAfter: 0.02 }] });

      expect(r.counts).toEqual({ passed: 0, failed: 0, errored: 5, pending: 0 });
      for (const c of CASES) expect(r.result(c).error).toMatch(reason);
      // The SDK tried 5 times; an HTTP error answer is not a broken-off body, so the engine does not download again.
      expect(faultHits(r.emulator, status)).toHaveLength(5);
      expect(r.outcome.runs[0].error).toMatch(/^results could not be read completely: /);
      const sent = expectBilledOnce(r.emulator);
      expect(sent.batches).toHaveLength(1);
      expectSentTimes(sent, CASES.map(r.requestId), 1);
      // Answered and billed, though the run could not read the answers.
      expect(CASES.slice(0, 4).map((c) => r.emulator.state.billed.get(r.requestId(c)))).toEqual([1, 1, 1, 1]);
    });
  }
});

describe('dropped connection on batch create', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: dropped before the batch is made: the retry creates it once`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, faults: [{ kind: 'http', endpoint: CREATE[provider], drop: true, times: 1 }] });

      expect(r.statuses).toEqual(allAnswered());
      expect(faultHits(r.emulator, 'drop')).toEqual([CREATE[provider]]);
      expect(r.emulator.state.batches.size).toBe(1);
      expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
    });
  }

  for (const fault of [
    { what: 'the answer dropped', fault: { drop: true } },
    { what: 'a 500 answered', fault: { status: 500, retryAfter: 0.05 } },
  ]) {
    it(`openai: batch made, then ${fault.what} (handleFirst): the made batch is found by its input file and used, no second batch`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider: 'openai', faults: [{ kind: 'http', endpoint: CREATE.openai, handleFirst: true, times: 1, ...fault.fault }] });

      expect(r.statuses).toEqual(allAnswered());
      expect(faultHits(r.emulator, 'drop' in fault.fault ? 'drop' : 500)).toEqual([CREATE.openai]);
      // One POST that made the batch, then a listing that found it: no second POST, no second batch.
      expect(r.emulator.state.requests.filter((q) => q.method === 'POST' && q.path === '/v1/batches')).toHaveLength(1);
      expect(r.emulator.state.batches.size).toBe(1);
      const [batchId] = r.emulator.state.batches.keys();
      expect(r.outcome.runs[0].handle?.batchId).toBe(batchId);
      expect(r.warnings()).toContain(
        `openai:gpt-4.1-mini: the batch was created though its answer was lost (${'drop' in fault.fault ? 'Connection error.' : '500 The server had an error while processing your request. Sorry about that!'}); using ${batchId}, not creating another`,
      );
      expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
    });
  }

  it('openai: batch made, answer dropped, and the first look for it fails (503): no create until a look succeeds and finds it', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({
      provider: 'openai',
      faults: [
        { kind: 'http', endpoint: CREATE.openai, drop: true, handleFirst: true, times: 1 },
        { kind: 'http', endpoint: 'GET /v1/batches', status: 503, retryAfter: 0.05, times: 1 },
      ],
    });

    expect(r.statuses).toEqual(allAnswered());
    expect(r.emulator.state.requests.filter((q) => q.path === '/v1/batches').map((q) => `${q.method} ${q.status}`)).toEqual(['POST 0', 'GET 503', 'GET 200']);
    expect(r.emulator.state.batches.size).toBe(1);
    expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
  });

  it('openai: a server without batch listing (404): a 429 on create is retried plainly, as the SDK would', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({
      provider: 'openai',
      faults: [
        { kind: 'http', endpoint: CREATE.openai, status: 429, retryAfter: 0.05, times: 1 },
        { kind: 'http', endpoint: 'GET /v1/batches', status: 404, message: 'Invalid URL (GET /v1/batches)' },
      ],
    });

    expect(r.statuses).toEqual(allAnswered());
    expect(r.emulator.state.requests.filter((q) => q.path === '/v1/batches').map((q) => `${q.method} ${q.status}`)).toEqual(['POST 429', 'GET 404', 'POST 200']);
    expect(r.emulator.state.batches.size).toBe(1);
    expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
  });

  for (const fault of [
    { what: 'the answer dropped', fault: { drop: true } },
    { what: 'a 500 answered', fault: { status: 500, retryAfter: 0.05 } },
  ]) {
    it(`anthropic: batch made, then ${fault.what} (handleFirst): the one new batch of its size is found and used, no second batch`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider: 'anthropic', faults: [{ kind: 'http', endpoint: CREATE.anthropic, handleFirst: true, times: 1, ...fault.fault }] });

      expect(r.statuses).toEqual(allAnswered());
      // One POST that made the batch, then a listing that found it: no second POST, no second batch.
      expect(r.emulator.state.requests.filter((q) => q.path === '/v1/messages/batches').map((q) => q.method)).toEqual(['POST', 'GET']);
      expect(r.emulator.state.batches.size).toBe(1);
      const [batchId] = r.emulator.state.batches.keys();
      expect(r.outcome.runs[0].handle?.batchId).toBe(batchId);
      expect(r.warnings().some((w) => w.startsWith('anthropic:claude-haiku-4-5: the batch was created though its answer was lost (') && w.endsWith(`; using ${batchId}, not creating another`))).toBe(true);
      expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
    });
  }

  it('anthropic: dropped before the batch is made, then a 429: the listing finds nothing, the create is tried again, once', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({
      provider: 'anthropic',
      faults: [
        { kind: 'http', endpoint: CREATE.anthropic, drop: true, times: 1 },
        { kind: 'http', endpoint: CREATE.anthropic, status: 429, retryAfter: 0.05, times: 1 },
      ],
    });

    expect(r.statuses).toEqual(allAnswered());
    // Looked after the drop (it may have made a batch), not after the 429 (a refusal).
    expect(r.emulator.state.requests.filter((q) => q.path === '/v1/messages/batches').map((q) => `${q.method} ${q.status}`)).toEqual(['POST 0', 'GET 200', 'POST 429', 'POST 200']);
    expect(r.emulator.state.batches.size).toBe(1);
    expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
  });

  it('anthropic: batch made, answer dropped, and the first look for it is refused (429): no create until a look succeeds and finds it', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({
      provider: 'anthropic',
      faults: [
        { kind: 'http', endpoint: CREATE.anthropic, drop: true, handleFirst: true, times: 1 },
        { kind: 'http', endpoint: 'GET /v1/messages/batches', status: 429, retryAfter: 0.05, times: 1 },
      ],
    });

    expect(r.statuses).toEqual(allAnswered());
    expect(r.emulator.state.requests.filter((q) => q.path === '/v1/messages/batches').map((q) => `${q.method} ${q.status}`)).toEqual(['POST 0', 'GET 429', 'GET 200']);
    expect(r.emulator.state.batches.size).toBe(1);
    expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
  });

  it("anthropic: two parts of the same size, one part's answer lost: its own batch is found, never its sibling's", { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({ provider: 'anthropic', cases: 4, batch: '{ maxRequests: 2 }', faults: [{ kind: 'http', endpoint: CREATE.anthropic, drop: true, handleFirst: true, times: 1 }] });

    expect(r.statuses).toEqual(allAnswered(4));
    expect(r.emulator.state.batches.size).toBe(2);
    expect(new Set(r.outcome.runs.map((run) => run.handle?.batchId))).toEqual(new Set(r.emulator.state.batches.keys()));
    expectSentTimes(expectBilledOnce(r.emulator), ['case 1', 'case 2', 'case 3', 'case 4'].map(r.requestId), 1);
  });

  it("anthropic: answer lost while another job's batch of the same size was made: none is used, none created again, the cases say why", { timeout: TEST_TIMEOUT_MS }, async () => {
    let other = '';
    const r = await run({
      provider: 'anthropic',
      // The first create is the other job's (below), let through; this run's is made and its answer dropped.
      faults: [{ kind: 'http', endpoint: CREATE.anthropic, drop: true, handleFirst: true, skip: 1, times: 1 }],
      // Another job's batch of five requests, made just before this run's.
      beforeRun: async (emulator) => {
        const requests = Array.from({ length: 5 }, (_, i) => ({ custom_id: `other-${i}`, params: { model: MODEL.anthropic, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] } }));
        const response = await fetch(`${emulator.url}/v1/messages/batches`, {
          method: 'POST',
          headers: { 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
          body: JSON.stringify({ requests }),
        });
        other = ((await response.json()) as { id: string }).id;
      },
    });

    expect(r.counts).toEqual({ passed: 0, failed: 0, errored: 5, pending: 0 });
    const [, ours] = r.emulator.state.batches.keys();
    expect(r.emulator.state.batches.size).toBe(2);
    const error = r.result('case 1').error ?? '';
    expect(error).toContain('2 batches of 5 requests were created since');
    expect(error).toContain(other);
    expect(error).toContain(ours);
    expect(error).toContain('cancel the one not wanted and run again');
    // Ours was sent once: it bills once, and no third batch was made.
    expectSentTimes(expectBilledOnce(r.emulator), CASES.map((c) => [...r.emulator.state.batches.values()][1].requests[Number(c.slice(5)) - 1].customId), 1);
  });
});

// ---- results stream faults -------------------------------------------------------------------------------------------

describe('truncated results download', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: cut off once midway: the batch error is reported, the results are downloaded again, every case answered, nothing resubmitted`, { timeout: TEST_TIMEOUT_MS }, async () => {
      // ~1.5 kB: the first line or two arrive whole, then the connection is cut.
      const r = await run({ provider, faults: [{ kind: 'truncate', bytes: 1_500, times: 1 }] });

      expect(r.statuses).toEqual(allAnswered());
      expect(faultHits(r.emulator, 'truncate')).toHaveLength(1);
      expect(r.warnings()).toEqual([`${provider}:${MODEL[provider]}: the download broke off: terminated; reading the results again (2 of 3)`]);
      expect(r.infos()).toContain(`${provider}:${MODEL[provider]}: ${provider === 'openai' ? 'completed' : 'ended'}, collected 5 of 5 results`);
      expect(r.outcome.runs[0].error).toBeUndefined();
      const sent = expectBilledOnce(r.emulator);
      expect(sent.batches).toHaveLength(1);
      expectSentTimes(sent, CASES.map(r.requestId), 1);
    });

    it(`${provider}: cut off on every download: what was read is kept, the unread requests are errored naming the break, not resubmitted`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, faults: [{ kind: 'truncate', bytes: 1_500 }] });

      // The same prefix comes every time: the cases of its whole lines are scored, the others errored.
      const read = CASES.filter((c) => r.result(c).status === 'passed');
      expect(read.length).toBeGreaterThanOrEqual(1);
      expect(read).toEqual(CASES.slice(0, read.length));
      for (const c of CASES.slice(read.length)) {
        expect(r.result(c)).toMatchObject({ status: 'errored', error: 'batch results could not be read completely: the download broke off: terminated' });
      }
      expect(r.outcome.runs[0].error).toBe('results could not be read completely: the download broke off: terminated');
      expect(faultHits(r.emulator, 'truncate')).toHaveLength(3);
      expect(r.warnings()).toEqual([
        `${provider}:${MODEL[provider]}: the download broke off: terminated; reading the results again (2 of 3)`,
        `${provider}:${MODEL[provider]}: the download broke off: terminated; reading the results again (3 of 3)`,
        `${provider}:${MODEL[provider]}: results could not be read completely: the download broke off: terminated`,
      ]);
      // Answered and paid for: never sent again, even those the run could not read.
      const sent = expectBilledOnce(r.emulator);
      expect(sent.batches).toHaveLength(1);
      expectSentTimes(sent, CASES.map(r.requestId), 1);
    });
  }

  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: a short body that ends cleanly mid-line (no error): fewer results than the batch reports, so they are downloaded again`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, faults: [{ kind: 'truncate', cleanEnd: true, times: 1 }] });

      expect(r.statuses).toEqual(allAnswered());
      const where = provider === 'openai' ? 'file-\\w+' : `the results of ${r.outcome.runs[0].handle!.batchId}`;
      expect(r.warnings()).toEqual([
        // The cut last line is not a result: skipped, and the count shows the body was short.
        expect.stringMatching(new RegExp(`^${provider}: skipped an unreadable line in ${where}: \\{"`)),
        expect.stringMatching(new RegExp(`^${provider}:${MODEL[provider]}: \\d of the 5 results the batch reports answered came; reading the results again \\(2 of 3\\)$`)),
      ]);
      expect(faultHits(r.emulator, 'truncate')).toHaveLength(1);
      expect(r.outcome.runs[0].error).toBeUndefined();
      expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
    });
  }

  it('openai: short on every download: after three reads the missing requests are errored with how many came', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({ provider: 'openai', faults: [{ kind: 'truncate', cleanEnd: true }] });

    const read = CASES.filter((c) => r.result(c).status === 'passed');
    expect(read).toEqual(CASES.slice(0, read.length));
    const reason = `results could not be read completely: ${read.length} of the 5 results the batch reports answered came, after 3 downloads`;
    expect(r.outcome.runs[0].error).toBe(reason);
    for (const c of CASES.slice(read.length)) expect(r.result(c)).toMatchObject({ status: 'errored', error: `batch ${reason}` });
    expect(faultHits(r.emulator, 'truncate')).toHaveLength(3);
    expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
  });
});

describe('malformed results line', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: a line that is not JSON in every download is skipped with a warning; every other result is read`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, faults: [{ kind: 'malformed', line: 1 }] });

      expect(r.statuses).toEqual(allAnswered());
      expect(faultHits(r.emulator, 'malformed')).toHaveLength(1);
      expect(r.warnings()).toEqual([
        provider === 'openai'
          ? expect.stringMatching(/^openai: skipped an unreadable line in file-\w+: \{"id": "batch_req_garbage", "custom_id": <<not JSON>>$/)
          : `anthropic: skipped an unreadable line in the results of ${r.outcome.runs[0].handle!.batchId}: {"id": "batch_req_garbage", "custom_id": <<not JSON>>`,
      ]);
      expect(r.outcome.runs[0].error).toBeUndefined();
      expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
    });
  }

  it('openai: a malformed line in the error file: the per-request errors after it are still read and retried', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({
      provider: 'openai',
      tags: { 2: 'flaky', 3: 'flaky' },
      script: [{ match: 'flaky', error: { status: 500, type: 'server_error', message: 'The server had an error.' }, failTimes: 1 }],
      faults: [{ kind: 'malformed', file: 'error', line: 0, text: 'Internal Server Error' }],
    });

    expect(r.statuses).toEqual(allAnswered());
    const sent = expectBilledOnce(r.emulator);
    expect(sent.batches).toHaveLength(2);
    expectSentTimes(sent, ['case 2', 'case 3'].map(r.requestId), 2);
    expectSentTimes(sent, ['case 1', 'case 4', 'case 5'].map(r.requestId), 1);
  });
});

describe('duplicate ids in the results', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: a second, different line for a custom_id: the first wins, billed once`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const emulatorOptions = provider === 'anthropic' ? { resultsOrder: 'input' as const } : {};
      const r = await run({ provider, emulator: emulatorOptions, faults: [{ kind: 'duplicate' }] });

      expect(r.statuses).toEqual(allAnswered());
      expect(faultHits(r.emulator, 'duplicate')).toHaveLength(1);
      // The duplicate repeats the first line served (case 1's) with "[duplicate] " before the reply.
      expect(r.result('case 1').output).toBe(`[emulated ${MODEL[provider]}] You asked: "Question 1"`);
      expect(r.outcome.results.some((c) => c.output?.includes('[duplicate]'))).toBe(false);
      expect(r.infos()).toContain(`${provider}:${MODEL[provider]}: ${provider === 'openai' ? 'completed' : 'ended'}, collected 5 of 5 results`);
      // Its cost is counted once too.
      expect(r.outcome.results.filter((c) => c.billed)).toHaveLength(5);
      expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
    });
  }
});

// ---- lifecycle faults ------------------------------------------------------------------------------------------------

describe('stuck batch', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: held ${provider === 'openai' ? 'finalizing' : 'in_progress'} until the deadline: every case pending, the run ends at max-wait`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, maxWaitMs: 1_500, faults: [{ kind: 'stuck' }] });

      expect(r.statuses).toEqual(Object.fromEntries(CASES.map((c) => [c, 'pending'])));
      expect(r.outcome.status).toBe('pending');
      expect(r.outcome.runs[0].status?.providerStatus).toBe(provider === 'openai' ? 'finalizing' : 'in_progress');
      expect(r.elapsedMs).toBeGreaterThanOrEqual(1_400);
      expect(r.infos()).toContainEqual(expect.stringMatching(/^max-wait reached after \ds: 1 batch\(es\) still running, left pending$/));
      // Left for a resume job, not resubmitted.
      const sent = expectBilledOnce(r.emulator);
      expect(sent.batches).toHaveLength(1);
      expectSentTimes(sent, CASES.map(r.requestId), 1);
    });
  }

  it('openai: one of two split batches stuck: its cases pending, the other batch scored', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({ provider: 'openai', batch: '{ maxRequests: 3 }', maxWaitMs: 1_500, faults: [{ kind: 'stuck', times: 1 }] });

    // The two parts are submitted at once: whichever the emulator created first is the one held.
    expect(r.outcome.runs.map((run) => run.status?.providerStatus).sort()).toEqual(['completed', 'finalizing']);
    const held = new Set(r.outcome.runs.find((run) => run.status?.providerStatus === 'finalizing')!.batch.requests.map((q) => q.id));
    expect([3, 2]).toContain(held.size);
    expect(r.statuses).toEqual(Object.fromEntries(Object.entries(allAnswered()).map(([c, status]) => [c, held.has(r.requestId(c)) ? 'pending' : status])));
    expect(r.counts.pending).toBe(held.size);
    expect(r.outcome.status).toBe('pending');
    expectSentTimes(expectBilledOnce(r.emulator), CASES.map(r.requestId), 1);
  });
});

describe('failed batch (OpenAI validation)', () => {
  it('errors on lines 2 and 4: those cases errored with the provider message naming their line, the others "batch failed"', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({ provider: 'openai', faults: [{ kind: 'fail', lines: [2, 4] }] });

    expect(r.counts).toEqual({ passed: 0, failed: 0, errored: 5, pending: 0 });
    for (const line of [2, 4]) {
      expect(r.result(`case ${line}`).error).toBe(
        `the provider refused this request (line ${line} of the batch file): invalid_request: Line ${line} failed validation (emulated fault).`,
      );
    }
    const batchFailed =
      'batch failed: line 2: invalid_request: Line 2 failed validation (emulated fault).; line 4: invalid_request: Line 4 failed validation (emulated fault).';
    for (const c of ['case 1', 'case 3', 'case 5']) expect(r.result(c).error).toBe(batchFailed);
    expect(r.outcome.runs[0].status?.providerStatus).toBe('failed');
    // Not retried: validation would refuse the same lines again. Nothing was answered, nothing billed.
    const sent = submissions(r.emulator);
    expect(sent.batches).toHaveLength(1);
    expect(r.emulator.state.billed.size).toBe(0);
    expect(r.emulator.state.doubleBilled()).toEqual([]);
  });
});

describe('expired batch with partial output', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: the finished part is scored, the rest retried in a new batch and then answered`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, faults: [{ kind: 'expire', answered: 2, times: 1 }] });

      expect(r.statuses).toEqual(allAnswered());
      expect(r.outcome.runs.map((run) => run.status?.providerStatus)).toEqual(provider === 'openai' ? ['expired', 'completed'] : ['ended', 'ended']);
      expect(r.outcome.runs.map((run) => run.batch.key)).toEqual([`${provider}||${MODEL[provider]}`, `${provider}||${MODEL[provider]}~retry1`]);
      expect(r.infos()).toContain(`retry 1 of 2: 3 requests that failed for a retryable reason (3 ${provider === 'openai' ? 'batch_expired' : 'expired'}), in 1 new batch`);
      const sent = expectBilledOnce(r.emulator);
      expect(sent.batches).toEqual([CASES.map(r.requestId), ['case 3', 'case 4', 'case 5'].map(r.requestId)]);
    });
  }
});

// ---- per-request faults ----------------------------------------------------------------------------------------------

describe('per-request errors', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: 429 and 500 the first time (failTimes: 1): recovered by the retry round`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({
        provider,
        tags: { 2: 'flaky429', 4: 'flaky500' },
        script: [
          { match: 'flaky429', error: { status: 429, code: 'rate_limit_exceeded', type: 'requests', message: 'Rate limit reached.' }, failTimes: 1 },
          { match: 'flaky500', error: { status: 500, type: 'server_error', message: 'The server had an error.' }, failTimes: 1 },
        ],
      });

      expect(r.statuses).toEqual(allAnswered());
      const codes = provider === 'openai' ? '1 rate_limit_exceeded, 1 server_error' : '1 rate_limit_error, 1 api_error';
      expect(r.infos()).toContain(`retry 1 of 2: 2 requests that failed for a retryable reason (${codes}), in 1 new batch`);
      const sent = expectBilledOnce(r.emulator);
      expect(sent.batches).toEqual([CASES.map(r.requestId), ['case 2', 'case 4'].map(r.requestId)]);
    });

    it(`${provider}: a non-retryable 400: errored once with the provider's message, not retried`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({
        provider,
        tags: { 3: 'badreq' },
        script: [{ match: 'badreq', error: { status: 400, type: 'invalid_request_error', code: 'invalid_value', message: "Invalid value for 'temperature'." } }],
      });

      expect(r.statuses).toEqual({ ...allAnswered(), 'case 3': 'errored' });
      expect(r.result('case 3').error).toBe(`${provider === 'openai' ? 'invalid_value' : 'invalid_request_error'}: Invalid value for 'temperature'.`);
      expect(r.infos().some((m) => m.startsWith('retry '))).toBe(false);
      const sent = expectBilledOnce(r.emulator);
      expect(sent.batches).toEqual([CASES.map(r.requestId)]);
      expect(r.emulator.state.answered.get(r.requestId('case 3'))).toBe(1);
    });
  }

  it('openai: a request fault that never clears: tried 1 + maxRetries times, then errored as retryable, never billed', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({
      provider: 'openai',
      tags: { 2: 'hopeless' },
      maxRetries: 2,
      script: [{ match: 'hopeless', error: { status: 503, type: 'server_error', message: 'Service unavailable.' } }],
    });

    expect(r.statuses).toEqual({ ...allAnswered(), 'case 2': 'errored' });
    expect(r.result('case 2').error).toBe('server_error: Service unavailable. (retryable)');
    const sent = expectBilledOnce(r.emulator);
    expect(sent.batches).toHaveLength(3);
    expectSentTimes(sent, [r.requestId('case 2')], 3);
    expect(r.emulator.state.billed.has(r.requestId('case 2'))).toBe(false);
  });

  it('anthropic: a request fault (kind: request, times: 1) on every custom_id: all recovered by the retry round', { timeout: TEST_TIMEOUT_MS }, async () => {
    // The custom_ids are hashes of the requests; this fault matches them by model and lets each fail once.
    const r = await run({ provider: 'anthropic', faults: [{ kind: 'request', model: MODEL.anthropic, error: { status: 529 }, times: 1 }] });

    expect(r.statuses).toEqual(allAnswered());
    expect(r.infos()).toContain('retry 1 of 2: 5 requests that failed for a retryable reason (5 overloaded_error), in 1 new batch');
    const sent = expectBilledOnce(r.emulator);
    expect(sent.batches).toEqual([CASES.map(r.requestId), CASES.map(r.requestId)]);
  });
});

// ---- split -----------------------------------------------------------------------------------------------------------

describe('split into several batches', () => {
  const TEN = Array.from({ length: 10 }, (_, k) => `case ${k + 1}`);

  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: batch.maxRequests 3 with 10 requests: 4 batches, every result collected`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run({ provider, cases: 10, batch: '{ maxRequests: 3 }' });

      expect(r.statuses).toEqual(allAnswered(10));
      expect(r.infos()).toContain('fault suite: 10 cases, 10 distinct requests in 4 batches');
      expect(r.outcome.runs.map((run) => [run.batch.part, run.batch.requests.length])).toEqual([
        [{ index: 1, of: 4 }, 3],
        [{ index: 2, of: 4 }, 3],
        [{ index: 3, of: 4 }, 3],
        [{ index: 4, of: 4 }, 1],
      ]);
      for (const part of [1, 2, 3, 4]) {
        const n = part === 4 ? 1 : 3;
        expect(r.infos()).toContain(`${provider}:${MODEL[provider]} (part ${part} of 4): ${provider === 'openai' ? 'completed' : 'ended'}, collected ${n} of ${n} results`);
      }
      const sent = expectBilledOnce(r.emulator);
      expect(sent.batches.map((b) => b.length).sort()).toEqual([1, 3, 3, 3]);
      expectSentTimes(sent, TEN.map(r.requestId), 1);
    });
  }

  it('openai: failures from three parts are retried together in one new batch', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run({
      provider: 'openai',
      cases: 10,
      batch: '{ maxRequests: 3 }',
      tags: { 2: 'flaky', 5: 'flaky', 8: 'flaky' },
      script: [{ match: 'flaky', error: { status: 429, code: 'rate_limit_exceeded', type: 'requests', message: 'Rate limit reached.' }, failTimes: 1 }],
    });

    expect(r.statuses).toEqual(allAnswered(10));
    expect(r.outcome.runs).toHaveLength(5);
    expect(r.outcome.runs[4].batch.key).toBe('openai||gpt-4.1-mini~retry1');
    expect(r.outcome.runs[4].batch.requests.map((q) => q.id)).toEqual(['case 2', 'case 5', 'case 8'].map(r.requestId));
    const sent = expectBilledOnce(r.emulator);
    expectSentTimes(sent, ['case 2', 'case 5', 'case 8'].map(r.requestId), 2);
    expectSentTimes(sent, TEN.filter((c) => !['case 2', 'case 5', 'case 8'].includes(c)).map(r.requestId), 1);
  });
});
