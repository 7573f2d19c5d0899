/** What bench/run.ts and the measured child (bench/child.ts) share. */

export const STAGES = ['load', 'plan', 'submit', 'wait', 'collect', 'score', 'report'] as const;
export type Stage = (typeof STAGES)[number];
export const RESULT_MARK = 'BENCH_RESULT ';

/** What a child reports for one size. */
export interface ChildResult {
  cases: number;
  requests: number;
  passed: number;
  failed: number;
  errored: number;
  pending: number;
  /** Provider batches submitted (retries included), per provider, with the most requests one of them held. */
  batches: { provider: string; count: number; largest: number }[];
  /** Requests sent in provider batches (not answered from earlier outputs). */
  sentRequests: number;
  /** Cases answered from earlier outputs, and what their requests would have cost at batch prices. */
  reused: number;
  reuseSaved: number;
  /** USD at batch prices, for what was sent. */
  batchCost: number;
  /** Seconds per stage. */
  stages: Record<Stage, number>;
  /** RSS in MB right after each stage. */
  rssAfter: Record<Stage, number>;
  totalSeconds: number;
  peakRssMB: number;
  /** RSS once the engine's modules are imported, before the run. */
  baselineRssMB: number;
  peakHeapMB: number;
  resultsFileMB: number;
  markdownKB: number;
  /** Where the memory is at the end of the run (where the peak is): V8's heap by part, and memory outside it. */
  memoryAtEnd: MemoryParts;
}

/** MB committed (what RSS sees) and used, per part of V8's heap; then the external memory (ArrayBuffers, Buffers). */
export interface MemoryParts {
  /** New space: where objects are made, kept at its grown size once grown. */
  young: { committedMB: number; usedMB: number };
  /** Old and large-object spaces: what lived long, and garbage not yet collected. */
  old: { committedMB: number; usedMB: number };
  /** Code and trusted spaces: compiled functions and regexes (bytecode and machine code). */
  code: { committedMB: number; usedMB: number };
  externalMB: number;
}

const PARTS: Record<string, keyof Omit<MemoryParts, 'externalMB'>> = {
  new_space: 'young',
  new_large_object_space: 'young',
  old_space: 'old',
  large_object_space: 'old',
  code_space: 'code',
  code_large_object_space: 'code',
  trusted_space: 'code',
  trusted_large_object_space: 'code',
};

/** V8's heap spaces, grouped; spaces not named in PARTS (read-only, shared) are a few MB and left out. */
export function memoryParts(spaces: { space_name: string; space_size: number; space_used_size: number }[], externalBytes: number): MemoryParts {
  const parts: MemoryParts = {
    young: { committedMB: 0, usedMB: 0 },
    old: { committedMB: 0, usedMB: 0 },
    code: { committedMB: 0, usedMB: 0 },
    externalMB: externalBytes / MB,
  };
  for (const space of spaces) {
    const part = PARTS[space.space_name];
    if (!part) continue;
    parts[part].committedMB += space.space_size / MB;
    parts[part].usedMB += space.space_used_size / MB;
  }
  return parts;
}

export const MB = 1024 * 1024;
