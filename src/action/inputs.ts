import * as core from '@actions/core';
import { join } from 'node:path';
import { parseDuration } from '../duration.ts';
import { parseMaxCost, parseOutputTokens } from '../estimate.ts';

/** The action's inputs (action.yml), read and checked once: a bad one is an error that names it. */
export type Inputs = ReturnType<typeof readInputs>;

export function readInputs() {
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
