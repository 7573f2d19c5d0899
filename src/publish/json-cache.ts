import * as cache from '@actions/cache';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../logger.ts';

/**
 * Small JSON documents in the Actions cache. Keys are immutable, so every save gets a fresh key under a prefix
 * and a restore takes the newest entry with that prefix. Save and restore use the same one-file `paths` list,
 * which the cache's version hash depends on.
 */
export class JsonCache {
  readonly #log: Logger;
  readonly #dir: string;

  constructor(log: Logger, kind: string, tempDir = process.env.RUNNER_TEMP ?? '/tmp') {
    this.#log = log;
    this.#dir = join(tempDir, 'batch-evals', kind);
  }

  available(): boolean {
    return cache.isFeatureAvailable();
  }

  /** The newest document under `prefix`: its text and key, nothing when there is none, or why it could not be read. */
  async restore(prefix: string, file: string): Promise<{ text?: string; key?: string; error?: string }> {
    const path = join(this.#dir, file);
    try {
      const key = await cache.restoreCache([path], prefix, [prefix]);
      if (!key) return {};
      return { key, text: await readFile(path, 'utf8') };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }

  /** Saves under `prefix` plus a fresh suffix; false (said in the log) when the cache refused it. */
  async save(prefix: string, file: string, value: unknown, what: string): Promise<boolean> {
    const path = join(this.#dir, file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(value));
    const key = `${prefix}${process.env.GITHUB_RUN_ID ?? 'local'}-${process.env.GITHUB_RUN_ATTEMPT ?? '1'}-${Date.now()}`;
    try {
      if ((await cache.saveCache([path], key)) === -1) {
        this.#log.warning(`the Actions cache did not save ${what} as ${key} (see the lines above)`);
        return false;
      }
    } catch (err) {
      this.#log.warning(`could not save ${what} as ${key}: ${(err as Error).message}`);
      return false;
    }
    this.#log.info(`saved ${what} as ${key}`);
    return true;
  }
}
