/**
 * The pull-request experience end to end: `node src/index.ts` in a child process with the runner's environment for a
 * `pull_request` or `push` event, against the OpenAI Batch API, GitHub REST and Actions cache emulators over real
 * HTTP (all started in this process). What a reviewer sees: the sticky comment, the commit status, the annotations,
 * the job summary, the baseline comparison, and what happens with a fork's or an under-privileged token.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { cacheEnv, startCacheEmulator, type CacheEmulator } from '../cache/cache-emulator.ts';
import { startOpenAIEmulator, type ScriptRule } from '../emulator/openai-emulator.ts';
import { startGitHubEmulator, type CommentSeed, type FaultRule, type GitHubEmulator, type TokenConfig } from '../github/github-emulator.ts';
import { runnerEnv } from '../helpers/action-env.ts';
import { runNode, tempTree } from '../helpers/node-process.ts';
import { CONFIG, ENTRY, HEAD_SHA, MAIN_SHA, MARKER, MERGE_SHA, MINI, PR, REPO, ROOT, SUITE_ID } from '../helpers/pull-request-run.ts';


const RUN_ID = '9876543210';

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((e) => e.close()));
});

// ---- the suite and the models' answers --------------------------------------------------------------------------

const SUITE = `description: PR suite
prompts:
  - "Answer briefly. {{ question }}"
providers:
  - ${MINI}
tests:
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
/** The line of each test in SUITE (where its annotation goes). */
const SKY_LINE = 17;

const USAGE = { promptTokens: 1000, completionTokens: 500 };
const ALL_PASS: ScriptRule[] = [
  { match: 'capital of France', reply: 'Paris.', usage: USAGE },
  { match: '2\\+2', reply: '4', usage: USAGE },
  { match: 'colour of the sky', reply: 'Blue.', usage: USAGE },
];
/** The sky case fails. */
const SKY_WRONG: ScriptRule[] = [ALL_PASS[0], ALL_PASS[1], { match: 'colour of the sky', reply: 'Green, obviously.', usage: USAGE }];

// ---- the runner -------------------------------------------------------------------------------------------------

const newToken = () => `ghs_${randomBytes(18).toString('hex')}`;
const newKey = () => `sk-e2e-${randomBytes(12).toString('hex')}`;
const WRITE: TokenConfig['permissions'] = { 'pull-requests': 'write', statuses: 'write', contents: 'read' };

/** GitHub sets INPUT_<NAME> for every input of action.yml that has a default. */
function withDefaults(inputs: Record<string, string>): Record<string, string> {
  const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) if (spec.default !== undefined) out[name] = String(spec.default);
  return { ...out, ...inputs };
}

interface PullOptions {
  /** The head repository's full name; another one than REPO makes a fork PR. */
  headRepo?: string;
}

type Event = { kind: 'pull_request'; pull?: PullOptions } | { kind: 'push' };

/**
 * One repository (acme/prompts, default branch main, PR #7 from `feature`), a GitHub emulator whose token is
 * `token` with `permissions`, an Actions cache emulator, and a workspace with evals/suite.yaml. RUNNER_TEMP is the
 * same for every run, as on a runner: the baseline's path is part of its cache version.
 */
async function setup(
  options: { permissions?: TokenConfig['permissions']; identity?: TokenConfig; token?: string; suite?: string; comments?: CommentSeed[]; fork?: boolean; faults?: FaultRule[] } = {},
) {
  const token = options.token ?? newToken();
  const gh = await startGitHubEmulator({
    tokens: { [token]: options.identity ?? { login: 'github-actions[bot]', kind: 'installation', permissions: options.permissions ?? WRITE, repositories: [REPO] } },
    faults: options.faults,
    repos: [
      {
        owner: 'acme',
        repo: 'prompts',
        branches: { main: MAIN_SHA },
        commits: [MERGE_SHA],
        pulls: [{ number: PR, headSha: HEAD_SHA, headRef: 'feature', fork: options.fork ? 'contributor' : undefined, user: 'contributor' }],
        comments: options.comments,
      },
    ],
  });
  closers.push(gh);
  const cache = await startCacheEmulator();
  closers.push(cache);
  const ws = tempTree({ [CONFIG]: options.suite ?? SUITE });
  const runnerTemp = mkdtempSync(join(tmpdir(), 'be-pr-runner-'));

  async function run(script: ScriptRule[], event: Event, inputs: Record<string, string> = {}) {
    const openai = await startOpenAIEmulator({ instant: true, script });
    closers.push(openai);
    const key = newKey();
    const runner = runnerEnv(withDefaults({ config: CONFIG, 'openai-api-key': key, 'openai-base-url': openai.url, 'github-token': token, ...inputs }));
    const isPr = event.kind === 'pull_request';
    const ref = isPr ? `refs/pull/${PR}/merge` : 'refs/heads/main';
    const repository = { full_name: REPO, name: 'prompts', owner: { login: 'acme' }, default_branch: 'main' };
    const payload = isPr
      ? {
          action: 'synchronize',
          number: PR,
          pull_request: {
            number: PR,
            head: { sha: HEAD_SHA, ref: 'feature', repo: { full_name: event.pull?.headRepo ?? REPO } },
            base: { sha: MAIN_SHA, ref: 'main', repo: { full_name: REPO } },
          },
          repository,
        }
      : { ref, after: MAIN_SHA, repository };
    writeFileSync(runner.env.GITHUB_EVENT_PATH, JSON.stringify(payload));
    const scopes = isPr ? { readable: [ref, 'refs/heads/main'], writable: ref } : { readable: [ref], writable: ref };
    const env: Record<string, string> = {
      ...runner.env,
      ...cacheEnv(cache, { ...scopes, ref, runnerTemp, workspace: ws }),
      GITHUB_EVENT_NAME: event.kind,
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
    const requestsBefore = gh.state.requests.length;
    const result = await runNode([ENTRY], { env, cwd: ws });
    return {
      ...result,
      env,
      key,
      openai,
      outputs: runner.outputs(),
      summary: runner.summary(),
      /** The GitHub requests this run made. */
      requests: gh.state.requests.slice(requestsBefore),
      errors: commands(result.stdout, 'error'),
      warnings: commands(result.stdout, 'warning'),
    };
  }

  const comments = () => gh.state.commentsOn(REPO, PR);
  const ours = () => comments().filter((c) => c.user.login === 'github-actions[bot]');
  return { token, gh, cache, ws, runnerTemp, run, comments, ours };
}

/**
 * The lines of stdout that are workflow commands of one kind, with the runner's escapes decoded as GitHub shows them.
 */
const commands = (stdout: string, kind: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith(`::${kind} `) || l.startsWith(`::${kind}::`))
    .map((l) => l.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%'));

/** Unicode code points, as GitHub counts a comment's length. */
const codePoints = (text: string) => [...text].length;

type RunResult = Awaited<ReturnType<Awaited<ReturnType<typeof setup>>['run']>>;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

/**
 * The GitHub token and the OpenAI key are masked (`::add-mask::`) before anything else is printed, and appear nowhere
 * else: not in another line of stdout, stderr, the job summary, GITHUB_OUTPUT, the results file, nor anything the
 * action wrote to GitHub (comment bodies, statuses, request bodies) or to the Actions cache.
 */
function expectSecretsHidden(r: RunResult, gh: GitHubEmulator, cache?: CacheEmulator) {
  const secrets = [r.key, r.env['INPUT_GITHUB-TOKEN']];
  expect(secrets[1]).toMatch(/^gh[sp]_[0-9a-f]{36}$/);
  const lines = r.stdout.split('\n');
  expect(lines.slice(0, 2)).toEqual(secrets.map((s) => `::add-mask::${s}`));
  const files = filesUnder(r.env.RUNNER_TEMP);
  const written = [
    readFileSync(r.env.GITHUB_OUTPUT, 'utf8'),
    r.outputs['results-file'] ? readFileSync(r.outputs['results-file'], 'utf8') : '',
    ...[...gh.state.comments.values()].map((c) => c.body),
    ...gh.state.statuses.map((s) => JSON.stringify(s)),
    ...gh.state.requests.map((q) => `${q.path}?${q.query} ${JSON.stringify(q.body ?? null)}`),
    // What the runs left in RUNNER_TEMP: the results file, the baseline and run state they cached.
    ...files.map((f) => readFileSync(f, 'latin1')),
    ...(cache?.state.entries ?? []).map((e) => e.key),
  ];
  for (const secret of secrets) {
    expect(lines.filter((l) => l.includes(secret))).toEqual([`::add-mask::${secret}`]);
    expect(r.stderr).not.toContain(secret);
    expect(r.summary).not.toContain(secret);
    for (const text of written) expect(text).not.toContain(secret);
  }
}

/** `n` tests that each ask "Question k?" and want "yes" in the answer; `firstTestExtra` goes into the first test. */
function manyCases(n: number, firstTestExtra = '') {
  const tests = Array.from(
    { length: n },
    (_, i) => `  - description: case ${i + 1}
    vars: { question: "Question ${i + 1}?" }
${i === 0 ? firstTestExtra : ''}    assert:
      - type: icontains
        value: "yes"
`,
  );
  const yaml = `description: Many cases\nprompts:\n  - "Answer briefly. {{ question }}"\nproviders:\n  - ${MINI}\ntests:\n${tests.join('')}`;
  const lines = yaml.split('\n').flatMap((l, i) => (l.startsWith('  - description: case ') ? [i + 1] : []));
  expect(lines).toHaveLength(n);
  return { yaml, lines };
}

const commentLine = (r: RunResult, action: 'created' | 'updated', id: number) =>
  `${action} the comment on #${PR}: https://github.com/${REPO}/pull/${PR}#issuecomment-${id}`;
const calls = (r: RunResult) => r.requests.map((q) => `${q.method} ${q.path} ${q.status}`);
/** The requests of a run that change something on GitHub. */
const writes = (r: RunResult) => r.requests.filter((q) => q.method !== 'GET').map((q) => `${q.method} ${q.path} ${q.status}`);
/** Reads are of the token's identity and the PR's comments only. */
function expectReadsOnly(r: RunResult, ...paths: string[]) {
  expect([...new Set(r.requests.filter((q) => q.method === 'GET').map((q) => `${q.path} ${q.status}`))].sort()).toEqual([...paths].sort());
}
const STATUS_PATH = `/repos/${REPO}/statuses/${HEAD_SHA}`;
const RUN_URL = `https://github.com/${REPO}/actions/runs/${RUN_ID}`;

describe('batch-evals on a pull request, end to end', { timeout: 60_000 }, () => {
  it('keeps one sticky comment per suite by the token identity, edits it on the next run, and leaves look-alikes alone', async () => {
    const lookAlike = `${MARKER}\nI copied the bot's marker; do not touch this.`;
    const otherSuite = '<!-- batch-evals suite=0123456789ab -->\n## ✅ batch-evals: another suite';
    const s = await setup({
      comments: [
        { issue: PR, user: 'mallory', body: lookAlike },
        { issue: PR, user: 'github-actions[bot]', body: otherSuite },
      ],
    });
    const [mallory, other] = s.comments();
    // The second run's answers differ for the same requests: with reuse on (the default) it would take the first
    // run's outputs from the Actions cache instead of sending. The comment is what this test is about, not reuse.
    const inputs = { 'min-pass-rate': '50%', reuse: 'false' };

    const first = await s.run(SKY_WRONG, { kind: 'pull_request' }, inputs);
    expect(first.errors).toEqual([]);
    expect(first.code).toBe(0);
    const [ours, ...more] = s.comments().filter((c) => c.id !== mallory.id && c.id !== other.id);
    expect(more).toEqual([]);
    expect(ours.user.login).toBe('github-actions[bot]');
    expect(ours.body.startsWith(`${MARKER}\n## ✅ batch-evals: PR suite\n\n**66.7% passed** (2 of 3 cases) · batch cost $0.0018 · saved $0.0018 against real time\n`)).toBe(true);
    expect(ours.body).toContain(`**❌ failed** · ${MINI} · prompt Answer briefly. \\{\\{ question \\}\\} · sky colour`);
    expect(ours.body).toContain('```text\nGreen, obviously.\n```');
    expect(ours.body).toContain(`<sub>Commit \`bbbbbbbbbbbb\` · [workflow run](${RUN_URL}) · reproduce locally with \`npx batch-evals run evals/suite.yaml\`</sub>`);
    expect(first.stdout.split('\n')).toContain(commentLine(first, 'created', ours.id));
    // The Actions token cannot read /user (403): its identity is github-actions[bot].
    expectReadsOnly(first, '/user 403', `/repos/${REPO}/issues/${PR}/comments 200`);
    expect(writes(first)).toEqual([`POST /repos/${REPO}/issues/${PR}/comments 201`, `POST ${STATUS_PATH} 201`]);
    expectSecretsHidden(first, s.gh, s.cache);

    const second = await s.run(ALL_PASS, { kind: 'pull_request' }, inputs);
    expect(second.errors).toEqual([]);
    expect(second.code).toBe(0);
    expect(s.comments().map((c) => c.id)).toEqual([mallory.id, other.id, ours.id]);
    const edited = s.gh.state.comments.get(ours.id)!;
    expect(edited.body.startsWith(`${MARKER}\n## ✅ batch-evals: PR suite\n\n**100% passed** (3 of 3 cases) · batch cost $0.0018`)).toBe(true);
    expect(edited.body).not.toContain('sky colour');
    expect(edited.body).not.toContain('failing case');
    expect(second.stdout.split('\n')).toContain(commentLine(second, 'updated', ours.id));
    expect(writes(second)).toEqual([`PATCH /repos/${REPO}/issues/comments/${ours.id} 200`, `POST ${STATUS_PATH} 201`]);
    // Neither the look-alike by another user nor another suite's comment was edited.
    expect(s.gh.state.comments.get(mallory.id)).toMatchObject({ body: lookAlike, user: { login: 'mallory' }, updatedAt: mallory.createdAt });
    expect(s.gh.state.comments.get(other.id)).toMatchObject({ body: otherSuite, updatedAt: other.createdAt });
    expectSecretsHidden(second, s.gh, s.cache);
  });

  it('sets a commit status on the PR head named after the suite, with the pass rate', async () => {
    const s = await setup();
    // The second run's answers differ for the same requests, which reuse (the default) would take from the first run.
    const noReuse = { reuse: 'false' };
    const failing = await s.run(SKY_WRONG, { kind: 'pull_request' }, noReuse);
    expect(failing.code).toBe(1);
    expect(failing.errors).toEqual(['::error::pass rate 66.7% is below the required 100.0%']);
    expect(failing.outputs.status).toBe('failed');
    expect(s.gh.state.statusesFor(REPO, HEAD_SHA)).toMatchObject([
      { state: 'failure', context: 'batch-evals / PR suite', description: '66.7% passed (2/3)', targetUrl: RUN_URL, creator: { login: 'github-actions[bot]' } },
    ]);

    const passing = await s.run(ALL_PASS, { kind: 'pull_request' }, noReuse);
    expect(passing.code).toBe(0);
    expect(passing.errors).toEqual([]);
    const statuses = s.gh.state.statusesFor(REPO, HEAD_SHA);
    expect(statuses.map((st) => [st.state, st.context, st.description])).toEqual([
      ['success', 'batch-evals / PR suite', '100% passed (3/3)'],
      ['failure', 'batch-evals / PR suite', '66.7% passed (2/3)'],
    ]);
    // Not on GITHUB_SHA, the test merge commit nobody sees.
    expect(s.gh.state.statusesFor(REPO, MERGE_SHA)).toEqual([]);
    expect(s.gh.state.statuses).toHaveLength(2);
  });

  it('compares with the baseline a push to main saved: regressions fail the step, fixes are listed', async () => {
    const s = await setup();
    // The runs change the answers to the same requests, which reuse (the default) would take from earlier runs'
    // outputs instead; without it, the baseline is the only thing these runs keep in the Actions cache.
    const pct = { 'min-pass-rate': '50%', reuse: 'false' };

    // Before any run on main: no baseline, said in the comment.
    const before = await s.run(SKY_WRONG, { kind: 'pull_request' }, pct);
    expect(before.code).toBe(0);
    expect(before.outputs.regressions).toBe('');
    expect(s.ours()[0].body).toContain(
      '<sub>No baseline for `main` yet: regressions show once a run of this suite on `main` has saved one \\(a push, schedule or manual run there\\).</sub>',
    );
    expect(s.cache.state.entries).toEqual([]);

    // A push to main saves a baseline in main's cache scope (and comments nowhere).
    const main = await s.run(ALL_PASS, { kind: 'push' }, pct);
    expect(main.errors).toEqual([]);
    expect(main.code).toBe(0);
    expect(s.cache.state.entries).toHaveLength(1);
    const [entry] = s.cache.state.entries;
    expect(entry.key).toMatch(new RegExp(`^batch-evals-baseline-${SUITE_ID}-main-${RUN_ID}-1-\\d+$`));
    expect(entry).toMatchObject({ scope: 'refs/heads/main', finalizedAt: expect.any(Number) });
    expect(main.stdout.split('\n')).toContain(`saved the baseline for pull requests against main as ${entry.key}`);
    expect(writes(main)).toEqual([`POST /repos/${REPO}/statuses/${MAIN_SHA} 201`]);
    expect(s.gh.state.statusesFor(REPO, MAIN_SHA)).toMatchObject([{ state: 'success', description: '100% passed (3/3)' }]);
    // The baseline the cache holds is the file in RUNNER_TEMP (scanned for secrets below).
    expect(JSON.parse(readFileSync(join(s.runnerTemp, 'batch-evals', 'baseline', `${SUITE_ID}.json`), 'utf8'))).toMatchObject({ version: 1, sha: MAIN_SHA, ref: 'main' });
    expectSecretsHidden(main, s.gh, s.cache);

    // The PR breaks the sky case: one regression, which fails the step (fail-on-regression defaults to true).
    const broken = await s.run(SKY_WRONG, { kind: 'pull_request' }, pct);
    expect(broken.code).toBe(1);
    expect(broken.errors).toEqual(['::error::1 case(s) passed on main and fail now (fail-on-regression)']);
    expect(broken.outputs).toMatchObject({ status: 'completed', 'pass-rate': '0.6667', regressions: '1' });
    expect(broken.stdout).toMatch(new RegExp(`^baseline: ${entry.key} \\(3 cases, commit aaaaaaaaaaaa\\)$`, 'm'));
    const comment = s.ours()[0].body;
    expect(s.ours()).toHaveLength(1);
    // The step fails, and so the heading says.
    expect(comment.startsWith(`${MARKER}\n## ❌ batch-evals: PR suite\n`)).toBe(true);
    expect(comment).toMatch(/^\*\*66\.7% passed\*\* \(2 of 3 cases\) · −33\.3 pts against `main`(?: at `a{7,12}`)? · \*\*1 regression\*\* · batch cost \$0\.0018/m);
    expect(comment).toContain(`| ${MINI} | 3 | 2 | 1 | 0 | 66.7% | −33.3 pts | $0.0018 | $0.0036 | $0.0018 |`);
    expect(comment).toContain(
      `### ❌ 1 regression: passed on \`main\`, fail now\n\n- ${MINI} · sky colour · \`icontains\` blue: Expected output to contain "blue"\n`,
    );
    expect(comment).not.toContain('### ✅');
    expect(comment).not.toContain('No baseline');
    expect(comment).toContain('  line [100]');
    expect(broken.summary).toContain('### ❌ 1 regression: passed on `main`, fail now');
    // The status shows the regression too; a required status check blocks the merge as the step does.
    expect(s.gh.state.statusesFor(REPO, HEAD_SHA)[0]).toMatchObject({ state: 'failure', description: '66.7% passed (2/3), 1 regression' });
    expectSecretsHidden(broken, s.gh, s.cache);

    // fail-on-regression: false reports the regression and passes.
    const tolerated = await s.run(SKY_WRONG, { kind: 'pull_request' }, { ...pct, 'fail-on-regression': 'false' });
    expect(tolerated.errors).toEqual([]);
    expect(tolerated.code).toBe(0);
    expect(tolerated.outputs.regressions).toBe('1');
    expect(s.ours()[0].body).toContain('### ❌ 1 regression: passed on `main`, fail now');
    expect(s.ours()[0].body.startsWith(`${MARKER}\n## ✅ batch-evals: PR suite\n`)).toBe(true);
    expect(s.gh.state.statusesFor(REPO, HEAD_SHA)[0]).toMatchObject({ state: 'success', description: '66.7% passed (2/3), 1 regression' });

    // A newer push to main where the sky case fails; the PR fixes it.
    // That push compares with main's previous baseline: the regression fails its step too, and the new baseline is
    // saved all the same, so pull requests compare with what main does now.
    const mainBroken = await s.run(SKY_WRONG, { kind: 'push' }, pct);
    expect(mainBroken.errors).toEqual(['::error::1 case(s) passed on main and fail now (fail-on-regression)']);
    expect(mainBroken.code).toBe(1);
    expect(s.cache.state.entries).toHaveLength(2);
    expect(s.cache.state.entries.every((e) => e.scope === 'refs/heads/main')).toBe(true);
    const fixed = await s.run(ALL_PASS, { kind: 'pull_request' }, pct);
    expect(fixed.errors).toEqual([]);
    expect(fixed.code).toBe(0);
    expect(fixed.outputs.regressions).toBe('0');
    const fixedComment = s.ours()[0].body;
    expect(fixedComment).toMatch(/^\*\*100% passed\*\* \(3 of 3 cases\) · \+33\.3 pts against `main`(?: at `a{7,12}`)? · 1 fix · batch cost/m);
    expect(fixedComment).toContain(`### ✅ 1 fix: failed on \`main\`, pass now\n\n- ${MINI} · sky colour\n`);
    expect(fixedComment).not.toContain('### ❌');
    expect(s.ours()).toHaveLength(1);
  });

  it('on a fork PR writes nothing to GitHub, says why in a warning, and passes with the job summary', async () => {
    const s = await setup({ fork: true, permissions: { 'pull-requests': 'read', statuses: 'read', contents: 'read' } });
    const r = await s.run(ALL_PASS, { kind: 'pull_request', pull: { headRepo: 'contributor/prompts' } });
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.warnings).toEqual([
      '::warning::this pull request comes from a fork, whose token is read-only: no comment and no commit status are written. The report is in the job summary.',
    ]);
    expect(r.summary.startsWith('## ✅ batch-evals: PR suite\n\n**100% passed** (3 of 3 cases)')).toBe(true);
    expect(r.outputs).toMatchObject({ status: 'completed', 'pass-rate': '1.0000', passed: '3', regressions: '' });
    expect(s.comments()).toEqual([]);
    expect(s.gh.state.statuses).toEqual([]);
    expect(r.requests.filter((q) => q.method !== 'GET')).toEqual([]);
    expectSecretsHidden(r, s.gh, s.cache);
  });

  it('without pull-requests: write fails naming the permission, after writing the summary, the status and the outputs', async () => {
    const s = await setup({ permissions: { 'pull-requests': 'read', statuses: 'write', contents: 'read' } });
    const r = await s.run(ALL_PASS, { kind: 'pull_request' });
    expect(r.code).toBe(1);
    expect(r.errors).toEqual([
      '::error::could not comment on the pull request: the token lacks the permission; add `pull-requests: write` under `permissions:` in the workflow (GitHub accepts: issues=write; pull_requests=write)',
    ]);
    expect(s.comments()).toEqual([]);
    expect(writes(r)).toEqual([`POST /repos/${REPO}/issues/${PR}/comments 403`, `POST ${STATUS_PATH} 201`]);
    expect(s.gh.state.statusesFor(REPO, HEAD_SHA)).toMatchObject([{ state: 'success', description: '100% passed (3/3)' }]);
    expect(r.summary.startsWith('## ✅ batch-evals: PR suite\n\n**100% passed** (3 of 3 cases)')).toBe(true);
    expect(r.outputs).toMatchObject({ status: 'completed', 'pass-rate': '1.0000', passed: '3', failed: '0', errored: '0', regressions: '' });
    expectSecretsHidden(r, s.gh, s.cache);

    // Neither permission: both are named, each once.
    const t = await setup({ permissions: { 'pull-requests': 'read', statuses: 'read', contents: 'read' } });
    const both = await t.run(ALL_PASS, { kind: 'pull_request' });
    expect(both.code).toBe(1);
    expect(both.errors).toEqual([
      '::error::could not comment on the pull request: the token lacks the permission; add `pull-requests: write` under `permissions:` in the workflow (GitHub accepts: issues=write; pull_requests=write)',
      '::error::could not set the commit status: the token lacks the permission; add `statuses: write` under `permissions:` in the workflow (GitHub accepts: statuses=write)',
    ]);
    expect(t.gh.state.statuses).toEqual([]);
  });

  it('annotates failing cases on their test line, at most 10 per step minus the config warnings', async () => {
    const { yaml, lines } = manyCases(15);
    const s = await setup({ suite: yaml });
    const script: ScriptRule[] = [{ match: 'Question \\d+', reply: 'No.' }];
    const r = await s.run(script, { kind: 'pull_request' }, { 'min-pass-rate': '0' });
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ failed: '15', 'pass-rate': '0.0000' });
    const annotation = (k: number) =>
      `::warning title=batch-evals: failed case,file=${CONFIG},line=${lines[k - 1]},col=5::${MINI}: case ${k}: Expected output to contain "yes"`;
    expect(r.warnings).toEqual(Array.from({ length: 10 }, (_, i) => annotation(i + 1)));
    expect(r.summary).toContain('\n<sub>5 more failing cases have no annotation: GitHub shows 10 per step.</sub>\n');

    // An unknown key spends one of the ten on a config warning.
    const withTypo = manyCases(15, '    asert: []\n');
    const t = await setup({ suite: withTypo.yaml });
    const r2 = await t.run(script, { kind: 'pull_request' }, { 'min-pass-rate': '0' });
    expect(r2.code).toBe(0);
    expect(r2.warnings).toEqual([
      `::warning title=batch-evals config,file=${CONFIG},line=9,col=5::tests[0].asert: unknown key 'asert' is ignored (did you mean 'assert'?)`,
      ...Array.from(
        { length: 9 },
        (_, i) => `::warning title=batch-evals: failed case,file=${CONFIG},line=${withTypo.lines[i]},col=5::${MINI}: case ${i + 1}: Expected output to contain "yes"`,
      ),
    ]);
    expect(r2.summary).toContain('\n<sub>6 more failing cases have no annotation: GitHub shows 10 per step.</sub>\n');
  });

  it('keeps the comment within 65,536 characters when the failures are huge, saying what was left out and where', async () => {
    const { yaml } = manyCases(300);
    const s = await setup({ suite: yaml });
    const long = `Absolutely not. ${'The answer is a long and winding no, with ünïcödé ✨ and `ticks`. '.repeat(40)}`.slice(0, 2000);
    expect(long).toHaveLength(2000);
    const r = await s.run([{ match: 'Question \\d+', reply: long }], { kind: 'pull_request' }, { 'min-pass-rate': '0' });
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ failed: '300', passed: '0' });
    expect(calls(r)).toContain(`POST /repos/${REPO}/issues/${PR}/comments 201`);

    const [comment] = s.ours();
    expect(codePoints(comment.body)).toBeLessThanOrEqual(65_536);
    expect(comment.body.length).toBeGreaterThan(20_000); // trimmed to fit, not emptied
    const shownInComment = comment.body.split('\n').filter((l) => l.startsWith('**❌ failed**')).length;
    expect(shownInComment).toBeGreaterThanOrEqual(10);
    expect(comment.body).toContain('<details><summary>300 failing cases</summary>');
    expect(comment.body).toContain(`…and ${300 - shownInComment} more in the job summary and the results file.`);
    expect(comment.body.trimEnd().endsWith('reproduce locally with `npx batch-evals run evals/suite.yaml`</sub>')).toBe(true);

    // The job summary (1 MiB) shows all of them.
    const shownInSummary = r.summary.split('\n').filter((l) => l.startsWith('**❌ failed**')).length;
    expect(shownInSummary).toBe(300);
    expect(r.summary).not.toContain('more in the results file');
    const results = JSON.parse(readFileSync(r.outputs['results-file'], 'utf8'));
    expect(results.cases).toHaveLength(300);
    expect(results.cases[299].output).toBe(long);
  });

  it('masks the GitHub token and leaks it nowhere, also on a failed write; a personal access token comments as its user', async () => {
    const token = `ghp_${randomBytes(18).toString('hex')}`;
    const s = await setup({
      token,
      identity: { login: 'alice', kind: 'user' }, // a classic PAT: every permission
      // The bot's comment from when the workflow used GITHUB_TOKEN: not this identity's, so not edited.
      comments: [{ issue: PR, user: 'github-actions[bot]', body: `${MARKER}\nolder report` }],
      faults: [{ method: 'POST', path: STATUS_PATH, status: 502, times: 1 }],
    });
    const r = await s.run(SKY_WRONG, { kind: 'pull_request' }, { 'min-pass-rate': '50%' });
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    // A server error is not the token's fault: a warning, and the step passes.
    expect(r.warnings.filter((w) => !w.includes('failed case'))).toEqual(['::warning::could not set the commit status: Server Error']);
    const [bots, alices] = [s.comments().filter((c) => c.user.login === 'github-actions[bot]'), s.comments().filter((c) => c.user.login === 'alice')];
    expect(bots.map((c) => c.body)).toEqual([`${MARKER}\nolder report`]);
    expect(alices).toHaveLength(1);
    expect(alices[0].body.startsWith(`${MARKER}\n## ✅ batch-evals: PR suite\n`)).toBe(true);
    expect(r.requests.find((q) => q.path === '/user')).toMatchObject({ status: 200, login: 'alice' });
    expect(writes(r)).toEqual([`POST /repos/${REPO}/issues/${PR}/comments 201`, `POST ${STATUS_PATH} 502`]);
    expect(r.env['INPUT_GITHUB-TOKEN']).toBe(token);
    expectSecretsHidden(r, s.gh, s.cache);
  });
});
