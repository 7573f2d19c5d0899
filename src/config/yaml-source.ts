import { readFileSync } from 'node:fs';
import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError } from './errors.ts';
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
    throw new ConfigError(
      doc.errors.map((e) => ({ message: `invalid YAML: ${firstLine(e.message)}`, location: at(e.pos[0]) })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
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
