import * as core from '@actions/core';
import * as github from '@actions/github';
import { join } from 'node:path';
import { ConfigError } from './config/errors.ts';
import { parseDuration } from './duration.ts';
import type { Logger } from './logger.ts';
import { batchFacts, evaluate } from './pipeline.ts';
import { renderMarkdown } from './report/markdown.ts';
import { writeResultsFile } from './report/results-file.ts';
import { annotateConfigError, annotateWarnings, setRunOutputs } from './publish/outputs.ts';

const actionLog: Logger = { info: core.info, warning: (m) => core.warning(m), debug: core.debug };

/**
 * The action: read the suite, send its cases as provider batches, wait while the job allows, score the outputs,
 * and report pass rates and batch-versus-real-time cost in the job summary and the step outputs.
 */
export async function run(): Promise<void> {
  try {
    const openaiApiKey = core.getInput('openai-api-key');
    const anthropicApiKey = core.getInput('anthropic-api-key');
    for (const key of [openaiApiKey, anthropicApiKey]) if (key) core.setSecret(key);
    const minPassRate = core.getInput('min-pass-rate');

    const outcome = await evaluate({
      configPath: core.getInput('config', { required: true }),
      credentials: {
        openaiApiKey,
        openaiBaseUrl: core.getInput('openai-base-url') || undefined,
        anthropicApiKey,
        anthropicBaseUrl: core.getInput('anthropic-base-url') || undefined,
      },
      maxWaitMs: durationInput('max-wait', '20m'),
      minPassRate: minPassRate ? parsePassRate(minPassRate) : undefined,
      metadata: runMetadata(),
      log: actionLog,
      onWarnings: annotateWarnings,
    });

    const report = {
      title: outcome.suite.description ?? core.getInput('config'),
      status: outcome.status,
      minPassRate: outcome.minPassRate,
      summary: outcome.summary,
      results: outcome.results,
      batches: batchFacts(outcome.runs),
    };
    const markdown = renderMarkdown(report);
    const resultsFile = core.getInput('results-file') || join(process.env.RUNNER_TEMP ?? '.', 'batch-evals-results.json');
    await writeResultsFile(resultsFile, { ...report, suite: report.title });
    await core.summary.addRaw(markdown).write();
    setRunOutputs(outcome, resultsFile);

    if (outcome.status === 'failed') {
      const rate = outcome.summary.total.passRate ?? 0;
      core.setFailed(`pass rate ${(rate * 100).toFixed(1)}% is below the required ${(outcome.minPassRate * 100).toFixed(1)}%`);
    }
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
