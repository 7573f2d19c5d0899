import type * as github from '@actions/github';

export type Octokit = ReturnType<typeof github.getOctokit>;
type Context = typeof github.context;

/** Where this run reports: the repository, the commit, and the pull request when there is one. */
export interface RunTarget {
  owner: string;
  repo: string;
  /** The commit the status goes on: a PR's head, else the pushed or scheduled commit. */
  sha: string;
  /** The branch whose baseline this run may save (push, schedule and dispatch runs). */
  branch?: string;
  defaultBranch?: string;
  pr?: {
    number: number;
    baseRef: string;
    /** A PR from a fork gets a read-only token: nothing can be written to the PR. */
    fromFork: boolean;
  };
  runUrl?: string;
}

export function runTarget(context: Context): RunTarget | undefined {
  if (!process.env.GITHUB_REPOSITORY) return undefined;
  const { owner, repo } = context.repo;
  const payload = context.payload;
  const pull = payload.pull_request;
  const runUrl = context.runId ? `${context.serverUrl}/${owner}/${repo}/actions/runs/${context.runId}` : undefined;
  const defaultBranch = payload.repository?.default_branch as string | undefined;
  if (pull) {
    const headRepo = pull.head?.repo?.full_name as string | undefined;
    return {
      owner,
      repo,
      sha: pull.head?.sha ?? context.sha,
      defaultBranch,
      pr: { number: pull.number, baseRef: pull.base?.ref, fromFork: headRepo !== undefined && headRepo !== `${owner}/${repo}` },
      runUrl,
    };
  }
  const branch = context.ref?.startsWith('refs/heads/') ? context.ref.slice('refs/heads/'.length) : undefined;
  return { owner, repo, sha: context.sha, branch, defaultBranch, runUrl };
}

/**
 * The login comments by this token are written as. The Actions token cannot read /user (403 "Resource not
 * accessible by integration"); its comments are by github-actions[bot].
 */
export async function tokenIdentity(octokit: Octokit): Promise<string> {
  try {
    const { data } = await octokit.rest.users.getAuthenticated();
    return data.login;
  } catch (err) {
    if (httpStatus(err) === 403) return 'github-actions[bot]';
    throw err;
  }
}

export function httpStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** A refused write, said so that the fix is clear: the permission to add, or why it cannot be had. */
export class PermissionError extends Error {}

export function permissionProblem(err: unknown, what: string, permission: string): PermissionError | undefined {
  if (httpStatus(err) !== 403) return undefined;
  const accepted = (err as { response?: { headers?: Record<string, string> } }).response?.headers?.['x-accepted-github-permissions'];
  return new PermissionError(
    `could not ${what}: the token lacks the permission; add \`${permission}\` under \`permissions:\` in the workflow${accepted ? ` (GitHub accepts: ${accepted})` : ''}`,
  );
}
