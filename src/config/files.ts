import { readFileSync, statSync } from 'node:fs';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
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

let referenceRoot: string | undefined;

/**
 * Runs `load` (synchronous, e.g. loadSuite) with `file://` references confined to the directory `root`: naming a
 * file outside it is a ConfigError whose issue carries `outsideFile`, and the file is not read.
 */
export function confineReferences<T>(root: string, load: () => T): T {
  const previous = referenceRoot;
  referenceRoot = resolve(root);
  try {
    return load();
  } finally {
    referenceRoot = previous;
  }
}

export function readReferenced(path: string, from: SourceLocation, keyPath: string): string {
  if (referenceRoot !== undefined) {
    const rel = relative(referenceRoot, resolve(path));
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw new ConfigError([{ message: `cannot read ${path}: it is outside ${referenceRoot}`, location: from, keyPath, outsideFile: path }]);
    }
  }
  try {
    // Only regular files: reading a device (/dev/zero), a FIFO or a socket never ends or never returns.
    const stats = statSync(path);
    if (!stats.isFile()) throw new Error(stats.isDirectory() ? 'it is a directory' : 'it is not a regular file');
    return readFileSync(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    const reason = missing ? 'file not found' : (err as Error).message;
    throw new ConfigError([{ message: `cannot read ${path}: ${reason}`, location: from, keyPath, ...(missing ? { missingFile: path } : {}) }]);
  }
}

export function extensionOf(path: string): string {
  return extname(path).toLowerCase();
}

export function hasGlob(path: string): boolean {
  return /[*?[\]{}]/.test(path);
}
