/**
 * What the action's pull-request tests share (pull-request, submit-resume, reuse-action): the action's entry, one
 * repository with one pull request, and the suite's place in the workspace.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The action, run from source as a child process. */
export const ENTRY = join(ROOT, 'src/index.ts');

export const REPO = 'acme/prompts';
export const PR = 7;
/** The PR's head commit. */
export const HEAD_SHA = 'b'.repeat(40);
/** GITHUB_SHA of a pull_request run: the test merge commit, which is not where the status belongs. */
export const MERGE_SHA = 'd'.repeat(40);
export const MAIN_SHA = 'a'.repeat(40);
export const MAIN_REF = 'refs/heads/main';
export const PR_REF = `refs/pull/${PR}/merge`;

export const CONFIG = 'evals/suite.yaml';
/** The action's suite id (src/action/suite.ts): sha256 of the config path relative to the workspace. */
export const SUITE_ID = createHash('sha256').update(CONFIG).digest('hex').slice(0, 12);
/** The hidden marker of the suite's sticky comment. */
export const MARKER = `<!-- batch-evals suite=${SUITE_ID} -->`;
export const MINI = 'openai:gpt-4.1-mini';
