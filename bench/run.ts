/**
 * Speed and memory of the whole engine (config -> plan -> batch -> score -> report) on generated suites,
 * against the project's OpenAI Batch API emulator.
 *
 *   npm run bench                                  # 5,000 and 50,000 cases, tests in a CSV file
 *   npm run bench -- --sizes 5000,50000,100000 --format jsonl --keep --verbose
 *   npm run bench -- --regex static        # one regex for the whole suite instead of one per row (from its vars)
 *   npm run bench -- --node-flags=--max-semi-space-size=16     # flags for the measured child processes
 *   npm run bench -- --from-source         # measure src/ through Node's type stripping instead of the bundle
 *
 * The measured code is bench/child.ts bundled with ncc, as the action and the CLI ship. Every size runs in a child
 * Node process of its own, so its peak RSS (process.resourceUsage().maxRSS) is that
 * size's alone; the emulator runs in another child process, so its memory is not counted either. Each suite is
 * 2 prompts x 2 OpenAI providers x (size / 4) test rows, with defaultTest assertions (cost, not-icontains) and
 * four deterministic assertions per row (icontains, regex, javascript, and icontains-any / contains / not-is-json),
 * about 10% of rows failing on purpose and 2% of rows duplicated (identical requests are sent once).
 *
 * Target: 50,000 cases within 15 s wall time and 500 MB peak RSS. Exits non-zero only when a run crashes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { STAGES, RESULT_MARK, type ChildResult } from './measure.ts';

const TARGET = { cases: 50_000, seconds: 15, rssMB: 500 };
const PROMPTS = 2;
const PROVIDERS = 2;


// ---------------------------------------------------------------------------------------------------------------
// Parent: generates the suites, starts the emulator, runs a child per size, prints the table.

async function parent(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '5000,50000' },
      format: { type: 'string', default: 'csv' },
      keep: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      'node-flags': { type: 'string', default: '' },
      regex: { type: 'string', default: 'row' },
      'from-source': { type: 'boolean', default: false },
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

  const root = await mkdtemp(join(tmpdir(), 'batch-evals-bench-'));
  const machine = `${cpus().length} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GB RAM`;
  console.log(`bench: node ${process.version}${nodeFlags.length ? ` ${nodeFlags.join(' ')}` : ''} on ${machine}; suites in ${root}${values.keep ? ' (kept)' : ''}, tests as ${format.toUpperCase()}, regex per ${regex === 'row' ? 'row' : 'suite'}`);
  const results: ChildResult[] = [];
  let crashed = false;
  try {
    const child = values['from-source'] ? CHILD_SOURCE : await bundleChild(join(root, 'child'));
    console.log(`bench: measuring ${values['from-source'] ? 'the TypeScript sources' : 'the engine bundled with ncc, as dist/ is'}`);
    for (const size of sizes) {
      const dir = join(root, `suite-${size}`);
      const generated = performance.now();
      const config = await generateSuite(dir, size / unit, format, regex === 'row');
      console.log(`bench: ${size.toLocaleString('en-US')} cases generated in ${((performance.now() - generated) / 1000).toFixed(1)}s; running...`);
      const emulator = await startEmulator();
      try {
        const result = await runChild(child, config, emulator.url, dir, values.verbose!, nodeFlags);
        results.push(result);
        console.log(
          `bench: ${size.toLocaleString('en-US')} cases: ${result.totalSeconds.toFixed(2)}s, peak RSS ${result.peakRssMB.toFixed(0)} MB ` +
            `(${result.passed} passed, ${result.failed} failed, ${result.errored} errored, ${result.pending} pending; ${result.requests} requests)`,
        );
      } catch (err) {
        crashed = true;
        console.error(`bench: the ${size}-case run crashed: ${(err as Error).message}`);
      } finally {
        await emulator.stop();
      }
    }
  } finally {
    if (!values.keep) await rm(root, { recursive: true, force: true });
  }

  if (results.length) printTable(results);
  return crashed ? 1 : 0;
}

function printTable(results: ChildResult[]): void {
  const header = ['cases', ...STAGES.map((s) => `${s} s`), 'total s', 'engine s', 'peak RSS MB', 'target'];
  const rows = results.map((r) => {
    const engine = r.totalSeconds - r.stages.wait;
    return [
      r.cases.toLocaleString('en-US'),
      ...STAGES.map((s) => r.stages[s].toFixed(2)),
      r.totalSeconds.toFixed(2),
      engine.toFixed(2),
      r.peakRssMB.toFixed(0),
      r.cases >= TARGET.cases ? verdict(r) : '',
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
  console.log('engine = total - wait. RSS is the child process only (emulator excluded); baseline is after imports.');
  for (const r of results) {
    const rss = STAGES.map((s) => `${s} ${r.rssAfter[s].toFixed(0)}`).join(', ');
    console.log(
      `  ${r.cases.toLocaleString('en-US')}: baseline RSS ${r.baselineRssMB.toFixed(0)} MB; RSS after ${rss}; peak heap ${r.peakHeapMB.toFixed(0)} MB; ` +
        `results file ${r.resultsFileMB.toFixed(1)} MB, markdown ${r.markdownKB.toFixed(0)} KB`,
    );
  }

  const small = results[0];
  const large = results[results.length - 1];
  if (results.length > 1 && large.cases > small.cases) {
    const factor = large.cases / small.cases;
    const ratio = (a: number, b: number) => (a > 0 ? `${(b / a).toFixed(1)}x` : 'n/a');
    console.log('');
    console.log(`growth ${small.cases.toLocaleString('en-US')} -> ${large.cases.toLocaleString('en-US')} cases (${factor}x the cases):`);
    console.log(`  time   total ${ratio(small.totalSeconds, large.totalSeconds)}, engine ${ratio(small.totalSeconds - small.stages.wait, large.totalSeconds - large.stages.wait)}; ` +
      STAGES.map((s) => `${s} ${ratio(small.stages[s], large.stages[s])}`).join(', '));
    console.log(`  memory peak RSS ${ratio(small.peakRssMB, large.peakRssMB)}, above baseline ${ratio(small.peakRssMB - small.baselineRssMB, large.peakRssMB - large.baselineRssMB)}`);
  }

  const target = results.find((r) => r.cases === TARGET.cases) ?? results.find((r) => r.cases >= TARGET.cases);
  console.log('');
  if (!target) {
    console.log(`target (${TARGET.cases.toLocaleString('en-US')} cases within ${TARGET.seconds} s and ${TARGET.rssMB} MB): not measured at this size`);
  } else {
    console.log(`target ${TARGET.cases.toLocaleString('en-US')} cases within ${TARGET.seconds} s and ${TARGET.rssMB} MB: ${verdict(target)} at ${target.cases.toLocaleString('en-US')} cases ` +
      `(${target.totalSeconds.toFixed(2)} s, ${target.peakRssMB.toFixed(0)} MB)`);
  }
}

function verdict(r: ChildResult): string {
  const time = r.totalSeconds <= TARGET.seconds;
  const memory = r.peakRssMB <= TARGET.rssMB;
  if (time && memory) return 'met';
  return `MISSED (${[time ? '' : `time > ${TARGET.seconds} s`, memory ? '' : `RSS > ${TARGET.rssMB} MB`].filter(Boolean).join(', ')})`;
}

/** Starts the emulator in a process of its own (its memory must not count), instant batches. */
async function startEmulator(): Promise<{ url: string; stop: () => Promise<void> }> {
  const main = fileURLToPath(new URL('../test/emulator/main.ts', import.meta.url));
  const proc = spawn(process.execPath, [main, '--port', '0', '--instant'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    }
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the emulator did not start within 30 s: ${out}`)), 30_000);
      proc.stdout!.setEncoding('utf8');
      proc.stdout!.on('data', (chunk: string) => {
        out += chunk;
        const match = /OpenAI emulator listening on (http\S+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the emulator exited with ${code} before listening: ${out}`));
      });
    });
    proc.stdout!.resume();
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const CHILD_SOURCE = fileURLToPath(new URL('child.ts', import.meta.url));

/** bench/child.ts bundled by ncc, like dist/: Node's TypeScript stripping alone costs ~35 MB of RSS. */
async function bundleChild(outDir: string): Promise<string> {
  const ncc = fileURLToPath(new URL('../node_modules/@vercel/ncc/dist/ncc/cli.js', import.meta.url));
  const proc = spawn(process.execPath, [ncc, 'build', CHILD_SOURCE, '-o', outDir, '--quiet'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const [code] = await once(proc, 'close');
  if (code !== 0) throw new Error(`ncc could not bundle ${CHILD_SOURCE} (exit ${code})`);
  return join(outDir, 'index.js');
}

function runChild(child: string, config: string, url: string, dir: string, verbose: boolean, nodeFlags: string[]): Promise<ChildResult> {
  const proc: ChildProcess = spawn(process.execPath, [...nodeFlags, child, config, url, dir, ...(verbose ? ['--verbose'] : [])], {
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
function row(i: number, regexPerRow: boolean): Row {
  const n = i % 50 === 49 ? i - 1 : i;
  const topic = TOPICS[n % TOPICS.length];
  const name = NAMES[Math.floor(n / TOPICS.length) % NAMES.length];
  const id = `T${String(n).padStart(6, '0')}`;
  const order = String(100_000 + ((n * 7919) % 900_000));
  const question = `Hi, I am ${name} (${id}, order ${order}): is the ${topic} model ${n % 97} back in stock?`;
  const expected = [
    'icontains:{{topic}}',
    `regex:^\\[emulated gpt-4\\.1-(mini|nano)\\] You asked: ".*\\b${regexPerRow ? '{{order}}' : '\\d{6}'}\\b`,
    'fn:output.length < 400 && output.includes(context.vars.id) && context.provider.id().startsWith("openai:")',
  ];
  // ~10% fail on purpose (the answer never says "30 days"), so the report lists failures as real runs do.
  if (n % 10 === 3) expected.push('contains:30 days');
  else if (n % 10 === 7) expected.push('not-is-json');
  else expected.push(`icontains-any:stock,available,{{name}}`);
  return { id, topic, name, order, question, expected };
}

async function generateSuite(dir: string, rows: number, format: 'csv' | 'jsonl', regexPerRow: boolean): Promise<string> {
  await mkdir(dir, { recursive: true });
  const testsFile = `tests.${format}`;
  const out = createWriteStream(join(dir, testsFile));
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  if (format === 'csv') {
    await write('id,topic,name,order,question,__expected1,__expected2,__expected3,__expected4\n');
    for (let i = 0; i < rows; i++) {
      const r = row(i, regexPerRow);
      await write(`${[r.id, r.topic, r.name, r.order, r.question, ...r.expected].map(csvCell).join(',')}\n`);
    }
  } else {
    const { assertionFromString } = await import('../src/config/csv-tests.ts');
    for (let i = 0; i < rows; i++) {
      const r = row(i, regexPerRow);
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
  - id: openai:gpt-4.1-mini
    config:
      temperature: 0
      max_tokens: 200
  - id: openai:chat:gpt-4.1-nano
    config:
      temperature: 0
      max_tokens: 200
defaultTest:
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
