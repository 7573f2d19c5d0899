import { readFileSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from './errors.ts';
import type { SourceLocation } from './types.ts';

export const FILE_PREFIX = 'file://';

export function isFileRef(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(FILE_PREFIX);
}

/** Resolves a `file://` reference against the directory of the file that names it. */
export function resolveRef(ref: string, baseDir: string): string {
  const path = ref.slice(FILE_PREFIX.length);
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

export function readReferenced(path: string, from: SourceLocation, keyPath: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError([{ message: `cannot read ${path}: ${reason}`, location: from, keyPath }]);
  }
}

export function extensionOf(path: string): string {
  return extname(path).toLowerCase();
}

export function hasGlob(path: string): boolean {
  return /[*?[\]{}]/.test(path);
}
