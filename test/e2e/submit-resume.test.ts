/**
 * Runs that outlive their job, end to end: `mode: submit`, `mode: resume`, re-runs and new pushes, each step a
 * separate `node src/index.ts` child process with the runner's environment, against the OpenAI Batch API, GitHub REST
 * and Actions cache emulators over real HTTP (all started in this process). The OpenAI emulator's clock is frozen
 * and moved by the tests, so a batch stays in_progress exactly until a test says it has ended.
 */
import * as cache from '@actions/cache';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { StateStore } from '../../src/state/state-store.ts';
import { decodeState, encodeState, type RunState } from '../../src/state/run-state.ts';
import { cacheEnv, startCacheEmulator, withEnv, type CacheEmulator } from '../cache/cache-emulator.ts';
import { startOpenAIEmulator, type OpenAIEmulator, type ScriptRule } from '../emulator/openai-emulator.ts';
import { startGitHubEmulator, type CommentSeed } from '../github/github-emulator.ts';
import { runnerEnv } from '../helpers/action-env.ts';
import { runNode, tempTree } from '../helpers/node-process.ts';
import { CONFIG, ENTRY, HEAD_SHA, MAIN_REF, MAIN_SHA, MERGE_SHA, MINI, PR, PR_REF, REPO, ROOT, SUITE_ID } from '../helpers/pull-request-run.ts';


/** Two pushes to the PR after its head (HEAD_SHA) was submitted. */
const NEW_SHA = 'c'.repeat(40);
const NEWER_SHA = 'e'.repeat(40);
const RUN_ID = '555000111';
const RUN_URL = `https://github.com/${REPO}/actions/runs/${RUN_ID}`;
const BOT = 'github-actions[bot]';
const NANO = 'openai:gpt-4.1-nano';
/** How long the emulator keeps a batch in_progress, in emulator time (the clock only moves when a test moves it). */
const IN_PROGRESS_MS = 60 * 60_000;

// ---- the suite, at the PR's commits and on main ---------------------------------------------------------------------

const TESTS = `tests:
  - description: capital
    vars: { question: What is the capital of France? }
    assert:
      - type: icontains
        value: paris
  - description: arithmetic
    vars: { question: "What is 2+2?" }
    assert:
      - type: equals
        value: "4"
  - description: sky colour
    vars: { question: What is the colour of the sky? }
    assert:
      - type: icontains
        value: blue
`;
/** The PR's version: its prompt in a file of its own, so the resume fetches two files at the PR's commit. */
const PR_FILES = {
  [CONFIG]: `description: PR suite
prompts:
  - file://prompts/answer.txt
providers:
  - ${MINI}
${TESTS}`,
  'evals/prompts/answer.txt': 'Answer briefly. {{ question }}',
};
/** main's version: another description, prompt and model. A resume that used it would plan another batch. */
const MAIN_FILES = {
  [CONFIG]: `description: Main suite
prompts:
  - "Reply in one word. {{ question }}"
providers:
  - ${NANO}
${TESTS}`,
};

const USAGE = { promptTokens: 1000, completionTokens: 500 };
const ALL_PASS: ScriptRule[] = [
  { match: 'capital of France', reply: 'Paris.', usage: USAGE },
  { match: '2\\+2', reply: '4', usage: USAGE },
  { match: 'colour of the sky', reply: 'Blue.', usage: USAGE },
];
/** The sky case fails: 66.7%. */
const SKY_WRONG: ScriptRule[] = [ALL_PASS[0], ALL_PASS[1], { match: 'colour of the sky', reply: 'Green, obviously.', usage: USAGE }];

// ---- the world: one repository, its runners, the providers -------------------------------------------------------------

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((e) => e.close()));
});

/** GitHub sets INPUT_<NAME> for every input of action.yml that has a default. */
function withDefaults(inputs: Record<string, string>): Record<string, string> {
  const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) if (spec.default !== undefined) out[name] = String(spec.default);
  return { ...out, ...inputs };
}

/** A pull_request run on PR #7 whose head is `sha`, or a scheduled run on main. */
type Event = { kind: 'pull_request'; sha?: string } | { kind: 'schedule' };

const REPOSITORY = { full_name: REPO, name: 'prompts', owner: { login: 'acme' }, default_branch: 'main' };

/**
 * acme/prompts (default branch main) with PR #7 from `feature`; the PR's files at its head commits for the contents
 * API; a GitHub token of github-actions[bot]; an Actions cache; an OpenAI emulator whose clock only moves when
 * `advance` is called. RUNNER_TEMP is the same path for every run, as on GitHub, and emptied before each, as a new
 * job's is.
 */
async function setup(options: { script?: ScriptRule[]; comments?: CommentSeed[]; cancellingMs?: number } = {}) {
  let now = Date.now();
  const openai = await startOpenAIEmulator({
    clock: () => now,
    validatingMs: 0,
    inProgressMs: IN_PROGRESS_MS,
    finalizingMs: 0,
    cancellingMs: options.cancellingMs ?? 0,
    script: options.script ?? ALL_PASS,
  });
  closers.push(openai);
  const token = `ghs_${randomBytes(18).toString('hex')}`;
  const gh = await startGitHubEmulator({
    tokens: { [token]: { login: BOT, kind: 'installation', permissions: { 'pull-requests': 'write', statuses: 'write', contents: 'read' }, repositories: [REPO] } },
    repos: [
      {
        owner: 'acme',
        repo: 'prompts',
        branches: { main: MAIN_SHA },
        commits: { [HEAD_SHA]: PR_FILES, [NEW_SHA]: PR_FILES, [NEWER_SHA]: PR_FILES, [MERGE_SHA]: PR_FILES, [MAIN_SHA]: MAIN_FILES },
        pulls: [{ number: PR, headSha: HEAD_SHA, headRef: 'feature', user: 'contributor' }],
        comments: options.comments,
      },
    ],
  });
  closers.push(gh);
  const actionsCache = await startCacheEmulator();
  closers.push(actionsCache);
  /** Checkouts: the PR's merge commit, and main (where the PR's version of the config is not). */
  const prWorkspace = tempTree(PR_FILES, 'be-sr-pr-');
  const mainWorkspace = tempTree(MAIN_FILES, 'be-sr-main-');
  const runnerTemp = mkdtempSync(join(tmpdir(), 'be-sr-temp-'));
  const key = `sk-e2e-${randomBytes(12).toString('hex')}`;

  /** The cache scopes GitHub gives each kind of run: a PR reads its own and its base's, main reads main's. */
  const scopes = (event: Event) =>
    event.kind === 'pull_request'
      ? { readable: [PR_REF, MAIN_REF], writable: PR_REF, ref: PR_REF, workspace: prWorkspace }
      : { readable: [MAIN_REF], writable: MAIN_REF, ref: MAIN_REF, workspace: mainWorkspace };

  /** One job step; `during` runs while the child process runs (e.g. to end a batch after its first poll). */
  async function run(event: Event, inputs: Record<string, string>, during?: () => Promise<void>) {
    const runner = runnerEnv(withDefaults({ config: CONFIG, 'openai-api-key': key, 'openai-base-url': openai.url, 'github-token': token, ...inputs }));
    const isPr = event.kind === 'pull_request';
    const headSha = isPr ? (event.sha ?? HEAD_SHA) : MAIN_SHA;
    const payload = isPr
      ? {
          action: 'synchronize',
          number: PR,
          pull_request: { number: PR, head: { sha: headSha, ref: 'feature', repo: { full_name: REPO } }, base: { sha: MAIN_SHA, ref: 'main', repo: { full_name: REPO } } },
          repository: REPOSITORY,
        }
      : { schedule: '*/30 * * * *', repository: REPOSITORY };
    writeFileSync(runner.env.GITHUB_EVENT_PATH, JSON.stringify(payload));
    // A pull_request run follows a push to the PR: its head is now `headSha`.
    if (isPr) gh.state.repos.get(REPO)!.pulls.get(PR)!.headSha = headSha;
    const scope = scopes(event);
    // A new job: nothing left in RUNNER_TEMP by the one before.
    rmSync(join(runnerTemp, 'batch-evals'), { recursive: true, force: true });
    const env: Record<string, string> = {
      ...runner.env,
      ...cacheEnv(actionsCache, { ...scope, runnerTemp }),
      GITHUB_EVENT_NAME: event.kind,
      GITHUB_REF: scope.ref,
      GITHUB_SHA: isPr ? MERGE_SHA : MAIN_SHA,
      GITHUB_REPOSITORY: REPO,
      GITHUB_RUN_ID: RUN_ID,
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_API_URL: gh.url,
      GITHUB_WORKSPACE: scope.workspace,
      RUNNER_TEMP: runnerTemp,
    };
    const ghBefore = gh.state.requests.length;
    const openaiBefore = openai.state.requests.length;
    const cacheBefore = actionsCache.state.requests.length;
    const child = runNode([ENTRY], { env, cwd: scope.workspace, timeoutMs: 30_000 });
    if (during) await during();
    const result = await child;
    return {
      ...result,
      env,
      outputs: runner.outputs(),
      summary: runner.summary(),
      lines: result.stdout.split('\n'),
      errors: commands(result.stdout, 'error'),
      warnings: commands(result.stdout, 'warning'),
      github: gh.state.requests.slice(ghBefore),
      providerRequests: openai.state.requests.slice(openaiBefore),
      cacheRequests: actionsCache.state.requests.slice(cacheBefore),
    };
  }

  const comments = () => gh.state.commentsOn(REPO, PR);
  const ours = () => comments().filter((c) => c.user.login === BOT);
  return {
    openai,
    gh,
    actionsCache,
    token,
    runnerTemp,
    prWorkspace,
    mainWorkspace,
    scopes,
    run,
    comments,
    ours,
    /** Moves the providers' clock. */
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

/** The lines of stdout that are workflow commands of one kind, with the runner's escapes decoded. */
const commands = (stdout: string, kind: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith(`::${kind} `) || l.startsWith(`::${kind}::`))
    .map((l) => l.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%'));

/** The first line of a comment: the marker, and the run state it carries (decoded with decodeState) if any. */
function marker(body: string): { line: string; suiteId?: string; state?: RunState; stateText?: string } {
  const line = body.split('\n')[0];
  const m = /^<!-- batch-evals suite=([\w-]+)(?: state=([\w-]+))? -->$/.exec(line);
  return { line, suiteId: m?.[1], stateText: m?.[2], state: m?.[2] ? decodeState(m[2]) : undefined };
}

type RunResult = Awaited<ReturnType<Awaited<ReturnType<typeof setup>>['run']>>;
const writes = (r: RunResult) => r.github.filter((q) => q.method !== 'GET').map((q) => `${q.method} ${q.path} ${q.status}`);
const providerCalls = (r: RunResult) => r.providerRequests.map((q) => `${q.method} ${q.path} ${q.status}`);
const contentReads = (r: RunResult) => r.github.filter((q) => q.path.includes('/contents/')).map((q) => `${q.path}?${q.query} ${q.status}`);
/** Downloads of a batch's output file. */
const downloads = (openai: OpenAIEmulator, fileId: string) => openai.state.requests.filter((q) => q.method === 'GET' && q.path === `/v1/files/${fileId}/content`).length;
const stateEntries = (c: CacheEmulator) => c.state.entries.filter((e) => e.key.startsWith('batch-evals-state-'));
const statusPath = (sha: string) => `/repos/${REPO}/statuses/${sha}`;

/** Resolves once `condition` holds, checking every 20 ms. */
async function until(condition: () => boolean, what: string, timeoutMs = 20_000) {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The state a PR run leaves while its one batch (gpt-4.1-mini, 3 requests) runs. */
const SUBMITTED_STATE = (batchId: string, sha = HEAD_SHA) => ({
  version: 1,
  suiteId: SUITE_ID,
  suite: 'PR suite',
  configPath: CONFIG,
  sha,
  repo: REPO,
  pr: PR,
  phase: 'submitted',
  submittedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
  updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
  batches: [{ provider: 'openai', batchId, requestCount: 3, submittedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/), key: 'openai||gpt-4.1-mini', model: 'gpt-4.1-mini' }],
});

const quiet = { info: () => {}, debug: () => {}, warning: (m: string) => console.warn(m) };

describe('submit and resume, end to end', { timeout: 90_000 }, () => {
  it('submit on a PR leaves a pending comment carrying the state; a scheduled resume on main finishes that comment from the PR commit', async () => {
    const s = await setup({ script: SKY_WRONG });

    // ---- mode: submit on the pull request: send, save, end the job ----
    const submit = await s.run({ kind: 'pull_request' }, { mode: 'submit' });
    expect(submit.errors).toEqual([]);
    expect(submit.warnings).toEqual([]);
    expect(submit.code).toBe(0);
    const [batch, ...moreBatches] = s.openai.state.batches.values();
    expect(moreBatches).toEqual([]);
    expect(s.openai.state.batchObject(batch.id).status).toBe('in_progress');
    expect(batch.metadata).toMatchObject({ tool: 'batch-evals', suite: 'PR suite', repo: REPO, pr: String(PR), sha: HEAD_SHA, config: CONFIG, suite_id: SUITE_ID });
    expect(submit.outputs).toMatchObject({ status: 'pending', 'pass-rate': '', passed: '0', failed: '0', errored: '0', cost: '0.000000', 'batch-ids': batch.id, regressions: '' });
    expect(submit.lines).toContain(`openai:gpt-4.1-mini: submitted 3 requests as ${batch.id}`);
    expect(submit.lines).toContain('openai:gpt-4.1-mini: in_progress, 0/3 done (0 failed), 0s elapsed');

    // The comment: pending, with the batch ids, and the state in its first line.
    const [pending, ...moreComments] = s.comments();
    expect(moreComments).toEqual([]);
    expect(pending.user.login).toBe(BOT);
    expect(submit.lines).toContain(`created the comment on #${PR}: https://github.com/${REPO}/pull/${PR}#issuecomment-${pending.id}`);
    const m = marker(pending.body);
    expect(m.line).toBe(`<!-- batch-evals suite=${SUITE_ID} state=${m.stateText} -->`);
    expect(m.suiteId).toBe(SUITE_ID);
    expect(m.state).toEqual(SUBMITTED_STATE(batch.id));
    expect(m.state!.batches[0].submittedAt).toBe(new Date(Math.floor(s.now() / 1000) * 1000).toISOString());
    expect(pending.body.split('\n').slice(1, 4)).toEqual(['## ⏳ batch-evals: PR suite', '', '**3 cases pending** in running batches · batch cost $0.00 · saved $0.00 against real time']);
    expect(pending.body).toContain(`⏳ **Waiting for the providers**: 1 batch submitted at ${m.state!.submittedAt} (ids below).`);
    expect(pending.body).toContain('the resume job updates this comment when they end.');
    expect(pending.body).toContain(`openai:gpt-4.1-mini: \`${batch.id}\` in\\_progress`);
    expect(pending.body).toContain(`<sub>Commit \`bbbbbbbbbbbb\` · [workflow run](${RUN_URL})`);
    // The commit status says pending on the PR head.
    expect(writes(submit)).toEqual([`POST /repos/${REPO}/issues/${PR}/comments 201`, `POST ${statusPath(HEAD_SHA)} 201`]);
    expect(s.gh.state.statusesFor(REPO, HEAD_SHA)).toMatchObject([{ state: 'pending', context: 'batch-evals / PR suite', description: 'no case scored yet, 3 pending', targetUrl: RUN_URL }]);
    // The state is in the PR's cache scope too.
    const [entry, ...moreEntries] = stateEntries(s.actionsCache);
    expect(moreEntries).toEqual([]);
    expect(entry.key).toMatch(new RegExp(`^batch-evals-state-${SUITE_ID}-pull-${PR}-${RUN_ID}-1-\\d+$`));
    expect(entry).toMatchObject({ scope: PR_REF, finalizedAt: expect.any(Number) });
    expect(submit.lines).toContain(`saved the run state (submitted) of PR suite as ${entry.key}`);

    // ---- an hour later the batch has ended; the scheduled resume runs on main ----
    s.advance(IN_PROGRESS_MS);
    const resume = await s.run({ kind: 'schedule' }, { mode: 'resume', 'max-wait': '2m' });

    // It could not read the PR's cache (its token reads main only), and found the run through the comment. It reads
    // main's earlier outputs, the PR's base branch's, for what the submit answered from them (none were kept here).
    const cacheReads = resume.cacheRequests.filter((q) => q.operation === 'GetCacheEntryDownloadURL');
    expect(cacheReads.map((q) => [q.body?.key, q.scopes])).toEqual([
      [`batch-evals-state-${SUITE_ID}-main-`, [{ Scope: MAIN_REF, Permission: 3 }]],
      [`batch-evals-outputs-${SUITE_ID}-main-`, [{ Scope: MAIN_REF, Permission: 3 }]],
      [`batch-evals-baseline-${SUITE_ID}-main-`, [{ Scope: MAIN_REF, Permission: 3 }]],
    ]);
    expect(resume.lines).toContain(`::group::resume: PR suite at bbbbbbbbbbbb (#${PR})`);
    // The config at the PR's commit, through the contents API: the checkout is main's.
    expect(contentReads(resume)).toEqual([
      `/repos/${REPO}/contents/evals%2Fsuite.yaml?ref=${HEAD_SHA} 200`,
      `/repos/${REPO}/contents/evals%2Fprompts%2Fanswer.txt?ref=${HEAD_SHA} 200`,
    ]);
    expect(resume.lines).toContain('read evals/suite.yaml at bbbbbbbbbbbb: 2 files fetched');
    expect(resume.lines).toContain(`openai:gpt-4.1-mini: already submitted as ${batch.id} at ${m.state!.batches[0].submittedAt}; collecting it, not submitting again`);
    expect(resume.lines).toContain('openai:gpt-4.1-mini: completed, collected 3 of 3 results');
    // Nothing sent again: one batch, one upload; the output file read once.
    expect(s.openai.state.batches.size).toBe(1);
    expect(providerCalls(resume).filter((c) => c.startsWith('POST'))).toEqual([]);
    expect(downloads(s.openai, batch.outputFileId!)).toBe(1);

    // The step fails as the PR's own job would have: 66.7% is below the suite's 100%.
    expect(resume.code).toBe(1);
    expect(resume.errors).toEqual(['::error::pass rate 66.7% is below the required 100.0%']);
    expect(resume.warnings).toEqual([
      `::warning title=batch-evals: failed case,file=${CONFIG},line=17,col=5::${MINI}: sky colour: Expected output to contain "blue"`,
    ]);
    expect(resume.outputs).toMatchObject({ status: 'failed', 'pass-rate': '0.6667', passed: '2', failed: '1', errored: '0', cost: '0.001800', 'batch-ids': batch.id });

    // The same comment is now the final report, its marker without state.
    expect(s.comments().map((c) => c.id)).toEqual([pending.id]);
    const final = s.gh.state.comments.get(pending.id)!;
    expect(marker(final.body)).toEqual({ line: `<!-- batch-evals suite=${SUITE_ID} -->`, suiteId: SUITE_ID, stateText: undefined, state: undefined });
    expect(final.body.split('\n').slice(1, 4)).toEqual([
      '## ❌ batch-evals: PR suite',
      '',
      '**66.7% passed** (2 of 3 cases) · batch cost $0.0018 · saved $0.0018 against real time · below the required 100%',
    ]);
    expect(final.body).not.toContain('Waiting for the providers');
    expect(final.body).toContain(`| ${MINI} | 3 | 2 | 1 | 0 | 66.7% | $0.0018 | $0.0036 | $0.0018 |`);
    expect(final.body).toContain(`**❌ failed** · ${MINI} · prompt answer.txt · sky colour`);
    expect(final.body).toContain('```text\nGreen, obviously.\n```');
    expect(final.body).toMatch(new RegExp(`openai:gpt-4\\.1-mini: \`${batch.id}\` completed in `));
    expect(final.body).toContain(`<sub>Commit \`bbbbbbbbbbbb\` · [workflow run](${RUN_URL}) · reproduce locally with \`npx batch-evals run evals/suite.yaml\`</sub>`);
    expect(resume.lines).toContain(`updated the comment on #${PR}: https://github.com/${REPO}/pull/${PR}#issuecomment-${pending.id}`);
    expect(resume.summary.startsWith('## ❌ batch-evals: PR suite\n')).toBe(true);

    // The status goes on the PR's head, not on main.
    expect(writes(resume)).toEqual([`PATCH /repos/${REPO}/issues/comments/${pending.id} 200`, `POST ${statusPath(HEAD_SHA)} 201`]);
    expect(s.gh.state.statusesFor(REPO, HEAD_SHA).map((st) => [st.state, st.description])).toEqual([
      ['failure', '66.7% passed (2/3)'],
      ['pending', 'no case scored yet, 3 pending'],
    ]);
    expect(s.gh.state.statusesFor(REPO, MAIN_SHA)).toEqual([]);

    // A second resume finds nothing: the comment has no state left, the batch is not running.
    const again = await s.run({ kind: 'schedule' }, { mode: 'resume', 'max-wait': '2m' });
    expect(again.code).toBe(0);
    expect(again.errors).toEqual([]);
    expect(again.lines).toContain('resume: no pending runs found (in the cache of this ref, in comments on open pull requests, or among the provider batches still running)');
    expect(writes(again)).toEqual([]);
    expect(downloads(s.openai, batch.outputFileId!)).toBe(1);
  });

  it('cache scopes with the real @actions/cache: a PR reads its own and its base branch entries, main cannot read the PR state', async () => {
    const s = await setup();
    const submit = await s.run({ kind: 'pull_request' }, { mode: 'submit' });
    expect(submit.code).toBe(0);
    const [batch] = s.openai.state.batches.values();
    const [prEntry] = stateEntries(s.actionsCache);
    expect(prEntry.scope).toBe(PR_REF);

    const env = (readable: string[], writable: string | undefined, workspace: string) => cacheEnv(s.actionsCache, { readable, writable, runnerTemp: s.runnerTemp, workspace });
    const mainEnv = env([MAIN_REF], MAIN_REF, s.mainWorkspace);
    const prEnv = env([PR_REF, MAIN_REF], PR_REF, s.prWorkspace);
    const otherPrEnv = env(['refs/pull/8/merge', MAIN_REF], 'refs/pull/8/merge', s.prWorkspace);
    /** A restore in a fresh job: nothing left in RUNNER_TEMP. */
    const restore = async (scope: Record<string, string>, ref: string) => {
      rmSync(join(s.runnerTemp, 'batch-evals'), { recursive: true, force: true });
      const r = await withEnv(scope, () => new StateStore(quiet, s.runnerTemp).restore(SUITE_ID, ref));
      expect(r.warnings).toEqual([]);
      return r.result;
    };

    // The run state the PR's submit saved, as the PR's own re-run restores it: the same as the comment's.
    expect(await withEnv(prEnv, async () => cache.isFeatureAvailable())).toMatchObject({ result: true });
    const fromPr = await restore(prEnv, `pull-${PR}`);
    expect(fromPr).toEqual(SUBMITTED_STATE(batch.id));
    expect(fromPr).toEqual(marker(s.comments()[0].body).state);

    // Main's token has main's scope only: the entry is there, and invisible to it.
    const lookupsBefore = s.actionsCache.state.requests.length;
    expect(await restore(mainEnv, `pull-${PR}`)).toBeUndefined();
    const lookup = s.actionsCache.state.requests.slice(lookupsBefore).find((q) => q.operation === 'GetCacheEntryDownloadURL')!;
    expect(lookup).toMatchObject({ status: 200, body: { key: `batch-evals-state-${SUITE_ID}-pull-${PR}-` }, scopes: [{ Scope: MAIN_REF, Permission: 3 }] });
    expect(s.actionsCache.visibleEntries([{ Scope: MAIN_REF, Permission: 3 }])).toEqual([]);
    // Nor can another pull request read it.
    expect(await restore(otherPrEnv, `pull-${PR}`)).toBeUndefined();

    // What main saves, its pull requests read (their base branch), after their own scope.
    const nightly: RunState = { ...SUBMITTED_STATE('batch_nightly'), sha: MAIN_SHA, pr: undefined, suite: 'Main suite', submittedAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-01T00:00:00.000Z', batches: [] } as RunState;
    const saved = await withEnv(mainEnv, () => new StateStore(quiet, s.runnerTemp).save(nightly, 'main'));
    expect(saved.result).toBe(true);
    expect(stateEntries(s.actionsCache).map((e) => e.scope)).toEqual([PR_REF, MAIN_REF]);
    expect(await restore(prEnv, 'main')).toEqual(nightly);
    expect(await restore(otherPrEnv, 'main')).toEqual(nightly);
    expect(await restore(mainEnv, 'main')).toEqual(nightly);
    // The PR's own key still restores the PR's own entry.
    expect(await restore(prEnv, `pull-${PR}`)).toEqual(fromPr);
  });

  it('a nightly submit on main is resumed from main cache; a second resume finds nothing and collects nothing twice', async () => {
    const s = await setup({ script: ALL_PASS });
    const submit = await s.run({ kind: 'schedule' }, { mode: 'submit' });
    expect(submit.errors).toEqual([]);
    expect(submit.code).toBe(0);
    expect(submit.outputs.status).toBe('pending');
    const [batch] = s.openai.state.batches.values();
    expect(batch.metadata).toMatchObject({ suite: 'Main suite', sha: MAIN_SHA, config: CONFIG, suite_id: SUITE_ID });
    expect(batch.metadata).not.toHaveProperty('pr');
    // Main has no pull request to comment on: a status on the commit, the state in main's cache.
    expect(writes(submit)).toEqual([`POST ${statusPath(MAIN_SHA)} 201`]);
    expect(s.comments()).toEqual([]);
    const [entry, ...more] = stateEntries(s.actionsCache);
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ scope: MAIN_REF, key: expect.stringMatching(new RegExp(`^batch-evals-state-${SUITE_ID}-main-${RUN_ID}-1-\\d+$`)) });

    // Still running: a resume leaves it pending and says so.
    const early = await s.run({ kind: 'schedule' }, { mode: 'resume', 'max-wait': '1s' });
    expect(early.errors).toEqual([]);
    expect(early.code).toBe(0);
    expect(early.outputs).toMatchObject({ status: 'pending', 'batch-ids': batch.id });
    expect(early.lines).toContain('::group::resume: Main suite at aaaaaaaaaaaa');
    expect(early.lines).toContain(`openai:gpt-4.1-nano: already submitted as ${batch.id} at ${new Date(Math.floor(s.now() / 1000) * 1000).toISOString()}; collecting it, not submitting again`);
    expect(early.lines.some((l) => /^max-wait reached after \ds: 1 batch\(es\) still running, left pending$/.test(l))).toBe(true);
    expect(downloads(s.openai, batch.outputFileId ?? 'none')).toBe(0);

    s.advance(IN_PROGRESS_MS);
    const resume = await s.run({ kind: 'schedule' }, { mode: 'resume', 'max-wait': '1m' });
    expect(resume.errors).toEqual([]);
    expect(resume.code).toBe(0);
    expect(resume.outputs).toMatchObject({ status: 'completed', 'pass-rate': '1.0000', passed: '3', failed: '0', 'batch-ids': batch.id });
    // The checkout is the commit it was submitted at: the config is read from the workspace, not fetched.
    expect(contentReads(resume)).toEqual([]);
    expect(resume.lines).toContain('openai:gpt-4.1-nano: completed, collected 3 of 3 results');
    expect(s.openai.state.batches.size).toBe(1);
    expect(downloads(s.openai, batch.outputFileId!)).toBe(1);
    expect(s.gh.state.statusesFor(REPO, MAIN_SHA).map((st) => [st.state, st.description])).toEqual([
      ['success', '100% passed (3/3)'],
      ['pending', 'no case scored yet, 3 pending'],
      ['pending', 'no case scored yet, 3 pending'],
    ]);
    // A completed run on the default branch saves the baseline pull requests compare with.
    const baseline = s.actionsCache.state.entries.find((e) => e.key.startsWith(`batch-evals-baseline-${SUITE_ID}-main-`));
    expect(baseline).toMatchObject({ scope: MAIN_REF });
    expect(resume.lines).toContain(`saved the baseline for pull requests against main as ${baseline!.key}`);
    expect(resume.lines.some((l) => l.startsWith('saved the run state (collected) of Main suite as '))).toBe(true);

    // Nothing is pending any more: the second resume finds nothing and downloads nothing.
    const second = await s.run({ kind: 'schedule' }, { mode: 'resume', 'max-wait': '1m' });
    expect(second.errors).toEqual([]);
    expect(second.code).toBe(0);
    expect(second.outputs).toEqual({ status: 'completed' });
    expect(second.lines).toContain('resume: no pending runs found (in the cache of this ref, in comments on open pull requests, or among the provider batches still running)');
    expect(providerCalls(second)).toEqual(['GET /v1/batches 200']); // the listing for lost runs, nothing else
    expect(downloads(s.openai, batch.outputFileId!)).toBe(1);
    expect(writes(second)).toEqual([]);
    expect(s.gh.state.statusesFor(REPO, MAIN_SHA)).toHaveLength(3);
  });

  it('re-running the same PR commit while its batch is pending submits nothing again and waits for the batch', async () => {
    const s = await setup({ script: ALL_PASS });
    const submit = await s.run({ kind: 'pull_request' }, { mode: 'submit' });
    expect(submit.code).toBe(0);
    const [batch] = s.openai.state.batches.values();
    const [comment] = s.comments();
    const submitted = marker(comment.body).state!;
    expect(submitted).toEqual(SUBMITTED_STATE(batch.id));

    // A re-run of the submit job: attached to the same batch, still pending.
    const rerun = await s.run({ kind: 'pull_request' }, { mode: 'submit' });
    expect(rerun.errors).toEqual([]);
    expect(rerun.code).toBe(0);
    expect(rerun.outputs).toMatchObject({ status: 'pending', 'batch-ids': batch.id });
    expect(s.openai.state.batches.size).toBe(1);
    expect(providerCalls(rerun).filter((c) => c.startsWith('POST'))).toEqual([]);
    expect(s.comments().map((c) => c.id)).toEqual([comment.id]);
    expect(rerun.lines).toContain(`openai:gpt-4.1-mini: already submitted as ${batch.id} at ${submitted.batches[0].submittedAt}; collecting it, not submitting again`);
    // The comment keeps the first submission's time.
    expect(marker(s.comments()[0].body).state).toEqual({ ...submitted, updatedAt: expect.any(String) });

    // mode: run on the same commit: polls the existing batch until it ends. The batch ends after the first poll.
    const polls = () => s.openai.state.requests.filter((q) => q.method === 'GET' && q.path === `/v1/batches/${batch.id}`).length;
    const pollsBefore = polls();
    const started = Date.now();
    const run = await s.run({ kind: 'pull_request' }, { mode: 'run', 'max-wait': '1m' }, async () => {
      await until(() => polls() > pollsBefore, 'the first poll of the existing batch');
      s.advance(IN_PROGRESS_MS);
    });
    expect(run.errors).toEqual([]);
    expect(run.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_000); // the action's first poll interval
    expect(s.openai.state.batches.size).toBe(1);
    expect(s.openai.state.requests.filter((q) => q.method === 'POST').map((q) => q.path)).toEqual(['/v1/files', '/v1/batches']);
    expect(run.lines).toContain(`openai:gpt-4.1-mini: already submitted as ${batch.id} at ${submitted.batches[0].submittedAt}; collecting it, not submitting again`);
    const progress = run.lines.filter((l) => l.startsWith('openai:gpt-4.1-mini: '));
    expect(progress[1]).toBe('openai:gpt-4.1-mini: in_progress, 0/3 done (0 failed), 0s elapsed');
    expect(progress[2]).toMatch(/^openai:gpt-4\.1-mini: completed, 3\/3 done \(0 failed\), [5-9]s elapsed$/);
    expect(run.outputs).toMatchObject({ status: 'completed', 'pass-rate': '1.0000', passed: '3', 'batch-ids': batch.id });
    expect(downloads(s.openai, batch.outputFileId!)).toBe(1);
    const final = s.comments();
    expect(final.map((c) => c.id)).toEqual([comment.id]);
    expect(marker(final[0].body).state).toBeUndefined();
    expect(final[0].body.split('\n')[1]).toBe('## ✅ batch-evals: PR suite');
    expect(s.gh.state.statusesFor(REPO, HEAD_SHA)[0]).toMatchObject({ state: 'success', description: '100% passed (3/3)' });
  });

  it('a new push cancels the batches of the superseded commit, and says so; with cancel-superseded: false it does not', async () => {
    const s = await setup({ script: ALL_PASS, cancellingMs: 10 * 60_000 });
    const first = await s.run({ kind: 'pull_request', sha: HEAD_SHA }, { mode: 'submit' });
    expect(first.code).toBe(0);
    const [old] = s.openai.state.batches.values();

    const second = await s.run({ kind: 'pull_request', sha: NEW_SHA }, { mode: 'submit' });
    expect(second.errors).toEqual([]);
    expect(second.warnings).toEqual([]);
    expect(second.code).toBe(0);
    const note = `Cancelled 1 of 1 batch(es) of the superseded commit bbbbbbbbbbbb: ${old.id}.`;
    expect(second.lines).toContain(note);
    expect(providerCalls(second)).toContain(`POST /v1/batches/${old.id}/cancel 200`);
    expect(s.openai.state.batchObject(old.id).status).toBe('cancelling');
    s.advance(10 * 60_000);
    expect(s.openai.state.batchObject(old.id).status).toBe('cancelled');
    const [, current] = s.openai.state.batches.values();
    expect(current.metadata).toMatchObject({ sha: NEW_SHA, pr: String(PR) });
    expect(second.outputs).toMatchObject({ status: 'pending', 'batch-ids': current.id });
    // One comment: pending for the new commit, with the note.
    const [comment, ...more] = s.comments();
    expect(more).toEqual([]);
    expect(comment.body).toContain(`> Cancelled 1 of 1 batch\\(es\\) of the superseded commit bbbbbbbbbbbb: ${old.id.replace(/_/g, '\\_')}.`);
    expect(marker(comment.body).state).toEqual(SUBMITTED_STATE(current.id, NEW_SHA));
    expect(comment.body).toContain('<sub>Commit `cccccccccccc`');
    expect(s.gh.state.statusesFor(REPO, NEW_SHA)).toMatchObject([{ state: 'pending' }]);

    // cancel-superseded: false leaves the older commit's batch running.
    const third = await s.run({ kind: 'pull_request', sha: NEWER_SHA }, { mode: 'submit', 'cancel-superseded': 'false' });
    expect(third.errors).toEqual([]);
    expect(third.code).toBe(0);
    expect(providerCalls(third).filter((c) => c.includes('/cancel'))).toEqual([]);
    expect(third.stdout).not.toContain('Cancelled');
    expect(s.openai.state.batchObject(current.id).status).toBe('in_progress');
    const [, , newest] = s.openai.state.batches.values();
    expect(s.openai.state.batches.size).toBe(3);
    const [updated] = s.comments();
    expect(updated.id).toBe(comment.id);
    expect(updated.body).not.toContain('Cancelled');
    expect(marker(updated.body).state).toEqual(SUBMITTED_STATE(newest.id, NEWER_SHA));

    // A resume while both run: the head's run stays pending. The superseded commit's batch is found by listing the
    // provider's batches, and left alone: its report would replace the head's in the comment.
    const early = await s.run({ kind: 'schedule' }, { mode: 'resume', 'max-wait': '1s' });
    expect(early.errors).toEqual([]);
    expect(early.code).toBe(0);
    expect(early.lines.filter((l) => l.startsWith('::group::'))).toEqual([`::group::resume: PR suite at eeeeeeeeeeee (#${PR})`, `::group::resume: PR suite at cccccccccccc (#${PR})`]);
    expect(early.lines).toContain(`resume: found ${current.id} by listing the provider's batches (its state was lost)`);
    expect(early.lines).toContain(`resume: cccccccccccc is no longer the head of #${PR} (eeeeeeeeeeee is): its batches are left alone`);
    expect(early.outputs).toMatchObject({ status: 'pending', 'batch-ids': newest.id });
    expect(marker(s.comments()[0].body).state).toEqual(SUBMITTED_STATE(newest.id, NEWER_SHA));
    expect(contentReads(early).every((r) => r.includes(`ref=${NEWER_SHA} 200`))).toBe(true);

    // Both end; the next resume finishes the head's run in the comment.
    s.advance(IN_PROGRESS_MS);
    const resume = await s.run({ kind: 'schedule' }, { mode: 'resume' });
    expect(resume.errors).toEqual([]);
    expect(resume.code).toBe(0);
    expect(resume.lines.filter((l) => l.startsWith('::group::'))).toEqual([`::group::resume: PR suite at eeeeeeeeeeee (#${PR})`]);
    expect(resume.outputs).toMatchObject({ status: 'completed', 'batch-ids': newest.id });
    const [final] = s.comments();
    expect(final.id).toBe(comment.id);
    expect(marker(final.body).state).toBeUndefined();
    expect(final.body).toContain('<sub>Commit `eeeeeeeeeeee`');
    expect(s.gh.state.statusesFor(REPO, NEWER_SHA)[0]).toMatchObject({ state: 'success', description: '100% passed (3/3)' });
    expect(s.gh.state.statusesFor(REPO, NEW_SHA).map((st) => st.state)).toEqual(['pending']);
    expect(downloads(s.openai, s.openai.state.batchObject(current.id).output_file_id as string)).toBe(0);
  });

  it('a resume while a superseded batch is still cancelling leaves the PR comment to the current commit', async () => {
    const s = await setup({ script: ALL_PASS, cancellingMs: 10 * 60_000 });
    expect((await s.run({ kind: 'pull_request', sha: HEAD_SHA }, { mode: 'submit' })).code).toBe(0);
    const [old] = s.openai.state.batches.values();
    expect((await s.run({ kind: 'pull_request', sha: NEW_SHA }, { mode: 'submit' })).code).toBe(0);
    const [, current] = s.openai.state.batches.values();
    expect(s.openai.state.batchObject(old.id).status).toBe('cancelling');

    const resume = await s.run({ kind: 'schedule' }, { mode: 'resume', 'max-wait': '1s' });
    expect(resume.errors).toEqual([]);
    expect(resume.code).toBe(0);
    expect(resume.lines.filter((l) => l.startsWith('::group::'))).toEqual([`::group::resume: PR suite at cccccccccccc (#${PR})`]);
    expect(resume.stdout).not.toContain(old.id);
    expect(marker(s.comments()[0].body).state).toEqual(SUBMITTED_STATE(current.id, NEW_SHA));
    expect(s.gh.state.statusesFor(REPO, HEAD_SHA).map((st) => st.state)).toEqual(['pending']);
  });

  it('after a resume finished the PR run, a new push neither cancels the ended batch nor warns about it', async () => {
    const s = await setup({ script: ALL_PASS });
    expect((await s.run({ kind: 'pull_request', sha: HEAD_SHA }, { mode: 'submit' })).code).toBe(0);
    const [old] = s.openai.state.batches.values();
    s.advance(IN_PROGRESS_MS);
    expect((await s.run({ kind: 'schedule' }, { mode: 'resume' })).code).toBe(0);
    expect(marker(s.comments()[0].body).state).toBeUndefined();

    const push = await s.run({ kind: 'pull_request', sha: NEW_SHA }, { mode: 'submit' });
    expect(push.errors).toEqual([]);
    expect(push.warnings).toEqual([]);
    expect(push.code).toBe(0);
    expect(providerCalls(push).filter((c) => c.includes('/cancel'))).toEqual([]);
    expect(push.stdout).not.toContain('superseded');
    expect(s.comments()[0].body).not.toContain('superseded');
    expect(s.openai.state.batchObject(old.id).status).toBe('completed');
  });

  it('resume ignores markers with a state in comments by other users', async () => {
    const forged: RunState = {
      version: 1,
      suiteId: SUITE_ID,
      suite: 'PR suite',
      configPath: CONFIG,
      sha: NEWER_SHA,
      repo: REPO,
      pr: PR,
      phase: 'submitted',
      submittedAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      batches: [{ provider: 'openai', batchId: 'batch_forged0000000000000000000000', requestCount: 3, submittedAt: '2025-01-01T00:00:00.000Z', key: 'openai||gpt-4.1-mini', model: 'gpt-4.1-mini' }],
    };
    const forgedBody = `<!-- batch-evals suite=${SUITE_ID} state=${encodeState(forged)} -->\nlooks like the bot`;
    const s = await setup({ script: ALL_PASS, comments: [{ issue: PR, user: 'mallory', body: forgedBody }] });
    const [mallory] = s.comments();
    expect(marker(mallory.body).state).toEqual(forged);

    // Only the foreign marker: nothing to resume, nothing read or written for it.
    const alone = await s.run({ kind: 'schedule' }, { mode: 'resume' });
    expect(alone.errors).toEqual([]);
    expect(alone.code).toBe(0);
    expect(alone.lines).toContain('resume: no pending runs found (in the cache of this ref, in comments on open pull requests, or among the provider batches still running)');
    expect(providerCalls(alone)).toEqual(['GET /v1/batches 200']);
    expect(contentReads(alone)).toEqual([]);
    expect(writes(alone)).toEqual([]);

    // The bot's own pending run next to it: only that one is resumed; the forged comment is left as it was.
    const submit = await s.run({ kind: 'pull_request' }, { mode: 'submit' });
    expect(submit.code).toBe(0);
    const [batch] = s.openai.state.batches.values();
    expect(s.comments().map((c) => c.user.login)).toEqual(['mallory', BOT]);
    s.advance(IN_PROGRESS_MS);
    const resume = await s.run({ kind: 'schedule' }, { mode: 'resume' });
    expect(resume.errors).toEqual([]);
    expect(resume.code).toBe(0);
    expect(resume.lines.filter((l) => l.startsWith('::group::'))).toEqual([`::group::resume: PR suite at bbbbbbbbbbbb (#${PR})`]);
    expect(resume.stdout).not.toContain('batch_forged');
    expect(resume.stdout).not.toContain('eeeeeeeeeeee');
    expect(s.openai.state.requests.filter((q) => q.path.includes('batch_forged'))).toEqual([]);
    expect(contentReads(resume).every((r) => r.includes(`ref=${HEAD_SHA} 200`))).toBe(true);
    expect(resume.outputs).toMatchObject({ status: 'completed', 'batch-ids': batch.id });
    expect(s.gh.state.comments.get(mallory.id)).toMatchObject({ body: forgedBody, updatedAt: mallory.createdAt });
    expect(s.gh.state.statusesFor(REPO, NEWER_SHA)).toEqual([]);
  });
});
