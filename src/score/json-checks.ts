import { Ajv, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';

const ajv = new Ajv({ allErrors: true, strict: false, logger: false });
const validators = new Map<string, ValidateFunction>();

/** Whether an is-json / contains-json value asks for a schema check (promptfoo skips null, undefined and ''). */
export function hasSchema(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/** Compiles a JSON schema given as an object, or as JSON or YAML text (promptfoo accepts both). */
export function schemaValidator(value: unknown): ValidateFunction {
  const schema = typeof value === 'string' ? parseYaml(value) : value;
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null)) {
    throw new Error('the value must be a JSON schema (an object, or JSON or YAML text of one)');
  }
  // Every case renders its own copy of the value, so cache by content rather than identity.
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(schema as object | boolean);
    validators.set(key, validate);
  }
  return validate;
}

export function schemaErrors(validate: ValidateFunction): string {
  return ajv.errorsText(validate.errors);
}

export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * The JSON objects embedded in text (prose, code fences), as promptfoo's contains-json finds them: each
 * balanced `{...}` that parses, scanning on after it. Bare arrays and scalars do not count; objects inside an
 * array do.
 */
export function extractJsonObjects(text: string): object[] {
  const found: object[] = [];
  for (let start = text.indexOf('{'); start !== -1; ) {
    const end = matchingBrace(text, start);
    const parsed = end === -1 ? undefined : parseJson(text.slice(start, end + 1));
    if (parsed?.ok && typeof parsed.value === 'object' && parsed.value !== null) {
      found.push(parsed.value);
      start = text.indexOf('{', end + 1);
    } else {
      start = text.indexOf('{', start + 1);
    }
  }
  return found;
}

/** Index of the `}` closing the `{` at `start`, skipping braces inside JSON strings; -1 when unbalanced. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '{') {
      depth++;
    } else if (c === '}' && --depth === 0) {
      return i;
    }
  }
  return -1;
}
