import * as core from '@actions/core';
import { estimateOnly, estimateSummary } from './action/estimate-mode.ts';
import { readInputs } from './action/inputs.ts';
import { resumePending } from './action/resume.ts';
import { runSuite } from './action/run-suite.ts';
import { ConfigError } from './config/errors.ts';
import { OverBudgetError } from './estimate.ts';
import { annotateConfigError } from './publish/outputs.ts';

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
