/**
 * Inline JavaScript as promptfoo runs it (javascript assertions and transforms): a value on one line is an
 * expression, optionally after `const`/`let`/`var` statements; a value spanning lines is a function body that
 * returns its own result.
 */
export function functionBody(code: string): string {
  // YAML block scalars (`value: |`) end with a newline; that alone does not make the value multi-line.
  const source = code.trimEnd();
  if (source.includes('\n')) return source;
  const line = source.trim().replace(/;+\s*$/, '');
  if (!/^(const|let|var)\s/.test(line)) return `return ${line}`;
  const semicolon = lastTopLevelSemicolon(line);
  const last = semicolon === -1 ? '' : line.slice(semicolon + 1).trim();
  return last ? `${line.slice(0, semicolon + 1)} return ${last}` : line;
}

type Script = (...values: unknown[]) => unknown;

/**
 * Compiled scripts by argument names and code. A suite runs the same few scripts for every case: compiling each
 * call anew (`new Function`) left V8 a new function, bytecode and feedback per case, about 1 KB each until a full
 * GC (240 MB of code space at 200,000 cases). Bounded, for suites whose code differs per test (templated).
 */
const compiled = new Map<string, Script>();
const MAX_COMPILED = 1_000;

/** Runs `code` as a function of the named arguments and returns what it returns. */
export function runScript(code: string, args: Record<string, unknown>): unknown {
  const names = Object.keys(args);
  const key = `${names.join(',')}\n${code}`;
  let fn = compiled.get(key);
  if (!fn) {
    fn = new Function(...names, functionBody(code)) as Script;
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(key, fn);
  }
  return fn(...Object.values(args));
}

/** The code shortened to one line, to name it in an error message. */
export function snippet(code: string, max = 80): string {
  const line = code.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Index of the last `;` outside strings, comments and brackets, or -1. */
function lastTopLevelSemicolon(code: string): number {
  let depth = 0;
  let last = -1;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '"' || c === "'" || c === '`') {
      i = endOfString(code, i);
    } else if (c === '/' && code[i + 1] === '/') {
      break;
    } else if (c === '/' && code[i + 1] === '*') {
      const end = code.indexOf('*/', i + 2);
      i = end === -1 ? code.length : end + 1;
    } else if (c === '(' || c === '[' || c === '{') {
      depth++;
    } else if (c === ')' || c === ']' || c === '}') {
      depth--;
    } else if (c === ';' && depth === 0) {
      last = i;
    }
  }
  return last;
}

function endOfString(code: string, start: number): number {
  const quote = code[start];
  for (let i = start + 1; i < code.length; i++) {
    if (code[i] === '\\') i++;
    else if (code[i] === quote) return i;
  }
  return code.length;
}
