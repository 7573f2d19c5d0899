import type { RunStatus } from '../report/markdown.ts';
import { percent, plural } from '../report/markdown.ts';
import type { RunSummary } from '../report/summary.ts';
import { permissionProblem, type Octokit } from './github.ts';

export interface StatusInput {
  owner: string;
  repo: string;
  sha: string;
  /** Names the check in branch protection: `batch-evals / <suite>`. */
  suite: string;
  status: RunStatus;
  summary: RunSummary;
  regressions?: number;
  targetUrl?: string;
}

/** A commit status with the pass rate, so branch protection can require the suite to pass. */
export async function setCommitStatus(octokit: Octokit, input: StatusInput): Promise<void> {
  const t = input.summary.total;
  const state = input.status === 'pending' ? 'pending' : input.status === 'completed' ? 'success' : 'failure';
  const parts = [t.passRate === undefined ? 'no case scored yet' : `${percent(t.passRate)} passed (${t.passed}/${t.passed + t.failed + t.errored})`];
  if (input.regressions) parts.push(plural(input.regressions, 'regression'));
  if (t.pending) parts.push(`${t.pending} pending`);
  try {
    await octokit.rest.repos.createCommitStatus({
      owner: input.owner,
      repo: input.repo,
      sha: input.sha,
      state,
      context: `batch-evals / ${input.suite}`.slice(0, 100),
      description: parts.join(', ').slice(0, 140),
      target_url: input.targetUrl,
    });
  } catch (err) {
    throw permissionProblem(err, 'set the commit status', 'statuses: write') ?? err;
  }
}
