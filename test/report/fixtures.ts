import type { Assertion } from '../../src/config/types.ts';
import type { PlannedCase } from '../../src/plan/plan.ts';
import { renderMarkdown, type ReportData } from '../../src/report/markdown.ts';
import { summarize } from '../../src/report/summary.ts';
import type { AssertionResult } from '../../src/score/types.ts';
import type { CaseResult } from '../../src/score/score-run.ts';

/** Renders a report of `results` titled "Quickstart", one OpenAI batch, everything else from `extra`. */
export function report(results: CaseResult[], extra: Partial<ReportData> = {}): string {
  return renderMarkdown({ title: 'Quickstart', status: 'completed', minPassRate: 1, summary: summarize(results), results, batches: [{ label: 'openai:gpt-4o', batchId: 'batch_1', providerStatus: 'completed' }], ...extra });
}

export interface CaseSpec {
  provider: string;
  description: string;
  status: CaseResult['status'];
  prompt?: string;
  vars?: Record<string, unknown>;
  location?: { file: string; line: number; column: number };
  output?: string;
  /** The request's id; by default one per provider, description and vars. */
  requestId?: string;
  /** A failed case's assertions: given, a passing one, a not-applicable one, then `assertion` failing for this reason, then another failing one. */
  reason?: string;
  assertion?: Assertion;
  /** An errored case's error; a retryable server error by default. */
  error?: string;
}

export const CONTAINS: Assertion = { type: 'contains', negate: false, value: '30 days', weight: 1 };

/** A result of one provider on one case; cases with the same prompt, description (or location) and vars are the same case. */
export function caseResult({ provider, description, status, prompt = 'support', vars = {}, location, output, requestId, reason, assertion = CONTAINS, error }: CaseSpec): CaseResult {
  const c: PlannedCase = { index: 0, provider, prompt, description, vars, assertions: [], metadata: {}, location, requestId: requestId ?? `r-${provider}-${description}-${JSON.stringify(vars)}` };
  const scored = status === 'passed' || status === 'failed';
  const assertions: AssertionResult[] =
    reason === undefined
      ? []
      : [
          { assertion: { type: 'icontains', negate: false, value: 'refund', weight: 1 }, pass: true, score: 1, reason: 'Assertion passed' },
          // As the scorer makes them: not passed, and not failed either.
          { assertion: { type: 'latency', negate: false, weight: 1, threshold: 1000 }, pass: false, score: 0, reason: 'latency cannot be measured in a batch', notApplicable: true },
          { assertion, pass: false, score: 0, reason },
          { assertion: { type: 'is-json', negate: false, weight: 1 }, pass: false, score: 0, reason: 'SECOND FAILURE, not the first' },
        ];
  return {
    case: c,
    model: provider,
    status,
    billed: status !== 'pending',
    output: scored ? (output ?? `answer of ${provider}`) : undefined,
    score: scored ? { pass: status === 'passed', score: status === 'passed' ? 1 : 0, reason: status, namedScores: {}, assertions } : undefined,
    error: status === 'errored' ? (error ?? 'server_error: boom (retryable)') : undefined,
  };
}

/** The same cases run by several providers: `statuses` maps a description to one status per provider, in order. */
export function grid(providers: string[], statuses: Record<string, CaseResult['status'][]>): CaseResult[] {
  return providers.flatMap((provider, p) => Object.entries(statuses).map(([description, s]) => caseResult({ provider, description, status: s[p] })));
}

/**
 * The markdown outside fenced code blocks, as CommonMark reads fences: a run of 3+ backticks opens one, and
 * only a line of at least as many backticks (and nothing else) closes it; an unclosed fence runs to the end.
 * `blocks` are the fenced blocks' contents, fences included; `unclosed` says the last one never closed.
 */
export function splitFences(md: string): { outside: string; blocks: string[]; unclosed: boolean } {
  const outside: string[] = [];
  const blocks: string[] = [];
  let open: { fence: number; lines: string[] } | undefined;
  for (const line of md.split('\n')) {
    if (!open) {
      const m = /^ {0,3}(`{3,})[^`]*$/.exec(line);
      if (m) open = { fence: m[1].length, lines: [line] };
      else outside.push(line);
      continue;
    }
    open.lines.push(line);
    const close = /^ {0,3}(`{3,})\s*$/.exec(line);
    if (close && close[1].length >= open.fence) {
      blocks.push(open.lines.join('\n'));
      open = undefined;
    }
  }
  if (open) blocks.push(open.lines.join('\n'));
  return { outside: outside.join('\n'), blocks, unclosed: open !== undefined };
}
