/** What the config tests share: suites written to a fresh directory, and the ConfigError a suite gives. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/errors.ts';
import { loadSuite } from '../../src/config/load.ts';

/** Writes files (names may hold folders: `prompts/a.txt`) into a fresh directory; returns the path of the first. */
export function suiteFiles(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'be-config-'));
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, ...name.split('/'));
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  }
  return join(dir, ...Object.keys(files)[0].split('/'));
}

/** The ConfigError loading the suite at `path` gives; fails the test when it loads, or throws anything else. */
export function configError(path: string): ConfigError {
  try {
    loadSuite(path);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
