/**
 * One size, measured: `node child.js <config> <OpenAI emulator url> <Anthropic emulator url> <dir> [--verbose]`.
 * bench/run.ts bundles this file with ncc first, as the action and the CLI are bundled, so the figures are those of
 * the code users run.
 */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchRun } from '../src/batch/run-batches.ts';
import { batchFacts, evaluate } from '../src/pipeline.ts';
import { renderMarkdown } from '../src/report/markdown.ts';
import { writeResultsFile } from '../src/report/results-file.ts';
import { readOutputsFile, writeOutputsFile } from '../src/reuse/outputs-file.ts';
import { getHeapSpaceStatistics } from 'node:v8';
import { MB, RESULT_MARK, memoryParts, type ChildResult, type Stage } from './measure.ts';

async function child(): Promise<void> {
  const [config, openaiUrl, anthropicUrl, dir] = process.argv.slice(2);
  const verbose = process.argv.includes('--verbose');
  const reuseAt = process.argv.indexOf('--reuse');
  const reuseFile = reuseAt > 0 ? process.argv[reuseAt + 1] : undefined;
  const baselineRssMB = process.memoryUsage().rss / MB;

  let peakHeap = 0;
  const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 25);
  const stages = {} as Record<Stage, number>;
  const rssAfter = {} as Record<Stage, number>;
  const ended = (stage: Stage, ms: number) => {
    const mem = process.memoryUsage();
    peakHeap = Math.max(peakHeap, mem.heapUsed);
    stages[stage] = ms / 1000;
    rssAfter[stage] = mem.rss / MB;
  };
  const quiet = () => {};
  const log = verbose
    ? { info: (m: string) => console.error(`  [child] ${m}`), warning: (m: string) => console.error(`  [child] warning: ${m}`), debug: quiet }
    : { info: quiet, warning: (m: string) => console.error(`  [child] warning: ${m}`), debug: quiet };

  const started = performance.now();
  const reuse = reuseFile ? await readOutputsFile(reuseFile, log) : undefined;
  const outcome = await evaluate({
    reuse,
    configPath: config,
    credentials: {
      openaiApiKey: 'sk-bench-not-a-real-key',
      openaiBaseUrl: openaiUrl,
      anthropicApiKey: 'sk-ant-bench-not-a-real-key',
      anthropicBaseUrl: anthropicUrl,
    },
    maxWaitMs: 10 * 60_000,
    pollIntervalMs: { initial: 100, max: 1_000 },
    log,
    onStage: ended,
  });

  const reportStart = performance.now();
  const report = {
    title: outcome.suite.description ?? config,
    status: outcome.status,
    minPassRate: outcome.minPassRate,
    summary: outcome.summary,
    results: outcome.results,
    batches: batchFacts(outcome.runs),
  };
  const markdown = renderMarkdown(report);
  const markdownPath = join(dir, 'report.md');
  const resultsPath = join(dir, 'results.json');
  await writeFile(markdownPath, markdown);
  await writeResultsFile(resultsPath, { ...report, suite: report.title });
  ended('report', performance.now() - reportStart);
  const memoryAtEnd = memoryParts(getHeapSpaceStatistics(), process.memoryUsage().external);
  if (reuse && reuseFile) await writeOutputsFile(reuseFile, reuse);
  const totalSeconds = (performance.now() - started) / 1000;
  clearInterval(sampler);

  const t = outcome.summary.total;
  const result: ChildResult = {
    cases: outcome.plan.cases.length,
    requests: outcome.plan.batches.reduce((n, b) => n + b.requests.length, 0),
    passed: t.passed,
    failed: t.failed,
    errored: t.errored,
    pending: t.pending,
    batches: batchCounts(outcome.runs),
    sentRequests: outcome.runs.reduce((n, r) => n + (r.handle?.requestCount ?? 0), 0),
    reused: t.reused,
    batchCost: t.batchCost,
    reuseSaved: t.reuseSaved,
    stages,
    rssAfter,
    totalSeconds,
    // maxRSS is in KiB: the true peak, even inside synchronous stages a sampler could not see.
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    baselineRssMB,
    peakHeapMB: peakHeap / MB,
    resultsFileMB: (await stat(resultsPath)).size / MB,
    markdownKB: Buffer.byteLength(markdown) / 1024,
    memoryAtEnd,
  };
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
}

/** Submitted batches per provider, in the order the providers first appear. */
function batchCounts(runs: BatchRun[]): ChildResult['batches'] {
  const counts = new Map<string, ChildResult['batches'][number]>();
  for (const run of runs) {
    if (!run.handle) continue;
    const entry = counts.get(run.batch.provider) ?? { provider: run.batch.provider, count: 0, largest: 0 };
    entry.count++;
    entry.largest = Math.max(entry.largest, run.handle.requestCount);
    counts.set(run.batch.provider, entry);
  }
  return [...counts.values()];
}

// Not a top-level await: the bench bundles this file with ncc --transpile-only, whose output is not an ES module.
child().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
