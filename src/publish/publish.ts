import * as github from '@actions/github';
import type { Logger } from '../logger.ts';
import type { RunStatus } from '../report/markdown.ts';
import type { RunSummary } from '../report/summary.ts';
import { setCommitStatus } from './commit-status.ts';
import { PermissionError, type RunTarget } from './github.ts';
import { upsertComment } from './sticky-comment.ts';

export interface PublishInput {
  token: string;
  target: RunTarget;
  suiteId: string;
  suiteTitle: string;
  /** The comment's markdown, already within GitHub's size limit. */
  comment: string;
  status: RunStatus;
  summary: RunSummary;
  regressions: number;
  log: Logger;
}

/**
 * The sticky PR comment and the commit status. A PR from a fork has a read-only token: that is said in a
 * warning and is not a failure. A missing permission is returned, so the step can fail naming what to add,
 * after everything else is written.
 */
export async function publishToGitHub(input: PublishInput): Promise<PermissionError[]> {
  const { target, log } = input;
  if (target.pr?.fromFork) {
    log.warning(
      'this pull request comes from a fork, whose token is read-only: no comment and no commit status were written. The report is in the job summary.',
    );
    return [];
  }
  const octokit = github.getOctokit(input.token);
  const problems: PermissionError[] = [];
  const attempt = async (what: string, write: () => Promise<void>) => {
    try {
      await write();
    } catch (err) {
      if (err instanceof PermissionError) problems.push(err);
      else log.warning(`could not ${what}: ${(err as Error).message}`);
    }
  };

  if (target.pr) {
    const pr = target.pr;
    await attempt('comment on the pull request', async () => {
      const posted = await upsertComment(octokit, { owner: target.owner, repo: target.repo, number: pr.number }, input.suiteId, input.comment);
      log.info(`${posted.action} the comment on #${pr.number}: ${posted.url}`);
    });
  }
  await attempt('set the commit status', () =>
    setCommitStatus(octokit, {
      owner: target.owner,
      repo: target.repo,
      sha: target.sha,
      suite: input.suiteTitle,
      status: input.status,
      summary: input.summary,
      regressions: input.regressions,
      targetUrl: target.runUrl,
    }),
  );
  return problems;
}
