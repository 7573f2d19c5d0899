import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { MissingCredentialsError } from './batch/providers.ts';
import { ConfigError } from './config/errors.ts';
import type { ConfigWarning } from './config/types.ts';
import { parseDuration } from './duration.ts';
import { consoleLogger } from './logger.ts';
import { estimateText } from './cost/estimate-format.ts';
import { estimateSuite, maxCostCheck, OverBudgetError, parseMaxCost, parseOutputTokens, refusalOf } from './estimate.ts';
import { batchFacts, evaluate } from './pipeline.ts';
import { renderMarkdown } from './report/markdown.ts';
import { writeResultsFile } from './report/results-file.ts';
import { readOutputsFile, writeOutputsFile } from './reuse/outputs-file.ts';

const USAGE = `usage: batch-evals run <config.yaml> [options]
       batch-evals estimate <config.yaml> [--output-tokens <n>] [--max-cost <usd>] [--reuse <file>]

run: runs an eval suite through the providers' batch APIs and prints the report as markdown.
estimate: counts the tokens of what run would send, sending nothing (no API key needed), and prints the expected
cost at batch and real-time prices, per model and in total.

options:
  --out <file>              write every case as JSON to this file
  --markdown <file>         also write the report markdown to this file
  --max-wait <duration>     how long to wait for the batches, e.g. 90s, 20m, 2h (default 20m)
  --min-pass-rate <rate>    pass rate (0..1) below which the run fails (default: the suite's threshold, else 1)
  --openai-base-url <url>   an OpenAI-compatible batch API (default https://api.openai.com/v1)
  --anthropic-base-url <url>  an Anthropic-compatible Message Batches API (default https://api.anthropic.com)
  --max-retries <n>         rounds of retries for requests that failed for a retryable reason (default 2)
  --poll-interval <d>       first polling interval, growing to 60s (default 5s)
  --max-cost <usd>          refuse to send the run when its estimate at batch prices is above this (exit 4)
  --output-tokens <n>       output tokens assumed per answer in the estimate, capped at max_tokens (default 256)
  --reuse <file>            answer requests from the outputs kept in this JSON file by an earlier run (only the
                            rest are sent), and keep this run's outputs there for the next

API keys are read from OPENAI_API_KEY and ANTHROPIC_API_KEY.
Exit codes: 0 passed, 1 failed or errored, 2 bad config or usage, 3 batches still pending at --max-wait.
Exit 4: the estimate is above --max-cost (nothing was sent).`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        markdown: { type: 'string' },
        'max-wait': { type: 'string', default: '20m' },
        'min-pass-rate': { type: 'string' },
        'openai-base-url': { type: 'string' },
        'anthropic-base-url': { type: 'string' },
        'poll-interval': { type: 'string', default: '5s' },
        'max-retries': { type: 'string' },
        'max-cost': { type: 'string' },
        'output-tokens': { type: 'string' },
        reuse: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command, configPath] = positionals;
  if ((command !== 'run' && command !== 'estimate') || !configPath || positionals.length > 2) {
    console.error(USAGE);
    return 2;
  }
  if (command === 'estimate') return estimate(configPath, values['output-tokens'], values['max-cost'], values.reuse);
  if (process.env.OPENAI_BASE_URL && !values['openai-base-url']) {
    consoleLogger.warning('OPENAI_BASE_URL is set but ignored: pass --openai-base-url to use another endpoint');
  }
  if (process.env.ANTHROPIC_BASE_URL && !values['anthropic-base-url']) {
    consoleLogger.warning('ANTHROPIC_BASE_URL is set but ignored: pass --anthropic-base-url to use another endpoint');
  }

  try {
    const minPassRate = values['min-pass-rate'] === undefined ? undefined : Number(values['min-pass-rate']);
    if (minPassRate !== undefined && !(minPassRate >= 0 && minPassRate <= 1)) throw new UsageError('--min-pass-rate must be between 0 and 1');
    const maxRetries = values['max-retries'] === undefined ? undefined : Number(values['max-retries']);
    if (maxRetries !== undefined && !(Number.isInteger(maxRetries) && maxRetries >= 0)) throw new UsageError('--max-retries must be a whole number, 0 or more');
    const settings = estimateSettings(values['output-tokens']);
    const maxCost = values['max-cost'] === undefined ? undefined : usage(() => parseMaxCost(values['max-cost']!, '--max-cost'));
    const reuse = values.reuse ? await readOutputsFile(values.reuse, consoleLogger) : undefined;
    const outcome = await evaluate({
      configPath,
      reuse,
      credentials: {
        openaiApiKey: process.env.OPENAI_API_KEY,
        openaiBaseUrl: values['openai-base-url'],
        anthropicApiKey: process.env.ANTHROPIC_API_KEY,
        anthropicBaseUrl: values['anthropic-base-url'],
      },
      maxWaitMs: durationOption('max-wait', values['max-wait']!),
      minPassRate,
      maxRetries,
      beforeSubmit: maxCost === undefined ? undefined : maxCostCheck(maxCost, settings, consoleLogger),
      pollIntervalMs: { initial: durationOption('poll-interval', values['poll-interval']!), max: 60_000 },
      log: consoleLogger,
      onWarnings: printWarnings,
    });
    const report = {
      title: outcome.suite.description ?? configPath,
      status: outcome.status,
      minPassRate: outcome.minPassRate,
      summary: outcome.summary,
      results: outcome.results,
      batches: batchFacts(outcome.runs),
    };
    if (reuse && values.reuse && outcome.status !== 'pending') await writeOutputsFile(values.reuse, reuse);
    const markdown = renderMarkdown(report);
    process.stdout.write(markdown);
    if (values.markdown) await writeFile(values.markdown, markdown);
    if (values.out) {
      await writeResultsFile(values.out, { ...report, suite: report.title });
      consoleLogger.info(`results written to ${values.out}`);
    }
    return outcome.status === 'completed' ? 0 : outcome.status === 'pending' ? 3 : 1;
  } catch (err) {
    return failure(err);
  }
}

/** Config warnings on stderr, each with its file, line and column. */
function printWarnings(warnings: ConfigWarning[]): void {
  for (const w of warnings) consoleLogger.warning(w.location ? `${w.location.file}:${w.location.line}:${w.location.column} ${w.message}` : w.message);
}

/** The exit status of a command stopped by an error, which it prints: 4 above max-cost (with the estimate), 2 the user's input, 1 anything else. */
function failure(err: unknown): number {
  if (err instanceof OverBudgetError) {
    process.stdout.write(estimateText(err.estimate.estimate, err.estimate.heading));
    console.error(`error: ${err.message}`);
    return 4;
  }
  if (err instanceof ConfigError || err instanceof UsageError || err instanceof MissingCredentialsError) {
    console.error(`error: ${err.message}`);
    return 2;
  }
  console.error(`error: ${(err as Error).stack ?? err}`);
  return 1;
}

/** `batch-evals estimate`: the plan's tokens and cost, nothing sent; exit 4 when above --max-cost. */
async function estimate(configPath: string, outputTokens: string | undefined, maxCostText: string | undefined, reuseFile: string | undefined): Promise<number> {
  try {
    const settings = { ...estimateSettings(outputTokens), earlier: reuseFile ? await readOutputsFile(reuseFile, consoleLogger) : undefined };
    const maxCost = maxCostText === undefined ? undefined : usage(() => parseMaxCost(maxCostText, '--max-cost'));
    const { estimate, heading } = await estimateSuite(configPath, settings, printWarnings);
    process.stdout.write(estimateText(estimate, heading));
    const refusal = refusalOf(estimate, maxCost);
    if (refusal) {
      console.error(`error: ${refusal}`);
      return 4;
    }
    return 0;
  } catch (err) {
    return failure(err);
  }
}

function estimateSettings(outputTokens: string | undefined) {
  return { outputOption: '--output-tokens', outputTokens: outputTokens === undefined ? undefined : usage(() => parseOutputTokens(outputTokens, '--output-tokens')) };
}

/** A parse whose error is the user's: a usage error. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

class UsageError extends Error {}

function durationOption(name: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`--${name}: ${(err as Error).message}`);
  }
}
