/**
 * Speed and memory of the whole engine (config -> plan -> batch -> score -> report) on generated suites,
 * against the project's OpenAI Batch API and Anthropic Message Batches emulators.
 *
 *   npm run bench                                  # 5,000, 50,000 and 200,000 cases, tests in a CSV file
 *   npm run bench -- --sizes 5000,50000,100000 --format jsonl --keep --verbose
 *   npm run bench -- --openai-only         # the old layout: two OpenAI models instead of one OpenAI, one Anthropic
 *   npm run bench -- --regex static        # one regex for the whole suite instead of one per row (from its vars)
 *   npm run bench -- --node-flags=--max-semi-space-size=16     # flags for the measured child processes
 *   npm run bench -- --from-source         # measure src/ through Node's type stripping instead of the bundle
 *   npm run bench -- --reuse 0             # skip the reuse measure (default: 5,000 cases, then 5% of rows changed)
 *   npm run bench -- --no-regex-share      # skip the largest size's second run with one regex for the whole suite
 *
 * The measured code is bench/child.ts bundled with ncc, as the action and the CLI ship. Every size runs in a child
 * Node process of its own, so its peak RSS (process.resourceUsage().maxRSS) is that
 * size's alone; the emulators (OpenAI and Anthropic, one process, given a large heap) run in another child
 * process, so their memory is not counted either. Each suite is 2 prompts x 2 providers (openai:gpt-4.1-mini and
 * anthropic:messages:claude-haiku-4-5; with --openai-only, openai:gpt-4.1-mini and openai:chat:gpt-4.1-nano) x
 * (size / 4) test rows, with defaultTest assertions (cost, not-icontains) and four deterministic assertions per row
 * (icontains, regex, javascript, and icontains-any / contains / not-is-json), about 10% of rows failing on purpose
 * and 2% of rows duplicated (identical requests are sent once). At 200,000 cases each provider gets 98,000 distinct
 * requests: OpenAI in 2 batches (its limit is 50,000 requests a batch), Anthropic in 1 (its limit is 100,000).
 *
 * Targets: 50,000 cases within 15 s wall time and 500 MB peak RSS; 200,000 cases within 60 s and 800 MB; and from
 * 50,000 to 200,000 cases no worse than linear growth (peak RSS above the post-import baseline at most 4x, wall
 * time at most 4x plus GROWTH_TIME_SLACK). Exits non-zero only when a run crashes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { STAGES, RESULT_MARK, type ChildResult } from './measure.ts';

interface Target {
  cases: number;
  seconds: number;
  rssMB: number;
}
const TARGETS: Target[] = [
  { cases: 50_000, seconds: 15, rssMB: 500 },
  { cases: 200_000, seconds: 60, rssMB: 800 },
];
/** Linear growth between these sizes: memory above the baseline and wall time at most `factor` x. */
const GROWTH = { from: 50_000, to: 200_000 };
/**
 * Time may grow a little past linear: the wait polls at intervals that grow to 1 s, so a larger run can wait up to a
 * poll longer, and runs on a shared 2-core machine vary by some 20%.
 */
const GROWTH_TIME_SLACK = 0.25;
/**
 * The emulators hold every request and answer of a run and build each results file whole: some 900 MB of RSS at
 * 200,000 cases. Node's default heap limit is a quarter of the RAM up to 4 GB (under 2 GB on a 7 GB CI runner), so
 * they get a heap limit of their own, well above what they need (their memory is not measured).
 */
const EMULATOR_HEAP_MB = 8192;
const PROMPTS = 2;
const PROVIDERS = 2;

type Layout = 'mixed' | 'openai';


// ---------------------------------------------------------------------------------------------------------------
// Parent: generates the suites, starts the emulator, runs a child per size, prints the table.

async function parent(): Promise<number> {
  const { values } = parseArgs({
    allowNegative: true,
    options: {
      sizes: { type: 'string', default: '5000,50000,200000' },
      format: { type: 'string', default: 'csv' },
      keep: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      'node-flags': { type: 'string', default: '' },
      regex: { type: 'string', default: 'row' },
      'from-source': { type: 'boolean', default: false },
      'openai-only': { type: 'boolean', default: false },
      reuse: { type: 'string', default: '5000' },
      'regex-share': { type: 'boolean', default: true },
    },
  });
  const nodeFlags = values['node-flags']!.split(/\s+/).filter(Boolean);
  const sizes = values.sizes!.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  const unit = PROMPTS * PROVIDERS;
  if (sizes.some((n) => !Number.isInteger(n) || n < unit || n % unit !== 0)) {
    console.error(`--sizes must be positive multiples of ${unit} (prompts x providers), e.g. 5000,50000`);
    return 2;
  }
  const regex = values.regex!;
  if (regex !== 'row' && regex !== 'static') {
    console.error('--regex must be row (a pattern per test row, from its vars) or static (one pattern for all)');
    return 2;
  }
  const format = values.format!;
  if (format !== 'csv' && format !== 'jsonl') {
    console.error('--format must be csv or jsonl');
    return 2;
  }
  const layout: Layout = values['openai-only'] ? 'openai' : 'mixed';

  const root = await mkdtemp(join(tmpdir(), 'batch-evals-bench-'));
  const machine = `${cpus().length} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GB RAM`;
  console.log(`bench: node ${process.version}${nodeFlags.length ? ` ${nodeFlags.join(' ')}` : ''} on ${machine}; suites in ${root}${values.keep ? ' (kept)' : ''}, tests as ${format.toUpperCase()}, regex per ${regex === 'row' ? 'row' : 'suite'}`);
  console.log(`bench: providers ${PROVIDER_IDS[layout].join(' and ')}, ${PROMPTS} prompts each`);
  const results: ChildResult[] = [];
  let reuseRuns: ReuseRuns | undefined;
  let regexShare: { perRow: ChildResult; perSuite: ChildResult } | undefined;
  let crashed = false;
  try {
    const child = values['from-source'] ? CHILD_SOURCE : await bundleChild(join(root, 'child'));
    console.log(`bench: measuring ${values['from-source'] ? 'the TypeScript sources' : 'the engine bundled with ncc, as dist/ is'}`);
    for (const size of sizes) {
      const dir = join(root, `suite-${size}`);
      const generated = performance.now();
      const config = await generateSuite(dir, size / unit, format, regex === 'row', layout);
      console.log(`bench: ${size.toLocaleString('en-US')} cases generated in ${((performance.now() - generated) / 1000).toFixed(1)}s; running...`);
      const emulator = await startEmulator();
      let emulatorPeakMB: number | undefined;
      try {
        const result = await runChild(child, config, emulator.urls, dir, values.verbose!, nodeFlags);
        results.push(result);
        console.log(
          `bench: ${size.toLocaleString('en-US')} cases: ${result.totalSeconds.toFixed(2)}s, peak RSS ${result.peakRssMB.toFixed(0)} MB ` +
            `(${result.passed} passed, ${result.failed} failed, ${result.errored} errored, ${result.pending} pending; ` +
            `${result.requests} requests in ${describeBatches(result)})`,
        );
      } catch (err) {
        crashed = true;
        console.error(`bench: the ${size}-case run crashed: ${(err as Error).message}`);
      } finally {
        emulatorPeakMB = await emulator.stop();
      }
      if (emulatorPeakMB !== undefined) console.log(`bench: the emulators' peak RSS was ${emulatorPeakMB.toFixed(0)} MB (not counted)`);
    }
    const largest = results.at(-1);
    if (values['regex-share'] && regex === 'row' && largest) {
      const size = largest.cases;
      console.log(`bench: ${size.toLocaleString('en-US')} cases again, with one regex for the whole suite instead of one per row...`);
      const dir = join(root, `suite-${size}-regex-per-suite`);
      const config = await generateSuite(dir, size / unit, format, false, layout);
      const emulator = await startEmulator();
      try {
        regexShare = { perRow: largest, perSuite: await runChild(child, config, emulator.urls, dir, values.verbose!, nodeFlags) };
      } finally {
        await emulator.stop();
      }
    }
    if (Number(values.reuse) > 0) reuseRuns = await measureReuse(child, join(root, 'reuse'), Number(values.reuse) / unit, format, regex === 'row', layout, values.verbose!, nodeFlags);
  } finally {
    if (!values.keep) await rm(root, { recursive: true, force: true });
  }

  if (results.length) printTable(results);
  if (regexShare) printRegexShare(regexShare.perRow, regexShare.perSuite);
  if (reuseRuns) printReuse(reuseRuns);
  return crashed ? 1 : 0;
}

interface ReuseRuns {
  first: ChildResult;
  withReuse: ChildResult;
  without: ChildResult;
  changedRows: number;
  rows: number;
}

/**
 * Issue 8's measure: the suite runs once (its outputs kept), then 5% of its rows change (one in twenty questions is
 * reworded) and it runs again with the kept outputs, and once more without them.
 */
async function measureReuse(child: string, dir: string, rows: number, format: 'csv' | 'jsonl', regexPerRow: boolean, layout: Layout, verbose: boolean, nodeFlags: string[]): Promise<ReuseRuns> {
  const store = join(dir, 'outputs.json');
  const runOnce = async (name: string, changed: boolean, reuse: boolean) => {
    const suiteDir = join(dir, name);
    const config = await generateSuite(suiteDir, rows, format, regexPerRow, layout, changed);
    const emulator = await startEmulator();
    try {
      return await runChild(child, config, emulator.urls, suiteDir, verbose, [...nodeFlags], reuse ? store : undefined);
    } finally {
      await emulator.stop();
    }
  };
  console.log(`bench: reuse: ${(rows * PROMPTS * PROVIDERS).toLocaleString('en-US')} cases, then again with 5% of the rows changed, with and without the kept outputs...`);
  const first = await runOnce('first', false, true);
  const withReuse = await runOnce('changed-reuse', true, true);
  const without = await runOnce('changed-fresh', true, false);
  return { first, withReuse, without, changedRows: Array.from({ length: rows }, (_, i) => i).filter(isChangedRow).length, rows };
}

function printReuse(r: ReuseRuns): void {
  const money = (n: number) => `$${n.toFixed(4)}`;
  console.log('');
  console.log(`reuse: ${r.first.cases.toLocaleString('en-US')} cases; then ${r.changedRows} of ${r.rows} rows changed (${((r.changedRows / r.rows) * 100).toFixed(0)}%)`);
  const rows = [
    ['run', 'requests sent', 'cases reused', 'batch cost', 'saved by reuse', 'total s'],
    ['first run (outputs kept)', String(r.first.sentRequests), String(r.first.reused), money(r.first.batchCost), money(r.first.reuseSaved), r.first.totalSeconds.toFixed(2)],
    ['changed, with reuse', String(r.withReuse.sentRequests), String(r.withReuse.reused), money(r.withReuse.batchCost), money(r.withReuse.reuseSaved), r.withReuse.totalSeconds.toFixed(2)],
    ['changed, without reuse', String(r.without.sentRequests), String(r.without.reused), money(r.without.batchCost), money(r.without.reuseSaved), r.without.totalSeconds.toFixed(2)],
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  const share = r.without.sentRequests > 0 ? (r.withReuse.sentRequests / r.without.sentRequests) * 100 : 0;
  console.log(`reuse sends ${share.toFixed(1)}% of the requests and costs ${money(r.withReuse.batchCost)} instead of ${money(r.without.batchCost)}.`);
}

/**
 * What the regex per row costs: V8 compiles each distinct pattern (bytecode, then machine code on its second use) and
 * keeps the code until its regexp cache has aged through two full collections.
 */
function printRegexShare(perRow: ChildResult, perSuite: ChildResult): void {
  const rows = perRow.cases / (PROMPTS * PROVIDERS);
  console.log('');
  console.log(
    `regex: ${perRow.cases.toLocaleString('en-US')} cases with a regex per row (${rows.toLocaleString('en-US')} rows, 2% of them repeated): ` +
      `peak RSS ${perRow.peakRssMB.toFixed(0)} MB, compiled code ${perRow.memoryAtEnd.code.committedMB.toFixed(0)} MB at the end; ` +
      `with one regex for the whole suite: ${perSuite.peakRssMB.toFixed(0)} MB, compiled code ${perSuite.memoryAtEnd.code.committedMB.toFixed(0)} MB` +
      `${targetFor(perSuite.cases) ? ` (target ${verdict(perSuite, targetFor(perSuite.cases)!)})` : ''}.`,
  );
}

/** One row in twenty is reworded in the changed suite. */
function isChangedRow(i: number): boolean {
  return i % 20 === 11;
}

/** "3 batches (openai 2, anthropic 1)". */
function describeBatches(r: ChildResult): string {
  const total = r.batches.reduce((n, b) => n + b.count, 0);
  return `${total} ${total === 1 ? 'batch' : 'batches'} (${r.batches.map((b) => `${b.provider} ${b.count}${b.largest ? ` of up to ${b.largest.toLocaleString('en-US')}` : ''}`).join(', ')})`;
}

function printTable(results: ChildResult[]): void {
  const header = ['cases', ...STAGES.map((s) => `${s} s`), 'total s', 'engine s', 'peak RSS MB', 'batches', 'target'];
  const rows = results.map((r) => {
    const engine = r.totalSeconds - r.stages.wait;
    const target = targetFor(r.cases);
    return [
      r.cases.toLocaleString('en-US'),
      ...STAGES.map((s) => r.stages[s].toFixed(2)),
      r.totalSeconds.toFixed(2),
      engine.toFixed(2),
      r.peakRssMB.toFixed(0),
      r.batches.map((b) => b.count).join('+'),
      target ? verdict(r, target) : '',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padStart(widths[i]))).join('  ');
  console.log('');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log('');
  console.log('wait = polling until the emulator reports the batches completed (it answers the requests on that read);');
  console.log('engine = total - wait. RSS is the child process only (emulators excluded); baseline is after imports.');
  console.log(`batches = provider batches submitted, per provider (${results[0].batches.map((b) => b.provider).join('+')}).`);
  for (const r of results) {
    const rss = STAGES.map((s) => `${s} ${r.rssAfter[s].toFixed(0)}`).join(', ');
    console.log(
      `  ${r.cases.toLocaleString('en-US')}: baseline RSS ${r.baselineRssMB.toFixed(0)} MB; RSS after ${rss}; peak heap ${r.peakHeapMB.toFixed(0)} MB; ` +
        `results file ${r.resultsFileMB.toFixed(1)} MB, markdown ${r.markdownKB.toFixed(0)} KB; ${describeBatches(r)}`,
    );
    const m = r.memoryAtEnd;
    const part = (p: { committedMB: number; usedMB: number }) => `${p.committedMB.toFixed(0)} MB (${p.usedMB.toFixed(0)} used)`;
    console.log(`    at the end, V8's heap: young generation ${part(m.young)}, old generation ${part(m.old)}, compiled code ${part(m.code)}; external ${m.externalMB.toFixed(0)} MB`);
  }
  console.log('  (young generation: where objects are made, kept at its grown size; old generation: what lived long, and');
  console.log("  garbage V8 has not collected yet; compiled code: functions' and regexes' bytecode and machine code.)");

  const small = results[0];
  const large = results[results.length - 1];
  const ratio = (a: number, b: number) => (a > 0 ? `${(b / a).toFixed(1)}x` : 'n/a');
  const growthLine = (from: ChildResult, to: ChildResult) => {
    console.log(`growth ${from.cases.toLocaleString('en-US')} -> ${to.cases.toLocaleString('en-US')} cases (${to.cases / from.cases}x the cases):`);
    console.log(`  time   total ${ratio(from.totalSeconds, to.totalSeconds)}, engine ${ratio(from.totalSeconds - from.stages.wait, to.totalSeconds - to.stages.wait)}; ` +
      STAGES.map((s) => `${s} ${ratio(from.stages[s], to.stages[s])}`).join(', '));
    console.log(`  memory peak RSS ${ratio(from.peakRssMB, to.peakRssMB)}, above baseline ${ratio(from.peakRssMB - from.baselineRssMB, to.peakRssMB - to.baselineRssMB)}`);
  };
  const from = results.find((r) => r.cases === GROWTH.from);
  const to = results.find((r) => r.cases === GROWTH.to);
  if (results.length > 1 && large.cases > small.cases) {
    console.log('');
    growthLine(small, large);
    if (from && to && (from !== small || to !== large)) growthLine(from, to);
  }

  console.log('');
  for (const target of TARGETS) {
    const r = results.find((x) => x.cases === target.cases);
    const goal = `target ${target.cases.toLocaleString('en-US')} cases within ${target.seconds} s and ${target.rssMB} MB`;
    if (!r) console.log(`${goal}: not measured at this size`);
    else console.log(`${goal}: ${verdict(r, target)} (${r.totalSeconds.toFixed(2)} s, ${r.peakRssMB.toFixed(0)} MB)`);
  }
  const goal = `target growth ${GROWTH.from.toLocaleString('en-US')} -> ${GROWTH.to.toLocaleString('en-US')} cases no worse than linear`;
  if (!from || !to) console.log(`${goal}: not measured at these sizes`);
  else console.log(`${goal}: ${growthVerdict(from, to)}`);
}

/** The target set for exactly this many cases, if any. */
function targetFor(cases: number): Target | undefined {
  return TARGETS.find((t) => t.cases === cases);
}

function verdict(r: ChildResult, target: Target): string {
  const time = r.totalSeconds <= target.seconds;
  const memory = r.peakRssMB <= target.rssMB;
  if (time && memory) return 'met';
  return `MISSED (${[time ? '' : `time > ${target.seconds} s`, memory ? '' : `RSS > ${target.rssMB} MB`].filter(Boolean).join(', ')})`;
}

/** Memory above the baseline grows at most as the cases do; time too, give or take GROWTH_TIME_SLACK. */
function growthVerdict(from: ChildResult, to: ChildResult): string {
  const factor = to.cases / from.cases;
  const memory = (to.peakRssMB - to.baselineRssMB) / (from.peakRssMB - from.baselineRssMB);
  const time = to.totalSeconds / from.totalSeconds;
  const timeLimit = factor * (1 + GROWTH_TIME_SLACK);
  const figures = `RSS above baseline ${memory.toFixed(2)}x (limit ${factor}x), time ${time.toFixed(2)}x (limit ${timeLimit.toFixed(1)}x)`;
  const missed = [memory > factor ? `memory ${memory.toFixed(2)}x > ${factor}x` : '', time > timeLimit ? `time ${time.toFixed(2)}x > ${timeLimit.toFixed(1)}x` : ''].filter(Boolean);
  return missed.length ? `MISSED (${missed.join(', ')}; ${figures})` : `met (${figures})`;
}

interface EmulatorUrls {
  openai: string;
  anthropic: string;
}

/**
 * Starts both emulators (OpenAI on one port, Anthropic on another) in a process of their own, so that their memory
 * does not count, with batches that end at once, and a heap limit of EMULATOR_HEAP_MB.
 */
async function startEmulator(): Promise<{ urls: EmulatorUrls; stop: () => Promise<number | undefined> }> {
  const main = fileURLToPath(new URL('../test/emulator/main.ts', import.meta.url));
  const proc = spawn(process.execPath, [`--max-old-space-size=${EMULATOR_HEAP_MB}`, main, '--port', '0', '--anthropic-port', '0', '--instant'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  /** Stops the emulators; returns their peak RSS in MB where the system says it (Linux). */
  const stop = async (): Promise<number | undefined> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return undefined;
    const peak = await peakRssMB(proc.pid);
    proc.kill('SIGTERM');
    await once(proc, 'exit');
    return peak;
  };
  try {
    const urls = await new Promise<EmulatorUrls>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the emulators did not start within 30 s: ${out}`)), 30_000);
      proc.stdout!.setEncoding('utf8');
      proc.stdout!.on('data', (chunk: string) => {
        out += chunk;
        const openai = /OpenAI emulator listening on (http\S+)/.exec(out);
        const anthropic = /Anthropic emulator listening on (http\S+)/.exec(out);
        if (openai && anthropic) {
          clearTimeout(timer);
          resolve({ openai: openai[1], anthropic: anthropic[1] });
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the emulators exited with ${code} before listening: ${out}`));
      });
    });
    proc.stdout!.resume();
    return { urls, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A process's peak RSS (VmHWM) in MB, from /proc; undefined elsewhere. */
async function peakRssMB(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CHILD_SOURCE = fileURLToPath(new URL('child.ts', import.meta.url));

/** bench/child.ts bundled by ncc, like dist/: Node's TypeScript stripping alone costs ~35 MB of RSS. */
async function bundleChild(outDir: string): Promise<string> {
  const ncc = fileURLToPath(new URL('../node_modules/@vercel/ncc/dist/ncc/cli.js', import.meta.url));
  // --transpile-only: ncc would otherwise type-check the whole project (tests included), and a type error in a test
  // being written would stop the bench; `npm run typecheck` is where types are checked.
  const proc = spawn(process.execPath, [ncc, 'build', CHILD_SOURCE, '-o', outDir, '--quiet', '--transpile-only'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const [code] = await once(proc, 'close');
  if (code !== 0) throw new Error(`ncc could not bundle ${CHILD_SOURCE} (exit ${code})`);
  return join(outDir, 'index.js');
}

function runChild(child: string, config: string, urls: EmulatorUrls, dir: string, verbose: boolean, nodeFlags: string[], reuseFile?: string): Promise<ChildResult> {
  const args = [...nodeFlags, child, config, urls.openai, urls.anthropic, dir, ...(verbose ? ['--verbose'] : []), ...(reuseFile ? ['--reuse', reuseFile] : [])];
  const proc: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => (out += chunk));
    proc.once('error', reject);
    proc.once('close', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code !== 0 || !line) {
        reject(new Error(`child exited with ${signal ?? code}${out.trim() ? `: ${out.trim().slice(-2000)}` : ''}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARK.length)) as ChildResult);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Suite generation

/** The two providers of each layout: one OpenAI model and one Anthropic model, or two OpenAI models (the old layout). */
const PROVIDER_IDS: Record<Layout, [string, string]> = {
  mixed: ['openai:gpt-4.1-mini', 'anthropic:messages:claude-haiku-4-5'],
  openai: ['openai:gpt-4.1-mini', 'openai:chat:gpt-4.1-nano'],
};

const TOPICS = ['running shoes', 'hiking boots', 'sandals', 'sneakers', 'loafers', 'slippers', 'insoles', 'laces', 'socks', 'trainers'];
const NAMES = ['Ada', 'Grace', 'Linus', 'Barbara', 'Alan', 'Margaret', 'Dennis', 'Frances', 'Ken', 'Radia'];

interface Row {
  id: string;
  topic: string;
  name: string;
  order: string;
  question: string;
  /** Assertions in promptfoo's CSV short form. */
  expected: string[];
}

/** Row i of the suite; one row in 50 repeats the row before it (the same requests, sent once). */
function row(i: number, regexPerRow: boolean, changed = false): Row {
  const n = i % 50 === 49 ? i - 1 : i;
  const topic = TOPICS[n % TOPICS.length];
  const name = NAMES[Math.floor(n / TOPICS.length) % NAMES.length];
  const id = `T${String(n).padStart(6, '0')}`;
  const order = String(100_000 + ((n * 7919) % 900_000));
  const asked = `Hi, I am ${name} (${id}, order ${order}): is the ${topic} model ${n % 97} back in stock?`;
  const question = changed && isChangedRow(i) ? `${asked} Please answer soon.` : asked;
  const expected = [
    'icontains:{{topic}}',
    // The emulators answer `[emulated MODEL] You asked: "QUESTION"`.
    `regex:^\\[emulated (gpt-4\\.1-(mini|nano)|claude-haiku-4-5)\\] You asked: ".*\\b${regexPerRow ? '{{order}}' : '\\d{6}'}\\b`,
    'fn:output.length < 400 && output.includes(context.vars.id) && /^(openai|anthropic):/.test(context.provider.id())',
  ];
  // ~10% fail on purpose (the answer never says "30 days"), so the report lists failures as real runs do.
  if (n % 10 === 3) expected.push('contains:30 days');
  else if (n % 10 === 7) expected.push('not-is-json');
  else expected.push(`icontains-any:stock,available,{{name}}`);
  return { id, topic, name, order, question, expected };
}

async function generateSuite(dir: string, rows: number, format: 'csv' | 'jsonl', regexPerRow: boolean, layout: Layout, changed = false): Promise<string> {
  await mkdir(dir, { recursive: true });
  const testsFile = `tests.${format}`;
  const out = createWriteStream(join(dir, testsFile));
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  if (format === 'csv') {
    await write('id,topic,name,order,question,__expected1,__expected2,__expected3,__expected4\n');
    for (let i = 0; i < rows; i++) {
      const r = row(i, regexPerRow, changed);
      await write(`${[r.id, r.topic, r.name, r.order, r.question, ...r.expected].map(csvCell).join(',')}\n`);
    }
  } else {
    const { assertionFromString } = await import('../src/config/csv-tests.ts');
    for (let i = 0; i < rows; i++) {
      const r = row(i, regexPerRow, changed);
      const vars = { id: r.id, topic: r.topic, name: r.name, order: r.order, question: r.question };
      await write(`${JSON.stringify({ vars, assert: r.expected.map(assertionFromString) })}\n`);
    }
  }
  out.end();
  await once(out, 'finish');

  const config = `description: bench suite of ${rows * PROMPTS * PROVIDERS} cases
prompts:
  - id: |-
      You are the support bot of a shoe shop. Customer {{name}}, order {{order}}.
      Answer in one sentence about {{topic}}.
      {{question}}
    label: support
  - id: file://chat.json
    label: chat
providers:
${PROVIDER_IDS[layout].map((id) => `  - id: ${id}\n    config:\n      temperature: 0\n      max_tokens: 200\n`).join('')}defaultTest:
  assert:
    - type: cost
      threshold: 0.001
    - type: not-icontains
      value: as an AI
tests: file://${testsFile}
`;
  const chat = [
    { role: 'system', content: 'You answer questions about {{ topic }} for a shoe shop, politely and briefly.' },
    { role: 'user', content: '{{ question }}' },
  ];
  // A chat prompt file as promptfoo writes them: JSON whose strings are filled with JSON-escaped vars.
  await writeFile(join(dir, 'chat.json'), JSON.stringify(chat, null, 2).replace(/"\{\{ (\w+) \}\}"/g, '{{ $1 | dump }}'));
  const path = join(dir, 'promptfooconfig.yaml');
  await writeFile(path, config);
  return path;
}

function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

process.exitCode = await parent();
