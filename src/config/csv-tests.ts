import { parse } from 'csv-parse/sync';
import { GRADED_TYPE_NAMES, MODEL_GRADED_ASSERTIONS, OTHER_PROMPTFOO_ASSERTIONS, SUPPORTED_ASSERTIONS } from './assertion-types.ts';
import { ConfigError } from './errors.ts';
import type { RawAssertion, RawTest, RawTestValue } from './tests.ts';
import type { ConfigWarning, SourceLocation } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

/**
 * Reads a promptfoo tests CSV: each column is a var, except the special ones: `__expected`, `__expected1..n`
 * (an assertion written `type:value`), `__description`, `__threshold`, `__metric`, and `__metadata:name`
 * (`__metadata:name[]` for a comma-separated list where `\,` is a literal comma).
 */
export function readCsvTests(text: string, file: string, warnings: ConfigWarning[]): RawTest[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: true, bom: true, skip_empty_lines: true, info: true, relax_quotes: true, trim: false });
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new ConfigError([{ message: `invalid CSV: ${e.message}`, location: { file, line: e.lines ?? 1, column: 1 } }]);
  }
  const warned = new Set<string>();
  // Rows repeat cells (the same assertions, a few values of a column): a large suite's tests hold every row's, so each
  // distinct cell is one string, and each distinct assertion cell one assertion, shared by the rows.
  const cells = new Map<string, string>();
  const assertions = new Map<string, RawAssertion>();
  return records.map(({ record, info }) => {
    const location: SourceLocation = { file, line: info.lines, column: 1 };
    const value: RawTestValue = { vars: {}, assert: [], metadata: {} };
    let metric: string | undefined;
    for (const [column, cell] of Object.entries(record)) {
      if (!column.startsWith('__')) {
        let shared = cells.get(cell);
        if (shared === undefined) cells.set(cell, (shared = cell));
        value.vars![column] = shared;
      } else if (/^__expected\d*$/.test(column)) {
        if (!cell.trim()) continue;
        let assertion = assertions.get(cell);
        if (!assertion) assertions.set(cell, (assertion = assertionFromString(cell)));
        value.assert!.push(assertion);
      } else if (column === '__description') value.description = cell;
      else if (column === '__threshold') value.threshold = cell.trim() ? Number(cell) : undefined;
      else if (column === '__metric') metric = cell || undefined;
      else if (column.startsWith('__metadata:')) {
        const name = column.slice('__metadata:'.length);
        if (name.endsWith('[]')) value.metadata![name.slice(0, -2)] = splitList(cell);
        else value.metadata![name] = cell;
      } else if (!warned.has(column)) {
        warned.add(column);
        warnings.push({ message: `CSV column '${column}' is not supported and is ignored`, location: { file, line: 1, column: 1 } });
      }
    }
    if (metric) value.assert = value.assert!.map((a) => ({ ...a, metric }));
    if (value.threshold !== undefined && Number.isNaN(value.threshold)) {
      throw new ConfigError([{ message: `__threshold must be a number, not '${record.__threshold}'`, location }]);
    }
    return { value, source: fixedSource(file, location), path: [] };
  });
}

/**
 * promptfoo's short form of an assertion: `type:value`, `not-type:value`, `type(threshold):value` (`similar:dot(0.8):value`);
 * `fn:` and `eval:` are javascript, `grade:` is llm-rubric; anything else is an `equals` of the whole cell.
 * As in promptfoo, `similar` without a threshold gets 0.8 (not its usual 0.75) and `answer-relevance` 0.75, and
 * `is-json`, `contains-json` and `answer-relevance` may be written without a value.
 */
export function assertionFromString(cell: string): RawAssertion {
  if (cell.startsWith('fn:') || cell.startsWith('eval:')) return { type: 'javascript', value: cell.slice(cell.indexOf(':') + 1).trim() };
  if (cell.startsWith('grade:')) return { type: 'llm-rubric', value: cell.slice(6).trim() };
  const match = /^(not-)?([a-z][a-z0-9-]*(?::(?:cosine|dot|euclidean))?)(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$/.exec(cell);
  if (!match || !KNOWN_TYPES.includes(match[2]) || (match[4] === undefined && !WITHOUT_VALUE.includes(match[2]))) {
    return { type: 'equals', value: cell };
  }
  const [, not = '', type, written, rest] = match;
  const listTypes = ['contains-any', 'contains-all', 'icontains-any', 'icontains-all'];
  const value = rest === undefined ? undefined : listTypes.includes(type) ? splitList(rest.trim()) : rest.trim();
  const threshold = written !== undefined ? Number(written) : CSV_DEFAULT_THRESHOLDS[type];
  return {
    type: `${not}${type}`,
    ...(value !== undefined ? { value } : {}),
    ...(threshold !== undefined ? { threshold } : {}),
  };
}

const KNOWN_TYPES: string[] = [...SUPPORTED_ASSERTIONS, ...GRADED_TYPE_NAMES, ...MODEL_GRADED_ASSERTIONS, ...OTHER_PROMPTFOO_ASSERTIONS];

/** Types a cell may name without `:value`. */
const WITHOUT_VALUE = ['is-json', 'contains-json', 'answer-relevance'];

/** promptfoo's thresholds for short forms that give none (of the types batch-evals grades with a model). */
const CSV_DEFAULT_THRESHOLDS: Record<string, number> = { similar: 0.8, 'answer-relevance': 0.75 };

function splitList(cell: string): string[] {
  return cell
    .split(/(?<!\\),/)
    .map((s) => s.replace(/\\,/g, ',').trim())
    .filter((s) => s.length > 0);
}

function fixedSource(file: string, location: SourceLocation): YamlSource {
  return { file, value: undefined, locate: () => location, locateKey: () => location };
}
