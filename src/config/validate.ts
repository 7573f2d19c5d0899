import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { checkAssertionType, suggest } from './assertion-types.ts';
import { ConfigError, keyPathString, type ConfigIssue } from './errors.ts';
import { schema } from './schema.ts';
import type { ConfigWarning } from './types.ts';
import type { KeyPath, YamlSource } from './yaml-source.ts';

/** promptfoo keys batch-evals knows but does not support: an error that says so, not an unknown-key warning. */
const UNSUPPORTED: Record<string, string> = {
  'root.scenarios': 'scenarios are not supported yet',
  'root.extensions': 'extensions (hooks) are not supported: a batch run has no per-request hooks',
  'root.nunjucksFilters': 'custom nunjucks filters are not supported yet',
  'root.derivedMetrics': 'derived metrics are not supported yet',
  'root.redteam': 'red-team configs are not supported',
  'test.provider': 'a per-test provider is not supported yet',
  'test.providerOutput': 'providerOutput is not supported: batch-evals scores what the batch returns',
  'provider.transform': 'provider response transforms are not supported yet',
};

/** promptfoo keys that do not apply to a batch run: ignored with a warning that says why. */
const IGNORED: Record<string, string> = {
  'root.env': 'env is ignored: pass API keys as action inputs or environment variables',
  'root.sharing': 'sharing is ignored',
  'root.outputPath': 'outputPath is ignored: see the action output results-file or the CLI --out option',
  'root.evaluateOptions': 'evaluateOptions are ignored: a batch sends every request at once',
  'root.commandLineOptions': 'commandLineOptions are ignored',
  'root.writeLatestResults': 'writeLatestResults is ignored',
  'root.tags': 'tags are ignored',
  'provider.delay': 'delay is ignored: a batch has no request pacing',
};

const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
ajv.addSchema(schema, 'suite');

export type SchemaPart = 'suite' | 'test';

function validator(part: SchemaPart): ValidateFunction {
  const fn = ajv.getSchema(part === 'suite' ? 'suite' : 'suite#/definitions/test');
  if (!fn) throw new Error(`schema part ${part} missing`);
  return fn;
}

export interface ValidationOutcome {
  /** The value with ignored and unknown keys removed. */
  value: unknown;
  warnings: ConfigWarning[];
}

/**
 * Validates `source.value` (or the part at `base`) against the schema. Unknown keys are warnings naming the
 * closest known key; unsupported promptfoo features and schema violations are one ConfigError listing all.
 */
export function validate(source: YamlSource, part: SchemaPart, value: unknown = source.value, base: KeyPath = []): ValidationOutcome {
  const cleaned = structuredClone(value);
  const warnings: ConfigWarning[] = [];
  const issues: ConfigIssue[] = [];

  const check = validator(part);
  for (const err of schemaErrors(check, part, cleaned)) {
    if (err.keyword !== 'additionalProperties') continue;
    const key = (err.params as { additionalProperty: string }).additionalProperty;
    const parentPath = [...base, ...pointerToPath(err.instancePath)];
    const path = [...parentPath, key];
    const context = `${contextOf(err.parentSchema)}.${key}`;
    const location = source.locateKey(path);
    const keyPath = keyPathString(path);
    if (UNSUPPORTED[context]) {
      issues.push({ message: UNSUPPORTED[context], location, keyPath });
    } else if (IGNORED[context]) {
      warnings.push({ message: `${keyPath}: ${IGNORED[context]}`, location });
    } else {
      const known = Object.keys((err.parentSchema as { properties?: object }).properties ?? {});
      warnings.push({ message: `${keyPath}: unknown key '${key}' is ignored${suggest(key, known)}`, location });
    }
    deleteAt(cleaned, pointerToPath(err.instancePath), key);
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const errors = schemaErrors(check, part, cleaned);
  if (errors.length > 0) {
    throw new ConfigError(explain(errors).map((e) => {
      const path = [...base, ...pointerToPath(e.instancePath)];
      return { message: e.message, location: source.locate(path), keyPath: keyPathString(path) || '(top level)' };
    }));
  }
  return { value: cleaned, warnings };
}

/**
 * Inline tests are checked this many at a time. Ajv gathers the errors of a $ref'd schema (each test) by
 * concatenating them to all the errors so far, which takes time with the square of their number: 10,000 tests
 * that each had an unknown key took 2 s, 20,000 took 8.
 */
const TESTS_AT_ONCE = 500;

/** The schema errors of `value`: those of a suite's long `tests` list checked part by part, with its paths. */
function schemaErrors(check: ValidateFunction, part: SchemaPart, value: unknown): ErrorObject[] {
  const tests = part === 'suite' ? (value as { tests?: unknown } | null)?.tests : undefined;
  if (!Array.isArray(tests) || tests.length <= TESTS_AT_ONCE) {
    check(value);
    return check.errors ?? [];
  }
  check({ ...(value as object), tests: [] });
  const rest = check.errors ?? [];
  const checkTests = ajv.getSchema('suite#/properties/tests');
  if (!checkTests) throw new Error('schema part tests missing');
  const testErrors: ErrorObject[] = [];
  for (let start = 0; start < tests.length; start += TESTS_AT_ONCE) {
    checkTests(tests.slice(start, start + TESTS_AT_ONCE));
    for (const e of checkTests.errors ?? []) {
      testErrors.push({ ...e, instancePath: `/tests${e.instancePath.replace(/^\/(\d+)/, (_, i: string) => `/${Number(i) + start}`)}` });
    }
  }
  // In Ajv's order: the top level's own errors, then each key's in the schema's order.
  const keys = Object.keys(schema.properties);
  const beforeTests = (e: ErrorObject): boolean => {
    const top = e.instancePath.split('/')[1];
    return top === undefined || keys.indexOf(top) < keys.indexOf('tests');
  };
  return [...rest.filter(beforeTests), ...testErrors, ...rest.filter((e) => !beforeTests(e))];
}

/** Schema errors a person can act on: the deepest ones, with oneOf and enum spelled out. */
function explain(errors: ErrorObject[]): { instancePath: string; message: string }[] {
  // Paths with an error further down (a Set, and errors grouped by path: thousands of errors stay linear).
  const above = new Set<string>();
  for (const { instancePath: p } of errors) {
    for (let i = p.lastIndexOf('/'); i >= 0; i = i === 0 ? -1 : p.lastIndexOf('/', i - 1)) above.add(p.slice(0, i));
  }
  const deepest = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    if (above.has(e.instancePath)) continue;
    const group = deepest.get(e.instancePath);
    if (group) group.push(e);
    else deepest.set(e.instancePath, [e]);
  }
  const out: { instancePath: string; message: string }[] = [];
  for (const [instancePath, atPath] of deepest) {
    const oneOf = atPath.find((d) => d.keyword === 'oneOf');
    let message: string;
    if (oneOf) {
      const branches = (oneOf.schema as { type?: string; $ref?: string }[]).map(describeBranch);
      message = `must be ${[...new Set(branches)].join(' or ')}`;
    } else {
      message = atPath.map(describeError).join('; ');
    }
    out.push({ instancePath, message });
  }
  return out;
}

function describeBranch(branch: { type?: string; $ref?: string }): string {
  if (branch.type === 'array') return 'a list';
  if (branch.type === 'object') return 'a mapping';
  if (branch.type) return `a ${branch.type}`;
  return 'a valid entry';
}

function describeError(e: ErrorObject): string {
  if (e.keyword === 'enum' && e.parentSchema === schema.definitions.assertion.properties.type) {
    const verdict = checkAssertionType(shown(e.data));
    if (!verdict.ok) return verdict.message;
  }
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
    return `'${shown(e.data)}' is not one of ${allowed.slice(0, 8).join(', ')}${allowed.length > 8 ? ', ...' : ''}${suggest(shown(e.data), allowed)}`;
  }
  if (e.keyword === 'required') return `missing required key '${(e.params as { missingProperty: string }).missingProperty}'`;
  if (e.keyword === 'type') return `must be ${article((e.params as { type: string }).type)}, not ${describeValue(e.data)}`;
  return e.message ?? e.keyword;
}

function article(type: string): string {
  return type === 'object' ? 'a mapping' : type === 'array' ? 'a list' : /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** A value in a message: a string as written, a list or mapping described (String() throws for `{toString: 1}`). */
function shown(value: unknown): string {
  return typeof value === 'object' && value !== null ? describeValue(value) : String(value);
}

export function describeValue(value: unknown): string {
  if (value === null) return 'empty (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * The name of each object schema, e.g. `test.options`, for UNSUPPORTED and IGNORED: found by identity, because
 * Ajv reports the paths of a $ref'd schema that it compiles on its own (one with refs in it) from that schema.
 */
const CONTEXTS = new Map<object, string>();

function nameContexts(node: unknown, name: string): void {
  if (typeof node !== 'object' || node === null || CONTEXTS.has(node)) return;
  if (Array.isArray(node)) {
    for (const item of node) nameContexts(item, name);
    return;
  }
  CONTEXTS.set(node, name);
  const s = node as Record<string, unknown>;
  for (const key of ['oneOf', 'anyOf', 'allOf', 'items', 'additionalProperties']) nameContexts(s[key], name);
  const properties = (s.properties ?? {}) as Record<string, unknown>;
  for (const [key, child] of Object.entries(properties)) nameContexts(child, name === 'root' ? key : `${name}.${key}`);
}
nameContexts(schema, 'root');
for (const [name, definition] of Object.entries(schema.definitions)) nameContexts(definition, name);

/** e.g. the schema of a test's `options` -> `test.options`; the top level -> `root`. */
function contextOf(parentSchema: unknown): string {
  return (typeof parentSchema === 'object' && parentSchema !== null && CONTEXTS.get(parentSchema)) || 'root';
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function deleteAt(root: unknown, path: (string | number)[], key: string): void {
  let node = root as Record<string | number, unknown>;
  for (const part of path) node = node?.[part] as Record<string | number, unknown>;
  // Reflect: a value that cannot lose the key (a typed array from !!binary) keeps it, and fails validation after.
  if (node && typeof node === 'object') Reflect.deleteProperty(node, key);
}
