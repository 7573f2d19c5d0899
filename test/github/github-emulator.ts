/**
 * An emulator of the GitHub REST endpoints the action uses (the authenticated user, issue comments, pull requests,
 * commit statuses, repository contents at a commit) over real HTTP (node:http), so tests drive `@actions/github`'s Octokit against it with
 * `github.getOctokit(token, { baseUrl: emulator.url })`. See README.md in this folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---- options -------------------------------------------------------------------------------------------------------

export type PermissionLevel = 'read' | 'write';

/** Repository permissions as a workflow's `permissions:` block names them. */
export interface TokenPermissions {
  issues?: PermissionLevel;
  'pull-requests'?: PermissionLevel;
  statuses?: PermissionLevel;
  contents?: PermissionLevel;
}

export interface TokenConfig {
  login: string;
  /** Default: 41898282 for github-actions[bot], else a generated id. */
  id?: number;
  /** Default 'Bot' when the login ends in [bot], else 'User'. */
  type?: 'User' | 'Bot';
  /**
   * 'installation' is a GitHub App installation token such as GITHUB_TOKEN: GET /user answers 403, and a missing
   * permission answers "Resource not accessible by integration". 'user' is a personal access token: with
   * `permissions` a fine-grained one ("Resource not accessible by personal access token"), without a classic one.
   * Default 'installation' for a Bot, else 'user'.
   */
  kind?: 'user' | 'installation';
  /** Omitted: every permission is 'write' (GITHUB_TOKEN's permissive default, or a classic PAT with `repo`). */
  permissions?: TokenPermissions;
  /** 'owner/repo' names the token is granted (GITHUB_TOKEN is granted one). Omitted: every repository. */
  repositories?: string[];
  /** Requests an hour. Default 1,000 for installation tokens (GITHUB_TOKEN's limit), 5,000 for users. */
  rateLimit?: number;
}

export interface UserSeed {
  login: string;
  id?: number;
  type?: 'User' | 'Bot' | 'Organization';
}

export interface PullSeed {
  number: number;
  headSha: string;
  headRef: string;
  /** Default: the repository's default branch. */
  baseRef?: string;
  /** Default: a sha derived from the repository and baseRef. */
  baseSha?: string;
  /** true: the head is in a fork owned by the PR's author; a string: the fork's owner. */
  fork?: boolean | string;
  /** Default 'contributor' (or the fork's owner). */
  user?: string | UserSeed;
  title?: string;
  body?: string | null;
  state?: 'open' | 'closed';
  merged?: boolean;
  draft?: boolean;
}

/** The files of one commit: repository path (no leading slash) -> content (a string is UTF-8). */
export type CommitFiles = Record<string, string | Uint8Array>;

export interface IssueSeed {
  number: number;
  title?: string;
  user?: string | UserSeed;
  state?: 'open' | 'closed';
}

export interface CommentSeed {
  /** The issue or pull request number. */
  issue: number;
  body: string;
  user: string | UserSeed;
  /** Default: the clock at start, one second apart in seed order. */
  createdAt?: string | number | Date;
}

export interface RepoSeed {
  owner: string;
  repo: string;
  /** Default: a generated id. */
  id?: number;
  /** Default 'main'. */
  defaultBranch?: string;
  /** Default false. Reads of a public repository need no permission; a private one needs read permission. */
  private?: boolean;
  ownerType?: 'User' | 'Organization';
  /** Logins whose author_association is COLLABORATOR (the owner is OWNER, everyone else NONE). */
  collaborators?: string[];
  pulls?: PullSeed[];
  issues?: IssueSeed[];
  comments?: CommentSeed[];
  /**
   * More commits (PR head and base shas are known already): a list of shas that statuses may be set on, or
   * sha -> the files of that commit (repository path -> content), served by GET /repos/{o}/{r}/contents/{path}?ref=.
   * A commit given as a bare sha has no files.
   */
  commits?: string[] | Record<string, CommitFiles>;
  /** Branch name -> sha, resolvable as refs (PR head and base refs are known already). */
  branches?: Record<string, string>;
}

/** Answer matching requests with an error instead of handling them. */
export interface FaultRule {
  /** Default: any method. */
  method?: string;
  /** A string matches the pathname exactly; a RegExp is tested against it (no query string). */
  path: string | RegExp;
  status: number;
  /** How many matching requests get the fault; default 1. Infinity for all. */
  times?: number;
  /** Let this many matching requests through first; default 0. */
  skip?: number;
  /**
   * A JSON value, or a string sent as text/html. Default: the secondary rate limit message for 403 and 429,
   * `{"message":"Server Error"}` for 5xx, `{"message":"Error"}` otherwise.
   */
  body?: unknown;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
  headers?: Record<string, string>;
}

export interface GitHubEmulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Token value -> identity and permissions. Tokens not listed get 401 Bad credentials. */
  tokens?: Record<string, TokenConfig>;
  repos?: RepoSeed[];
  faults?: FaultRule[];
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** Base of html_url fields; default 'https://github.com'. API urls in bodies and Link headers use the emulator's. */
  htmlUrl?: string;
}

// ---- state ---------------------------------------------------------------------------------------------------------

export interface GitHubUser {
  login: string;
  id: number;
  type: 'User' | 'Bot' | 'Organization';
}

export interface StoredPull {
  number: number;
  id: number;
  title: string;
  body: string | null;
  user: GitHubUser;
  state: 'open' | 'closed';
  merged: boolean;
  draft: boolean;
  headSha: string;
  headRef: string;
  baseSha: string;
  baseRef: string;
  /** The repository the head branch lives in: the base repository itself, or a fork. */
  headRepo: { id: number; owner: GitHubUser; name: string; fork: boolean };
  createdAt: number;
  updatedAt: number;
}

export interface StoredIssue {
  number: number;
  title: string;
  user: GitHubUser;
  state: 'open' | 'closed';
  createdAt: number;
}

export interface StoredRepo {
  id: number;
  owner: GitHubUser;
  name: string;
  fullName: string;
  defaultBranch: string;
  private: boolean;
  collaborators: Set<string>;
  pulls: Map<number, StoredPull>;
  issues: Map<number, StoredIssue>;
  commits: Set<string>;
  /** Commit sha -> repository path -> bytes (the commits seeded with files). */
  trees: Map<string, Map<string, Buffer>>;
  branches: Map<string, string>;
  createdAt: number;
}

export interface StoredComment {
  id: number;
  /** The repository's full name as seeded (owner/repo). */
  repo: string;
  issue: number;
  body: string;
  user: GitHubUser;
  createdAt: number;
  updatedAt: number;
}

export interface StoredStatus {
  id: number;
  repo: string;
  sha: string;
  state: 'error' | 'failure' | 'pending' | 'success';
  description: string | null;
  targetUrl: string | null;
  context: string;
  creator: GitHubUser;
  createdAt: number;
}

export interface GitHubRequestLogEntry {
  method: string;
  path: string;
  /** The query string without '?', '' when none. */
  query: string;
  status: number;
  /** Login of the token's identity; null without a known token. */
  login: string | null;
  /** The parsed JSON body of POST/PATCH requests (undefined otherwise or when not JSON). */
  body?: unknown;
  requestId: string;
  /** True when a fault rule answered the request. */
  fault: boolean;
}

export interface ActiveFault extends FaultRule {
  /** Matching requests seen so far (skipped ones included). */
  seen: number;
  /** Requests answered with the fault so far. */
  served: number;
}

export interface RateWindow {
  limit: number;
  used: number;
  /** Seconds since the epoch. */
  reset: number;
}

export interface GitHubEmulatorState {
  /** Lowercased login -> user. */
  users: Map<string, GitHubUser>;
  /** Lowercased 'owner/repo' -> repository. */
  repos: Map<string, StoredRepo>;
  /** Comment id -> comment, in creation order. */
  comments: Map<number, StoredComment>;
  statuses: StoredStatus[];
  requests: GitHubRequestLogEntry[];
  faults: ActiveFault[];
  /** Token value ('' for requests without a known token) -> its rate limit window. */
  rateLimits: Map<string, RateWindow>;
  /** Comments on an issue or pull request, oldest first. */
  commentsOn(fullName: string, issue: number): StoredComment[];
  /** Statuses of a commit, newest first. */
  statusesFor(fullName: string, sha: string): StoredStatus[];
  /** Adds a comment as if `user` had written it (no permission checks). */
  addComment(fullName: string, issue: number, body: string, user: string | UserSeed): StoredComment;
  addFault(rule: FaultRule): ActiveFault;
  /** Adds a commit with these files, or adds (replaces) files of a known one. */
  addCommit(fullName: string, sha: string, files: CommitFiles): void;
  /** An API object as the server would answer it. */
  commentObject(id: number): Record<string, unknown>;
  pullObject(fullName: string, number: number): Record<string, unknown>;
}

export interface GitHubEmulator {
  /** Base URL for `github.getOctokit(token, { baseUrl })` (no trailing slash). */
  url: string;
  port: number;
  state: GitHubEmulatorState;
  close(): Promise<void>;
}

// ---- constants -----------------------------------------------------------------------------------------------------

/** The identity behind GITHUB_TOKEN. */
export const GITHUB_ACTIONS_BOT: Readonly<GitHubUser> = Object.freeze({ login: 'github-actions[bot]', id: 41898282, type: 'Bot' });

/** Longest issue comment body, in characters (Unicode code points, as GitHub's Ruby validation counts them). */
export const MAX_COMMENT_BODY = 65_536;
/** Longest commit status description. */
export const MAX_STATUS_DESCRIPTION = 140;
/** Statuses per sha and context. */
export const MAX_STATUSES_PER_CONTEXT = 1000;
/** Larger files come back from the contents API without content (`encoding: 'none'`); the raw media type still serves them. */
export const MAX_CONTENTS_JSON_SIZE = 1024 * 1024;

const DOCS = {
  root: 'https://docs.github.com/rest',
  getUser: 'https://docs.github.com/rest/users/users#get-the-authenticated-user',
  getRepo: 'https://docs.github.com/rest/repos/repos#get-a-repository',
  listComments: 'https://docs.github.com/rest/issues/comments#list-issue-comments',
  createComment: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment',
  getComment: 'https://docs.github.com/rest/issues/comments#get-an-issue-comment',
  updateComment: 'https://docs.github.com/rest/issues/comments#update-an-issue-comment',
  deleteComment: 'https://docs.github.com/rest/issues/comments#delete-an-issue-comment',
  getPull: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request',
  listPulls: 'https://docs.github.com/rest/pulls/pulls#list-pull-requests',
  getContent: 'https://docs.github.com/rest/repos/contents#get-repository-content',
  createStatus: 'https://docs.github.com/rest/commits/statuses#create-a-commit-status',
  listStatuses: 'https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference',
  combinedStatus: 'https://docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference',
  primaryRateLimit: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
  secondaryRateLimit: 'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
} as const;

const STATUS_STATES = ['error', 'failure', 'pending', 'success'] as const;

// ---- errors --------------------------------------------------------------------------------------------------------

/** An error answered with GitHub's envelope: `{ message, errors?, documentation_url, status }`. */
export class GitHubApiError extends Error {
  readonly status: number;
  readonly documentationUrl: string;
  readonly errors: Record<string, unknown>[] | undefined;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, documentationUrl: string, options: { errors?: Record<string, unknown>[]; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.documentationUrl = documentationUrl;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  envelope(): Record<string, unknown> {
    return {
      message: this.message,
      ...(this.errors ? { errors: this.errors } : {}),
      documentation_url: this.documentationUrl,
      status: String(this.status),
    };
  }
}

const notFound = (doc: string) => new GitHubApiError(404, 'Not Found', doc);

function validationFailed(doc: string, resource: string, field: string, code: string, message?: string): GitHubApiError {
  return new GitHubApiError(422, 'Validation Failed', doc, { errors: [{ resource, code, field, ...(message === undefined ? {} : { message }) }] });
}

/** GitHub's JSON-schema check of a request body: a missing or mistyped field. */
function invalidRequest(doc: string, detail: string): GitHubApiError {
  return new GitHubApiError(422, `Invalid request.\n\n${detail}`, doc);
}

// ---- server --------------------------------------------------------------------------------------------------------

interface Identity {
  token: string;
  config: TokenConfig;
  user: GitHubUser;
  kind: 'user' | 'installation';
}

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: URL;
  identity: Identity | undefined;
  authError: GitHubApiError | undefined;
  body: unknown;
  bodyError: boolean;
}

export async function startGitHubEmulator(options: GitHubEmulatorOptions = {}): Promise<GitHubEmulator> {
  const clock = options.clock ?? Date.now;
  const htmlBase = (options.htmlUrl ?? 'https://github.com').replace(/\/+$/, '');
  let apiBase = '';

  // ---- model ----

  const users = new Map<string, GitHubUser>();
  const repos = new Map<string, StoredRepo>();
  const comments = new Map<number, StoredComment>();
  const statuses: StoredStatus[] = [];
  const requests: GitHubRequestLogEntry[] = [];
  const faults: ActiveFault[] = [];
  const rateLimits = new Map<string, RateWindow>();
  let nextUserId = 10_000_001;
  let nextRepoId = 812_345_001;
  let nextPullId = 2_100_000_001;
  let nextCommentId = 2_400_000_001;
  let nextStatusId = 30_000_000_001;

  users.set(GITHUB_ACTIONS_BOT.login, { ...GITHUB_ACTIONS_BOT });

  function userFor(seed: string | UserSeed): GitHubUser {
    const s = typeof seed === 'string' ? { login: seed } : seed;
    const key = s.login.toLowerCase();
    const known = users.get(key);
    if (known) return known;
    const user: GitHubUser = { login: s.login, id: s.id ?? nextUserId++, type: s.type ?? (s.login.endsWith('[bot]') ? 'Bot' : 'User') };
    users.set(key, user);
    return user;
  }

  const tokens = new Map<string, Identity>();
  for (const [token, config] of Object.entries(options.tokens ?? {})) {
    const user = userFor({ login: config.login, id: config.id, type: config.type });
    tokens.set(token, { token, config, user, kind: config.kind ?? (user.type === 'Bot' ? 'installation' : 'user') });
  }

  const t0 = clock();
  for (const seed of options.repos ?? []) {
    const owner = userFor({ login: seed.owner, type: seed.ownerType });
    const fullName = `${seed.owner}/${seed.repo}`;
    const repo: StoredRepo = {
      id: seed.id ?? nextRepoId++,
      owner,
      name: seed.repo,
      fullName,
      defaultBranch: seed.defaultBranch ?? 'main',
      private: seed.private ?? false,
      collaborators: new Set((seed.collaborators ?? []).map((l) => l.toLowerCase())),
      pulls: new Map(),
      issues: new Map(),
      commits: new Set(),
      trees: new Map(),
      branches: new Map(Object.entries(seed.branches ?? {})),
      createdAt: t0 - 86_400_000 * 365,
    };
    repos.set(fullName.toLowerCase(), repo);
    if (Array.isArray(seed.commits)) for (const sha of seed.commits) repo.commits.add(sha.toLowerCase());
    else for (const [sha, files] of Object.entries(seed.commits ?? {})) addCommit(repo, sha, files);
    for (const p of seed.pulls ?? []) {
      const forkOwner = typeof p.fork === 'string' ? userFor(p.fork) : undefined;
      const author = userFor(p.user ?? forkOwner ?? 'contributor');
      const fork = p.fork !== undefined && p.fork !== false;
      const baseRef = p.baseRef ?? repo.defaultBranch;
      const baseSha = p.baseSha ?? fakeSha(`${fullName}@${baseRef}`);
      const pull: StoredPull = {
        number: p.number,
        id: nextPullId++,
        title: p.title ?? `Pull request #${p.number}`,
        body: p.body === undefined ? null : p.body,
        user: author,
        state: p.state ?? (p.merged ? 'closed' : 'open'),
        merged: p.merged ?? false,
        draft: p.draft ?? false,
        headSha: p.headSha,
        headRef: p.headRef,
        baseSha,
        baseRef,
        headRepo: fork ? { id: nextRepoId++, owner: forkOwner ?? author, name: seed.repo, fork: true } : { id: repo.id, owner, name: seed.repo, fork: false },
        createdAt: t0 - 3_600_000,
        updatedAt: t0 - 3_600_000,
      };
      repo.pulls.set(p.number, pull);
      repo.commits.add(p.headSha).add(baseSha);
      if (!fork && !repo.branches.has(p.headRef)) repo.branches.set(p.headRef, p.headSha);
      if (!repo.branches.has(baseRef)) repo.branches.set(baseRef, baseSha);
    }
    for (const i of seed.issues ?? []) {
      repo.issues.set(i.number, { number: i.number, title: i.title ?? `Issue #${i.number}`, user: userFor(i.user ?? owner.login), state: i.state ?? 'open', createdAt: t0 - 3_600_000 });
    }
    for (const sha of repo.branches.values()) repo.commits.add(sha);
    (seed.comments ?? []).forEach((c, index) => {
      if (!repo.pulls.has(c.issue) && !repo.issues.has(c.issue)) throw new Error(`GitHub emulator: comment seed on ${fullName}#${c.issue}, which is neither a seeded pull request nor issue`);
      const at = c.createdAt === undefined ? t0 - 1_800_000 + index * 1000 : new Date(c.createdAt).getTime();
      insertComment(repo, c.issue, c.body, userFor(c.user), at);
    });
  }
  for (const rule of options.faults ?? []) addFault(rule);

  function insertComment(repo: StoredRepo, issue: number, body: string, user: GitHubUser, at: number): StoredComment {
    const comment: StoredComment = { id: nextCommentId++, repo: repo.fullName, issue, body, user, createdAt: at, updatedAt: at };
    comments.set(comment.id, comment);
    return comment;
  }

  function addCommit(repo: StoredRepo, rawSha: string, files: CommitFiles): void {
    const sha = rawSha.toLowerCase();
    if (!/^[0-9a-f]{40}$/.test(sha)) throw new Error(`GitHub emulator: commit '${rawSha}' of ${repo.fullName} is not a 40-digit sha`);
    repo.commits.add(sha);
    let tree = repo.trees.get(sha);
    if (!tree) repo.trees.set(sha, (tree = new Map()));
    for (const [rawPath, content] of Object.entries(files)) {
      const path = normalizeRepoPath(rawPath);
      if (!path) throw new Error(`GitHub emulator: empty file path in commit ${sha} of ${repo.fullName}`);
      tree.set(path, typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content));
    }
  }

  function addFault(rule: FaultRule): ActiveFault {
    const fault: ActiveFault = { ...rule, seen: 0, served: 0 };
    faults.push(fault);
    return fault;
  }

  function repoByName(fullName: string): StoredRepo | undefined {
    return repos.get(fullName.toLowerCase());
  }

  function repoById(id: number): StoredRepo | undefined {
    for (const repo of repos.values()) if (repo.id === id) return repo;
    return undefined;
  }

  function mustRepo(fullName: string): StoredRepo {
    const repo = repoByName(fullName);
    if (!repo) throw new Error(`GitHub emulator: no repository ${fullName}`);
    return repo;
  }

  // ---- API objects ----

  function userObject(user: GitHubUser): Record<string, unknown> {
    const api = `${apiBase}/users/${encodeURIComponent(user.login)}`;
    const isBot = user.type === 'Bot';
    const legacyNodeId = Buffer.from(user.type === 'Bot' ? `03:Bot${user.id}` : user.type === 'Organization' ? `012:Organization${user.id}` : `04:User${user.id}`).toString('base64');
    return {
      login: user.login,
      id: user.id,
      node_id: legacyNodeId,
      avatar_url: user.id === GITHUB_ACTIONS_BOT.id ? 'https://avatars.githubusercontent.com/in/15368?v=4' : `https://avatars.githubusercontent.com/u/${user.id}?v=4`,
      gravatar_id: '',
      url: api,
      html_url: isBot ? `${htmlBase}/apps/${user.login.replace(/\[bot\]$/, '')}` : `${htmlBase}/${user.login}`,
      followers_url: `${api}/followers`,
      following_url: `${api}/following{/other_user}`,
      gists_url: `${api}/gists{/gist_id}`,
      starred_url: `${api}/starred{/owner}{/repo}`,
      subscriptions_url: `${api}/subscriptions`,
      organizations_url: `${api}/orgs`,
      repos_url: `${api}/repos`,
      events_url: `${api}/events{/privacy}`,
      received_events_url: `${api}/received_events`,
      type: user.type,
      user_view_type: 'public',
      site_admin: false,
    };
  }

  function authenticatedUserObject(user: GitHubUser): Record<string, unknown> {
    const created = new Date(Date.UTC(2015, 0, 1) + (user.id % 3000) * 86_400_000);
    return {
      ...userObject(user),
      name: null,
      company: null,
      blog: '',
      location: null,
      email: null,
      hireable: null,
      bio: null,
      twitter_username: null,
      notification_email: null,
      public_repos: [...repos.values()].filter((r) => r.owner.id === user.id && !r.private).length,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: iso(created.getTime()),
      updated_at: iso(created.getTime()),
    };
  }

  function repoObject(repo: { id: number; owner: GitHubUser; name: string; private: boolean; fork: boolean; defaultBranch: string; createdAt: number }): Record<string, unknown> {
    const fullName = `${repo.owner.login}/${repo.name}`;
    const api = `${apiBase}/repos/${fullName}`;
    return {
      id: repo.id,
      node_id: `R_kgDO${opaque(`repo:${repo.id}`, 6)}`,
      name: repo.name,
      full_name: fullName,
      private: repo.private,
      owner: userObject(repo.owner),
      html_url: `${htmlBase}/${fullName}`,
      description: null,
      fork: repo.fork,
      url: api,
      issue_comment_url: `${api}/issues/comments{/number}`,
      issues_url: `${api}/issues{/number}`,
      pulls_url: `${api}/pulls{/number}`,
      statuses_url: `${api}/statuses/{sha}`,
      commits_url: `${api}/commits{/sha}`,
      git_url: `git://${new URL(htmlBase).host}/${fullName}.git`,
      ssh_url: `git@${new URL(htmlBase).host}:${fullName}.git`,
      clone_url: `${htmlBase}/${fullName}.git`,
      homepage: null,
      created_at: iso(repo.createdAt),
      updated_at: iso(repo.createdAt),
      pushed_at: iso(repo.createdAt),
      size: 0,
      stargazers_count: 0,
      watchers_count: 0,
      language: 'TypeScript',
      has_issues: true,
      has_projects: true,
      has_downloads: true,
      has_wiki: true,
      has_pages: false,
      has_discussions: false,
      forks_count: 0,
      archived: false,
      disabled: false,
      open_issues_count: 0,
      license: null,
      allow_forking: true,
      is_template: false,
      web_commit_signoff_required: false,
      topics: [],
      visibility: repo.private ? 'private' : 'public',
      forks: 0,
      open_issues: 0,
      watchers: 0,
      default_branch: repo.defaultBranch,
    };
  }

  const storedRepoObject = (repo: StoredRepo) => repoObject({ ...repo, fork: false });

  function association(repo: StoredRepo, user: GitHubUser): string {
    if (repo.owner.type !== 'Organization' && user.id === repo.owner.id) return 'OWNER';
    if (repo.collaborators.has(user.login.toLowerCase())) return 'COLLABORATOR';
    return 'NONE';
  }

  function commentObject(comment: StoredComment): Record<string, unknown> {
    const repo = mustRepo(comment.repo);
    const api = `${apiBase}/repos/${repo.fullName}`;
    const kind = repo.pulls.has(comment.issue) ? 'pull' : 'issues';
    return {
      url: `${api}/issues/comments/${comment.id}`,
      html_url: `${htmlBase}/${repo.fullName}/${kind}/${comment.issue}#issuecomment-${comment.id}`,
      issue_url: `${api}/issues/${comment.issue}`,
      id: comment.id,
      node_id: `IC_kwDO${opaque(`comment:${comment.id}`, 14)}`,
      user: userObject(comment.user),
      created_at: iso(comment.createdAt),
      updated_at: iso(comment.updatedAt),
      author_association: association(repo, comment.user),
      body: comment.body,
      reactions: {
        url: `${api}/issues/comments/${comment.id}/reactions`,
        total_count: 0,
        '+1': 0,
        '-1': 0,
        laugh: 0,
        hooray: 0,
        confused: 0,
        heart: 0,
        rocket: 0,
        eyes: 0,
      },
      performed_via_github_app: null,
    };
  }

  function pullObject(repo: StoredRepo, pull: StoredPull): Record<string, unknown> {
    const api = `${apiBase}/repos/${repo.fullName}`;
    const html = `${htmlBase}/${repo.fullName}/pull/${pull.number}`;
    const headRepo = pull.headRepo.fork
      ? repoObject({ id: pull.headRepo.id, owner: pull.headRepo.owner, name: pull.headRepo.name, private: false, fork: true, defaultBranch: repo.defaultBranch, createdAt: repo.createdAt })
      : storedRepoObject(repo);
    const commentCount = [...comments.values()].filter((c) => c.repo === repo.fullName && c.issue === pull.number).length;
    const closed = pull.state === 'closed';
    return {
      url: `${api}/pulls/${pull.number}`,
      id: pull.id,
      node_id: `PR_kwDO${opaque(`pull:${pull.id}`, 14)}`,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      issue_url: `${api}/issues/${pull.number}`,
      number: pull.number,
      state: pull.state,
      locked: false,
      title: pull.title,
      user: userObject(pull.user),
      body: pull.body,
      created_at: iso(pull.createdAt),
      updated_at: iso(pull.updatedAt),
      closed_at: closed ? iso(pull.updatedAt) : null,
      merged_at: pull.merged ? iso(pull.updatedAt) : null,
      merge_commit_sha: pull.merged ? fakeSha(`merge:${repo.fullName}#${pull.number}`) : null,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      labels: [],
      milestone: null,
      draft: pull.draft,
      commits_url: `${api}/pulls/${pull.number}/commits`,
      review_comments_url: `${api}/pulls/${pull.number}/comments`,
      review_comment_url: `${api}/pulls/comments{/number}`,
      comments_url: `${api}/issues/${pull.number}/comments`,
      statuses_url: `${api}/statuses/${pull.headSha}`,
      head: {
        label: `${pull.headRepo.owner.login}:${pull.headRef}`,
        ref: pull.headRef,
        sha: pull.headSha,
        user: userObject(pull.headRepo.owner),
        repo: headRepo,
      },
      base: {
        label: `${repo.owner.login}:${pull.baseRef}`,
        ref: pull.baseRef,
        sha: pull.baseSha,
        user: userObject(repo.owner),
        repo: storedRepoObject(repo),
      },
      _links: {
        self: { href: `${api}/pulls/${pull.number}` },
        html: { href: html },
        issue: { href: `${api}/issues/${pull.number}` },
        comments: { href: `${api}/issues/${pull.number}/comments` },
        review_comments: { href: `${api}/pulls/${pull.number}/comments` },
        review_comment: { href: `${api}/pulls/comments{/number}` },
        commits: { href: `${api}/pulls/${pull.number}/commits` },
        statuses: { href: `${api}/statuses/${pull.headSha}` },
      },
      author_association: association(repo, pull.user),
      auto_merge: null,
      active_lock_reason: null,
      merged: pull.merged,
      mergeable: closed ? null : true,
      rebaseable: closed ? null : true,
      mergeable_state: closed ? 'unknown' : 'clean',
      merged_by: null,
      comments: commentCount,
      review_comments: 0,
      maintainer_can_modify: pull.headRepo.fork,
      commits: 1,
      additions: 0,
      deletions: 0,
      changed_files: 0,
    };
  }

  function statusObject(status: StoredStatus): Record<string, unknown> {
    return {
      url: `${apiBase}/repos/${status.repo}/statuses/${status.sha}`,
      avatar_url: userObject(status.creator).avatar_url,
      id: status.id,
      node_id: Buffer.from(`06:Status${status.id}`).toString('base64'),
      state: status.state,
      description: status.description,
      target_url: status.targetUrl,
      context: status.context,
      created_at: iso(status.createdAt),
      updated_at: iso(status.createdAt),
      creator: userObject(status.creator),
    };
  }

  /** A contents API entry: a file (with its base64 content when `withContent`) or a directory. */
  function contentObject(repo: StoredRepo, ref: string, path: string, file: Buffer | undefined, withContent: boolean): Record<string, unknown> {
    const api = `${apiBase}/repos/${repo.fullName}`;
    const encodedPath = path.split('/').map(encodeURIComponent).join('/');
    const query = `?ref=${encodeURIComponent(ref)}`;
    const sha = file ? gitBlobSha(file) : fakeSha(`tree:${repo.fullName}:${ref}:${path}`);
    const gitUrl = `${api}/git/${file ? 'blobs' : 'trees'}/${sha}`;
    const htmlUrl = `${htmlBase}/${repo.fullName}/${file ? 'blob' : 'tree'}/${ref}/${encodedPath}`;
    const object: Record<string, unknown> = {
      name: path.slice(path.lastIndexOf('/') + 1),
      path,
      sha,
      size: file ? file.length : 0,
      url: `${api}/contents/${encodedPath}${query}`,
      html_url: htmlUrl,
      git_url: gitUrl,
      download_url: file ? `https://raw.githubusercontent.com/${repo.fullName}/${ref}/${encodedPath}` : null,
      type: file ? 'file' : 'dir',
    };
    if (file && withContent) {
      const large = file.length > MAX_CONTENTS_JSON_SIZE;
      object.content = large ? '' : base64Lines(file);
      object.encoding = large ? 'none' : 'base64';
    }
    object._links = { self: object.url, git: gitUrl, html: htmlUrl };
    return object;
  }

  /** A pull request as the list endpoint answers it (GitHub's pull-request-simple: no merge state or counts). */
  function pullListObject(repo: StoredRepo, pull: StoredPull): Record<string, unknown> {
    const object = pullObject(repo, pull);
    for (const key of ['merged', 'mergeable', 'rebaseable', 'mergeable_state', 'merged_by', 'comments', 'review_comments', 'maintainer_can_modify', 'commits', 'additions', 'deletions', 'changed_files']) {
      delete object[key];
    }
    return object;
  }

  // ---- access control ----

  /** The repository of /repos/{owner}/{repo}/... (404 when it does not exist or the token cannot see it). */
  function visibleRepo(ctx: Context, repo: StoredRepo | undefined, doc: string): StoredRepo {
    if (!repo) throw notFound(doc);
    if (repo.private && ctx.identity && !granted(ctx.identity, repo)) throw notFound(doc);
    return repo;
  }

  function granted(identity: Identity, repo: StoredRepo): boolean {
    const list = identity.config.repositories;
    return !list || list.some((name) => name.toLowerCase() === repo.fullName.toLowerCase());
  }

  /**
   * Throws unless the token holds one of `anyOf` at `level`. Reads of public repositories need no permission.
   * `accepted` is sent as x-accepted-github-permissions.
   */
  function requirePermission(ctx: Context, repo: StoredRepo, level: PermissionLevel, anyOf: (keyof TokenPermissions)[], accepted: string, doc: string): void {
    const identity = ctx.identity!;
    if (level === 'read' && !repo.private) return;
    const perms = identity.config.permissions;
    const has = (name: keyof TokenPermissions) => {
      if (!perms) return true;
      const value = perms[name];
      return value === 'write' || (level === 'read' && value === 'read');
    };
    if (granted(identity, repo) && anyOf.some(has)) return;
    throw notAccessible(identity, doc, accepted);
  }

  function notAccessible(identity: Identity, doc: string, accepted?: string): GitHubApiError {
    const message = identity.kind === 'installation' ? 'Resource not accessible by integration' : 'Resource not accessible by personal access token';
    return new GitHubApiError(403, message, doc, { headers: accepted ? { 'x-accepted-github-permissions': accepted } : {} });
  }

  /** Commenting on a pull request through the issues API needs pull-requests: write (issues: write covers issues only). */
  function requireCommentWrite(ctx: Context, repo: StoredRepo, issue: number, doc: string): void {
    requirePermission(ctx, repo, 'write', [repo.pulls.has(issue) ? 'pull-requests' : 'issues'], 'issues=write; pull_requests=write', doc);
  }

  function requireOwnComment(ctx: Context, repo: StoredRepo, comment: StoredComment, doc: string): void {
    const identity = ctx.identity!;
    if (comment.user.id === identity.user.id) return;
    // A repository's owning user may edit anyone's comment; an app never may edit another account's.
    if (identity.kind === 'user' && identity.user.id === repo.owner.id) return;
    if (identity.kind === 'installation') throw notAccessible(identity, doc);
    throw new GitHubApiError(403, 'Must have admin rights to Repository.', doc);
  }

  function issueExists(repo: StoredRepo, number: number): boolean {
    return repo.pulls.has(number) || repo.issues.has(number);
  }

  function resolveRef(repo: StoredRepo, ref: string): string | undefined {
    const branch = ref.replace(/^(refs\/)?heads\//, '');
    if (repo.branches.has(branch)) return repo.branches.get(branch);
    const lower = ref.toLowerCase();
    if (/^[0-9a-f]{40}$/.test(lower)) return repo.commits.has(lower) ? lower : undefined;
    if (/^[0-9a-f]{7,39}$/.test(lower)) {
      const matches = [...repo.commits].filter((sha) => sha.startsWith(lower));
      return matches.length === 1 ? matches[0] : undefined;
    }
    return undefined;
  }

  // ---- request handling ----

  function authenticate(req: IncomingMessage): { identity?: Identity; error?: GitHubApiError } {
    const header = req.headers.authorization;
    if (!header) return { error: new GitHubApiError(401, 'Requires authentication', DOCS.root) };
    const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header);
    const identity = match ? tokens.get(match[1]) : undefined;
    if (!identity) return { error: new GitHubApiError(401, 'Bad credentials', DOCS.root) };
    return { identity };
  }

  /** Charges one request to the token's hourly window; false when the window is used up. */
  function charge(identity: Identity | undefined): { window: RateWindow; allowed: boolean } {
    const key = identity?.token ?? '';
    const now = clock();
    let window = rateLimits.get(key);
    if (!window || now >= window.reset * 1000) {
      const limit = identity ? (identity.config.rateLimit ?? (identity.kind === 'installation' ? 1000 : 5000)) : 60;
      window = { limit, used: 0, reset: Math.floor(now / 1000) + 3600 };
      rateLimits.set(key, window);
    }
    if (window.used >= window.limit) return { window, allowed: false };
    window.used++;
    return { window, allowed: true };
  }

  function matchFault(method: string, path: string): ActiveFault | undefined {
    for (const fault of faults) {
      if (fault.method && fault.method.toUpperCase() !== method) continue;
      if (typeof fault.path === 'string' ? fault.path !== path : !fault.path.test(path)) continue;
      if (fault.served >= (fault.times ?? 1)) continue;
      fault.seen++;
      if (fault.seen <= (fault.skip ?? 0)) continue;
      fault.served++;
      return fault;
    }
    return undefined;
  }

  function sendFault(res: ServerResponse, fault: ActiveFault, requestId: string): void {
    const headers: Record<string, string> = { ...(fault.headers ?? {}) };
    if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
    let body = fault.body;
    if (body === undefined) {
      if (fault.status === 403 || fault.status === 429) {
        body = {
          message: `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`,
          documentation_url: DOCS.secondaryRateLimit,
          status: String(fault.status),
        };
      } else body = { message: fault.status >= 500 ? 'Server Error' : 'Error' };
    }
    if (typeof body === 'string') {
      const buffer = Buffer.from(body);
      res.writeHead(fault.status, { 'content-type': 'text/html; charset=utf-8', 'content-length': buffer.length, ...headers });
      res.end(buffer);
    } else sendJson(res, fault.status, body, headers);
  }

  async function handle(ctx: Context): Promise<void> {
    const { method, url } = ctx;
    // Raw segments: a ref such as feature%2Fx stays one segment until its parameter is decoded.
    const segments = url.pathname.split('/').filter(Boolean);
    const identity = authorized(ctx);

    if (method === 'GET' && segments.length === 1 && segments[0] === 'user') {
      if (identity.kind === 'installation') throw notAccessible(identity, DOCS.getUser);
      return sendJson(ctx.res, 200, authenticatedUserObject(identity.user));
    }

    // /repos/{owner}/{repo}/... or /repositories/{id}/... (the form GitHub's Link headers use)
    let repo: StoredRepo | undefined;
    let rest: string;
    if (segments[0] === 'repos' && segments.length >= 3) {
      repo = repoByName(`${decodeSegment(segments[1])}/${decodeSegment(segments[2])}`);
      rest = segments.slice(3).join('/');
    } else if (segments[0] === 'repositories' && segments.length >= 2 && /^\d+$/.test(segments[1])) {
      repo = repoById(Number(segments[1]));
      rest = segments.slice(2).join('/');
    } else throw notFound(DOCS.root);

    let m: RegExpExecArray | null;
    if (rest === '' && method === 'GET') return sendJson(ctx.res, 200, storedRepoObject(visibleRepo(ctx, repo, DOCS.getRepo)));
    if ((m = /^issues\/(\d+)\/comments$/.exec(rest))) {
      if (method === 'GET') return listComments(ctx, repo, Number(m[1]));
      if (method === 'POST') return createComment(ctx, repo, Number(m[1]));
    }
    if ((m = /^issues\/comments\/(\d+)$/.exec(rest)) && ['GET', 'PATCH', 'DELETE'].includes(method)) return commentById(ctx, repo, Number(m[1]));
    if (rest === 'pulls' && method === 'GET') return listPulls(ctx, repo);
    if ((m = /^contents(?:\/(.*))?$/.exec(rest)) && method === 'GET') return getContents(ctx, repo, normalizeRepoPath((m[1] ?? '').split('/').map(decodeSegment).join('/')));
    if ((m = /^pulls\/(\d+)$/.exec(rest)) && method === 'GET') {
      const r = visibleRepo(ctx, repo, DOCS.getPull);
      const pull = r.pulls.get(Number(m[1]));
      if (!pull) throw notFound(DOCS.getPull);
      requirePermission(ctx, r, 'read', ['pull-requests'], 'pull_requests=read', DOCS.getPull);
      return sendJson(ctx.res, 200, pullObject(r, pull));
    }
    if ((m = /^statuses\/([^/]+)$/.exec(rest)) && method === 'POST') return createStatus(ctx, repo, decodeSegment(m[1]));
    if ((m = /^commits\/([^/]+)\/statuses$/.exec(rest)) && method === 'GET') return listStatuses(ctx, repo, decodeSegment(m[1]));
    if ((m = /^commits\/([^/]+)\/status$/.exec(rest)) && method === 'GET') return combinedStatus(ctx, repo, decodeSegment(m[1]));
    throw notFound(DOCS.root);
  }

  /** The identity, or the authentication error (401 comes before anything else). */
  function authorized(ctx: Context): Identity {
    if (!ctx.identity) throw ctx.authError!;
    return ctx.identity;
  }

  /** The request's JSON object; an empty body counts as `{}`. */
  function jsonBody(ctx: Context, doc: string): Record<string, unknown> {
    if (ctx.body === undefined && !ctx.bodyError) return {};
    if (ctx.bodyError || typeof ctx.body !== 'object' || ctx.body === null || Array.isArray(ctx.body)) {
      throw new GitHubApiError(400, 'Problems parsing JSON', doc);
    }
    return ctx.body as Record<string, unknown>;
  }

  function commentBody(ctx: Context, doc: string): string {
    const input = jsonBody(ctx, doc);
    if (!('body' in input)) throw invalidRequest(doc, '"body" wasn\'t supplied.');
    const body = input.body;
    if (typeof body !== 'string') throw invalidRequest(doc, `For 'properties/body', ${JSON.stringify(body)} is not a string.`);
    if (body.trim() === '') throw validationFailed(doc, 'IssueComment', 'body', 'missing_field');
    if (codePoints(body) > MAX_COMMENT_BODY) throw validationFailed(doc, 'IssueComment', 'body', 'custom', `body is too long (maximum is ${MAX_COMMENT_BODY} characters)`);
    return body;
  }

  function listComments(ctx: Context, maybeRepo: StoredRepo | undefined, issue: number): void {
    const repo = visibleRepo(ctx, maybeRepo, DOCS.listComments);
    if (!issueExists(repo, issue)) throw notFound(DOCS.listComments);
    requirePermission(ctx, repo, 'read', ['issues', 'pull-requests'], 'issues=read; pull_requests=read', DOCS.listComments);
    const since = ctx.url.searchParams.get('since');
    const sinceMs = since === null ? NaN : Date.parse(since);
    const all = [...comments.values()].filter((c) => c.repo === repo.fullName && c.issue === issue && (Number.isNaN(sinceMs) || c.updatedAt >= sinceMs));
    all.sort((a, b) => a.id - b.id);
    sendPage(ctx, all.map(commentObject), `${apiBase}/repositories/${repo.id}/issues/${issue}/comments`);
  }

  async function createComment(ctx: Context, maybeRepo: StoredRepo | undefined, issue: number): Promise<void> {
    const repo = visibleRepo(ctx, maybeRepo, DOCS.createComment);
    const identity = authorized(ctx);
    if (!issueExists(repo, issue)) throw notFound(DOCS.createComment);
    requireCommentWrite(ctx, repo, issue, DOCS.createComment);
    const body = commentBody(ctx, DOCS.createComment);
    const comment = insertComment(repo, issue, body, identity.user, clock());
    const object = commentObject(comment);
    sendJson(ctx.res, 201, object, { location: String(object.url) });
  }

  function commentById(ctx: Context, maybeRepo: StoredRepo | undefined, id: number): void {
    const doc = ctx.method === 'GET' ? DOCS.getComment : ctx.method === 'PATCH' ? DOCS.updateComment : DOCS.deleteComment;
    const repo = visibleRepo(ctx, maybeRepo, doc);
    const comment = comments.get(id);
    if (!comment || comment.repo !== repo.fullName) throw notFound(doc);
    if (ctx.method === 'GET') {
      requirePermission(ctx, repo, 'read', ['issues', 'pull-requests'], 'issues=read; pull_requests=read', doc);
      return sendJson(ctx.res, 200, commentObject(comment));
    }
    requireCommentWrite(ctx, repo, comment.issue, doc);
    requireOwnComment(ctx, repo, comment, doc);
    if (ctx.method === 'DELETE') {
      comments.delete(id);
      ctx.res.writeHead(204);
      ctx.res.end();
      return;
    }
    comment.body = commentBody(ctx, doc);
    comment.updatedAt = clock();
    sendJson(ctx.res, 200, commentObject(comment));
  }

  function createStatus(ctx: Context, maybeRepo: StoredRepo | undefined, ref: string): void {
    const doc = DOCS.createStatus;
    const repo = visibleRepo(ctx, maybeRepo, doc);
    const identity = authorized(ctx);
    requirePermission(ctx, repo, 'write', ['statuses'], 'statuses=write', doc);
    const input = jsonBody(ctx, doc);
    if (!('state' in input)) throw invalidRequest(doc, '"state" wasn\'t supplied.');
    const state = input.state;
    if (typeof state !== 'string' || !(STATUS_STATES as readonly string[]).includes(state)) {
      throw invalidRequest(doc, `For 'properties/state', ${JSON.stringify(state)} is not one of ${JSON.stringify(STATUS_STATES)}.`);
    }
    for (const field of ['target_url', 'description', 'context'] as const) {
      const value = input[field];
      if (value !== undefined && value !== null && typeof value !== 'string') throw invalidRequest(doc, `For 'properties/${field}', ${JSON.stringify(value)} is not a string or null.`);
    }
    const description = (input.description as string | null | undefined) ?? null;
    if (description !== null && codePoints(description) > MAX_STATUS_DESCRIPTION) {
      throw validationFailed(doc, 'Status', 'description', 'custom', `description is too long (maximum is ${MAX_STATUS_DESCRIPTION} characters)`);
    }
    const sha = resolveRef(repo, ref);
    if (!sha) throw new GitHubApiError(422, `No commit found for SHA: ${ref}`, doc);
    const context = (input.context as string | null | undefined) || 'default';
    const sameContext = statuses.filter((s) => s.repo === repo.fullName && s.sha === sha && s.context.toLowerCase() === context.toLowerCase()).length;
    if (sameContext >= MAX_STATUSES_PER_CONTEXT) {
      throw validationFailed(doc, 'Status', 'context', 'custom', 'This SHA and context has reached the maximum number of statuses.');
    }
    const status: StoredStatus = {
      id: nextStatusId++,
      repo: repo.fullName,
      sha,
      state: state as StoredStatus['state'],
      description,
      targetUrl: (input.target_url as string | null | undefined) ?? null,
      context,
      creator: identity.user,
      createdAt: clock(),
    };
    statuses.push(status);
    const object = statusObject(status);
    sendJson(ctx.res, 201, object, { location: String(object.url) });
  }

  function statusesFor(repo: StoredRepo, sha: string): StoredStatus[] {
    return statuses.filter((s) => s.repo === repo.fullName && s.sha === sha).sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
  }

  function listStatuses(ctx: Context, maybeRepo: StoredRepo | undefined, ref: string): void {
    const doc = DOCS.listStatuses;
    const repo = visibleRepo(ctx, maybeRepo, doc);
    requirePermission(ctx, repo, 'read', ['statuses'], 'statuses=read', doc);
    const sha = resolveRef(repo, ref);
    if (!sha) throw new GitHubApiError(422, `No commit found for SHA: ${ref}`, doc);
    sendPage(ctx, statusesFor(repo, sha).map(statusObject), `${apiBase}/repositories/${repo.id}/commits/${encodeURIComponent(ref)}/statuses`);
  }

  function combinedStatus(ctx: Context, maybeRepo: StoredRepo | undefined, ref: string): void {
    const doc = DOCS.combinedStatus;
    const repo = visibleRepo(ctx, maybeRepo, doc);
    requirePermission(ctx, repo, 'read', ['statuses'], 'statuses=read', doc);
    const sha = resolveRef(repo, ref);
    if (!sha) throw new GitHubApiError(422, `No commit found for SHA: ${ref}`, doc);
    const latest = new Map<string, StoredStatus>();
    for (const status of statusesFor(repo, sha)) if (!latest.has(status.context.toLowerCase())) latest.set(status.context.toLowerCase(), status);
    const states = [...latest.values()].map((s) => s.state);
    const state = states.some((s) => s === 'error' || s === 'failure') ? 'failure' : states.length === 0 || states.includes('pending') ? 'pending' : 'success';
    sendJson(ctx.res, 200, {
      state,
      statuses: [...latest.values()].map((s) => {
        const { creator: _creator, ...rest } = statusObject(s);
        return rest;
      }),
      sha,
      total_count: latest.size,
      repository: storedRepoObject(repo),
      commit_url: `${apiBase}/repos/${repo.fullName}/commits/${sha}`,
      url: `${apiBase}/repos/${repo.fullName}/commits/${sha}/status`,
    });
  }

  function listPulls(ctx: Context, maybeRepo: StoredRepo | undefined): void {
    const doc = DOCS.listPulls;
    const repo = visibleRepo(ctx, maybeRepo, doc);
    requirePermission(ctx, repo, 'read', ['pull-requests'], 'pull_requests=read', doc);
    const query = ctx.url.searchParams;
    const state = query.get('state') ?? 'open';
    if (!['open', 'closed', 'all'].includes(state)) {
      throw new GitHubApiError(422, 'Validation Failed', doc, { errors: [{ value: state, resource: 'Issue', field: 'state', code: 'invalid' }] });
    }
    const head = query.get('head');
    const base = query.get('base');
    const sort = query.get('sort') ?? 'created';
    const direction = query.get('direction') ?? (sort === 'created' ? 'desc' : 'asc');
    const key = (p: StoredPull) => (sort === 'updated' ? p.updatedAt : p.createdAt);
    const pulls = [...repo.pulls.values()]
      .filter((p) => state === 'all' || p.state === state)
      .filter((p) => !base || p.baseRef === base)
      .filter((p) => {
        if (!head) return true;
        const [owner, ref] = head.includes(':') ? head.split(':', 2) : [head, undefined];
        return p.headRepo.owner.login.toLowerCase() === owner.toLowerCase() && (ref === undefined || p.headRef === ref);
      })
      .sort((a, b) => (key(a) - key(b) || a.number - b.number) * (direction === 'asc' ? 1 : -1));
    sendPage(ctx, pulls.map((p) => pullListObject(repo, p)), `${apiBase}/repositories/${repo.id}/pulls`);
  }

  /**
   * GET /repos/{o}/{r}/contents/{path}?ref=: a file as JSON with base64 content (none over 1 MB), or its bytes with
   * the raw media type; a directory as a list of entries.
   */
  function getContents(ctx: Context, maybeRepo: StoredRepo | undefined, path: string): void {
    const doc = DOCS.getContent;
    const repo = visibleRepo(ctx, maybeRepo, doc);
    requirePermission(ctx, repo, 'read', ['contents'], 'contents=read', doc);
    const ref = ctx.url.searchParams.get('ref') || repo.defaultBranch;
    const sha = resolveRef(repo, ref);
    if (!sha) throw new GitHubApiError(404, `No commit found for the ref ${ref}`, doc);
    const tree = repo.trees.get(sha) ?? new Map<string, Buffer>();
    const file = path ? tree.get(path) : undefined;
    if (file) {
      if (/application\/vnd\.github(?:\.v3)?\.raw\b/i.test(ctx.req.headers.accept ?? '')) return sendRaw(ctx.res, file);
      return sendJson(ctx.res, 200, contentObject(repo, ref, path, file, true));
    }
    const prefix = path ? `${path}/` : '';
    const children = new Map<string, Buffer | undefined>();
    for (const [filePath, bytes] of tree) {
      if (!filePath.startsWith(prefix)) continue;
      const rest = filePath.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) children.set(rest, bytes);
      else if (!children.has(rest.slice(0, slash))) children.set(rest.slice(0, slash), undefined);
    }
    if (path && children.size === 0) throw notFound(doc);
    const entries = [...children.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    sendJson(ctx.res, 200, entries.map(([name, bytes]) => contentObject(repo, ref, prefix + name, bytes, false)));
  }

  /** One page of `items` (per_page default 30, at most 100), with a Link header like GitHub's. */
  function sendPage(ctx: Context, items: unknown[], linkBase: string): void {
    const query = ctx.url.searchParams;
    const perPageRaw = Number(query.get('per_page'));
    const perPage = Number.isInteger(perPageRaw) && perPageRaw > 0 ? Math.min(perPageRaw, 100) : 30;
    const pageRaw = Number(query.get('page'));
    const page = Number.isInteger(pageRaw) && pageRaw > 0 ? pageRaw : 1;
    const lastPage = Math.max(1, Math.ceil(items.length / perPage));
    const link = (n: number, rel: string) => {
      const params = new URLSearchParams(query);
      params.delete('page');
      params.append('page', String(n));
      return `<${linkBase}?${params}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(Math.min(page - 1, lastPage), 'prev'));
    if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'));
    if (page > 1) links.push(link(1, 'first'));
    sendJson(ctx.res, 200, items.slice((page - 1) * perPage, page * perPage), links.length ? { link: links.join(', ') } : {});
  }

  // ---- server ----

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = (req.method ?? 'GET').toUpperCase();
    const requestId = githubRequestId();
    const entry: GitHubRequestLogEntry = { method, path: url.pathname, query: url.search.replace(/^\?/, ''), status: 0, login: null, requestId, fault: false };
    res.on('finish', () => {
      entry.status = res.statusCode;
      requests.push(entry);
    });
    res.setHeader('x-github-request-id', requestId);
    res.setHeader('x-github-media-type', 'github.v3; format=json');
    res.setHeader('x-github-api-version-selected', '2022-11-28');
    res.setHeader('server', 'github.com');

    (async () => {
      const raw = await readRequestBody(req);
      const { identity, error } = authenticate(req);
      entry.login = identity?.user.login ?? null;
      const ctx: Context = { req, res, method, url, identity, authError: error, body: undefined, bodyError: false };
      if (raw.length > 0) {
        try {
          ctx.body = JSON.parse(raw.toString('utf8'));
          if (method === 'POST' || method === 'PATCH') entry.body = ctx.body;
        } catch {
          ctx.bodyError = true;
        }
      }

      const { window, allowed } = charge(identity);
      res.setHeader('x-ratelimit-limit', String(window.limit));
      res.setHeader('x-ratelimit-remaining', String(window.limit - window.used));
      res.setHeader('x-ratelimit-reset', String(window.reset));
      res.setHeader('x-ratelimit-used', String(window.used));
      res.setHeader('x-ratelimit-resource', 'core');
      if (identity?.kind === 'user' && !identity.config.permissions) res.setHeader('x-oauth-scopes', 'repo');

      const fault = matchFault(method, url.pathname);
      if (fault) {
        entry.fault = true;
        return sendFault(res, fault, requestId);
      }
      if (!allowed) {
        const who = identity ? (identity.kind === 'installation' ? `installation ID ${identity.user.id}` : `user ID ${identity.user.id}`) : '127.0.0.1';
        throw new GitHubApiError(403, `API rate limit exceeded for ${who}. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`, DOCS.primaryRateLimit);
      }
      await handle(ctx);
    })().catch((error: unknown) => {
      const apiError =
        error instanceof GitHubApiError ? error : (console.error('GitHub emulator: internal error', error), new GitHubApiError(500, 'Server Error', DOCS.root));
      if (res.headersSent) res.destroy();
      else sendJson(res, apiError.status, apiError.envelope(), apiError.headers);
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  apiBase = `http://${host}:${address.port}`;

  return {
    url: apiBase,
    port: address.port,
    state: {
      users,
      repos,
      comments,
      statuses,
      requests,
      faults,
      rateLimits,
      commentsOn: (fullName, issue) => [...comments.values()].filter((c) => c.repo.toLowerCase() === fullName.toLowerCase() && c.issue === issue).sort((a, b) => a.id - b.id),
      statusesFor: (fullName, sha) => statusesFor(mustRepo(fullName), sha),
      addComment: (fullName, issue, body, user) => {
        const repo = mustRepo(fullName);
        if (!issueExists(repo, issue)) throw new Error(`GitHub emulator: ${fullName}#${issue} is neither a pull request nor an issue`);
        return insertComment(repo, issue, body, userFor(user), clock());
      },
      addFault,
      addCommit: (fullName, sha, files) => addCommit(mustRepo(fullName), sha, files),
      commentObject: (id) => {
        const comment = comments.get(id);
        if (!comment) throw new Error(`GitHub emulator: no comment ${id}`);
        return commentObject(comment);
      },
      pullObject: (fullName, number) => {
        const repo = mustRepo(fullName);
        const pull = repo.pulls.get(number);
        if (!pull) throw new Error(`GitHub emulator: no pull request ${fullName}#${number}`);
        return pullObject(repo, pull);
      },
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

// ---- helpers -------------------------------------------------------------------------------------------------------

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(value));
  const extra: Record<string, string> = { ...headers };
  if (status === 200 && res.req.method === 'GET') extra.etag = `W/"${createHash('sha256').update(body).digest('hex')}"`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, ...extra });
  res.end(body);
}

/** A file's bytes as the raw media type answers them (GitHub sends text/plain whatever the file is). */
function sendRaw(res: ServerResponse, bytes: Buffer): void {
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': bytes.length,
    'x-github-media-type': 'github.v3; param=raw',
    etag: `"${gitBlobSha(bytes)}"`,
  });
  res.end(bytes);
}

/** Base64 as GitHub's contents API sends it (Ruby's Base64.encode64): a newline after every 60 characters and at the end. */
export function base64Lines(bytes: Uint8Array): string {
  const flat = Buffer.from(bytes).toString('base64');
  let out = '';
  for (let i = 0; i < flat.length; i += 60) out += `${flat.slice(i, i + 60)}\n`;
  return out;
}

/** The git object id of a blob with these bytes. */
export function gitBlobSha(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** A repository path without leading, trailing or doubled slashes. */
function normalizeRepoPath(path: string): string {
  return path.split('/').filter(Boolean).join('/');
}

async function readRequestBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function fakeSha(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

/** A stable opaque id fragment (the shape of GitHub's base64 node ids). */
function opaque(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('base64url').slice(0, length);
}

/** The shape of GitHub's request ids, e.g. `C3B4:2F1E7A:1B2C3D4:1C3D4E5:6789ABCD`. */
function githubRequestId(): string {
  const hex = (bytes: number, digits: number) => randomBytes(bytes).toString('hex').slice(0, digits).toUpperCase();
  return `${hex(2, 4)}:${hex(3, 6)}:${hex(4, 7)}:${hex(4, 7)}:${hex(4, 8)}`;
}
