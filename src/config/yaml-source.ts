import { readFileSync } from 'node:fs';
import { isAlias, isCollection, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError, type ConfigIssue } from './errors.ts';
import type { SourceLocation } from './types.ts';

export type KeyPath = readonly (string | number)[];

/** A parsed YAML file that can say where any value (or key) of it was written. */
export interface YamlSource {
  file: string;
  value: unknown;
  /** The position of the value at `path`, or of its nearest existing ancestor. */
  locate(path: KeyPath): SourceLocation;
  /** The position of the key that names `path` (for unknown-key warnings); falls back to the value. */
  locateKey(path: KeyPath): SourceLocation;
}

export function readYamlFile(file: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ message: `cannot read the file: ${(err as Error).message}`, location: { file, line: 1, column: 1 } }]);
  }
  return parseYaml(text, file);
}

export function parseYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  if (doc.errors.length > 0) {
    // One stray character can make tens of thousands of errors, each one an annotation: the first ones say it.
    const issues: ConfigIssue[] = doc.errors.slice(0, MAX_YAML_ERRORS).map((e) => ({ message: `invalid YAML: ${firstLine(e.message)}`, location: at(e.pos[0]) }));
    const more = doc.errors.length - MAX_YAML_ERRORS;
    if (more > 0) issues.push({ message: `invalid YAML: ${more} more errors after these, often caused by the first`, location: at(doc.errors[MAX_YAML_ERRORS].pos[0]) });
    throw new ConfigError(issues);
  }
  let value: unknown;
  try {
    const problem = structureProblem(doc, at);
    if (problem) throw new ConfigError([problem]);
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([{ message: `invalid YAML: ${(err as Error).message}`, location: at(0) }]);
  }
  return {
    file,
    value,
    locate: (path) => at(nearestNode(doc, path)?.range?.[0] ?? 0),
    locateKey: (path) => {
      const key = keyNode(doc, path);
      return at((key ?? nearestNode(doc, path))?.range?.[0] ?? 0);
    },
  };
}

const MAX_YAML_ERRORS = 20;

/** Nesting deeper than this is no config a person writes (a JSON schema in an assertion nests some ten levels). */
export const MAX_DEPTH = 256;

/**
 * What the YAML library would turn into data no later step survives, found in one walk in document order:
 * - an alias inside the node it refers to (`&a [*a]`; an alias refers to the last anchor of its name before it):
 *   the library resolves it to a value that contains itself;
 * - nesting past MAX_DEPTH: the library's alias resolution slows down with the square of the depth (seconds at a
 *   few thousand levels), whether it parses such a file at all depends on how warm the JIT is, and every
 *   recursive walk after it (validation, templates, request hashing) may run out of stack.
 */
function structureProblem(doc: Document, at: (offset: number) => SourceLocation): ConfigIssue | undefined {
  const anchored = new Map<string, Node>();
  const stack: [unknown, number][] = [[doc.contents, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (isAlias(node)) {
      const target = anchored.get(node.source);
      const offset = node.range?.[0];
      if (target?.range && offset !== undefined && offset >= target.range[0] && offset < target.range[2]) {
        return { message: `invalid YAML: the alias *${node.source} is inside the node anchored &${node.source}, which would make endless (recursive) data`, location: at(offset) };
      }
    } else if (isPair(node)) {
      stack.push([node.value, depth], [node.key, depth]);
    } else if (isNode(node)) {
      if (node.anchor) anchored.set(node.anchor, node);
      if (isCollection(node)) {
        if (depth > MAX_DEPTH) return { message: `invalid YAML: values nested more than ${MAX_DEPTH} levels deep`, location: at(node.range?.[0] ?? 0) };
        for (let i = node.items.length - 1; i >= 0; i--) stack.push([node.items[i], depth + 1]);
      }
    }
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0];
}

function nearestNode(doc: Document, path: KeyPath): Node | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true);
    if (isNode(node)) return node;
  }
  return isNode(doc.contents) ? doc.contents : undefined;
}

function keyNode(doc: Document, path: KeyPath): Node | undefined {
  if (path.length === 0) return undefined;
  const parent = doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(last));
    return pair && isNode(pair.key) ? pair.key : undefined;
  }
  if (isSeq(parent) && typeof last === 'number') {
    const item = parent.items[last];
    return isNode(item) ? item : undefined;
  }
  return undefined;
}
