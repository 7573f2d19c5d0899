import * as github from '@actions/github';
import { afterEach, describe, expect, it } from 'vitest';
import { GITHUB_ACTIONS_BOT, startGitHubEmulator, type GitHubEmulator, type GitHubEmulatorOptions, type TokenConfig } from './github-emulator.ts';

// ---- fixtures ------------------------------------------------------------------------------------------------------

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const HEAD_SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const BASE_SHA = '0f1e2d3c4b5a69788796a5b4c3d2e1f0abcdef12';
const FORK_SHA = 'feedfacecafebeef0123456789abcdef01234567';

const WRITE = { issues: 'write', 'pull-requests': 'write', statuses: 'write', contents: 'read' } as const;
const TOKENS: Record<string, TokenConfig> = {
  ghs_write: { login: 'github-actions[bot]', type: 'Bot', kind: 'installation', permissions: WRITE, repositories: ['octo-org/evals'] },
  ghs_readonly: { login: 'github-actions[bot]', type: 'Bot', kind: 'installation', permissions: { issues: 'read', 'pull-requests': 'read', statuses: 'read', contents: 'read' }, repositories: ['octo-org/evals'] },
  ghs_issues_only: { login: 'github-actions[bot]', type: 'Bot', kind: 'installation', permissions: { issues: 'write' }, repositories: ['octo-org/evals'] },
  ghp_alice: { login: 'alice', id: 583231, type: 'User', kind: 'user' },
  github_pat_bob: { login: 'bob', id: 777001, kind: 'user', permissions: { issues: 'read', 'pull-requests': 'read' } },
};

function baseOptions(): GitHubEmulatorOptions {
  return {
    tokens: TOKENS,
    repos: [
      {
        owner: 'octo-org',
        repo: 'evals',
        ownerType: 'Organization',
        collaborators: ['alice'],
        pulls: [
          { number: 7, headSha: HEAD_SHA, headRef: 'feature/better-prompts', baseSha: BASE_SHA, user: 'alice', title: 'Better prompts' },
          { number: 8, headSha: FORK_SHA, headRef: 'patch-1', fork: 'forker' },
        ],
        issues: [{ number: 3, title: 'Flaky eval' }],
        comments: [{ issue: 7, body: 'Looks good to me', user: 'alice' }],
      },
      { owner: 'octo-org', repo: 'secret', private: true, pulls: [{ number: 1, headSha: HEAD_SHA, headRef: 'x' }] },
    ],
  };
}

let running: GitHubEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});

/** An emulator on a fake clock (advance with `clock.now += ms`) and an Octokit factory pointed at it. */
async function setup(extra: Partial<GitHubEmulatorOptions> = {}) {
  const clock = { now: T0 };
  const emulator = await startGitHubEmulator({ clock: () => clock.now, ...baseOptions(), ...extra });
  running.push(emulator);
  const octokit = (token = 'ghs_write') => github.getOctokit(token, { baseUrl: emulator.url });
  return { emulator, clock, octokit };
}

interface HttpError {
  name: string;
  status: number;
  message: string;
  response: { data: any; headers: Record<string, string> };
}

async function failure(promise: Promise<unknown>): Promise<HttpError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the request to fail').toBeDefined();
  expect((error as HttpError).name).toBe('HttpError');
  return error as HttpError;
}

const where = { owner: 'octo-org', repo: 'evals' };
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// ---- tests ---------------------------------------------------------------------------------------------------------

describe('GitHub emulator: identity', () => {
  it('GET /user answers a user token with its user and an installation token with 403', async () => {
    const { octokit } = await setup();
    const { data, status, headers } = await octokit('ghp_alice').rest.users.getAuthenticated();
    expect(status).toBe(200);
    expect(data).toMatchObject({ login: 'alice', id: 583231, type: 'User', node_id: Buffer.from('04:User583231').toString('base64') });
    expect(headers['x-oauth-scopes']).toBe('repo');

    const error = await failure(octokit('ghs_write').rest.users.getAuthenticated());
    expect(error.status).toBe(403);
    expect(error.response.data).toEqual({
      message: 'Resource not accessible by integration',
      documentation_url: 'https://docs.github.com/rest/users/users#get-the-authenticated-user',
      status: '403',
    });
  });

  it('401 for an unknown token and for none; both token and Bearer schemes are accepted', async () => {
    const { emulator, octokit } = await setup();
    const error = await failure(octokit('ghp_nope').rest.pulls.get({ ...where, pull_number: 7 }));
    expect(error.status).toBe(401);
    expect(error.response.data).toEqual({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });

    const anonymous = await fetch(`${emulator.url}/repos/octo-org/evals/pulls/7`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { message: string }).message).toBe('Requires authentication');

    const bearer = await fetch(`${emulator.url}/user`, { headers: { authorization: 'Bearer ghp_alice' } });
    expect(bearer.status).toBe(200);
    expect(((await bearer.json()) as { login: string }).login).toBe('alice');
    expect(emulator.state.requests.map((r) => [r.path, r.status, r.login])).toEqual([
      ['/repos/octo-org/evals/pulls/7', 401, null],
      ['/repos/octo-org/evals/pulls/7', 401, null],
      ['/user', 200, 'alice'],
    ]);
  });

  it('answers with GitHub-like headers and counts the rate limit per token', async () => {
    const { octokit } = await setup();
    const first = await octokit().rest.pulls.get({ ...where, pull_number: 7 });
    const second = await octokit().rest.pulls.get({ ...where, pull_number: 7 });
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(first.headers['x-github-request-id']).toMatch(/^[0-9A-F]{4}:[0-9A-F]{6}:[0-9A-F]{7}:[0-9A-F]{7}:[0-9A-F]{8}$/);
    expect(first.headers['x-github-request-id']).not.toBe(second.headers['x-github-request-id']);
    expect(first.headers['x-github-api-version-selected']).toBe('2022-11-28');
    expect(first.headers.etag).toMatch(/^W\/"[0-9a-f]{64}"$/);
    expect([first.headers['x-ratelimit-limit'], first.headers['x-ratelimit-remaining'], first.headers['x-ratelimit-used']]).toEqual(['1000', '999', '1']);
    expect([second.headers['x-ratelimit-remaining'], second.headers['x-ratelimit-used'], second.headers['x-ratelimit-resource']]).toEqual(['998', '2', 'core']);
    expect(Number(first.headers['x-ratelimit-reset'])).toBe(T0 / 1000 + 3600);
    const alice = await octokit('ghp_alice').rest.users.getAuthenticated();
    expect([alice.headers['x-ratelimit-limit'], alice.headers['x-ratelimit-remaining']]).toEqual(['5000', '4999']);
  });

  it('answers 403 with remaining 0 once the hourly limit is used up, and resets after the hour', async () => {
    const { octokit, clock } = await setup({ tokens: { ...TOKENS, ghs_tiny: { ...TOKENS.ghs_write, rateLimit: 2 } } });
    await octokit('ghs_tiny').rest.pulls.get({ ...where, pull_number: 7 });
    await octokit('ghs_tiny').rest.pulls.get({ ...where, pull_number: 7 });
    const error = await failure(octokit('ghs_tiny').rest.pulls.get({ ...where, pull_number: 7 }));
    expect(error.status).toBe(403);
    expect(error.response.data.message).toMatch(/^API rate limit exceeded for installation ID 41898282\./);
    expect(error.response.headers['x-ratelimit-remaining']).toBe('0');
    clock.now += 3600_000;
    const again = await octokit('ghs_tiny').rest.pulls.get({ ...where, pull_number: 7 });
    expect(again.headers['x-ratelimit-remaining']).toBe('1');
  });
});

describe('GitHub emulator: listing comments', () => {
  it('pages 30 by default and at most 100, with Link rel="next"/"last" (and "prev"/"first") like GitHub', async () => {
    const { emulator, octokit } = await setup();
    for (let i = 1; i <= 249; i++) emulator.state.addComment('octo-org/evals', 7, `comment ${i}`, i % 2 ? 'alice' : 'bob');
    const repoId = emulator.state.repos.get('octo-org/evals')!.id;
    const listUrl = `${emulator.url}/repositories/${repoId}/issues/7/comments`;

    const byDefault = await octokit().rest.issues.listComments({ ...where, issue_number: 7 });
    expect(byDefault.data).toHaveLength(30);
    expect(byDefault.headers.link).toBe(`<${listUrl}?page=2>; rel="next", <${listUrl}?page=9>; rel="last"`);

    const first = await octokit().rest.issues.listComments({ ...where, issue_number: 7, per_page: 100 });
    expect(first.data).toHaveLength(100);
    expect(first.data[0].body).toBe('Looks good to me');
    expect(first.data[1].body).toBe('comment 1');
    expect(first.headers.link).toBe(`<${listUrl}?per_page=100&page=2>; rel="next", <${listUrl}?per_page=100&page=3>; rel="last"`);

    const middle = await octokit().rest.issues.listComments({ ...where, issue_number: 7, per_page: 100, page: 2 });
    expect(middle.data[0].body).toBe('comment 100');
    expect(middle.headers.link).toBe(
      `<${listUrl}?per_page=100&page=1>; rel="prev", <${listUrl}?per_page=100&page=3>; rel="next", <${listUrl}?per_page=100&page=3>; rel="last", <${listUrl}?per_page=100&page=1>; rel="first"`,
    );

    const last = await octokit().rest.issues.listComments({ ...where, issue_number: 7, per_page: 100, page: 3 });
    expect(last.data).toHaveLength(50);
    expect(last.data.at(-1)!.body).toBe('comment 249');
    expect(last.headers.link).toBe(`<${listUrl}?per_page=100&page=2>; rel="prev", <${listUrl}?per_page=100&page=1>; rel="first"`);

    const clamped = await octokit().rest.issues.listComments({ ...where, issue_number: 7, per_page: 500 });
    expect(clamped.data).toHaveLength(100);

    const beyond = await octokit().rest.issues.listComments({ ...where, issue_number: 7, per_page: 100, page: 9 });
    expect(beyond.data).toEqual([]);
  });

  it('octokit.paginate follows the Link headers through more than 100 comments', async () => {
    const { emulator, octokit } = await setup();
    for (let i = 1; i <= 249; i++) emulator.state.addComment('octo-org/evals', 7, `comment ${i}`, 'bob');
    const client = octokit();
    const all = await client.paginate(client.rest.issues.listComments, { ...where, issue_number: 7, per_page: 100 });
    expect(all).toHaveLength(250);
    expect(all.map((c) => c.body)).toEqual(['Looks good to me', ...Array.from({ length: 249 }, (_, i) => `comment ${i + 1}`)]);
    const ids = all.map((c) => c.id);
    expect(new Set(ids).size).toBe(250);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const repoId = emulator.state.repos.get('octo-org/evals')!.id;
    expect(emulator.state.requests.map((r) => `${r.method} ${r.path}?${r.query} ${r.status}`)).toEqual([
      'GET /repos/octo-org/evals/issues/7/comments?per_page=100 200',
      `GET /repositories/${repoId}/issues/7/comments?per_page=100&page=2 200`,
      `GET /repositories/${repoId}/issues/7/comments?per_page=100&page=3 200`,
    ]);
  });

  it('comment objects look like GitHub\'s', async () => {
    const { emulator, octokit } = await setup();
    const { data } = await octokit().rest.issues.listComments({ ...where, issue_number: 7 });
    expect(data).toHaveLength(1);
    const comment = data[0];
    const alice = emulator.state.users.get('alice')!;
    expect(comment).toMatchObject({
      url: `${emulator.url}/repos/octo-org/evals/issues/comments/${comment.id}`,
      html_url: `https://github.com/octo-org/evals/pull/7#issuecomment-${comment.id}`,
      issue_url: `${emulator.url}/repos/octo-org/evals/issues/7`,
      body: 'Looks good to me',
      author_association: 'COLLABORATOR',
      created_at: iso(T0 - 1_800_000),
      updated_at: iso(T0 - 1_800_000),
      performed_via_github_app: null,
      user: { login: 'alice', id: alice.id, type: 'User', html_url: 'https://github.com/alice', site_admin: false },
      reactions: { total_count: 0, '+1': 0 },
    });
    expect(comment.id).toBeGreaterThan(2_000_000_000);
    expect(comment.node_id).toMatch(/^IC_kwDO[A-Za-z0-9_-]{14}$/);
  });

  it('filters by since (updated at or after)', async () => {
    const { emulator, octokit, clock } = await setup();
    clock.now += 60_000;
    emulator.state.addComment('octo-org/evals', 7, 'later', 'bob');
    const { data } = await octokit().rest.issues.listComments({ ...where, issue_number: 7, since: iso(T0) });
    expect(data.map((c) => c.body)).toEqual(['later']);
  });
});

describe('GitHub emulator: writing comments', () => {
  it('creates (201 + Location), updates and reads back a comment as github-actions[bot]', async () => {
    const { emulator, octokit, clock } = await setup();
    const created = await octokit().rest.issues.createComment({ ...where, issue_number: 7, body: '## Eval report\n\n42/50 passed' });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`${emulator.url}/repos/octo-org/evals/issues/comments/${created.data.id}`);
    expect(created.data).toMatchObject({
      body: '## Eval report\n\n42/50 passed',
      user: { login: 'github-actions[bot]', id: 41898282, type: 'Bot', html_url: 'https://github.com/apps/github-actions', avatar_url: 'https://avatars.githubusercontent.com/in/15368?v=4' },
      author_association: 'NONE',
      created_at: iso(T0),
      updated_at: iso(T0),
    });

    clock.now += 5_000;
    const updated = await octokit().rest.issues.updateComment({ ...where, comment_id: created.data.id, body: '## Eval report\n\n50/50 passed' });
    expect(updated.status).toBe(200);
    expect(updated.data).toMatchObject({ id: created.data.id, body: '## Eval report\n\n50/50 passed', created_at: iso(T0), updated_at: iso(T0 + 5_000) });

    const read = await octokit('ghs_readonly').rest.issues.getComment({ ...where, comment_id: created.data.id });
    expect(read.data.body).toBe('## Eval report\n\n50/50 passed');
    expect(emulator.state.commentsOn('octo-org/evals', 7).map((c) => [c.user.login, c.body])).toEqual([
      ['alice', 'Looks good to me'],
      ['github-actions[bot]', '## Eval report\n\n50/50 passed'],
    ]);
    expect(emulator.state.requests.filter((r) => r.method !== 'GET').map((r) => [r.method, r.status, r.body])).toEqual([
      ['POST', 201, { body: '## Eval report\n\n42/50 passed' }],
      ['PATCH', 200, { body: '## Eval report\n\n50/50 passed' }],
    ]);
  });

  it('422 for a body longer than 65,536 characters, on create and on update', async () => {
    const { emulator, octokit } = await setup();
    const atLimit = await octokit().rest.issues.createComment({ ...where, issue_number: 7, body: 'x'.repeat(65_536) });
    expect(atLimit.data.body).toHaveLength(65_536);

    const expected = {
      message: 'Validation Failed',
      errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }],
      documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment',
      status: '422',
    };
    const tooLong = await failure(octokit().rest.issues.createComment({ ...where, issue_number: 7, body: 'x'.repeat(65_537) }));
    expect(tooLong.status).toBe(422);
    expect(tooLong.response.data).toEqual(expected);
    expect(tooLong.message).toContain('body is too long (maximum is 65536 characters)');

    const updateTooLong = await failure(octokit().rest.issues.updateComment({ ...where, comment_id: atLimit.data.id, body: 'y'.repeat(70_000) }));
    expect(updateTooLong.status).toBe(422);
    expect(updateTooLong.response.data).toEqual({ ...expected, documentation_url: 'https://docs.github.com/rest/issues/comments#update-an-issue-comment' });
    expect(emulator.state.comments.get(atLimit.data.id)!.body).toBe('x'.repeat(65_536));
    expect(emulator.state.commentsOn('octo-org/evals', 7)).toHaveLength(2);
  });

  it('403 with x-accepted-github-permissions for a read-only token; reads still work', async () => {
    const { emulator, octokit } = await setup();
    const error = await failure(octokit('ghs_readonly').rest.issues.createComment({ ...where, issue_number: 7, body: 'hello' }));
    expect(error.status).toBe(403);
    expect(error.response.headers['x-accepted-github-permissions']).toBe('issues=write; pull_requests=write');
    expect(error.response.data).toEqual({
      message: 'Resource not accessible by integration',
      documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment',
      status: '403',
    });
    expect(emulator.state.commentsOn('octo-org/evals', 7)).toHaveLength(1);

    const listed = await octokit('ghs_readonly').rest.issues.listComments({ ...where, issue_number: 7 });
    expect(listed.data.map((c) => c.body)).toEqual(['Looks good to me']);

    const fineGrained = await failure(octokit('github_pat_bob').rest.issues.createComment({ ...where, issue_number: 3, body: 'hello' }));
    expect(fineGrained.status).toBe(403);
    expect(fineGrained.response.data.message).toBe('Resource not accessible by personal access token');
  });

  it('commenting on a pull request needs pull-requests: write; issues: write covers only issues', async () => {
    const { octokit } = await setup();
    const onPull = await failure(octokit('ghs_issues_only').rest.issues.createComment({ ...where, issue_number: 7, body: 'hi' }));
    expect(onPull.status).toBe(403);
    expect(onPull.response.headers['x-accepted-github-permissions']).toBe('issues=write; pull_requests=write');
    const onIssue = await octokit('ghs_issues_only').rest.issues.createComment({ ...where, issue_number: 3, body: 'hi' });
    expect(onIssue.status).toBe(201);
    expect(onIssue.data.html_url).toBe(`https://github.com/octo-org/evals/issues/3#issuecomment-${onIssue.data.id}`);
  });

  it('refuses to edit another account\'s comment: 403 for an app, 403 for a user without admin rights', async () => {
    const { emulator, octokit } = await setup();
    const alicesComment = emulator.state.commentsOn('octo-org/evals', 7)[0];
    const byApp = await failure(octokit().rest.issues.updateComment({ ...where, comment_id: alicesComment.id, body: 'hijacked' }));
    expect(byApp.status).toBe(403);
    expect(byApp.response.data).toEqual({
      message: 'Resource not accessible by integration',
      documentation_url: 'https://docs.github.com/rest/issues/comments#update-an-issue-comment',
      status: '403',
    });
    expect(emulator.state.comments.get(alicesComment.id)!.body).toBe('Looks good to me');

    const botComment = await octokit().rest.issues.createComment({ ...where, issue_number: 7, body: 'report' });
    const byUser = await failure(octokit('ghp_alice').rest.issues.updateComment({ ...where, comment_id: botComment.data.id, body: 'edited by alice' }));
    expect(byUser.status).toBe(403);
    expect(byUser.response.data.message).toBe('Must have admin rights to Repository.');
    const ownByAlice = await octokit('ghp_alice').rest.issues.updateComment({ ...where, comment_id: alicesComment.id, body: 'LGTM (edited)' });
    expect(ownByAlice.data.body).toBe('LGTM (edited)');
    const deleteOther = await failure(octokit().rest.issues.deleteComment({ ...where, comment_id: alicesComment.id }));
    expect(deleteOther.status).toBe(403);
    const deleted = await octokit().rest.issues.deleteComment({ ...where, comment_id: botComment.data.id });
    expect(deleted.status).toBe(204);
    expect(emulator.state.comments.has(botComment.data.id)).toBe(false);
  });

  it('422 for a missing or blank body, 400 for a body that is not JSON', async () => {
    const { emulator, octokit } = await setup();
    const post = (body: string) => fetch(`${emulator.url}/repos/octo-org/evals/issues/7/comments`, { method: 'POST', headers: { authorization: 'token ghs_write' }, body });
    const missing = await post('');
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { message: string }).message).toBe('Invalid request.\n\n"body" wasn\'t supplied.');
    const blank = await failure(octokit().rest.issues.createComment({ ...where, issue_number: 7, body: '   ' }));
    expect(blank.status).toBe(422);
    expect(blank.response.data.errors).toEqual([{ resource: 'IssueComment', code: 'missing_field', field: 'body' }]);
    const notJson = await post('{body:');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { message: string }).message).toBe('Problems parsing JSON');
  });
});

describe('GitHub emulator: 404s', () => {
  it('unknown repository, pull request, issue, comment; a private repository the token is not granted', async () => {
    const { octokit } = await setup();
    const cases: [string, () => Promise<unknown>, string][] = [
      ['repo', () => octokit().rest.issues.listComments({ owner: 'octo-org', repo: 'nope', issue_number: 7 }), 'https://docs.github.com/rest/issues/comments#list-issue-comments'],
      ['pull', () => octokit().rest.pulls.get({ ...where, pull_number: 999 }), 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request'],
      ['issue', () => octokit().rest.issues.createComment({ ...where, issue_number: 999, body: 'x' }), 'https://docs.github.com/rest/issues/comments#create-an-issue-comment'],
      ['comment', () => octokit().rest.issues.getComment({ ...where, comment_id: 1 }), 'https://docs.github.com/rest/issues/comments#get-an-issue-comment'],
      ['private', () => octokit().rest.pulls.get({ owner: 'octo-org', repo: 'secret', pull_number: 1 }), 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request'],
    ];
    for (const [name, request, doc] of cases) {
      const error = await failure(request());
      expect([name, error.status, error.response.data]).toEqual([name, 404, { message: 'Not Found', documentation_url: doc, status: '404' }]);
    }
    // A token granted every repository sees the private one.
    const granted = await octokit('ghp_alice').rest.pulls.get({ owner: 'octo-org', repo: 'secret', pull_number: 1 });
    expect(granted.data.base.repo.private).toBe(true);
    expect(granted.data.base.repo.visibility).toBe('private');
  });
});

describe('GitHub emulator: pull requests', () => {
  it('answers a pull request object with head and base', async () => {
    const { emulator, octokit } = await setup();
    const { data } = await octokit().rest.pulls.get({ ...where, pull_number: 7 });
    expect(data).toMatchObject({
      number: 7,
      state: 'open',
      title: 'Better prompts',
      draft: false,
      merged: false,
      html_url: 'https://github.com/octo-org/evals/pull/7',
      url: `${emulator.url}/repos/octo-org/evals/pulls/7`,
      user: { login: 'alice', type: 'User' },
      author_association: 'COLLABORATOR',
      comments: 1,
      head: { sha: HEAD_SHA, ref: 'feature/better-prompts', label: 'octo-org:feature/better-prompts', repo: { full_name: 'octo-org/evals', fork: false } },
      base: { sha: BASE_SHA, ref: 'main', label: 'octo-org:main', repo: { full_name: 'octo-org/evals', default_branch: 'main', private: false, owner: { login: 'octo-org', type: 'Organization' } } },
    });
    expect(data.statuses_url).toBe(`${emulator.url}/repos/octo-org/evals/statuses/${HEAD_SHA}`);
    expect(data.id).toBeGreaterThan(2_000_000_000);
  });

  it('a pull request from a fork has its head in the fork', async () => {
    const { octokit } = await setup();
    const { data } = await octokit('ghs_readonly').rest.pulls.get({ ...where, pull_number: 8 });
    expect(data.user.login).toBe('forker');
    expect(data.head).toMatchObject({ sha: FORK_SHA, ref: 'patch-1', label: 'forker:patch-1', repo: { full_name: 'forker/evals', fork: true, owner: { login: 'forker' } } });
    expect(data.base.repo.full_name).toBe('octo-org/evals');
    expect(data.head.repo!.id).not.toBe(data.base.repo.id);
  });
});

describe('GitHub emulator: commit statuses', () => {
  it('creates statuses and lists them newest first, by sha or by branch', async () => {
    const { emulator, octokit, clock } = await setup();
    const description = 'd'.repeat(140);
    const created = await octokit().rest.repos.createCommitStatus({ ...where, sha: HEAD_SHA, state: 'pending', context: 'batch-evals', description, target_url: 'https://example.com/run/1' });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`${emulator.url}/repos/octo-org/evals/statuses/${HEAD_SHA}`);
    expect(created.data).toMatchObject({ state: 'pending', context: 'batch-evals', description, target_url: 'https://example.com/run/1', creator: { login: 'github-actions[bot]', id: GITHUB_ACTIONS_BOT.id } });
    expect(created.data.node_id).toBe(Buffer.from(`06:Status${created.data.id}`).toString('base64'));

    clock.now += 60_000;
    await octokit().rest.repos.createCommitStatus({ ...where, sha: HEAD_SHA, state: 'success', context: 'batch-evals', description: '50/50 passed' });
    const bySha = await octokit('ghs_readonly').rest.repos.listCommitStatusesForRef({ ...where, ref: HEAD_SHA });
    expect(bySha.data.map((s) => [s.state, s.description, s.created_at])).toEqual([
      ['success', '50/50 passed', iso(T0 + 60_000)],
      ['pending', description, iso(T0)],
    ]);
    const byBranch = await octokit().rest.repos.listCommitStatusesForRef({ ...where, ref: 'feature/better-prompts' });
    expect(byBranch.data.map((s) => s.id)).toEqual(bySha.data.map((s) => s.id));
    const combined = await octokit().rest.repos.getCombinedStatusForRef({ ...where, ref: HEAD_SHA });
    expect(combined.data).toMatchObject({ state: 'success', sha: HEAD_SHA, total_count: 1 });
    expect(emulator.state.statusesFor('octo-org/evals', HEAD_SHA).map((s) => s.state)).toEqual(['success', 'pending']);
  });

  it('422 for a description over 140 characters, an invalid state, or an unknown sha', async () => {
    const { emulator, octokit } = await setup();
    const tooLong = await failure(octokit().rest.repos.createCommitStatus({ ...where, sha: HEAD_SHA, state: 'failure', context: 'batch-evals', description: 'd'.repeat(141) }));
    expect(tooLong.status).toBe(422);
    expect(tooLong.response.data).toEqual({
      message: 'Validation Failed',
      errors: [{ resource: 'Status', code: 'custom', field: 'description', message: 'description is too long (maximum is 140 characters)' }],
      documentation_url: 'https://docs.github.com/rest/commits/statuses#create-a-commit-status',
      status: '422',
    });
    const badState = await failure(octokit().rest.repos.createCommitStatus({ ...where, sha: HEAD_SHA, state: 'passed' as 'success' }));
    expect(badState.status).toBe(422);
    expect(badState.response.data.message).toContain('"passed" is not one of');
    const unknownSha = await failure(octokit().rest.repos.createCommitStatus({ ...where, sha: 'f'.repeat(40), state: 'success' }));
    expect(unknownSha.status).toBe(422);
    expect(unknownSha.response.data.message).toBe(`No commit found for SHA: ${'f'.repeat(40)}`);
    expect(emulator.state.statuses).toEqual([]);
  });

  it('403 with x-accepted-github-permissions: statuses=write for a read-only token', async () => {
    const { emulator, octokit } = await setup();
    const error = await failure(octokit('ghs_readonly').rest.repos.createCommitStatus({ ...where, sha: HEAD_SHA, state: 'success', context: 'batch-evals' }));
    expect(error.status).toBe(403);
    expect(error.response.headers['x-accepted-github-permissions']).toBe('statuses=write');
    expect(error.response.data.message).toBe('Resource not accessible by integration');
    expect(emulator.state.statuses).toHaveLength(0);
  });
});

describe('GitHub emulator: fault injection', () => {
  it('answers scheduled faults, then handles requests normally', async () => {
    const { emulator, octokit } = await setup({
      faults: [
        { method: 'POST', path: /\/issues\/\d+\/comments$/, status: 502, times: 1 },
        { method: 'GET', path: /\/comments$/, status: 403, skip: 1, times: 1, retryAfter: 1 },
      ],
    });
    const badGateway = await failure(octokit().rest.issues.createComment({ ...where, issue_number: 7, body: 'one' }));
    expect(badGateway.status).toBe(502);
    expect(badGateway.response.data).toEqual({ message: 'Server Error' });
    const retried = await octokit().rest.issues.createComment({ ...where, issue_number: 7, body: 'one' });
    expect(retried.status).toBe(201);

    const passes = await octokit().rest.issues.listComments({ ...where, issue_number: 7 });
    expect(passes.data).toHaveLength(2);
    const secondary = await failure(octokit().rest.issues.listComments({ ...where, issue_number: 7 }));
    expect(secondary.status).toBe(403);
    expect(secondary.response.headers['retry-after']).toBe('1');
    expect(secondary.response.data.message).toMatch(/^You have exceeded a secondary rate limit\. .*request ID [0-9A-F:]+\.$/);
    expect(secondary.response.data.message).toContain(secondary.response.headers['x-github-request-id']);
    const afterwards = await octokit().rest.issues.listComments({ ...where, issue_number: 7 });
    expect(afterwards.data).toHaveLength(2);

    expect(emulator.state.faults.map((f) => [f.seen, f.served])).toEqual([
      [1, 1],
      [2, 1],
    ]);
    expect(emulator.state.requests.map((r) => [r.method, r.status, r.fault])).toEqual([
      ['POST', 502, true],
      ['POST', 201, false],
      ['GET', 200, false],
      ['GET', 403, true],
      ['GET', 200, false],
    ]);
    expect(emulator.state.commentsOn('octo-org/evals', 7)).toHaveLength(2);
  });

  it('faults can be added while running, with a text body and Infinity times', async () => {
    const { emulator, octokit } = await setup();
    emulator.state.addFault({ path: '/repos/octo-org/evals/pulls/7', status: 500, times: Infinity, body: '<html>Unicorn!</html>' });
    for (let i = 0; i < 3; i++) {
      const error = await failure(octokit().rest.pulls.get({ ...where, pull_number: 7 }));
      expect([error.status, error.response.data, error.response.headers['content-type']]).toEqual([500, '<html>Unicorn!</html>', 'text/html; charset=utf-8']);
    }
    const other = await octokit().rest.pulls.get({ ...where, pull_number: 8 });
    expect(other.data.number).toBe(8);
  });
});

describe('GitHub emulator: repository contents at a commit', () => {
  const SHA_A = '1111111111111111111111111111111111111111';
  const SHA_B = '2222222222222222222222222222222222222222';
  const LONG = 'The quick brown fox jumps over the lazy dog. '.repeat(3); // 135 bytes -> 180 base64 characters
  const BIG = 'x'.repeat(1024 * 1024 + 1);

  async function contentsSetup() {
    return setup({
      repos: [
        {
          owner: 'octo-org',
          repo: 'evals',
          branches: { main: SHA_B },
          commits: {
            [SHA_A]: { 'evals/suite.yaml': 'hello\n', 'evals/prompts/long.txt': LONG, 'README.md': '# evals\n' },
            [SHA_B]: { 'evals/suite.yaml': 'changed\n', 'evals/big.txt': BIG },
          },
        },
        { owner: 'octo-org', repo: 'secret', private: true, commits: { [SHA_A]: { 'a.txt': 'private' } } },
      ],
    });
  }

  it('answers a file at a commit as GitHub does: base64 in lines of 60, the git blob sha, size, name and path', async () => {
    const { octokit } = await contentsSetup();
    const { data, status } = await octokit().rest.repos.getContent({ ...where, path: 'evals/prompts/long.txt', ref: SHA_A });
    expect(status).toBe(200);
    const file = data as { type: string; encoding: string; content: string; sha: string; size: number; name: string; path: string; url: string; git_url: string; download_url: string };
    expect(file).toMatchObject({ type: 'file', encoding: 'base64', size: 135, name: 'long.txt', path: 'evals/prompts/long.txt' });
    expect(file.content.split('\n').map((line) => line.length)).toEqual([60, 60, 60, 0]);
    expect(Buffer.from(file.content, 'base64').toString('utf8')).toBe(LONG);
    expect(file.url.endsWith(`/repos/octo-org/evals/contents/evals/prompts/long.txt?ref=${SHA_A}`)).toBe(true);
    expect(file.download_url).toBe(`https://raw.githubusercontent.com/octo-org/evals/${SHA_A}/evals/prompts/long.txt`);

    // `git hash-object` of "hello\n"
    const hello = await octokit().rest.repos.getContent({ ...where, path: 'evals/suite.yaml', ref: SHA_A });
    expect(hello.data).toMatchObject({ sha: 'ce013625030ba8dba906f756967f9e9ca394464a', content: 'aGVsbG8K\n', size: 6 });
    expect((hello.data as { git_url: string }).git_url.endsWith('/repos/octo-org/evals/git/blobs/ce013625030ba8dba906f756967f9e9ca394464a')).toBe(true);
  });

  it('serves each commit its own version of a path; without ref, the default branch', async () => {
    const { octokit } = await contentsSetup();
    const text = async (ref?: string) => {
      const { data } = await octokit().rest.repos.getContent({ ...where, path: 'evals/suite.yaml', ...(ref ? { ref } : {}) });
      return Buffer.from((data as { content: string }).content, 'base64').toString('utf8');
    };
    expect(await text(SHA_A)).toBe('hello\n');
    expect(await text(SHA_B)).toBe('changed\n');
    expect(await text('main')).toBe('changed\n');
    expect(await text()).toBe('changed\n');
    expect(await text(SHA_A.slice(0, 7))).toBe('hello\n');
  });

  it('lists a directory as an array of entries sorted by name', async () => {
    const { octokit } = await contentsSetup();
    const root = await octokit().rest.repos.getContent({ ...where, path: '', ref: SHA_A });
    expect((root.data as { name: string; type: string; size: number; path: string }[]).map((e) => [e.name, e.type, e.size, e.path])).toEqual([
      ['README.md', 'file', 8, 'README.md'],
      ['evals', 'dir', 0, 'evals'],
    ]);
    const evals = await octokit().rest.repos.getContent({ ...where, path: 'evals', ref: SHA_A });
    const entries = evals.data as { name: string; type: string; download_url: string | null; content?: string }[];
    expect(entries.map((e) => [e.name, e.type, e.download_url === null, 'content' in e])).toEqual([
      ['prompts', 'dir', true, false],
      ['suite.yaml', 'file', false, false],
    ]);
  });

  it('404s a path the commit does not have, and an unknown ref', async () => {
    const { octokit } = await contentsSetup();
    const missing = await failure(octokit().rest.repos.getContent({ ...where, path: 'evals/prompts/long.txt', ref: SHA_B }));
    expect(missing.status).toBe(404);
    expect(missing.response.data).toEqual({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/contents#get-repository-content', status: '404' });
    const partOfAName = await failure(octokit().rest.repos.getContent({ ...where, path: 'eval', ref: SHA_A }));
    expect(partOfAName.status).toBe(404);
    const unknownRef = await failure(octokit().rest.repos.getContent({ ...where, path: 'README.md', ref: 'f'.repeat(40) }));
    expect([unknownRef.status, unknownRef.response.data.message]).toEqual([404, `No commit found for the ref ${'f'.repeat(40)}`]);
  });

  it('leaves out the content of a file over 1 MB; the raw media type serves its bytes', async () => {
    const { emulator, octokit } = await contentsSetup();
    const json = await octokit().rest.repos.getContent({ ...where, path: 'evals/big.txt', ref: SHA_B });
    expect(json.data).toMatchObject({ type: 'file', size: 1024 * 1024 + 1, content: '', encoding: 'none' });

    const raw = await octokit().rest.repos.getContent({ ...where, path: 'evals/big.txt', ref: SHA_B, mediaType: { format: 'raw' } });
    expect(raw.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(raw.headers['x-github-media-type']).toBe('github.v3; param=raw');
    expect(raw.data as unknown).toBe(BIG);

    const viaFetch = await fetch(`${emulator.url}/repos/octo-org/evals/contents/evals%2Fsuite.yaml?ref=${SHA_A}`, {
      headers: { authorization: 'token ghs_write', accept: 'application/vnd.github.raw+json' },
    });
    expect(viaFetch.status).toBe(200);
    expect(Buffer.from(await viaFetch.arrayBuffer()).toString('utf8')).toBe('hello\n');
    expect(emulator.state.requests.at(-2)?.path).toBe('/repos/octo-org/evals/contents/evals%2Fbig.txt');
    expect(emulator.state.requests.at(-2)?.query).toBe(`ref=${SHA_B}`);
  });

  it('a private repository needs contents: read; addCommit seeds files while running', async () => {
    const { emulator, octokit } = await contentsSetup();
    const secret = { owner: 'octo-org', repo: 'secret' };
    const refused = await failure(octokit('ghs_issues_only').rest.repos.getContent({ ...secret, path: 'a.txt', ref: SHA_A }));
    expect(refused.status).toBe(404); // not among the token's repositories
    const denied = await failure(octokit('github_pat_bob').rest.repos.getContent({ ...secret, path: 'a.txt', ref: SHA_A }));
    expect([denied.status, denied.response.data.message, denied.response.headers['x-accepted-github-permissions']]).toEqual([
      403,
      'Resource not accessible by personal access token',
      'contents=read',
    ]);
    const allowed = await octokit('ghp_alice').rest.repos.getContent({ ...secret, path: 'a.txt', ref: SHA_A });
    expect(Buffer.from((allowed.data as { content: string }).content, 'base64').toString()).toBe('private');

    emulator.state.addCommit('octo-org/secret', 'c'.repeat(40), { 'nested/b.txt': 'later' });
    const added = await octokit('ghp_alice').rest.repos.getContent({ ...secret, path: 'nested/b.txt', ref: 'c'.repeat(40) });
    expect(added.data).toMatchObject({ name: 'b.txt', path: 'nested/b.txt', size: 5 });
  });
});

describe('GitHub emulator: listing pull requests', () => {
  async function pullsSetup() {
    return setup({
      repos: [
        {
          owner: 'octo-org',
          repo: 'evals',
          pulls: [1, 2, 3, 4, 5].map((n) => ({ number: n, headSha: `${n}`.repeat(40), headRef: `feature-${n}`, state: n === 3 ? ('closed' as const) : ('open' as const) })),
        },
      ],
    });
  }

  it('lists open pull requests newest first by default, paginated with a Link header', async () => {
    const { emulator, octokit } = await pullsSetup();
    const first = await octokit().rest.pulls.list({ ...where, per_page: 2 });
    expect(first.data.map((p) => p.number)).toEqual([5, 4]);
    expect(first.headers.link).toMatch(/\/repositories\/\d+\/pulls\?per_page=2&page=2>; rel="next"/);
    expect(first.data[0]).toMatchObject({ state: 'open', head: { ref: 'feature-5', sha: '5'.repeat(40) }, base: { ref: 'main' } });
    expect(first.data[0]).not.toHaveProperty('mergeable');
    expect(first.data[0]).not.toHaveProperty('commits');

    const all = await octokit().paginate(octokit().rest.pulls.list, { ...where, state: 'open', per_page: 2 });
    expect(all.map((p) => p.number)).toEqual([5, 4, 2, 1]);
    const repoId = emulator.state.repos.get('octo-org/evals')!.id;
    expect(emulator.state.requests.map((r) => [r.path, r.query, r.status])).toEqual([
      ['/repos/octo-org/evals/pulls', 'per_page=2', 200],
      ['/repos/octo-org/evals/pulls', 'state=open&per_page=2', 200],
      [`/repositories/${repoId}/pulls`, 'state=open&per_page=2&page=2', 200],
    ]);
  });

  it('filters by state, head and base; sorts ascending on request; refuses an unknown state', async () => {
    const { octokit } = await pullsSetup();
    const numbers = async (params: Record<string, string>) => (await octokit().rest.pulls.list({ ...where, ...params })).data.map((p) => p.number);
    expect(await numbers({ state: 'closed' })).toEqual([3]);
    expect(await numbers({ state: 'all', direction: 'asc' })).toEqual([1, 2, 3, 4, 5]);
    expect(await numbers({ head: 'octo-org:feature-2' })).toEqual([2]);
    expect(await numbers({ base: 'develop' })).toEqual([]);
    const invalid = await failure(octokit().rest.pulls.list({ ...where, state: 'merged' as 'open' }));
    expect(invalid.status).toBe(422);
    expect(invalid.response.data.errors).toEqual([{ value: 'merged', resource: 'Issue', field: 'state', code: 'invalid' }]);
  });
});
