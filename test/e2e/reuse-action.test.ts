/**
 * Reusing earlier outputs as a user of the action sees it: `node src/index.ts` in a child process with the runner's
 * environment for `push`, `pull_request` and `schedule` events, against the OpenAI Batch API, GitHub REST and Actions
 * cache emulators over real HTTP, with the real @actions/cache. A push to main keeps its outputs in main's cache
 * scope; a pull request reads them (a PR may read its base branch's scope), sends only the requests it changed, and
 * says in its comment what was reused and what that saved. `reuse: false` and a damaged entry send everything. A
 * submit that reused outputs is finished, by a re-run of its commit or a scheduled resume, with the reused answers.
 */
import * as cache from '@actions/cache';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { cacheEnv, startCacheEmulator, withEnv } from '../cache/cache-emulator.ts';
import { startOpenAIEmulator, type OpenAIEmulator, type ScriptRule } from '../emulator/openai-emulator.ts';
import { startGitHubEmulator } from '../github/github-emulator.ts';
import { runnerEnv } from '../helpers/action-env.ts';
import { runNode, tempTree } from '../helpers/node-process.ts';
import { CONFIG, ENTRY, HEAD_SHA, MAIN_REF, MAIN_SHA, MARKER, MERGE_SHA, PR, PR_REF, REPO, ROOT, SUITE_ID } from '../helpers/pull-request-run.ts';


const RUN_ID = '4242424242';
const OUTPUTS_PREFIX = (branch: string) => `batch-evals-outputs-${SUITE_ID}-${branch}-`;
const MODELS = ['gpt-4.1-mini', 'gpt-4.1-nano'];

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((e) => e.close()));
});

// ---- the suite and the models' answers --------------------------------------------------------------------------

const N = 6;
const QUESTIONS = Array.from({ length: N }, (_, i) => `Question ${i + 1}?`);
/** The pull request rewords the fifth test. */
const CHANGED = QUESTIONS.map((q, i) => (i === 4 ? 'Question 5, reworded?' : q));

/** Two models, `N` tests that want "yes"; the third is answered "No." and fails on both. */
function suiteYaml(questions: string[]): string {
  const tests = questions.map((q, i) => `  - description: case ${i + 1}\n    vars: { question: ${JSON.stringify(q)} }\n    assert:\n      - type: icontains\n        value: "yes"\n`);
  return `description: Reuse suite\nprompts:\n  - "Answer briefly. {{ question }}"\nproviders:\n${MODELS.map((m) => `  - openai:${m}\n`).join('')}tests:\n${tests.join('')}`;
}

/** Every request costs the same for a model: mini $0.0004, nano $0.0001 at batch prices (half of real time). */
const USAGE = { promptTokens: 1000, completionTokens: 250 };
const SCRIPT: ScriptRule[] = [
  { match: 'Question 3\\?', reply: 'No.', usage: USAGE },
  { match: 'reworded', reply: 'Yes, reworded.', usage: USAGE },
  { match: 'Question \\d+\\?', reply: 'Yes.', usage: USAGE },
];

// ---- the runner -------------------------------------------------------------------------------------------------

/** GitHub sets INPUT_<NAME> for every input of action.yml that has a default. */
function withDefaults(inputs: Record<string, string>): Record<string, string> {
  const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) if (spec.default !== undefined) out[name] = String(spec.default);
  return { ...out, ...inputs };
}

type Event = 'push' | 'pull_request' | 'schedule';

/**
 * acme/prompts (default branch main) with PR #7 from `feature`, a token of github-actions[bot], one Actions cache.
 * Every run is a new job: the same GITHUB_WORKSPACE and RUNNER_TEMP paths as on a runner (the cached file's path is
 * part of the cache version, and tar archives it relative to the workspace), the checkout of the run's commit, and
 * nothing left in RUNNER_TEMP by the job before. Each run has its own OpenAI emulator, so what it sent is its own.
 */
async function setup() {
  const token = `ghs_${randomBytes(18).toString('hex')}`;
  const gh = await startGitHubEmulator({
    tokens: { [token]: { login: 'github-actions[bot]', kind: 'installation', permissions: { 'pull-requests': 'write', statuses: 'write', contents: 'read' }, repositories: [REPO] } },
    repos: [
      {
        owner: 'acme',
        repo: 'prompts',
        branches: { main: MAIN_SHA },
        // The files at each commit, for a resume on main that fetches the PR's config at its head.
        commits: { [MAIN_SHA]: { [CONFIG]: suiteYaml(QUESTIONS) }, [HEAD_SHA]: { [CONFIG]: suiteYaml(CHANGED) }, [MERGE_SHA]: { [CONFIG]: suiteYaml(CHANGED) } },
        pulls: [{ number: PR, headSha: HEAD_SHA, headRef: 'feature', user: 'contributor' }],
      },
    ],
  });
  closers.push(gh);
  const actionsCache = await startCacheEmulator();
  closers.push(actionsCache);
  const ws = tempTree({}, 'be-reuse-ws-');
  const runnerTemp = mkdtempSync(join(tmpdir(), 'be-reuse-temp-'));
  const key = `sk-e2e-${randomBytes(12).toString('hex')}`;
  const repository = { full_name: REPO, name: 'prompts', owner: { login: 'acme' }, default_branch: 'main' };

  /** The cache scopes GitHub gives each kind of run: a PR reads its own and its base branch's, main reads main's. */
  const scopes = (event: Event) =>
    event === 'pull_request' ? { readable: [PR_REF, MAIN_REF], writable: PR_REF, ref: PR_REF } : { readable: [MAIN_REF], writable: MAIN_REF, ref: MAIN_REF };
  const envOf = (event: Event) => cacheEnv(actionsCache, { ...scopes(event), runnerTemp, workspace: ws });

  async function run(event: Event, questions: string[], inputs: Record<string, string> = {}, provider?: OpenAIEmulator) {
    const openai = provider ?? (await startOpenAIEmulator({ instant: true, script: SCRIPT }));
    if (!provider) closers.push(openai);
    const providerBefore = openai.state.requests.length;
    const batchesBefore = openai.state.batches.size;
    // The checkout of the commit this run is for.
    mkdirSync(dirname(join(ws, CONFIG)), { recursive: true });
    writeFileSync(join(ws, CONFIG), suiteYaml(questions));
    rmSync(join(runnerTemp, 'batch-evals'), { recursive: true, force: true });
    const runner = runnerEnv(
      withDefaults({ config: CONFIG, 'openai-api-key': key, 'openai-base-url': openai.url, 'github-token': token, 'min-pass-rate': '50%', ...inputs }),
    );
    const isPr = event === 'pull_request';
    const ref = scopes(event).ref;
    const payload = isPr
      ? {
          action: 'synchronize',
          number: PR,
          pull_request: { number: PR, head: { sha: HEAD_SHA, ref: 'feature', repo: { full_name: REPO } }, base: { sha: MAIN_SHA, ref: 'main', repo: { full_name: REPO } } },
          repository,
        }
      : event === 'push'
        ? { ref, after: MAIN_SHA, repository }
        : { schedule: '*/30 * * * *', repository };
    writeFileSync(runner.env.GITHUB_EVENT_PATH, JSON.stringify(payload));
    const env: Record<string, string> = {
      ...runner.env,
      ...envOf(event),
      GITHUB_EVENT_NAME: event,
      GITHUB_REF: ref,
      GITHUB_SHA: isPr ? MERGE_SHA : MAIN_SHA,
      GITHUB_REPOSITORY: REPO,
      GITHUB_RUN_ID: RUN_ID,
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_API_URL: gh.url,
      GITHUB_WORKSPACE: ws,
      RUNNER_TEMP: runnerTemp,
    };
    const cacheBefore = actionsCache.state.requests.length;
    const entriesBefore = actionsCache.state.entries.length;
    const started = Date.now();
    const result = await runNode([ENTRY], { env, cwd: ws, timeoutMs: 30_000 });
    const elapsedMs = Date.now() - started;
    const outputs = runner.outputs();
    const batches = [...openai.state.batches.values()].slice(batchesBefore);
    return {
      ...result,
      elapsedMs,
      outputs,
      summary: runner.summary(),
      lines: result.stdout.split('\n'),
      errors: commands(result.stdout, 'error'),
      /** Warnings other than the annotations of failing cases. */
      warnings: commands(result.stdout, 'warning').filter((w) => !w.startsWith(FAILED_CASE)),
      /** The annotations of failing cases. */
      failedCases: commands(result.stdout, 'warning').filter((w) => w.startsWith(FAILED_CASE)),
      /** Every HTTP request this run made to the provider. */
      providerRequests: openai.state.requests.slice(providerBefore),
      batches,
      /** The requests sent in batches, by model. */
      sent: Object.fromEntries(MODELS.map((m) => [m, batches.flatMap((b) => b.requests).filter((q) => (q.body as { model?: string }).model === m).length])),
      /** The outputs entries this run looked up in the Actions cache (the key prefix asked for). */
      outputLookups: actionsCache.state.requests
        .slice(cacheBefore)
        .filter((q) => q.operation === 'GetCacheEntryDownloadURL' && String(q.body?.key).startsWith('batch-evals-outputs-'))
        .map((q) => q.body!.key),
      /** The outputs entries this run saved. */
      savedOutputs: actionsCache.state.entries.slice(entriesBefore).filter((e) => e.key.startsWith('batch-evals-outputs-')),
      results: (outputs['results-file'] ? JSON.parse(readFileSync(outputs['results-file'], 'utf8')) : undefined) as ResultsFile,
    };
  }

  const comment = () => {
    const ours = gh.state.commentsOn(REPO, PR).filter((c) => c.user.login === 'github-actions[bot]');
    expect(ours).toHaveLength(1);
    return ours[0].body;
  };
  const outputEntries = () => actionsCache.state.entries.filter((e) => e.key.startsWith('batch-evals-outputs-'));
  return { gh, actionsCache, ws, runnerTemp, run, comment, outputEntries, envOf };
}

interface ResultsFile {
  status: string;
  summary: { total: { passed: number; failed: number; batchCost: number; reused: number; reuseSaved: number }; providers: { label: string; cases: number; reused: number }[] };
  cases: { model: string; description: string; vars: Record<string, string>; requestId: string; status: string; output: string; cost?: { batch: number } }[];
}

/** The lines of stdout that are workflow commands of one kind, with the runner's escapes decoded. */
const commands = (stdout: string, kind: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith(`::${kind} `) || l.startsWith(`::${kind}::`))
    .map((l) => l.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%'));

const FAILED_CASE = '::warning title=batch-evals: failed case,';

/** What a reviewer compares: each case's verdict and answer, per model. */
const verdicts = (r: { results: ResultsFile }) => r.results.cases.map((c) => `${c.model} · ${c.description} · ${c.status} · ${c.output}`).sort();
const counts = (r: { outputs: Record<string, string> }) => ({ passed: r.outputs.passed, failed: r.outputs.failed, 'pass-rate': r.outputs['pass-rate'], status: r.outputs.status });
const ALL_SENT = { 'gpt-4.1-mini': N, 'gpt-4.1-nano': N };
/** Batch prices of one request of each model with USAGE: 1000 × $0.20/M + 250 × $0.80/M, and a quarter of that. */
const PER_CASE = { 'gpt-4.1-mini': 0.0004, 'gpt-4.1-nano': 0.0001 };

describe('reusing earlier outputs through the Actions cache, end to end', { timeout: 120_000 }, () => {
  it('main saves its outputs; the PR reads them from its base branch, sends only what changed, and a re-run sends nothing', async () => {
    const s = await setup();

    // 1. A push to main: everything is sent (nothing kept yet), and the outputs are kept in main's cache scope.
    const main = await s.run('push', QUESTIONS);
    expect(main.errors).toEqual([]);
    expect(main.warnings).toEqual([]);
    expect(main.code).toBe(0);
    expect(main.sent).toEqual(ALL_SENT);
    expect(main.outputLookups).toEqual([OUTPUTS_PREFIX('main')]);
    expect(main.savedOutputs).toHaveLength(1);
    const [mainEntry] = main.savedOutputs;
    expect(mainEntry.key).toMatch(new RegExp(`^${OUTPUTS_PREFIX('main')}${RUN_ID}-1-\\d+$`));
    expect(mainEntry).toMatchObject({ scope: MAIN_REF, finalizedAt: expect.any(Number) });
    expect(main.lines).toContain(`saved ${2 * N} outputs for reuse on main as ${mainEntry.key}`);
    expect(counts(main)).toEqual({ passed: String(2 * N - 2), failed: '2', 'pass-rate': '0.8333', status: 'completed' });
    expect(main.results.summary.total.reused).toBe(0);
    expect(Number(main.outputs.cost)).toBeCloseTo(N * (PER_CASE['gpt-4.1-mini'] + PER_CASE['gpt-4.1-nano']), 9);

    // 2. The pull request rewords one test. Its own scope has nothing yet; main's outputs answer all the rest.
    const pr = await s.run('pull_request', CHANGED);
    expect(pr.errors).toEqual([]);
    expect(pr.warnings).toEqual([]);
    expect(pr.code).toBe(0);
    expect(pr.outputLookups).toEqual([OUTPUTS_PREFIX(`pull-${PR}`), OUTPUTS_PREFIX('main')]);
    expect(pr.lines).toContain(`earlier outputs: ${2 * N} from ${mainEntry.key}`);
    expect(pr.lines).toContain(`Reuse suite: ${2 * N} cases, ${2 * N} distinct requests (${2 * N - 2} answered from earlier outputs, 2 to send) in 2 batches`);
    // One request per model went to the provider: the reworded question's.
    expect(pr.sent).toEqual({ 'gpt-4.1-mini': 1, 'gpt-4.1-nano': 1 });
    expect(pr.batches.flatMap((b) => b.requests).every((q) => JSON.stringify(q.body).includes('Question 5, reworded?'))).toBe(true);
    const reworded = pr.results.cases.filter((c) => c.vars.question === 'Question 5, reworded?');
    expect(reworded.map((c) => c.output)).toEqual(['Yes, reworded.', 'Yes, reworded.']);

    // The comment: per model, what was reused and sent, and what that saved at batch prices.
    const saved = (N - 1) * (PER_CASE['gpt-4.1-mini'] + PER_CASE['gpt-4.1-nano']);
    expect(pr.results.summary.total.reuseSaved).toBeCloseTo(saved, 9);
    const body = s.comment();
    expect(body.startsWith(`${MARKER}\n## ✅ batch-evals: Reuse suite\n`)).toBe(true);
    expect(body).toContain(
      `♻️ **Reused earlier outputs** (the same requests, answered before): openai:gpt-4.1-mini ${N - 1} of ${N} cases (1 sent) · openai:gpt-4.1-nano ${N - 1} of ${N} cases (1 sent). Saved $${saved.toFixed(4)} at batch prices.`,
    );
    expect(pr.summary).toContain('♻️ **Reused earlier outputs**');
    // Only what was sent is charged.
    expect(Number(pr.outputs.cost)).toBeCloseTo(PER_CASE['gpt-4.1-mini'] + PER_CASE['gpt-4.1-nano'], 9);
    // The PR keeps what it used in its own scope, for its next run; main's entry is left as it was.
    expect(pr.savedOutputs).toHaveLength(1);
    const [prEntry] = pr.savedOutputs;
    expect(prEntry).toMatchObject({ scope: PR_REF, key: expect.stringMatching(new RegExp(`^${OUTPUTS_PREFIX(`pull-${PR}`)}${RUN_ID}-1-\\d+$`)) });
    expect(pr.lines).toContain(`saved ${2 * N} outputs for reuse on pull-${PR} as ${prEntry.key}`);

    // The verdicts are those of a fresh run of the same commit: every request sent, nothing kept or read.
    const fresh = await s.run('pull_request', CHANGED, { reuse: 'false' });
    expect(fresh.errors).toEqual([]);
    expect(fresh.code).toBe(0);
    expect(fresh.sent).toEqual(ALL_SENT);
    expect(verdicts(pr)).toEqual(verdicts(fresh));
    expect(counts(pr)).toEqual(counts(fresh));
    expect(pr.failedCases).toEqual(fresh.failedCases);
    expect(pr.failedCases).toHaveLength(2);
    expect(counts(pr)).toEqual({ passed: String(2 * N - 2), failed: '2', 'pass-rate': '0.8333', status: 'completed' });
    expect(pr.results.cases.map((c) => c.requestId).sort()).toEqual(fresh.results.cases.map((c) => c.requestId).sort());
    expect(pr.results.summary.total.reuseSaved).toBeCloseTo(fresh.results.summary.total.batchCost - pr.results.summary.total.batchCost, 9);
    // 4. reuse: false neither read nor saved outputs.
    expect(fresh.outputLookups).toEqual([]);
    expect(fresh.savedOutputs).toEqual([]);
    expect(fresh.stdout).not.toContain('earlier outputs');
    expect(fresh.results.summary.total.reused).toBe(0);
    expect(s.comment()).not.toContain('Reused earlier outputs');

    // 3. Nothing changed since: the PR's own entry answers every request. No batch, no request to the provider.
    // Its provider takes over a second per batch, so a run that submitted anything would wait for the action's
    // second poll, 5 s after the first.
    const slowProvider = await startOpenAIEmulator({ script: SCRIPT });
    closers.push(slowProvider);
    const again = await s.run('pull_request', CHANGED, {}, slowProvider);
    expect(again.errors).toEqual([]);
    expect(again.warnings).toEqual([]);
    expect(again.code).toBe(0);
    expect(again.providerRequests).toEqual([]);
    expect(again.batches).toEqual([]);
    expect(again.outputs['batch-ids']).toBe('');
    expect(again.lines).toContain(`earlier outputs: ${2 * N} from ${prEntry.key}`);
    expect(again.lines).toContain(`Reuse suite: ${2 * N} cases, ${2 * N} distinct requests (${2 * N} answered from earlier outputs, 0 to send) in 0 batches`);
    expect(again.elapsedMs).toBeLessThan(5_000);
    expect(counts(again)).toEqual(counts(fresh));
    expect(verdicts(again)).toEqual(verdicts(fresh));
    expect(Number(again.outputs.cost)).toBe(0);
    const all = N * (PER_CASE['gpt-4.1-mini'] + PER_CASE['gpt-4.1-nano']);
    expect(s.comment()).toContain(
      `♻️ **Reused earlier outputs** (the same requests, answered before): openai:gpt-4.1-mini ${N} of ${N} cases (0 sent) · openai:gpt-4.1-nano ${N} of ${N} cases (0 sent). Saved $${all.toFixed(4)} at batch prices.`,
    );

    // The next push on main reads main's own entry only, and sends nothing.
    const mainAgain = await s.run('push', QUESTIONS);
    expect(mainAgain.code).toBe(0);
    expect(mainAgain.outputLookups).toEqual([OUTPUTS_PREFIX('main')]);
    expect(mainAgain.providerRequests).toEqual([]);
    expect(mainAgain.lines).toContain(`earlier outputs: ${2 * N} from ${mainEntry.key}`);
    expect(s.outputEntries().map((e) => e.scope)).toEqual([MAIN_REF, PR_REF, PR_REF, MAIN_REF]);
  });

  it('a damaged outputs entry is not used: a warning, and every request sent; the next run saves a good one', async () => {
    const s = await setup();
    const main = await s.run('push', QUESTIONS);
    expect(main.code).toBe(0);
    expect(main.savedOutputs).toHaveLength(1);

    // Something else saved garbage under main's key prefix, newer than main's good entry, with the same file path
    // (so the same cache version) the action uses.
    const file = join(s.runnerTemp, 'batch-evals', 'outputs', `${SUITE_ID}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '{"version":1,"outputs":{"half a docu');
    const garbageKey = `${OUTPUTS_PREFIX('main')}garbage`;
    const saved = await withEnv(s.envOf('push'), () => cache.saveCache([file], garbageKey));
    expect(saved.warnings).toEqual([]);
    expect(saved.result).toBeGreaterThan(0);
    rmSync(file);

    const pr = await s.run('pull_request', CHANGED);
    expect(pr.errors).toEqual([]);
    expect(pr.code).toBe(0);
    expect(pr.warnings).toHaveLength(1);
    expect(pr.warnings[0]).toMatch(new RegExp(`^::warning::earlier outputs in ${garbageKey} were not used: not JSON \\(.+\\)$`));
    expect(pr.sent).toEqual(ALL_SENT);
    expect(pr.results.summary.total.reused).toBe(0);
    expect(s.comment()).not.toContain('Reused earlier outputs');
    expect(counts(pr)).toEqual({ passed: String(2 * N - 2), failed: '2', 'pass-rate': '0.8333', status: 'completed' });
    // What it sent it keeps in its own scope.
    expect(pr.savedOutputs).toMatchObject([{ scope: PR_REF }]);

    // An archive that does not extract: @actions/cache says so and misses; every request is sent.
    s.actionsCache.faults.corruptArchive = 1;
    const push = await s.run('push', QUESTIONS);
    expect(push.errors).toEqual([]);
    expect(push.code).toBe(0);
    expect(push.warnings).toHaveLength(1);
    expect(push.warnings[0]).toMatch(/^::warning::Failed to restore: /);
    expect(push.sent).toEqual(ALL_SENT);
    expect(push.savedOutputs).toMatchObject([{ scope: MAIN_REF }]);

    // Main's newest entry is a good one again: the next push sends nothing.
    const after = await s.run('push', QUESTIONS);
    expect(after.errors).toEqual([]);
    expect(after.warnings).toEqual([]);
    expect(after.providerRequests).toEqual([]);
    expect(after.lines).toContain(`earlier outputs: ${2 * N} from ${push.savedOutputs[0].key}`);
  });

  it.each(['re-run', 'resume'] as const)('a submit that reused earlier outputs is finished with the reused answers by a %s', async (finish) => {
    const s = await setup();
    const main = await s.run('push', QUESTIONS);
    expect(main.code).toBe(0);
    const fresh = await s.run('pull_request', CHANGED, { reuse: 'false' });
    expect(fresh.sent).toEqual(ALL_SENT);
    // A provider whose batches take a minute, on a clock the test moves: a submit leaves its batches running.
    let now = Date.now();
    const provider = await startOpenAIEmulator({ clock: () => now, validatingMs: 0, inProgressMs: 60_000, finalizingMs: 0, script: SCRIPT });
    closers.push(provider);

    const submit = await s.run('pull_request', CHANGED, { mode: 'submit' }, provider);
    expect(submit.errors).toEqual([]);
    expect(submit.code).toBe(0);
    expect(submit.outputs.status).toBe('pending');
    // Main's outputs answered all but the reworded test: one request per model is submitted.
    expect(submit.sent).toEqual({ 'gpt-4.1-mini': 1, 'gpt-4.1-nano': 1 });
    expect(submit.lines).toContain(`earlier outputs: ${2 * N} from ${main.savedOutputs[0].key}`);
    // Nothing is kept while the run is pending.
    expect(submit.savedOutputs).toEqual([]);

    now += 120_000;
    // The same commit run again (the attach path of mode run), or the scheduled resume job on main, which finds
    // the pending run in the PR comment's marker and reads main's outputs (it cannot read the PR's scope).
    const done = finish === 're-run' ? await s.run('pull_request', CHANGED, { 'max-wait': '1m' }, provider) : await s.run('schedule', QUESTIONS, { mode: 'resume' }, provider);
    expect(done.errors).toEqual([]);
    expect(done.code).toBe(0);
    expect(done.outputs.status).toBe('completed');
    // Nothing new is submitted: the two batches of the submit are collected, the rest answered from main's outputs.
    expect(done.batches).toEqual([]);
    expect(done.providerRequests.filter((q) => q.method === 'POST')).toEqual([]);
    expect(done.lines).toContain(`earlier outputs: ${2 * N} from ${main.savedOutputs[0].key}`);
    expect(done.results.cases.filter((c) => c.status === 'errored')).toEqual([]);
    expect(verdicts(done)).toEqual(verdicts(fresh));
    expect(counts(done)).toEqual(counts(fresh));
    expect(done.failedCases).toEqual(fresh.failedCases);
    expect(s.comment()).toContain(
      `♻️ **Reused earlier outputs** (the same requests, answered before): openai:gpt-4.1-mini ${N - 1} of ${N} cases (1 sent) · openai:gpt-4.1-nano ${N - 1} of ${N} cases (1 sent).`,
    );
    // A re-run on the PR keeps what it used in the PR's scope; the resume job on main keeps it under the PR's key
    // in main's scope, which the PR's next runs read as their base branch's.
    expect(done.savedOutputs.map((e) => e.scope)).toEqual(finish === 're-run' ? [PR_REF] : [MAIN_REF]);
    expect(done.savedOutputs[0].key).toMatch(/^batch-evals-outputs-[0-9a-f]{12}-pull-\d+-/);
  });
});
