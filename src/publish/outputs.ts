import * as core from '@actions/core';
import type { ConfigError } from '../config/errors.ts';
import type { ConfigWarning } from '../config/types.ts';
import type { EvalOutcome } from '../pipeline.ts';
import type { Comparison } from '../report/baseline.ts';
import { properties } from './annotations.ts';

export function setRunOutputs(outcome: EvalOutcome, resultsFile: string, comparison?: Comparison): void {
  const t = outcome.summary.total;
  core.setOutput('status', outcome.status);
  core.setOutput('pass-rate', t.passRate === undefined ? '' : t.passRate.toFixed(4));
  core.setOutput('passed', t.passed);
  core.setOutput('failed', t.failed);
  core.setOutput('errored', t.errored);
  core.setOutput('cost', t.batchCost.toFixed(6));
  core.setOutput('realtime-cost', t.realtimeCost.toFixed(6));
  core.setOutput('savings', (t.realtimeCost - t.batchCost).toFixed(6));
  core.setOutput('batch-ids', outcome.runs.flatMap((r) => (r.handle ? [r.handle.batchId] : [])).join(','));
  core.setOutput('results-file', resultsFile);
  core.setOutput('regressions', comparison ? comparison.regressions.length : '');
}

/** Each config problem as an error annotation on its line of the YAML. */
export function annotateConfigError(err: ConfigError): void {
  for (const issue of err.issues) {
    const message = issue.keyPath ? `${issue.keyPath}: ${issue.message}` : issue.message;
    core.error(message, { title: 'batch-evals config', ...properties(issue.location) });
  }
}

export function annotateWarnings(warnings: ConfigWarning[], root?: string): void {
  for (const w of warnings) core.warning(w.message, { title: 'batch-evals config', ...properties(w.location, root) });
}
