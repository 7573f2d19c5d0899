import * as cache from '@actions/cache';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../logger.ts';
import { parseBaseline, type Baseline } from '../report/baseline.ts';

/**
 * Baselines in the Actions cache. Keys are immutable, so every save gets a fresh key and a restore takes the
 * newest entry under the branch's prefix. A pull request's run may read its base branch's entries; a
 * default-branch run cannot read a pull request's.
 */
export class BaselineStore {
  readonly #log: Logger;
  readonly #dir: string;

  constructor(log: Logger, tempDir = process.env.RUNNER_TEMP ?? '/tmp') {
    this.#log = log;
    this.#dir = join(tempDir, 'batch-evals', 'baseline');
  }

  available(): boolean {
    return cache.isFeatureAvailable();
  }

  /** The newest baseline saved for this suite on `branch`, if any. */
  async restore(suiteId: string, branch: string): Promise<{ baseline?: Baseline; note: string }> {
    const path = this.#path(suiteId);
    const prefix = keyPrefix(suiteId, branch);
    let key: string | undefined;
    try {
      key = await cache.restoreCache([path], prefix, [prefix]);
    } catch (err) {
      return { note: `The baseline of \`${branch}\` could not be read from the Actions cache (${(err as Error).message}), so regressions are not shown.` };
    }
    if (!key) {
      return { note: `No baseline for \`${branch}\` yet: regressions show once a run of this suite on \`${branch}\` has saved one (a push, schedule or manual run there).` };
    }
    const { baseline, problem } = parseBaseline(await readFile(path, 'utf8'));
    if (!baseline) return { note: `The baseline of \`${branch}\` was not used: ${problem}.` };
    this.#log.info(`baseline: ${key} (${Object.keys(baseline.cases).length} cases, commit ${baseline.sha?.slice(0, 12) ?? 'unknown'})`);
    return { baseline, note: `Compared with \`${branch}\` at ${baseline.sha?.slice(0, 12) ?? 'an earlier run'}.` };
  }

  /** Saves under a fresh key; false (said in the log) when the cache refused it. */
  async save(suiteId: string, branch: string, baseline: Baseline, runId: string): Promise<boolean> {
    const path = this.#path(suiteId);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(baseline));
    const key = `${keyPrefix(suiteId, branch)}${runId}-${Date.now()}`;
    try {
      const id = await cache.saveCache([path], key);
      if (id === -1) {
        this.#log.warning(`baseline: the Actions cache did not save ${key} (see the lines above); the next pull request compares with an older baseline`);
        return false;
      }
    } catch (err) {
      this.#log.warning(`baseline: could not save ${key}: ${(err as Error).message}`);
      return false;
    }
    this.#log.info(`baseline: saved ${key} for pull requests against ${branch}`);
    return true;
  }

  #path(suiteId: string): string {
    return join(this.#dir, `${suiteId}.json`);
  }
}

function keyPrefix(suiteId: string, branch: string): string {
  return `batch-evals-baseline-${suiteId}-${branch}-`;
}
