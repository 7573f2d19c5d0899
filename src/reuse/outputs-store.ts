import type { Logger } from '../logger.ts';
import { JsonCache } from '../publish/json-cache.ts';
import { EarlierOutputs } from './earlier-outputs.ts';

/**
 * Earlier outputs in the Actions cache, one line of keys per suite and branch. A pull request's run reads its own
 * branch's and its base branch's (a PR may read its base branch's cache entries), and saves its own.
 */
export class OutputsCache {
  readonly #cache: JsonCache;
  readonly #log: Logger;

  constructor(log: Logger, tempDir?: string) {
    this.#cache = new JsonCache(log, 'outputs', tempDir);
    this.#log = log;
  }

  available(): boolean {
    return this.#cache.available();
  }

  /** The newest outputs of each branch, the first branch's winning; what cannot be read is said and skipped. */
  async restore(suiteId: string, branches: string[]): Promise<EarlierOutputs> {
    const stores: EarlierOutputs[] = [];
    for (const branch of new Set(branches)) {
      const { text, key, error } = await this.#cache.restore(keyPrefix(suiteId, branch), `${suiteId}.json`);
      if (error) this.#log.warning(`earlier outputs of ${branch} could not be read from the Actions cache (${error}): every request is sent`);
      if (text === undefined) continue;
      const { outputs, problem } = EarlierOutputs.fromDocument(text);
      if (!outputs) {
        this.#log.warning(`earlier outputs in ${key} were not used: ${problem}`);
        continue;
      }
      this.#log.info(`earlier outputs: ${outputs.size} from ${key}`);
      stores.push(outputs);
    }
    return EarlierOutputs.merge(...stores);
  }

  async save(suiteId: string, branch: string, outputs: EarlierOutputs): Promise<boolean> {
    const doc = outputs.toDocument();
    return this.#cache.save(keyPrefix(suiteId, branch), `${suiteId}.json`, doc, `${Object.keys(doc.outputs).length} outputs for reuse on ${branch}`);
  }
}

function keyPrefix(suiteId: string, branch: string): string {
  return `batch-evals-outputs-${suiteId}-${branch}-`;
}
