import * as core from '@actions/core';
import * as github from '@actions/github';
import { existsSync } from 'node:fs';
import { providerFor } from '../batch/providers.ts';
import { ConfigError } from '../config/errors.ts';
import { evaluate } from '../pipeline.ts';
import { materializeConfigAt } from '../publish/config-at-commit.ts';
import { runTarget, type RunTarget } from '../publish/github.ts';
import { annotateConfigError, annotateWarnings } from '../publish/outputs.ts';
import { publishRun, stateRef } from '../publish/publish.ts';
import { pendingFromComments } from '../publish/sticky-comment.ts';
import { isUnfinished, type RunState } from '../state/run-state.ts';
import { StateStore } from '../state/state-store.ts';
import type { Inputs } from './inputs.ts';
import { actionLog, earlierOutputs, repoPath, suiteIdOf } from './suite.ts';

/**
 * resume: the runs left pending, found in this ref's cache (a nightly run, a re-run) and in the markers of the
 * bot's own comments on open pull requests (a scheduled job cannot read a PR's cache). Each is rebuilt from the
 * config at its own commit, collected, scored and reported; one still running stays pending.
 */
export async function resumePending(inputs: Inputs): Promise<string[]> {
  const here = runTarget(github.context);
  if (!here) throw new Error('mode resume runs in GitHub Actions: GITHUB_REPOSITORY is not set');
  const pending = new Map<string, { state: RunState; pr?: number; lost?: boolean }>();
  const states = new StateStore(actionLog);
  if (inputs.config && states.available()) {
    const state = await states.restore(suiteIdOf(repoPath(inputs.config)), stateRef(here));
    if (isUnfinished(state)) pending.set(`${state.suiteId}@${state.sha}`, { state });
  }
  if (inputs.token) {
    for (const { pr, state } of await pendingFromComments(github.getOctokit(inputs.token), here.owner, here.repo)) {
      pending.set(`${state.suiteId}@${state.sha}`, { state, pr });
    }
  }
  for (const state of await lostRuns(inputs, here)) {
    const key = `${state.suiteId}@${state.sha}`;
    if (pending.has(key)) continue;
    core.info(`resume: found ${state.batches.map((b) => b.batchId).join(', ')} by listing the provider's batches (its state was lost)`);
    pending.set(key, { state, pr: state.pr, lost: true });
  }
  if (pending.size === 0) {
    core.info('resume: no pending runs found (in the cache of this ref, in comments on open pull requests, or among the provider batches still running)');
    core.setOutput('status', 'completed');
    return [];
  }

  const failures: string[] = [];
  for (const { state, pr, lost } of pending.values()) {
    core.startGroup(`resume: ${state.suite} at ${state.sha.slice(0, 12)}${pr ? ` (#${pr})` : ''}`);
    try {
      failures.push(...(await resumeOne(inputs, here, state, pr, lost)).map((f) => `${state.suite}${pr ? ` (#${pr})` : ''} at ${state.sha.slice(0, 12)}: ${f}`));
    } catch (err) {
      if (err instanceof ConfigError) annotateConfigError(err);
      failures.push(`resume of ${state.suite} at ${state.sha.slice(0, 12)}: ${(err as Error).message}`);
      core.error(failures.at(-1)!);
    } finally {
      core.endGroup();
    }
  }
  return failures;
}

async function resumeOne(inputs: Inputs, here: RunTarget, state: RunState, pr: number | undefined, lost = false): Promise<string[]> {
  const target: RunTarget = { ...here, sha: state.sha, branch: pr ? undefined : here.branch, pr: undefined };
  if (pr && inputs.token) {
    const { data } = await github.getOctokit(inputs.token).rest.pulls.get({ owner: here.owner, repo: here.repo, pull_number: pr });
    // Found only by listing, for a commit that is no longer the PR's head: a superseded run left running
    // (cancel-superseded: false, or a cancel that failed). Its report would replace the head's in the comment.
    if (lost && data.head.sha !== state.sha) {
      core.info(`resume: ${state.sha.slice(0, 12)} is no longer the head of #${pr} (${data.head.sha.slice(0, 12)} is): its batches are left alone`);
      return [];
    }
    target.pr = { number: pr, baseRef: data.base.ref, fromFork: data.head.repo?.full_name !== `${here.owner}/${here.repo}` };
  }
  // The config at the pending commit: the checkout when it is that commit, else fetched through the API.
  const local = state.sha === github.context.sha && existsSync(state.configPath);
  const fetched = local ? undefined : await materializeConfigAt(github.getOctokit(inputs.token), { owner: here.owner, repo: here.repo, sha: state.sha, configPath: state.configPath }, actionLog);
  // The submit sent only what earlier outputs did not answer: the rest is answered from them again, as far as this
  // job's cache scope can read them (its own ref's; for a pull request, its base branch's, not the PR's own).
  const outputs = inputs.reuse ? await earlierOutputs(target, state.suiteId, [target.pr?.baseRef ?? stateRef(target)]) : undefined;
  try {
    const outcome = await evaluate({
      configPath: fetched?.configFile ?? state.configPath,
      credentials: inputs.credentials,
      reuse: outputs?.earlier,
      maxWaitMs: inputs.maxWaitMs,
      minPassRate: inputs.minPassRate,
      maxRetries: inputs.maxRetries,
      attach: state,
      log: actionLog,
      onWarnings: (warnings) => annotateWarnings(warnings, fetched?.dir),
    });
    // Kept for the next run under the run's own ref (a pull request's, written to this job's scope, which the pull
    // request's runs read as their base branch's).
    if (outputs && outcome.status !== 'pending') await outputs.cache.save(state.suiteId, outputs.saveAs, outputs.earlier);
    return await publishRun({ outcome, configPath: state.configPath, suiteId: state.suiteId, target, token: inputs.token, resultsFile: inputs.resultsFile, failOnRegression: inputs.failOnRegression, previous: state, sourceRoot: fetched?.dir, log: actionLog });
  } finally {
    await fetched?.cleanup();
  }
}

/**
 * Runs whose state is lost (cache evicted, comment deleted): OpenAI batches carry the suite id, config, commit
 * and PR in their metadata, so the ones still running for this repository are found by listing.
 */
async function lostRuns(inputs: Inputs, here: RunTarget): Promise<RunState[]> {
  if (!inputs.credentials.openaiApiKey) return [];
  const provider = providerFor({ key: 'list', provider: 'openai', model: '', requests: [] }, inputs.credentials, actionLog);
  let found;
  try {
    found = (await provider.findRunning?.(`${here.owner}/${here.repo}`)) ?? [];
  } catch (err) {
    actionLog.warning(`resume: could not list the OpenAI batches: ${(err as Error).message}`);
    return [];
  }
  const runs = new Map<string, RunState>();
  for (const { handle, model, metadata } of found) {
    if (!metadata.suite_id || !metadata.config || !metadata.sha) continue;
    const key = `${metadata.suite_id}@${metadata.sha}`;
    const now = new Date().toISOString();
    const state = runs.get(key) ?? {
      version: 1 as const,
      suiteId: metadata.suite_id,
      suite: metadata.suite ?? metadata.config,
      configPath: metadata.config,
      sha: metadata.sha,
      repo: metadata.repo,
      pr: metadata.pr ? Number(metadata.pr) : undefined,
      phase: 'submitted' as const,
      submittedAt: handle.submittedAt,
      updatedAt: now,
      batches: [],
    };
    state.batches.push({ ...handle, key: '', model });
    runs.set(key, state);
  }
  return [...runs.values()];
}
