import type { SourceLocation } from './types.ts';

export interface ConfigIssue {
  message: string;
  location?: SourceLocation;
  /** Key path inside the file, e.g. `tests[2].assert[0].type`. */
  keyPath?: string;
  /** Set when the problem is a referenced file that does not exist: the path that was tried. */
  missingFile?: string;
  /** Set when a referenced file is outside the directory references are confined to (confineReferences): its path. */
  outsideFile?: string;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.location ? `${issue.location.file}:${issue.location.line}:${issue.location.column}` : '';
  const key = issue.keyPath ? `${issue.keyPath}: ` : '';
  return [where, `${key}${issue.message}`].filter(Boolean).join(' ');
}

/** A suite that cannot be run as written. Carries every problem found, each with its place in the file. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const lines = issues.map(formatIssue);
    super(lines.length === 1 ? lines[0] : `${lines.length} problems in the eval config:\n${lines.map((l) => `  ${l}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function keyPathString(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out;
}
