import * as github from '@actions/github';
import { providerFor } from '../batch/providers.ts';
import { maxCostCheck } from '../estimate.ts';
import { evaluate } from '../pipeline.ts';
import { runTarget, type RunTarget } from '../publish/github.ts';
import { annotateWarnings } from '../publish/outputs.ts';
import { publishRun, stateRef } from '../publish/publish.ts';
import { findComment } from '../publish/sticky-comment.ts';
import { isUnfinished, type RunState } from '../state/run-state.ts';
import { StateStore } from '../state/state-store.ts';
import { estimateOutputs } from './estimate-mode.ts';
import type { Inputs } from './inputs.ts';
import { actionLog, earlierOutputs, repoPath, suiteIdOf } from './suite.ts';

/** run / submit: one suite at the checked-out commit, never submitted twice for the same commit. */
export async function runSuite(inputs: Inputs): Promise<string[]> {
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

function runMetadata(target: RunTarget | undefined) {
  return { repo: target ? `${target.owner}/${target.repo}` : undefined, pr: target?.pr ? String(target.pr.number) : undefined, sha: target?.sha ?? github.context.sha };
}
