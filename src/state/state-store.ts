import type { Logger } from '../logger.ts';
import { JsonCache } from '../publish/json-cache.ts';
import { isRunState, type RunState } from './run-state.ts';

/**
 * Run states in the Actions cache, per suite and ref: a re-run of the same PR, or the next nightly run on the
 * default branch, finds what the last run left pending. (A scheduled job cannot read a PR's cache: for that,
 * the state also rides in the PR comment's marker.)
 */
export class StateStore {
  readonly #cache: JsonCache;
  readonly #log: Logger;

  constructor(log: Logger, tempDir?: string) {
    this.#cache = new JsonCache(log, 'state', tempDir);
    this.#log = log;
  }

  available(): boolean {
    return this.#cache.available();
  }

  async restore(suiteId: string, ref: string): Promise<RunState | undefined> {
    const { text, key, error } = await this.#cache.restore(keyPrefix(suiteId, ref), `${suiteId}.json`);
    if (error) this.#log.warning(`the run state could not be read from the Actions cache (${error}); going on without it`);
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (isRunState(value)) return value;
    this.#log.warning(`the run state in the Actions cache (${key}) is not one this version can read; it is ignored`);
    return undefined;
  }

  async save(state: RunState, ref: string): Promise<boolean> {
    return this.#cache.save(keyPrefix(state.suiteId, ref), `${state.suiteId}.json`, state, `the run state (${state.phase}) of ${state.suite}`);
  }
}

function keyPrefix(suiteId: string, ref: string): string {
  return `batch-evals-state-${suiteId}-${ref.replace(/[^\w./-]/g, '_')}-`;
}
