import * as core from '@actions/core';
import * as github from '@actions/github';
import { estimateMarkdown, estimateText } from '../cost/estimate-format.ts';
import { estimateSuite, refusalOf, type SuiteEstimate } from '../estimate.ts';
import { runTarget } from '../publish/github.ts';
import { annotateWarnings } from '../publish/outputs.ts';
import type { Inputs } from './inputs.ts';
import { earlierOutputs, repoPath, suiteIdOf } from './suite.ts';

/** estimate: the suite's tokens and cost, nothing sent; failed when above max-cost. */
export async function estimateOnly(inputs: Inputs): Promise<string[]> {
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
export function estimateOutputs({ estimate, heading }: SuiteEstimate): void {
  core.setOutput('estimated-cost', estimate.total.batch.expected.toFixed(6));
  core.setOutput('estimated-realtime-cost', estimate.total.realtime.expected.toFixed(6));
  core.info(estimateText(estimate, heading));
}

/** The estimate in the job summary: what mode estimate reports, or why a run was not sent. */
export async function estimateSummary({ estimate, heading }: SuiteEstimate, refusal?: string): Promise<void> {
  await core.summary.addRaw(estimateMarkdown(estimate, heading) + (refusal ? `\n**Over max-cost:** ${refusal}\n` : '')).write();
}
