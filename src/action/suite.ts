/** What the action's modes share: its log, the suite's id, and the earlier outputs in the Actions cache. */
import * as core from '@actions/core';
import { createHash } from 'node:crypto';
import { relative, resolve } from 'node:path';
import type { Logger } from '../logger.ts';
import type { RunTarget } from '../publish/github.ts';
import { stateRef } from '../publish/publish.ts';
import { OutputsCache } from '../reuse/outputs-store.ts';

/** The engine's log, as the action writes it. */
export const actionLog: Logger = { info: core.info, warning: (m) => core.warning(m), debug: core.debug };

/** The config's path in the repository, with forward slashes. */
export function repoPath(configPath: string): string {
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  return relative(workspace, resolve(workspace, configPath)).split('\\').join('/');
}

/** One comment, status, baseline and state per suite file, stable across runs. */
export function suiteIdOf(path: string): string {
  return createHash('sha256').update(path).digest('hex').slice(0, 12);
}

/**
 * The outputs earlier runs of this suite left in the Actions cache: this branch's (or pull request's) and, for a
 * pull request, its base branch's, where every request the PR did not change was answered already. With `branches`,
 * those instead (a resume job reads what its own cache scope can).
 */
export async function earlierOutputs(target: RunTarget | undefined, suiteId: string, branches?: string[]) {
  const cache = new OutputsCache(actionLog);
  if (!target || !cache.available()) {
    actionLog.info('reuse: the Actions cache is not available to this run, so every request is sent');
    return undefined;
  }
  const saveAs = stateRef(target);
  const earlier = await cache.restore(suiteId, branches ?? [saveAs, ...(target.pr ? [target.pr.baseRef] : [])]);
  return { cache, earlier, saveAs };
}
