import type { Logger } from '../logger.ts';
import { parseBaseline, type Baseline } from '../report/baseline.ts';
import { JsonCache } from './json-cache.ts';

/**
 * Baselines in the Actions cache, one line of keys per suite and branch. A pull request's run may read its base
 * branch's entries; a default-branch run cannot read a pull request's.
 */
export class BaselineStore {
  readonly #cache: JsonCache;
  readonly #log: Logger;

  constructor(log: Logger, tempDir?: string) {
    this.#cache = new JsonCache(log, 'baseline', tempDir);
    this.#log = log;
  }

  available(): boolean {
    return this.#cache.available();
  }

  /** The newest baseline saved for this suite on `branch`, if any, and a sentence for the report. */
  async restore(suiteId: string, branch: string): Promise<{ baseline?: Baseline; note: string }> {
    const { text, key, error } = await this.#cache.restore(keyPrefix(suiteId, branch), `${suiteId}.json`);
    if (error) return { note: `The baseline of \`${branch}\` could not be read from the Actions cache (${error}), so regressions are not shown.` };
    if (text === undefined) {
      return { note: `No baseline for \`${branch}\` yet: regressions show once a run of this suite on \`${branch}\` has saved one (a push, schedule or manual run there).` };
    }
    const { baseline, problem } = parseBaseline(text);
    if (!baseline) return { note: `The baseline of \`${branch}\` was not used: ${problem}.` };
    this.#log.info(`baseline: ${key} (${Object.keys(baseline.cases).length} cases, commit ${baseline.sha?.slice(0, 12) ?? 'unknown'})`);
    return { baseline, note: `Compared with \`${branch}\` at ${baseline.sha?.slice(0, 12) ?? 'an earlier run'}.` };
  }

  async save(suiteId: string, branch: string, baseline: Baseline): Promise<boolean> {
    return this.#cache.save(keyPrefix(suiteId, branch), `${suiteId}.json`, baseline, `the baseline for pull requests against ${branch}`);
  }
}

function keyPrefix(suiteId: string, branch: string): string {
  return `batch-evals-baseline-${suiteId}-${branch}-`;
}
