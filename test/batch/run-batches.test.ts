/**
 * submitBatches, waitForBatches and collectResults driving the real OpenAIBatchProvider (real SDK, real HTTP) against
 * the emulator, with the polling loop on an injected fake clock shared with the emulator.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { collectResults, formatDuration, submitBatches, waitForBatches, type BatchRun } from '../../src/batch/run-batches.ts';
import type { BatchMetadata } from '../../src/batch/types.ts';
import { captureLog, chatRequests, closeAll, emulatorOnFakeClock, providerAt, runFor, startProxy, T0 } from './support.ts';

const METADATA: BatchMetadata = { suite: 'suite', repo: 'acme/prompts', pr: '7', sha: 'abc123' };

afterEach(closeAll);

/** `now` and `sleep` for waitForBatches on the same fake clock as the emulator; `sleeps` records every wait. */
function fakeTime(clock: { now: number }) {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => clock.now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      clock.now += ms;
    },
  };
}

/** Batch status reads the emulator answered. */
function statusReads(requests: { method: string; path: string }[]): number {
  return requests.filter((r) => r.method === 'GET' && /^\/v1\/batches\/batch_\w+$/.test(r.path)).length;
}

describe('submitBatches', () => {
  it('submits every batch; one that cannot be submitted keeps its error and the others go on', async () => {
    const { emulator } = await emulatorOnFakeClock({ instant: true });
    // The second run goes through a proxy that refuses to create its batch.
    const proxy = await startProxy(emulator.url, (method, path) =>
      method === 'POST' && path === '/v1/batches'
        ? { kind: 'respond', status: 400, body: { error: { message: 'Batch creation is disabled for this project.', type: 'invalid_request_error', param: null, code: 'batch_disabled' } } }
        : { kind: 'forward' },
    );
    const { log, infos, warnings } = captureLog();
    const good = runFor(chatRequests('gpt-4.1-mini', ['a', 'b', 'c']), providerAt(emulator.url, log));
    const refused = runFor(chatRequests('gpt-4.1-nano', ['a']), providerAt(proxy.url, log));

    await submitBatches([good, refused], METADATA, log);

    expect(good.handle).toMatchObject({ provider: 'openai', requestCount: 3 });
    expect(good.error).toBeUndefined();
    expect(emulator.state.batches.has(good.handle!.batchId)).toBe(true);
    expect(infos()).toContain(`openai:gpt-4.1-mini: submitted 3 requests as ${good.handle!.batchId}`);

    expect(refused.handle).toBeUndefined();
    expect(refused.error).toMatch(/^not submitted: 400 .*Batch creation is disabled for this project\./);
    expect(warnings()).toEqual([`openai:gpt-4.1-nano: ${refused.error}`]);
    expect(emulator.state.batches.size).toBe(1);
  });

  it('a batch over the request limit is not submitted and says why', async () => {
    const { emulator } = await emulatorOnFakeClock({ instant: true });
    const { log } = captureLog();
    const requests = Array.from({ length: 50_001 }, (_, i) => ({ id: `r${i}`, model: 'gpt-4.1-mini', messages: [{ role: 'user' as const, content: 'hi' }], params: {} }));
    const run = runFor(requests, providerAt(emulator.url, log));

    await submitBatches([run], METADATA, log);

    expect(run.handle).toBeUndefined();
    expect(run.error).toMatch(/^not submitted: openai:gpt-4\.1-mini: the batch passes the provider's limit of 50,000 requests per batch/);
    expect(emulator.state.requests).toEqual([]);
  });
});

describe('waitForBatches', () => {
  it('polls with an interval growing 1.5x from the initial to the max until every batch has ended', async () => {
    // Validation 1 s, 4 requests over 20 s, finalizing 1 s: completed at 22 s.
    const { emulator, clock } = await emulatorOnFakeClock({ validatingMs: 1_000, inProgressMs: 20_000, finalizingMs: 1_000 });
    const { log, infos, warnings } = captureLog();
    const run = runFor(chatRequests('gpt-4.1-mini', ['a', 'b', 'c', 'd']), providerAt(emulator.url, log));
    await submitBatches([run], METADATA, log);
    const time = fakeTime(clock);

    await waitForBatches([run], { deadline: T0 + 3_600_000, initialIntervalMs: 1_000, maxIntervalMs: 5_000, ...time }, log);

    expect(time.sleeps).toEqual([1_000, 1_500, 2_250, 3_375, 5_000, 5_000, 5_000]);
    expect(clock.now - T0).toBe(23_125);
    expect(run.status).toEqual({ phase: 'ended', providerStatus: 'completed', total: 4, completed: 4, failed: 0, errors: [] });
    expect(statusReads(emulator.state.requests)).toBe(8);
    const progress = infos().filter((m) => m.startsWith('openai:gpt-4.1-mini: ') && m.endsWith('elapsed'));
    expect(progress).toEqual([
      'openai:gpt-4.1-mini: validating, 0/0 done (0 failed), 0s elapsed',
      'openai:gpt-4.1-mini: in_progress, 0/4 done (0 failed), 1s elapsed',
      'openai:gpt-4.1-mini: in_progress, 0/4 done (0 failed), 3s elapsed',
      'openai:gpt-4.1-mini: in_progress, 0/4 done (0 failed), 5s elapsed',
      'openai:gpt-4.1-mini: in_progress, 1/4 done (0 failed), 8s elapsed',
      'openai:gpt-4.1-mini: in_progress, 2/4 done (0 failed), 13s elapsed',
      'openai:gpt-4.1-mini: in_progress, 3/4 done (0 failed), 18s elapsed',
      'openai:gpt-4.1-mini: completed, 4/4 done (0 failed), 23s elapsed',
    ]);
    expect(infos().some((m) => m.includes('max-wait'))).toBe(false);
    expect(warnings()).toEqual([]);
  });

  it('at the deadline returns, leaving the batches still running pending, and logs max-wait', async () => {
    const slow = await emulatorOnFakeClock({ validatingMs: 0, inProgressMs: 60_000, finalizingMs: 0 });
    const fast = await emulatorOnFakeClock({ instant: true });
    fast.clock.now = slow.clock.now; // one time line: the test moves both clocks together
    const shared = { get now() { return slow.clock.now; }, set now(v: number) { slow.clock.now = v; fast.clock.now = v; } };
    const { log, infos } = captureLog();
    const slowRun = runFor(chatRequests('gpt-4.1', ['a', 'b']), providerAt(slow.emulator.url, log));
    const fastRun = runFor(chatRequests('gpt-4.1-nano', ['a', 'b']), providerAt(fast.emulator.url, log));
    await submitBatches([slowRun, fastRun], METADATA, log);
    const time = fakeTime(shared);

    await waitForBatches([slowRun, fastRun], { deadline: T0 + 10_000, initialIntervalMs: 1_000, maxIntervalMs: 5_000, ...time }, log);

    // The last wait is cut short to end exactly at the deadline, where one more round of status reads happens.
    expect(time.sleeps).toEqual([1_000, 1_500, 2_250, 3_375, 1_875]);
    expect(shared.now).toBe(T0 + 10_000);
    expect(infos()).toContain('max-wait reached after 10s: 1 batch(es) still running, left pending');
    expect(slowRun.status).toMatchObject({ phase: 'running', providerStatus: 'in_progress', total: 2 });
    expect(fastRun.status).toMatchObject({ phase: 'ended', providerStatus: 'completed' });
    // An ended batch is not asked again.
    expect(statusReads(fast.emulator.state.requests)).toBe(1);
    expect(statusReads(slow.emulator.state.requests)).toBe(6);

    // Only the ended batch is collected; the pending one is neither read nor marked as failed.
    const results = await collectResults([slowRun, fastRun], log);
    expect([...results.keys()].sort()).toEqual(['gpt-4.1-nano-0', 'gpt-4.1-nano-1']);
    expect(slowRun.error).toBeUndefined();
    expect(infos()).toContain('openai:gpt-4.1-nano: completed, collected 2 of 2 results');
    expect(slow.emulator.state.requests.some((r) => r.path.endsWith('/content'))).toBe(false);
  });

  it('a deadline already passed: one round of status reads, no wait', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ validatingMs: 1_000 });
    const { log, infos } = captureLog();
    const run = runFor(chatRequests('gpt-4.1-mini', ['a']), providerAt(emulator.url, log));
    await submitBatches([run], METADATA, log);
    const time = fakeTime(clock);

    await waitForBatches([run], { deadline: T0 - 1, initialIntervalMs: 1_000, maxIntervalMs: 5_000, ...time }, log);

    expect(time.sleeps).toEqual([]);
    expect(run.status?.providerStatus).toBe('validating');
    expect(infos()).toContain('1 batch(es) submitted and left pending for a later resume job');
  });

  it('a status read that throws is logged as a warning and asked again next round, not fatal', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ validatingMs: 0, inProgressMs: 2_000, finalizingMs: 0 });
    let reads = 0;
    const proxy = await startProxy(emulator.url, (method, path) => {
      if (method === 'GET' && path.startsWith('/v1/batches/') && ++reads === 2) {
        return { kind: 'respond', status: 403, body: { error: { message: 'Project is temporarily locked.', type: 'invalid_request_error', param: null, code: null } } };
      }
      return { kind: 'forward' };
    });
    const { log, warnings, infos } = captureLog();
    const run = runFor(chatRequests('gpt-4.1-mini', ['a', 'b']), providerAt(proxy.url, log));
    await submitBatches([run], METADATA, log);
    const time = fakeTime(clock);

    await waitForBatches([run], { deadline: T0 + 60_000, initialIntervalMs: 1_000, maxIntervalMs: 1_000, ...time }, log);

    expect(warnings()).toEqual([expect.stringMatching(/^openai:gpt-4\.1-mini: could not read the batch status, will ask again: 403 .*Project is temporarily locked\./)]);
    expect(reads).toBe(3);
    expect(time.sleeps).toEqual([1_000, 1_000]);
    expect(run.status).toEqual({ phase: 'ended', providerStatus: 'completed', total: 2, completed: 2, failed: 0, errors: [] });
    expect(infos().some((m) => m.includes('max-wait'))).toBe(false);
  });

  it('a batch whose status can never be read is left pending at the deadline', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true });
    const proxy = await startProxy(emulator.url, (method, path) =>
      method === 'GET' && path.startsWith('/v1/batches/')
        ? { kind: 'respond', status: 404, body: { error: { message: 'No batch found.', type: 'invalid_request_error', param: 'batch_id', code: null } } }
        : { kind: 'forward' },
    );
    const { log, warnings, infos } = captureLog();
    const run = runFor(chatRequests('gpt-4.1-mini', ['a']), providerAt(proxy.url, log));
    await submitBatches([run], METADATA, log);
    const time = fakeTime(clock);

    await waitForBatches([run], { deadline: T0 + 5_000, initialIntervalMs: 2_000, maxIntervalMs: 2_000, ...time }, log);

    expect(time.sleeps).toEqual([2_000, 2_000, 1_000]);
    expect(warnings()).toHaveLength(4);
    expect(run.status).toBeUndefined();
    expect(infos()).toContain('max-wait reached after 5s: 1 batch(es) still running, left pending');
    expect(await collectResults([run], log)).toEqual(new Map());
  });

  it('returns at once when nothing was submitted', async () => {
    const { log } = captureLog();
    const run: BatchRun = { ...runFor(chatRequests('gpt-4.1-mini', ['a']), providerAt('http://127.0.0.1:9/v1', log)), error: 'not submitted: no' };
    const time = fakeTime({ now: T0 });
    await waitForBatches([run], { deadline: T0 + 60_000, initialIntervalMs: 1_000, maxIntervalMs: 5_000, ...time }, log);
    expect(time.sleeps).toEqual([]);
    expect(run.status).toBeUndefined();
  });
});

describe('collectResults', () => {
  it('a result stream that breaks midway every time: read again twice, then run.error is recorded, what was read is kept, and the other batches are still read', async () => {
    const broken = await emulatorOnFakeClock({ instant: true });
    const healthy = await emulatorOnFakeClock({ instant: true });
    // The proxy delivers the first two lines of the output file and a bit of the third, then drops the connection.
    let cutAfter = 0;
    const proxy = await startProxy(broken.emulator.url, (method, path) => (method === 'GET' && path.endsWith('/content') ? { kind: 'cut', afterBytes: cutAfter } : { kind: 'forward' }));
    const { log, infos, warnings } = captureLog();
    const brokenRun = runFor(chatRequests('gpt-4.1-mini', ['one', 'two', 'three', 'four']), providerAt(proxy.url, log));
    const healthyRun = runFor(chatRequests('gpt-4.1-nano', ['five', 'six']), providerAt(healthy.emulator.url, log));
    await submitBatches([brokenRun, healthyRun], METADATA, log);
    broken.clock.now += 1;
    healthy.clock.now += 1;
    await waitForBatches([brokenRun, healthyRun], { deadline: T0 + 1, initialIntervalMs: 1, maxIntervalMs: 1 }, log);
    expect(brokenRun.status?.providerStatus).toBe('completed');

    const output = broken.emulator.state.files.get(broken.emulator.state.batches.get(brokenRun.handle!.batchId)!.outputFileId!)!;
    const lines = output.content.toString('utf8').split('\n');
    cutAfter = Buffer.byteLength(`${lines[0]}\n${lines[1]}\n`) + 40;
    expect(cutAfter).toBeLessThan(output.content.length);

    const results = await collectResults([brokenRun, healthyRun], log);

    expect([...results.keys()].sort()).toEqual(['gpt-4.1-mini-0', 'gpt-4.1-mini-1', 'gpt-4.1-nano-0', 'gpt-4.1-nano-1']);
    expect(results.get('gpt-4.1-mini-1')).toMatchObject({ ok: true, text: '[emulated gpt-4.1-mini] You asked: "two"' });
    expect(brokenRun.error).toMatch(/^results could not be read completely: the download broke off: \S/);
    // The proxy cuts every download: the results are read three times in all, then the batch keeps the error.
    expect(warnings()).toEqual([
      expect.stringMatching(/^openai:gpt-4\.1-mini: the download broke off: .*; reading the results again \(2 of 3\)$/),
      expect.stringMatching(/^openai:gpt-4\.1-mini: the download broke off: .*; reading the results again \(3 of 3\)$/),
      `openai:gpt-4.1-mini: ${brokenRun.error}`,
    ]);
    expect(infos()).toContain('openai:gpt-4.1-mini: completed, collected 2 of 4 results');
    expect(healthyRun.error).toBeUndefined();
    expect(infos()).toContain('openai:gpt-4.1-nano: completed, collected 2 of 2 results');
  });

  it('a batch that failed validation: run.error carries the provider status and the line errors, no results', async () => {
    const { emulator, clock } = await emulatorOnFakeClock({ instant: true, knownModels: ['gpt-4.1-mini'] });
    const { log, infos } = captureLog();
    const run = runFor(chatRequests('gpt-5-unknown', ['a', 'b']), providerAt(emulator.url, log));
    await submitBatches([run], METADATA, log);
    clock.now += 1;
    await waitForBatches([run], { deadline: T0 + 60_000, initialIntervalMs: 1_000, maxIntervalMs: 1_000, ...fakeTime(clock) }, log);

    const results = await collectResults([run], log);

    expect(results.size).toBe(0);
    expect(run.error).toBe(
      "failed: line 1: model_not_found: The provided model 'gpt-5-unknown' is not supported by the Batch API.; " +
        "line 2: model_not_found: The provided model 'gpt-5-unknown' is not supported by the Batch API.",
    );
    expect(infos()).toContain('openai:gpt-5-unknown: failed, collected 0 of 2 results');
  });

  it('submit, wait and collect an expiring batch: the finished part comes back, the rest as retryable batch_expired', async () => {
    // 5 requests over 50 s (one every 10 s), expiring at 25 s: two answered.
    const { emulator, clock } = await emulatorOnFakeClock({ validatingMs: 0, inProgressMs: 50_000, finalizingMs: 0, expireAfterMs: 25_000 });
    const { log, infos } = captureLog();
    const run = runFor(chatRequests('gpt-4.1-mini', ['q0', 'q1', 'q2', 'q3', 'q4']), providerAt(emulator.url, log));
    await submitBatches([run], METADATA, log);
    const time = fakeTime(clock);
    await waitForBatches([run], { deadline: T0 + 3_600_000, initialIntervalMs: 10_000, maxIntervalMs: 10_000, ...time }, log);

    expect(time.sleeps).toEqual([10_000, 10_000, 10_000]);
    expect(run.status).toEqual({ phase: 'ended', providerStatus: 'expired', total: 5, completed: 2, failed: 3, errors: [] });

    const results = await collectResults([run], log);

    expect(run.error).toBeUndefined();
    expect(results.size).toBe(5);
    expect(results.get('gpt-4.1-mini-0')).toMatchObject({ ok: true, text: '[emulated gpt-4.1-mini] You asked: "q0"' });
    expect(results.get('gpt-4.1-mini-1')).toMatchObject({ ok: true, text: '[emulated gpt-4.1-mini] You asked: "q1"' });
    for (const id of ['gpt-4.1-mini-2', 'gpt-4.1-mini-3', 'gpt-4.1-mini-4']) {
      expect(results.get(id)).toEqual({
        id,
        ok: false,
        error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.', retryable: true },
      });
    }
    expect(infos()).toContain('openai:gpt-4.1-mini: expired, collected 5 of 5 results');
  });
});

describe('formatDuration', () => {
  it('seconds, minutes and hours', () => {
    expect([0, 1_499, 59_000, 60_000, 61_000, 3_599_000, 3_600_000, 5_400_000].map(formatDuration)).toEqual(['0s', '1s', '59s', '1m00s', '1m01s', '59m59s', '1h00m', '1h30m']);
  });
});
