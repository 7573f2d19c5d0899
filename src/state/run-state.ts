import type { BatchHandle } from '../batch/types.ts';
import type { ProviderName } from '../config/types.ts';

/**
 * What a run that outlives its job leaves behind: which suite, at which commit, and the provider batches that are
 * still running. Small and versioned; the plan itself is rebuilt from the config at `sha`.
 */
export interface RunState {
  version: 1;
  suiteId: string;
  /** The suite's description, for humans. */
  suite: string;
  /** The config's path in the repository. */
  configPath: string;
  /** The commit whose config was planned and submitted. */
  sha: string;
  repo?: string;
  pr?: number;
  /**
   * submitted: generation batches may still be running; grading: the outputs are in and the grading batches of
   * model-graded assertions may still be running; collected: the report is final.
   */
  phase: 'submitted' | 'grading' | 'collected';
  submittedAt: string;
  updatedAt: string;
  batches: StateBatch[];
}

export interface StateBatch extends BatchHandle {
  /** The planned batch's key (provider | base URL | model): how a resumed plan finds its batch again. */
  key: string;
  model: string;
}

/** A run whose batches (generation or grading) may still be running: a later job resumes it. */
export function isUnfinished(state: RunState | undefined): state is RunState {
  return state?.phase === 'submitted' || state?.phase === 'grading';
}

export function isRunState(value: unknown): value is RunState {
  const s = value as Partial<RunState> | null;
  return (
    !!s &&
    typeof s === 'object' &&
    s.version === 1 &&
    typeof s.suiteId === 'string' &&
    typeof s.configPath === 'string' &&
    typeof s.sha === 'string' &&
    (s.phase === 'submitted' || s.phase === 'grading' || s.phase === 'collected') &&
    Array.isArray(s.batches) &&
    s.batches.every((b) => typeof b?.batchId === 'string' && typeof b.key === 'string' && isProvider(b.provider))
  );
}

function isProvider(value: unknown): value is ProviderName {
  return value === 'openai' || value === 'anthropic';
}

/** The state inside an HTML comment: base64url JSON, so nothing in it can end the comment early. */
export function encodeState(state: RunState): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

export function decodeState(text: string): RunState | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    return isRunState(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
