import { dirname } from 'node:path';
import { checkAssertionType } from './assertion-types.ts';
import { readCsvTests } from './csv-tests.ts';
import { ConfigError, keyPathString, type ConfigIssue } from './errors.ts';
import { extensionOf, hasGlob, isFileRef, readReferenced, resolveRef } from './files.ts';
import { GraderResolver, gradedValueProblem, type GradingOptions, type WrittenAssertion } from './graders.ts';
import type { Assertion, ConfigWarning, ProviderSpec, SourceLocation, TestCase } from './types.ts';
import { validate } from './validate.ts';
import { MAX_DEPTH, parseYaml, type KeyPath, type YamlSource } from './yaml-source.ts';

/** A test as written (after schema validation), with where it was written. */
export interface RawTest {
  value: RawTestValue;
  source: YamlSource;
  path: KeyPath;
}

export interface RawTestValue {
  description?: string;
  vars?: Record<string, unknown>;
  assert?: RawAssertion[];
  threshold?: number;
  metadata?: Record<string, unknown>;
  /** `provider` and `rubricPrompt`: the grader and grading prompt of the test's model-graded assertions. */
  options?: { transform?: string; provider?: unknown; rubricPrompt?: unknown; factuality?: Record<string, number> };
}

export interface RawAssertion {
  type: string;
  value?: unknown;
  threshold?: number;
  weight?: number;
  metric?: string;
  transform?: string;
  /** Model-graded assertions: the grader (a provider id, `{id, config}`, or `{text, embedding}`). */
  provider?: unknown;
  rubricPrompt?: unknown;
}

/** Collects the tests from `tests:`: inline entries and `file://` CSV, JSONL, JSON or YAML files. */
export function collectTests(source: YamlSource, raw: unknown, warnings: ConfigWarning[]): RawTest[] {
  if (raw === undefined) return [];
  const baseDir = dirname(source.file);
  if (typeof raw === 'string') return testsFromFile(raw, baseDir, source.locate(['tests']), 'tests', warnings);
  const out: RawTest[] = [];
  (raw as unknown[]).forEach((entry, i) => {
    if (typeof entry === 'string') out.push(...testsFromFile(entry, baseDir, source.locate(['tests', i]), `tests[${i}]`, warnings));
    else out.push({ value: entry as RawTestValue, source, path: ['tests', i] });
  });
  return out;
}

function testsFromFile(ref: string, baseDir: string, from: SourceLocation, keyPath: string, warnings: ConfigWarning[]): RawTest[] {
  if (!isFileRef(ref)) throw new ConfigError([{ message: `expected a file:// reference to a tests file, got '${ref}'`, location: from, keyPath }]);
  const path = resolveRef(ref, baseDir);
  if (hasGlob(path)) throw new ConfigError([{ message: `test file globs are not supported yet: ${ref}`, location: from, keyPath }]);
  const text = readReferenced(path, from, keyPath);
  switch (extensionOf(path)) {
    case '.csv':
      return readCsvTests(text, path, warnings);
    case '.jsonl':
      return jsonlTests(text, path, warnings);
    case '.yaml':
    case '.yml':
    case '.json': {
      const fileSource = parseYaml(text, path);
      if (!Array.isArray(fileSource.value)) {
        throw new ConfigError([{ message: 'a tests file must hold a list of tests', location: { file: path, line: 1, column: 1 } }]);
      }
      return fileSource.value.map((item, i) => {
        const checked = validate(fileSource, 'test', item, [i]);
        warnings.push(...checked.warnings);
        return { value: checked.value as RawTestValue, source: fileSource, path: [i] };
      });
    }
    default:
      throw new ConfigError([{ message: `tests files of type '${extensionOf(path)}' are not supported (use .csv, .jsonl, .json or .yaml)`, location: from, keyPath }]);
  }
}

/**
 * Normalises tests and merges `defaultTest` into each, as promptfoo does. Model-graded assertions get their grader
 * and rubric prompt (the assertion's, else the test's options, else defaultTest's, else the default for the suite's
 * `providers`).
 */
export function buildTests(raw: RawTest[], defaults: RawTest | undefined, providers: readonly ProviderSpec[] = []): TestCase[] {
  const issues: ConfigIssue[] = [];
  const graders = new GraderResolver(providers, defaults && gradingOptions(defaults), issues);
  const writtenDefaults = defaults ? normaliseAssertions(defaults, issues) : [];
  // One object per defaultTest assertion, shared by every test that does not set its own grading options.
  const defaultAsserts = writtenDefaults.map((w) => graders.apply(w, undefined));
  const tests = (raw.length ? raw : [undefined]).map((t): TestCase => {
    const d = defaults?.value ?? {};
    const v = t?.value ?? {};
    const options = t && gradingOptions(t);
    const ownGrading = options !== undefined && (options.provider !== undefined || options.rubricPrompt !== undefined || options.factuality !== undefined);
    return {
      description: v.description,
      vars: { ...resolveVarFiles(d.vars, defaults), ...resolveVarFiles(v.vars, t) },
      assert: [
        ...(ownGrading ? writtenDefaults.map((w) => graders.apply(w, options)) : defaultAsserts),
        ...(t ? normaliseAssertions(t, issues).map((w) => graders.apply(w, options)) : []),
      ],
      threshold: v.threshold ?? d.threshold,
      metadata: { ...(d.metadata ?? {}), ...(v.metadata ?? {}) },
      transform: v.options?.transform ?? d.options?.transform,
      location: t ? t.source.locate(t.path) : defaults?.source.locate(defaults.path),
    };
  });
  if (issues.length) throw new ConfigError(issues);
  return tests;
}

function gradingOptions(test: RawTest): GradingOptions {
  const options = test.value.options;
  return { provider: options?.provider, rubricPrompt: options?.rubricPrompt, factuality: options?.factuality, source: test.source, path: [...test.path, 'options'] };
}

function normaliseAssertions(test: RawTest, issues: ConfigIssue[]): WrittenAssertion[] {
  return (test.value.assert ?? []).flatMap((a, i) => {
    const path = [...test.path, 'assert', i];
    const location = test.source.locate(path);
    const verdict = checkAssertionType(a.type);
    if (!verdict.ok) {
      issues.push({ message: verdict.message, location: test.source.locate([...path, 'type']), keyPath: keyPathString([...path, 'type']) });
      return [];
    }
    const problem = gradedValueProblem(verdict.base, a.value);
    if (problem) {
      const at = problem.item === undefined ? [...path, 'value'] : [...path, 'value', problem.item];
      issues.push({ message: problem.message, location: test.source.locate(at), keyPath: keyPathString(at) });
      return [];
    }
    const assertion: Assertion = { type: verdict.base, negate: verdict.negate, value: a.value, threshold: a.threshold, weight: a.weight ?? 1, metric: a.metric, transform: a.transform, location };
    if (verdict.similarity) assertion.similarity = verdict.similarity;
    return [{ assertion, provider: a.provider, rubricPrompt: a.rubricPrompt, source: test.source, path }];
  });
}

/** A var whose value is `file://path` takes the file's text (JSON and YAML files are parsed), as in promptfoo. */
function resolveVarFiles(vars: Record<string, unknown> | undefined, test: RawTest | undefined): Record<string, unknown> {
  if (!vars || !test) return vars ?? {};
  const baseDir = dirname(test.source.file);
  const resolveOne = (value: unknown, key: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => resolveOne(v, key));
    if (!isFileRef(value)) return value;
    const path = resolveRef(value, baseDir);
    const keyPath = keyPathString([...test.path, 'vars', key]);
    const text = readReferenced(path, test.source.locate([...test.path, 'vars', key]), keyPath);
    const ext = extensionOf(path);
    if (ext === '.json' || ext === '.yaml' || ext === '.yml') return parseYaml(text, path).value;
    return text;
  };
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, resolveOne(v, k)]));
}

/**
 * The tests of a JSONL file. A line's YAML document (which knows where each key was written) takes some 20 KB,
 * so the documents are not all kept until the tests are built: a line that is plain JSON is read with JSON.parse,
 * and its document is made when a position is first asked for, one line at a time (buildTests asks line by line).
 */
function jsonlTests(text: string, file: string, warnings: ConfigWarning[]): RawTest[] {
  const lines = text.split(/\r?\n/);
  let last: { index: number; source: YamlSource } | undefined;
  const parsed = (index: number): YamlSource => {
    if (last?.index !== index) last = { index, source: parseJsonLine(lines[index], file, index) };
    return last.source;
  };
  return lines.flatMap((line, i) => {
    if (!line.trim()) return [];
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      value = undefined;
    }
    // Not strict JSON, or nested deeper than a YAML config may be: YAML reads it, or says where it is wrong.
    if (value === undefined || nestsDeeperThan(value, MAX_DEPTH)) value = parsed(i).value;
    if (!isPlainObject(value)) {
      throw new ConfigError([{ message: 'each JSONL line must be a test object', location: { file, line: i + 1, column: 1 } }]);
    }
    const lineSource: YamlSource = { file, value, locate: (p) => parsed(i).locate(p), locateKey: (p) => parsed(i).locateKey(p) };
    const checked = validate(lineSource, 'test');
    warnings.push(...checked.warnings);
    return [{ value: checked.value as RawTestValue, source: lineSource, path: [] }];
  });
}

/** Whether arrays and objects nest deeper than `max` in `value` (walked without recursion: it may be deep). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function parseJsonLine(line: string, file: string, index: number): YamlSource {
  try {
    return shiftLines(parseYaml(line, file), index);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(err.issues.map((i) => ({ ...i, location: i.location && { ...i.location, line: index + 1 } })));
  }
}

function shiftLines(source: YamlSource, lines: number): YamlSource {
  const shift = (l: SourceLocation): SourceLocation => ({ ...l, line: l.line + lines });
  return { ...source, locate: (p) => shift(source.locate(p)), locateKey: (p) => shift(source.locateKey(p)) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
