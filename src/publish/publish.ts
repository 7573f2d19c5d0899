import * as core from '@actions/core';
import * as github from '@actions/github';
import type { Logger } from '../logger.ts';
import { batchFacts, runState, type EvalOutcome } from '../pipeline.ts';
import { compare, toBaseline, type Comparison } from '../report/baseline.ts';
import { renderMarkdown, type ReportData } from '../report/markdown.ts';
import { writeResultsFile } from '../report/results-file.ts';
import type { RunState } from '../state/run-state.ts';
import { StateStore } from '../state/state-store.ts';
import { annotateFailures } from './annotations.ts';
import { BaselineStore } from './baseline-store.ts';
import { setCommitStatus } from './commit-status.ts';
import { PermissionError, type RunTarget } from './github.ts';
import { setRunOutputs } from './outputs.ts';
import { COMMENT_MAX_CHARS, upsertComment } from './sticky-comment.ts';

/** The job summary takes 1 MiB per step; leave room for the rest of the page. */
const SUMMARY_MAX_CHARS = 900_000;

export interface PublishInput {
  outcome: EvalOutcome;
  /** The suite's config path in the repository (what the reproduce command names). */
  configPath: string;
  suiteId: string;
  target?: RunTarget;
  token: string;
  resultsFile: string;
  failOnRegression: boolean;
  /** The state this run continues (resume, re-run), so the submission time is kept. */
  previous?: RunState;
  /** Sentences for the top of the report, e.g. which superseded batches were cancelled. */
  notes?: string[];
  /** Where the config was read from when it is not the workspace (fetched at another commit): annotations name repository paths. */
  sourceRoot?: string;
  log: Logger;
}

/**
 * Everything after scoring: compare with the baseline, write the results file, job summary, outputs and
 * annotations, the sticky PR comment (with the run's state while pending) and the commit status; save the
 * baseline (default branch) and the run state. Returns why the step fails, if it does.
 */
export async function publishRun(input: PublishInput): Promise<string[]> {
  const { outcome, target, log } = input;
  const baselines = new BaselineStore(log);
  const { comparison, note } = await compareWithBaseline(baselines, target, input.suiteId, outcome);

  const state = runState(outcome, { suiteId: input.suiteId, configPath: input.configPath, sha: target?.sha ?? 'local', repo: target && `${target.owner}/${target.repo}`, pr: target?.pr?.number }, input.previous);
  const report: ReportData = {
    title: outcome.suite.description ?? input.configPath,
    status: outcome.status,
    minPassRate: outcome.minPassRate,
    summary: outcome.summary,
    results: outcome.results,
    batches: batchFacts(outcome.runs),
    comparison,
    baselineNote: note,
    regressionsFail: input.failOnRegression,
    notes: input.notes,
    pendingSince: outcome.status === 'pending' ? state.submittedAt : undefined,
    facts: { configPath: input.configPath, sha: target?.sha, runUrl: target?.runUrl },
  };
  await writeResultsFile(input.resultsFile, { ...report, suite: report.title });
  // Said first, so that it is among the warnings GitHub shows (10 per step).
  const fork = target?.pr?.fromFork === true && input.token !== '';
  if (fork) log.warning('this pull request comes from a fork, whose token is read-only: no comment and no commit status are written. The report is in the job summary.');
  const unannotated = annotateFailures(outcome.results, outcome.warnings.length + (fork ? 1 : 0), input.sourceRoot);
  const annotationNote = unannotated ? `\n<sub>${unannotated} more failing cases have no annotation: GitHub shows 10 per step.</sub>\n` : '';
  await core.summary.addRaw(renderMarkdown({ ...report, maxChars: SUMMARY_MAX_CHARS, maxFailures: 500, elsewhere: 'the results file' }) + annotationNote).write();
  setRunOutputs(outcome, input.resultsFile, comparison);

  const problems: PermissionError[] = [];
  if (target && input.token) {
    const comment = renderMarkdown({ ...report, maxChars: COMMENT_MAX_CHARS - 2_000, elsewhere: 'the job summary and the results file' });
    // A regression that fails the step fails the commit status too, so a required check blocks the merge.
    const failsOnRegression = input.failOnRegression && !!comparison?.regressions.length && outcome.status === 'completed';
    const statusOutcome: EvalOutcome = failsOnRegression ? { ...outcome, status: 'failed' } : outcome;
    problems.push(...(await writeToGitHub(input.token, target, input.suiteId, comment, statusOutcome, comparison, outcome.status === 'pending' ? state : undefined, log)));
  }

  const states = new StateStore(log);
  if (target && states.available() && (outcome.status === 'pending' || input.previous)) await states.save(state, stateRef(target));
  if (target?.branch && target.branch === target.defaultBranch && outcome.status !== 'pending' && baselines.available()) {
    await baselines.save(input.suiteId, target.branch, toBaseline(outcome.results, { suite: report.title, sha: target.sha, ref: target.branch }));
  }

  const failures = problems.map((p) => p.message);
  if (outcome.status === 'failed') {
    const rate = outcome.summary.total.passRate ?? 0;
    failures.unshift(`pass rate ${(rate * 100).toFixed(1)}% is below the required ${(outcome.minPassRate * 100).toFixed(1)}%`);
  }
  if (input.failOnRegression && comparison?.regressions.length) {
    failures.unshift(`${comparison.regressions.length} case(s) passed on ${comparison.baseline.ref} and fail now (fail-on-regression)`);
  }
  // Each reason once, here: the caller only sets the exit code.
  for (const message of failures) core.error(message);
  return failures;
}

/** The ref whose cache holds this run's state: the PR's merge ref, or the branch. */
export function stateRef(target: RunTarget): string {
  return target.pr ? `pull-${target.pr.number}` : (target.branch ?? target.sha);
}

/** A PR compares with its base branch; a default-branch run with the previous run there. */
async function compareWithBaseline(
  store: BaselineStore,
  target: RunTarget | undefined,
  suiteId: string,
  outcome: EvalOutcome,
): Promise<{ comparison?: Comparison; note?: string }> {
  const branch = target?.pr?.baseRef ?? target?.branch;
  if (!branch) return { note: 'No baseline: this run has neither a pull request nor a branch to compare with.' };
  if (!store.available()) return { note: 'No baseline: the Actions cache is not available to this run.' };
  const { baseline, note } = await store.restore(suiteId, branch);
  return baseline ? { comparison: compare(outcome.results, baseline), note } : { note };
}

/**
 * The sticky PR comment and the commit status. A PR from a fork has a read-only token: that is said in a
 * warning and is not a failure. A missing permission is returned, so the step fails naming what to add.
 */
async function writeToGitHub(
  token: string,
  target: RunTarget,
  suiteId: string,
  comment: string,
  outcome: EvalOutcome,
  comparison: Comparison | undefined,
  pendingState: RunState | undefined,
  log: Logger,
): Promise<PermissionError[]> {
  if (target.pr?.fromFork) return []; // said at the start of publishRun
  const octokit = github.getOctokit(token);
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
      const posted = await upsertComment(octokit, { owner: target.owner, repo: target.repo, number: pr.number }, suiteId, comment, pendingState);
      log.info(`${posted.action} the comment on #${pr.number}: ${posted.url}`);
    });
  }
  await attempt('set the commit status', () =>
    setCommitStatus(octokit, {
      owner: target.owner,
      repo: target.repo,
      sha: target.sha,
      suite: outcome.suite.description ?? suiteId,
      status: outcome.status,
      summary: outcome.summary,
      regressions: comparison?.regressions.length ?? 0,
      targetUrl: target.runUrl,
    }),
  );
  return problems;
}
