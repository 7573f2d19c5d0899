import * as core from '@actions/core';
import * as github from '@actions/github';
import { createHash } from 'node:crypto';
import { join, relative, resolve } from 'node:path';
import { ConfigError } from './config/errors.ts';
import { parseDuration } from './duration.ts';
import type { Logger } from './logger.ts';
import { batchFacts, evaluate, type EvalOutcome } from './pipeline.ts';
import { compare, toBaseline, type Comparison } from './report/baseline.ts';
import { renderMarkdown, type ReportData } from './report/markdown.ts';
import { writeResultsFile } from './report/results-file.ts';
import { annotateFailures } from './publish/annotations.ts';
import { BaselineStore } from './publish/baseline-store.ts';
import { runTarget, type RunTarget } from './publish/github.ts';
import { annotateConfigError, annotateWarnings, setRunOutputs } from './publish/outputs.ts';
import { publishToGitHub } from './publish/publish.ts';
import { COMMENT_MAX_CHARS } from './publish/sticky-comment.ts';

const actionLog: Logger = { info: core.info, warning: (m) => core.warning(m), debug: core.debug };
/** The job summary takes 1 MiB per step; leave room for the rest of the page. */
const SUMMARY_MAX_CHARS = 900_000;

/**
 * The action: read the suite, send its cases as provider batches, wait while the job allows, score the outputs,
 * compare them with the base branch's baseline, and report in the job summary, one sticky PR comment, a commit
 * status and the step outputs. A default-branch run saves its results as the baseline for the PRs against it.
 */
export async function run(): Promise<void> {
  try {
    const inputs = readInputs();
    const outcome = await evaluate({
      configPath: inputs.config,
      credentials: inputs.credentials,
      maxWaitMs: inputs.maxWaitMs,
      minPassRate: inputs.minPassRate,
      metadata: runMetadata(),
      log: actionLog,
      onWarnings: annotateWarnings,
    });

    const target = runTarget(github.context);
    const suiteId = suiteIdOf(inputs.config);
    const store = new BaselineStore(actionLog);
    const { comparison, note } = await compareWithBaseline(store, target, suiteId, outcome);

    const report: ReportData = {
      title: outcome.suite.description ?? inputs.config,
      status: outcome.status,
      minPassRate: outcome.minPassRate,
      summary: outcome.summary,
      results: outcome.results,
      batches: batchFacts(outcome.runs),
      comparison,
      baselineNote: note,
      facts: { configPath: inputs.config, sha: target?.sha, runUrl: target?.runUrl },
    };
    await writeResultsFile(inputs.resultsFile, { ...report, suite: report.title });
    const unannotated = annotateFailures(outcome.results, outcome.warnings.length);
    const annotationNote = unannotated ? `\n<sub>${unannotated} more failing cases have no annotation: GitHub shows 10 per step.</sub>\n` : '';
    await core.summary.addRaw(renderMarkdown({ ...report, maxChars: SUMMARY_MAX_CHARS, elsewhere: 'the results file' }) + annotationNote).write();
    setRunOutputs(outcome, inputs.resultsFile, comparison);

    const problems =
      target && inputs.token
        ? await publishToGitHub({
            token: inputs.token,
            target,
            suiteId,
            suiteTitle: report.title,
            comment: renderMarkdown({ ...report, maxChars: COMMENT_MAX_CHARS - 200, elsewhere: 'the job summary and the results file' }),
            status: outcome.status,
            summary: outcome.summary,
            regressions: comparison?.regressions.length ?? 0,
            log: actionLog,
          })
        : [];
    if (target?.branch && target.branch === target.defaultBranch && outcome.status !== 'pending' && store.available()) {
      const baseline = toBaseline(outcome.results, { suite: report.title, sha: target.sha, ref: target.branch });
      await store.save(suiteId, target.branch, baseline, `${github.context.runId}-${process.env.GITHUB_RUN_ATTEMPT ?? '1'}`);
    }

    for (const problem of problems) core.error(problem.message);
    const failures = [...problems.map((p) => p.message)];
    if (outcome.status === 'failed') {
      const rate = outcome.summary.total.passRate ?? 0;
      failures.unshift(`pass rate ${(rate * 100).toFixed(1)}% is below the required ${(outcome.minPassRate * 100).toFixed(1)}%`);
    }
    if (inputs.failOnRegression && comparison?.regressions.length) {
      failures.unshift(`${comparison.regressions.length} case(s) passed on ${comparison.baseline.ref} and fail now (fail-on-regression)`);
    }
    if (failures.length) core.setFailed(failures[0]);
  } catch (err) {
    core.setOutput('status', 'failed');
    if (err instanceof ConfigError) {
      annotateConfigError(err);
      core.setFailed(`the eval config has ${err.issues.length === 1 ? 'a problem' : `${err.issues.length} problems`}: see the annotations above`);
    } else {
      core.setFailed(err instanceof Error ? err.message : String(err));
    }
  }
}

function readInputs() {
  const openaiApiKey = core.getInput('openai-api-key');
  const anthropicApiKey = core.getInput('anthropic-api-key');
  const token = core.getInput('github-token');
  for (const secret of [openaiApiKey, anthropicApiKey, token]) if (secret) core.setSecret(secret);
  const minPassRate = core.getInput('min-pass-rate');
  return {
    config: core.getInput('config', { required: true }),
    credentials: {
      openaiApiKey,
      openaiBaseUrl: core.getInput('openai-base-url') || undefined,
      anthropicApiKey,
      anthropicBaseUrl: core.getInput('anthropic-base-url') || undefined,
    },
    maxWaitMs: durationInput('max-wait', '20m'),
    minPassRate: minPassRate ? parsePassRate(minPassRate) : undefined,
    failOnRegression: (core.getInput('fail-on-regression') || 'true').trim().toLowerCase() !== 'false',
    token,
    resultsFile: core.getInput('results-file') || join(process.env.RUNNER_TEMP ?? '.', 'batch-evals-results.json'),
  };
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

/** One comment, status and baseline per suite file, stable across runs. */
function suiteIdOf(configPath: string): string {
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  const path = relative(workspace, resolve(workspace, configPath)).split('\\').join('/');
  return createHash('sha256').update(path).digest('hex').slice(0, 12);
}

function durationInput(name: string, fallback: string): number {
  try {
    return parseDuration(core.getInput(name) || fallback);
  } catch (err) {
    throw new Error(`input ${name}: ${(err as Error).message}`);
  }
}

function parsePassRate(text: string): number {
  const value = text.trim().endsWith('%') ? Number(text.trim().slice(0, -1)) / 100 : Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new Error(`min-pass-rate must be between 0 and 1 (or 0% and 100%), not '${text}'`);
  return value;
}

function runMetadata() {
  // context.repo throws without GITHUB_REPOSITORY (a local or non-GitHub runner): the metadata is optional.
  const { sha, payload } = github.context;
  return {
    repo: process.env.GITHUB_REPOSITORY || undefined,
    pr: payload.pull_request ? String(payload.pull_request.number) : undefined,
    sha: payload.pull_request?.head?.sha ?? sha,
  };
}
