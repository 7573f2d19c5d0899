import * as core from '@actions/core';
import { relative } from 'node:path';
import type { SourceLocation } from '../config/types.ts';
import type { CaseResult } from '../score/score-run.ts';

/** GitHub shows at most this many annotations of each kind per step. */
export const ANNOTATIONS_PER_STEP = 10;

/**
 * A warning on the YAML line of each failing case's test, within what GitHub shows per step (`used` warnings
 * are spent already, e.g. on config warnings). Returns how many failing cases had no annotation.
 */
export function annotateFailures(results: CaseResult[], used = 0, root?: string): number {
  const failing = results.filter((r) => (r.status === 'failed' || r.status === 'errored') && r.case.location);
  const room = Math.max(0, ANNOTATIONS_PER_STEP - used);
  for (const r of failing.slice(0, room)) {
    const failed = r.score?.assertions.find((a) => !a.pass && !a.notApplicable);
    const why = r.error ?? failed?.reason ?? r.score?.reason ?? 'failed';
    core.warning(`${r.case.provider}: ${r.case.description}: ${oneLine(why)}`, { title: `batch-evals: ${r.status} case`, ...properties(r.case.location, root) });
  }
  return Math.max(0, failing.length - room);
}

/** `root`: the directory standing for the repository (a config fetched at another commit); default the workspace. */
export function properties(location: SourceLocation | undefined, root = process.env.GITHUB_WORKSPACE ?? process.cwd()): core.AnnotationProperties {
  if (!location) return {};
  return { file: relative(root, location.file).split('\\').join('/'), startLine: location.line, startColumn: location.column };
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 299)}…` : flat;
}
