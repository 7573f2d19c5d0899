import * as core from '@actions/core';
import * as github from '@actions/github';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { providerFor } from './batch/providers.ts';
import { ConfigError } from './config/errors.ts';
import { parseDuration } from './duration.ts';
import { estimateMarkdown, estimateText } from './cost/estimate-format.ts';
import { estimateSuite, maxCostCheck, OverBudgetError, parseMaxCost, parseOutputTokens, refusalOf, type SuiteEstimate } from './estimate.ts';
import type { Logger } from './logger.ts';
import { evaluate } from './pipeline.ts';
import { materializeConfigAt } from './publish/config-at-commit.ts';
import { runTarget, type RunTarget } from './publish/github.ts';
import { annotateConfigError, annotateWarnings } from './publish/outputs.ts';
import { publishRun, stateRef } from './publish/publish.ts';
import { findComment, pendingFromComments } from './publish/sticky-comment.ts';
import { OutputsCache } from './reuse/outputs-store.ts';
import { isUnfinished, type RunState } from './state/run-state.ts';
import { StateStore } from './state/state-store.ts';

const actionLog: Logger = { info: core.info, warning: (m) => core.warning(m), debug: core.debug };

type Inputs = ReturnType<typeof readInputs>;

/**
 * The action. `run` (the default): send the suite's cases as provider batches, wait while the job allows, score
 * the outputs, and report in the job summary, one sticky PR comment, a commit status and the step outputs;
 * what is still running is saved for a later job. `submit`: send and save at once. `resume`: find the runs left
 * pending, collect what has ended, and finish their reports. `estimate`: count the tokens and price the run, sending
 * nothing. With `max-cost`, run and submit send nothing when the estimate is above it.
 */
export async function run(): Promise<void> {
  try {
    const inputs = readInputs();
    const failures = inputs.mode === 'resume' ? await resumePending(inputs) : inputs.mode === 'estimate' ? await estimateOnly(inputs) : await runSuite(inputs);
    // Each failure was reported as an error annotation where it arose (publishRun, resume): not repeated here.
    if (failures.length) process.exitCode = core.ExitCode.Failure;
  } catch (err) {
    core.setOutput('status', 'failed');
    if (err instanceof OverBudgetError) {
      await estimateSummary(err.estimate, err.message);
      core.setFailed(err.message);
    } else if (err instanceof ConfigError) {
      annotateConfigError(err);
      core.setFailed(`the eval config has ${err.issues.length === 1 ? 'a problem' : `${err.issues.length} problems`}: see the annotations above`);
    } else {
      core.setFailed(err instanceof Error ? err.message : String(err));
    }
  }
}

/** run / submit: one suite at the checked-out commit, never submitted twice for the same commit. */
async function runSuite(inputs: Inputs): Promise<string[]> {
  if (!inputs.config) throw new Error(`input config is required in mode ${inputs.mode}`);
  const target = runTarget(github.context);
  const configPath = repoPath(inputs.config);
  const suiteId = suiteIdOf(configPath);

  const previous = target ? await lastState(inputs, target, suiteId) : undefined;
  const notes: string[] = [];
  let attach: RunState | undefined;
  if (isUnfinished(previous) && previous.sha === target?.sha) {
    attach = previous;
  } else if (isUnfinished(previous) && inputs.cancelSuperseded) {
    const note = await cancelSuperseded(previous, inputs);
    if (note) notes.push(note);
  }

  const outputs = inputs.reuse ? await earlierOutputs(target, suiteId) : undefined;
  const outcome = await evaluate({
    configPath: inputs.config,
    credentials: inputs.credentials,
    reuse: outputs?.earlier,
    maxWaitMs: inputs.mode === 'submit' ? 0 : inputs.maxWaitMs,
    minPassRate: inputs.minPassRate,
    maxRetries: inputs.maxRetries,
    metadata: { ...runMetadata(target), config: configPath, suite_id: suiteId },
    attach,
    // A run already submitted for this commit sends nothing new: max-cost is for what is about to be sent.
    beforeSubmit: inputs.maxCost === undefined || attach ? undefined : maxCostCheck(inputs.maxCost, inputs.estimate, actionLog, estimateOutputs),
    log: actionLog,
    onWarnings: annotateWarnings,
  });
  if (outputs && outcome.status !== 'pending') await outputs.cache.save(suiteId, outputs.saveAs, outputs.earlier);
  return publishRun({ outcome, configPath, suiteId, target, token: inputs.token, resultsFile: inputs.resultsFile, failOnRegression: inputs.failOnRegression, previous: attach, notes, log: actionLog });
}

/**
 * The outputs earlier runs of this suite left in the Actions cache: this branch's (or pull request's) and, for a
 * pull request, its base branch's, where every request the PR did not change was answered already. With `branches`,
 * those instead (a resume job reads what its own cache scope can).
 */
async function earlierOutputs(target: RunTarget | undefined, suiteId: string, branches?: string[]) {
  const cache = new OutputsCache(actionLog);
  if (!target || !cache.available()) {
    actionLog.info('reuse: the Actions cache is not available to this run, so every request is sent');
    return undefined;
  }
  const saveAs = stateRef(target);
  const earlier = await cache.restore(suiteId, branches ?? [saveAs, ...(target.pr ? [target.pr.baseRef] : [])]);
  return { cache, earlier, saveAs };
}

/** estimate: the suite's tokens and cost, nothing sent; failed when above max-cost. */
async function estimateOnly(inputs: Inputs): Promise<string[]> {
  if (!inputs.config) throw new Error('input config is required in mode estimate');
  // What reuse will save: the earlier outputs a run would take, read as the run would read them.
  const target = runTarget(github.context);
  const outputs = inputs.reuse ? await earlierOutputs(target, suiteIdOf(repoPath(inputs.config))) : undefined;
  const estimated = await estimateSuite(inputs.config, { ...inputs.estimate, earlier: outputs?.earlier }, annotateWarnings);
  const refusal = refusalOf(estimated.estimate, inputs.maxCost);
  estimateOutputs(estimated);
  await estimateSummary(estimated, refusal);
  if (refusal) core.setFailed(refusal);
  return [];
}

/** The estimate in the log and the step outputs. */
function estimateOutputs({ estimate, heading }: SuiteEstimate): void {
  core.setOutput('estimated-cost', estimate.total.batch.expected.toFixed(6));
  core.setOutput('estimated-realtime-cost', estimate.total.realtime.expected.toFixed(6));
  core.info(estimateText(estimate, heading));
}

/** The estimate in the job summary: what mode estimate reports, or why a run was not sent. */
async function estimateSummary({ estimate, heading }: SuiteEstimate, refusal?: string): Promise<void> {
  await core.summary.addRaw(estimateMarkdown(estimate, heading) + (refusal ? `\n**Over max-cost:** ${refusal}\n` : '')).write();
}

/**
 * resume: the runs left pending, found in this ref's cache (a nightly run, a re-run) and in the markers of the
 * bot's own comments on open pull requests (a scheduled job cannot read a PR's cache). Each is rebuilt from the
 * config at its own commit, collected, scored and reported; one still running stays pending.
 */
async function resumePending(inputs: Inputs): Promise<string[]> {
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

/** The last state this suite left on this ref: the cache first, then the PR comment's marker. */
async function lastState(inputs: Inputs, target: RunTarget, suiteId: string): Promise<RunState | undefined> {
  const states = new StateStore(actionLog);
  const cached = states.available() ? await states.restore(suiteId, stateRef(target)) : undefined;
  if (cached) return cached;
  if (!target.pr || !inputs.token || target.pr.fromFork) return undefined;
  try {
    return (await findComment(github.getOctokit(inputs.token), { owner: target.owner, repo: target.repo, number: target.pr.number }, suiteId))?.state;
  } catch (err) {
    actionLog.warning(`could not read the pull request's comments for a pending run: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * A new push makes the batches of the older commit pointless: cancel those still running, and say so in the
 * report. Batches that have ended (collected by a resume, or done unseen) are left alone, and nothing is said.
 */
async function cancelSuperseded(previous: RunState, inputs: Inputs): Promise<string | undefined> {
  const cancelled: string[] = [];
  let ended = 0;
  for (const b of previous.batches) {
    try {
      const provider = providerFor({ key: b.key, provider: b.provider, model: b.model, requests: [] }, inputs.credentials, actionLog);
      if ((await provider.status(b)).phase === 'ended') {
        ended++;
        continue;
      }
      await provider.cancel(b);
      cancelled.push(b.batchId);
    } catch (err) {
      actionLog.warning(`could not cancel ${b.batchId} of the superseded commit ${previous.sha.slice(0, 12)}: ${(err as Error).message}`);
    }
  }
  if (ended === previous.batches.length) return undefined;
  const message = `Cancelled ${cancelled.length} of ${previous.batches.length - ended} batch(es) of the superseded commit ${previous.sha.slice(0, 12)}: ${cancelled.join(', ') || 'none'}.`;
  actionLog.info(message);
  return message;
}

function readInputs() {
  const openaiApiKey = core.getInput('openai-api-key');
  const anthropicApiKey = core.getInput('anthropic-api-key');
  const token = core.getInput('github-token');
  for (const secret of [openaiApiKey, anthropicApiKey, token]) if (secret) core.setSecret(secret);
  const mode = core.getInput('mode') || 'run';
  if (mode !== 'run' && mode !== 'submit' && mode !== 'resume' && mode !== 'estimate') throw new Error(`input mode must be run, submit, resume or estimate, not '${mode}'`);
  const maxCost = core.getInput('max-cost').trim();
  const outputTokens = core.getInput('output-tokens').trim();
  const minPassRate = core.getInput('min-pass-rate');
  return {
    mode,
    config: core.getInput('config'),
    credentials: {
      openaiApiKey,
      openaiBaseUrl: core.getInput('openai-base-url') || undefined,
      anthropicApiKey,
      anthropicBaseUrl: core.getInput('anthropic-base-url') || undefined,
    },
    maxWaitMs: durationInput('max-wait', '20m'),
    minPassRate: minPassRate ? parsePassRate(minPassRate) : undefined,
    maxRetries: integerInput('max-retries'),
    failOnRegression: booleanInput('fail-on-regression', true),
    maxCost: maxCost ? parseMaxCost(maxCost, 'input max-cost') : undefined,
    estimate: { outputOption: 'the output-tokens input', outputTokens: outputTokens ? parseOutputTokens(outputTokens, 'input output-tokens') : undefined },
    reuse: booleanInput('reuse', true),
    cancelSuperseded: booleanInput('cancel-superseded', true),
    token,
    resultsFile: core.getInput('results-file') || join(process.env.RUNNER_TEMP ?? '.', 'batch-evals-results.json'),
  };
}

/** The config's path in the repository, with forward slashes. */
function repoPath(configPath: string): string {
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  return relative(workspace, resolve(workspace, configPath)).split('\\').join('/');
}

/** One comment, status, baseline and state per suite file, stable across runs. */
function suiteIdOf(path: string): string {
  return createHash('sha256').update(path).digest('hex').slice(0, 12);
}

function integerInput(name: string): number | undefined {
  const value = core.getInput(name).trim();
  if (value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`input ${name} must be a whole number, 0 or more, not '${value}'`);
  return n;
}

function booleanInput(name: string, fallback: boolean): boolean {
  const value = core.getInput(name).trim().toLowerCase();
  if (value === '') return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`input ${name} must be true or false, not '${value}'`);
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

function runMetadata(target: RunTarget | undefined) {
  return { repo: target ? `${target.owner}/${target.repo}` : undefined, pr: target?.pr ? String(target.pr.number) : undefined, sha: target?.sha ?? github.context.sha };
}
