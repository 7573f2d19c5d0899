/**
 * Fuzzing the config loader: thousands of generated and mutated eval YAMLs (and the files they name) go through
 * loadSuite and buildPlan. For every input, either a suite comes back (and buildPlan returns a plan or throws a
 * ConfigError), or loadSuite throws a ConfigError whose every issue has a location (an existing file, line >= 1,
 * column >= 1). Nothing else may be thrown, no case may take more than 2 s, and no case may hold more than 256 MB
 * (its results still held, after a garbage collection). The cases run in a worker thread with a capped heap and a
 * main thread's stack, so that a hang or a blown heap is reported with its input instead of ending the run.
 *
 *   BATCH_EVALS_FUZZ_RUNS=20000 npx vitest run test/config/fuzz.test.ts     more cases (default 3,000)
 *   BATCH_EVALS_FUZZ_SEED=12345 ...                                         another seed (default fixed, for CI)
 *   BATCH_EVALS_FUZZ_SEED=12345 BATCH_EVALS_FUZZ_CASE=678 ...              only that case, again
 *
 * A failure names the seed and the case, and leaves the input (with the files it names) in a directory whose
 * path the message gives.
 */
import { closeSync, constants, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.ts';
import { loadSuite } from '../../src/config/load.ts';
import { MAX_DEPTH } from '../../src/config/yaml-source.ts';
import { buildPlan, MAX_CASES } from '../../src/plan/plan.ts';
import { FIFO, makeCase, prepareWorkspace, type FuzzCase, type MutationSeeds } from './fuzz-inputs.ts';
import type { FuzzJob, FuzzOutcome, ReportedIssue } from './fuzz-worker.ts';

const RUNS = numberFromEnv('BATCH_EVALS_FUZZ_RUNS', 3000);
const SEED = numberFromEnv('BATCH_EVALS_FUZZ_SEED', 0x5eed2026);
const ONLY = process.env.BATCH_EVALS_FUZZ_CASE ? numberFromEnv('BATCH_EVALS_FUZZ_CASE', 0) : undefined;
/** A case that takes longer, twice (once may be the machine busy elsewhere), fails. */
const BUDGET_MS = 2000;
/** A case that has not answered by then is stopped, and fails as a hang. */
const HANG_MS = 15_000;
/** The worker's heap cap; a case that passes it fails (the worker dies with ERR_WORKER_OUT_OF_MEMORY). */
const WORKER_HEAP_MB = 768;
/** The worker's stack, as small as a main thread's (Node's default there is 984 KB; a worker's is 4 MB). */
const WORKER_STACK_MB = 1;
/** A case that holds more than this after a garbage collection (its suite and plan still referenced) fails. */
const MAX_HEAP_GROWTH_MB = 256;
/** The run stops after this many failing cases. */
const MAX_FAILURES = 10;
const FAILURES_DIR = join(tmpdir(), 'batch-evals-fuzz-failures');

function numberFromEnv(name: string, fallback: number): number {
  const text = process.env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number (decimal or 0x...), not '${text}'`);
  return value;
}

const repo = join(import.meta.dirname, '../..');
let root: string;
let suiteDir: string;
let seeds: MutationSeeds;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'batch-evals-fuzz-'));
  suiteDir = join(root, 'suite');
  const fixtures = join(repo, 'test/fixtures/suite');
  const sources: Record<string, Buffer> = {
    'quickstart.yaml': readFileSync(join(repo, 'examples/quickstart/promptfooconfig.yaml')),
    'prompts/support.txt': readFileSync(join(repo, 'examples/quickstart/prompts/support.txt')),
  };
  for (const name of readdirSync(fixtures)) if (statSync(join(fixtures, name)).isFile()) sources[name] = readFileSync(join(fixtures, name));
  const suites = ['suite.yaml', 'quickstart.yaml'];
  const referenced: MutationSeeds['referenced'] = {};
  for (const suite of suites) {
    for (const [ref, path] of sources[suite].toString('utf8').matchAll(/file:\/\/([\w./-]+)/g)) {
      if (sources[path]) referenced[path] = [suite, ref];
    }
  }
  seeds = { suites, referenced, sources };
  prepareWorkspace(suiteDir, sources);
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// The property

function locationProblems(issue: ReportedIssue, what: string): string[] {
  const at = `${what} '${issue.message.slice(0, 120)}'`;
  if (!issue.message) return [`${what} with an empty message`];
  const location = issue.location;
  if (!location) return [`${at} has no location`];
  const problems: string[] = [];
  const { file, line, column } = location;
  if (typeof file !== 'string' || !file) problems.push(`${at} names no file (${JSON.stringify(file)})`);
  else if (!existsSync(file) || !statSync(file).isFile()) problems.push(`${at} names ${file}, which is not an existing file`);
  if (typeof line !== 'number' || !Number.isInteger(line) || line < 1) problems.push(`${at} has line ${String(line)}`);
  if (typeof column !== 'number' || !Number.isInteger(column) || column < 1) problems.push(`${at} has column ${String(column)}`);
  return problems;
}

/** What is wrong with how a case went; nothing when it kept the property. */
function propertyProblems(outcome: FuzzOutcome): string[] {
  const problems: string[] = [];
  if (outcome.result === 'crash') {
    const crash = outcome.crash!;
    problems.push(`${outcome.stage === 'plan' ? 'buildPlan' : 'loadSuite'} threw ${crash.name}, not a ConfigError: ${crash.message}\n${crash.stack}`);
  }
  if (outcome.result === 'config-error') {
    if (outcome.issues.length === 0) problems.push('a ConfigError without issues');
    problems.push(...outcome.issues.flatMap((issue) => locationProblems(issue, 'issue')));
  }
  problems.push(...outcome.warnings.filter((w) => w.location).flatMap((w) => locationProblems(w, 'warning')));
  if (outcome.ms > BUDGET_MS) problems.push(`took ${Math.round(outcome.ms)} ms (and as long again when run a second time), more than the ${BUDGET_MS} ms a case may take`);
  if (outcome.heapGrowthMB > MAX_HEAP_GROWTH_MB) problems.push(`held ${Math.round(outcome.heapGrowthMB)} MB of heap, more than ${MAX_HEAP_GROWTH_MB} MB`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// The worker that runs the cases

type RunResult = { outcome: FuzzOutcome } | { failed: string };

class CaseRunner {
  #worker!: Worker;
  #waiting: ((result: RunResult) => void) | undefined;

  constructor() {
    this.#start();
  }

  #start(): void {
    const worker = new Worker(new URL('./fuzz-worker.ts', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, stackSizeMb: WORKER_STACK_MB } });
    worker.on('message', (outcome: FuzzOutcome) => this.#settle({ outcome }));
    worker.on('error', (err: Error & { code?: string }) => {
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.#settle({ failed: oom ? `ran out of memory (the worker's heap is capped at ${WORKER_HEAP_MB} MB): ${err.message}` : `the worker failed: ${err.stack ?? err.message}` });
    });
    worker.on('exit', (code) => this.#settle({ failed: `the worker exited (code ${code})` }));
    this.#worker = worker;
  }

  #settle(result: RunResult): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(result);
  }

  async run(job: FuzzJob): Promise<RunResult> {
    const result = await new Promise<RunResult>((resolve) => {
      const timer = setTimeout(() => this.#settle({ failed: `no answer after ${HANG_MS} ms: a hang` }), HANG_MS);
      this.#waiting = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.#worker.postMessage(job);
    });
    if ('failed' in result) this.#restart();
    return result;
  }

  #restart(): void {
    const old = this.#worker;
    old.removeAllListeners();
    // A worker stuck reading a FIFO cannot be terminated until the read returns: open the FIFO to end it.
    try {
      closeSync(openSync(join(suiteDir, FIFO), constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // nobody was reading it
    }
    void old.terminate();
    this.#start();
  }

  async close(): Promise<void> {
    this.#worker.removeAllListeners();
    await this.#worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cases

function writeCase(fuzzCase: FuzzCase): void {
  for (const [name, content] of fuzzCase.files) {
    mkdirSync(dirname(join(suiteDir, name)), { recursive: true });
    writeFileSync(join(suiteDir, name), content);
  }
}

function removeCase(fuzzCase: FuzzCase): void {
  for (const name of fuzzCase.files.keys()) rmSync(join(suiteDir, name), { force: true });
}

/** Copies the workspace (the case's files are still in it) where it outlives the run; returns the input's path. */
function keepFailure(index: number, fuzzCase: FuzzCase, problems: string[]): string {
  const dir = join(FAILURES_DIR, `seed-${SEED}-case-${index}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(root, dir, {
    recursive: true,
    filter: (src) => {
      const stats = lstatSync(src);
      return stats.isDirectory() || stats.isFile();
    },
  });
  const input = join(dir, relative(root, join(suiteDir, fuzzCase.main)));
  writeFileSync(join(dir, 'FAILURE.txt'), [`seed ${SEED}, case ${index} (${fuzzCase.kind}), confined: ${fuzzCase.confine}`, `input: ${input}`, '', ...problems, ''].join('\n'));
  return input;
}

function describeFailure(index: number, fuzzCase: FuzzCase, problems: string[], input: string): string {
  const text = readFileSync(input, 'utf8');
  return [
    `fuzz case ${index} of seed ${SEED} (${fuzzCase.kind}${fuzzCase.confine ? ', references confined' : ''}) failed:`,
    ...problems.map((p) => `  - ${p.replace(/\n/g, '\n    ')}`),
    `  input: ${input} (the files it names beside it)`,
    `  again: BATCH_EVALS_FUZZ_SEED=${SEED} BATCH_EVALS_FUZZ_CASE=${index} npx vitest run test/config/fuzz.test.ts`,
    `  --- input, ${text.length.toLocaleString('en-US')} characters${text.length > 1500 ? ' (the first 1,500)' : ''} ---`,
    text.slice(0, 1500),
  ].join('\n');
}

describe('fuzzing the config loader', () => {
  it(`keeps its contract for ${ONLY !== undefined ? `case ${ONLY}` : `${RUNS.toLocaleString('en-US')} inputs`} of seed ${SEED}`, { timeout: Math.max(60_000, RUNS * 40) }, async () => {
    const indexes = ONLY !== undefined ? [ONLY] : Array.from({ length: RUNS }, (_, i) => i);
    const runner = new CaseRunner();
    const failures: string[] = [];
    const results: Record<string, number> = {};
    const kinds: Record<string, number> = {};
    let slowest = { ms: 0, index: -1 };
    let mostHeap = { mb: 0, index: -1 };
    const started = performance.now();
    try {
      for (const index of indexes) {
        const fuzzCase = makeCase(SEED, index, seeds);
        // e.g. grammar+bomb+mutated: counted as grammar+mutated, and as bomb
        const [source, ...more] = fuzzCase.kind.split(':')[0].split('+');
        const changed: string[] = more.filter((k) => k === 'near' || k === 'mutated');
        for (const kind of [[source, ...changed].join('+'), ...more.filter((k) => !changed.includes(k))]) kinds[kind] = (kinds[kind] ?? 0) + 1;
        writeCase(fuzzCase);
        try {
          const job: FuzzJob = { id: index, file: join(suiteDir, fuzzCase.main), heapCheckMB: MAX_HEAP_GROWTH_MB, ...(fuzzCase.confine ? { confineTo: suiteDir } : {}) };
          let result = await runner.run(job);
          if ('outcome' in result && result.outcome.ms > BUDGET_MS) {
            const again = await runner.run(job);
            if ('failed' in again || again.outcome.ms > BUDGET_MS) result = again;
          }
          const problems = 'failed' in result ? [result.failed] : propertyProblems(result.outcome);
          if ('outcome' in result) {
            const { outcome } = result;
            results[outcome.result] = (results[outcome.result] ?? 0) + 1;
            if (outcome.ms > slowest.ms) slowest = { ms: outcome.ms, index };
            if (outcome.heapGrowthMB > mostHeap.mb) mostHeap = { mb: outcome.heapGrowthMB, index };
          }
          if (problems.length) failures.push(describeFailure(index, fuzzCase, problems, keepFailure(index, fuzzCase, problems)));
        } finally {
          removeCase(fuzzCase);
        }
        if (failures.length >= MAX_FAILURES) break;
      }
    } finally {
      await runner.close();
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `config fuzz, seed ${SEED}: ${indexes.length.toLocaleString('en-US')} inputs in ${seconds.toFixed(1)} s; ` +
        `made as ${JSON.stringify(kinds)}; ended in ${JSON.stringify(results)}; ` +
        `slowest case ${slowest.index} (${Math.round(slowest.ms)} ms), most heap case ${mostHeap.index} (${Math.round(mostHeap.mb)} MB)`,
    );
    expect(failures.length, `\n${failures.join('\n\n')}\n`).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Hostile inputs, pinned down: the limits the loader relies on, and what the fuzzing found

/** Writes a suite (a prompt and a provider, then `yaml`) into the workspace; returns its path. */
function suiteWith(yaml: string, name = `pinned-${Math.random().toString(36).slice(2)}.yaml`): string {
  const file = join(suiteDir, name);
  writeFileSync(file, `prompts: ['hi {{ x }}']\nproviders: [openai:gpt-4.1-mini]\n${yaml}`);
  return file;
}

/** The ConfigError that loading (and planning) the suite throws, within the time a case may take. */
function configError(file: string): ConfigError {
  const started = performance.now();
  try {
    buildPlan(loadSuite(file).suite);
  } catch (err) {
    expect(performance.now() - started).toBeLessThan(BUDGET_MS);
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('alias bombs', () => {
  it('billion laughs: refused at once by the YAML parser (aliases are counted with what they expand to)', () => {
    const levels = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(', ')}]`);
    const err = configError(suiteWith(`tests:\n  - vars:\n      bomb:\n${levels.map((l) => `        ${l}`).join('\n')}\n`));
    expect(err.issues).toEqual([expect.objectContaining({ message: expect.stringContaining('Excessive alias count'), location: expect.objectContaining({ line: 1, column: 1 }) })]);
  });

  it('one anchor may be aliased 999 times (maxAliasCount 1000 counts the anchor too), not 1000', () => {
    const wide = (n: number): string => `defaultTest: {vars: {x: &x hi}}\ntests:\n  - vars: {y: [${Array(n).fill('*x').join(', ')}]}\n`;
    expect(loadSuite(suiteWith(wide(999))).suite.tests).toHaveLength(1);
    expect(configError(suiteWith(wide(1000))).message).toContain('Excessive alias count');
  });

  it('a chain of anchors, each nesting the one before, is refused past 10 links (aliases build no deep data)', () => {
    const chain = (n: number): string => `x-chain:\n${Array.from({ length: n }, (_, i) => `  c${i}: &c${i} [${i ? `*c${i - 1}` : '1'}]`).join('\n')}\n`;
    expect(loadSuite(suiteWith(chain(10))).warnings).toHaveLength(1);
    expect(configError(suiteWith(chain(11))).message).toContain('Excessive alias count');
  });

  it('an alias inside the node it names (recursive data) is refused where it is written', () => {
    const err = configError(suiteWith('tests:\n  - vars: &v\n      x: *v\n'));
    expect(err.issues).toEqual([expect.objectContaining({ message: expect.stringContaining('*v'), location: expect.objectContaining({ line: 5, column: 10 }) })]);
  });
});

describe('what the fuzzing found', () => {
  it(`nesting past ${MAX_DEPTH} levels is refused where it passes the limit (and a JSONL line's too)`, () => {
    const nested = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    // The top level, tests, the test and its vars are four levels: x may nest 252 more.
    expect(loadSuite(suiteWith(`tests:\n  - vars:\n      x: ${nested(MAX_DEPTH - 4)}\n`)).suite.tests).toHaveLength(1);
    const err = configError(suiteWith(`tests:\n  - vars:\n      x: ${nested(MAX_DEPTH - 3)}\n`));
    expect(err.issues).toEqual([expect.objectContaining({ message: `invalid YAML: values nested more than ${MAX_DEPTH} levels deep`, location: expect.objectContaining({ line: 5, column: 10 + MAX_DEPTH - 4 }) })]);
    expect(configError(suiteWith(`tests:\n  - vars:\n      x: ${nested(5000)}\n`)).issues[0].location).toMatchObject({ line: 5 });
    writeFileSync(join(suiteDir, 'pinned-deep.jsonl'), `{"vars": {"x": ${'{"a": '.repeat(3000)}1${'}'.repeat(3000)}}}\n`);
    expect(configError(suiteWith('tests: file://pinned-deep.jsonl\n')).issues[0].location).toMatchObject({ file: join(suiteDir, 'pinned-deep.jsonl'), line: 1 });
  });

  it('a file:// reference to a FIFO or a device is refused, not read (reading would never end)', (ctx) => {
    if (!existsSync(join(suiteDir, FIFO))) ctx.skip();
    expect(configError(suiteWith(`tests: file://${FIFO}\n`)).message).toContain('not a regular file');
    if (existsSync('/dev/zero')) expect(configError(suiteWith('tests:\n  - vars: {x: file:///dev/zero}\n')).message).toContain('not a regular file');
  });

  it('a YAML value that cannot lose an unknown key (!!binary where a mapping belongs) is a ConfigError', () => {
    expect(configError(suiteWith('tests:\n  - !!binary aGVsbG8=\n')).issues.length).toBeGreaterThan(0);
  });

  it('a mapping with its own toString key where a name belongs (an assertion type, a role) is a ConfigError', () => {
    expect(configError(suiteWith('tests:\n  - assert: [{type: {toString: 1}}]\n')).message).toContain("unknown assertion type 'a mapping'");
    expect(configError(suiteWith('defaultTest: {assert: [{type: [{toString: 1}]}]}\n')).issues).toHaveLength(1);
    const chat = join(suiteDir, 'pinned-role.yaml');
    writeFileSync(chat, "prompts: [[{role: {toString: 1, valueOf: 2}, content: hi}]]\nproviders: [openai:gpt-4.1-mini]\n");
    expect(configError(chat).message).toContain("'a mapping' is not one of system");
  });

  it(`list vars that multiply past ${MAX_CASES.toLocaleString('en-US')} cases are refused before any case is made`, () => {
    const vars = Array.from({ length: 8 }, (_, i) => `      v${i}: [${Array.from({ length: 20 }, (_, j) => j).join(', ')}]`).join('\n');
    const err = configError(suiteWith(`tests:\n  - description: ok\n  - vars:\n${vars}\n`));
    expect(err.issues).toEqual([expect.objectContaining({ message: expect.stringMatching(/makes 25,600,000,001 cases .* the test here makes 25,600,000,000$/), location: expect.objectContaining({ line: 5, column: 5 }) })]);
    // No prompt at all (a prompt file of only separators): the vars would still be expanded.
    const noPrompt = join(suiteDir, 'pinned-no-prompt.yaml');
    writeFileSync(noPrompt, `prompts: [file://seps.txt]\nproviders: [openai:gpt-4.1-mini]\ntests:\n  - vars:\n${vars}\n`);
    expect(configError(noPrompt).message).toContain('25,600,000,000 cases');
  });

  it('one stray character in a long list reports the first YAML errors, not tens of thousands', () => {
    const tests = Array.from({ length: 3000 }, (_, i) => `  - {vars: {x: ${i === 10 ? '1{0' : i}, items: [a, b]}}`).join('\n');
    const err = configError(suiteWith(`tests:\n${tests}\n`));
    expect(err.issues.length).toBe(21);
    expect(err.issues[20].message).toMatch(/^invalid YAML: \d+ more errors after these/);
  });

  it('thousands of schema errors and megabyte-long unknown names are explained in linear time', () => {
    expect(configError(suiteWith(`tests:\n${Array.from({ length: 10_000 }, () => '  - {threshold: "x"}').join('\n')}\n`)).issues).toHaveLength(10_000);
    const huge = 'x'.repeat(1_000_000);
    expect(configError(suiteWith(`tests:\n  - assert: [{type: ${huge}}, {type: not-${huge}}]\n`)).issues).toHaveLength(2);
  });
});
