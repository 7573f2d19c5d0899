import { describe, expect, it } from 'vitest';
import type { PlannedCase } from '../../src/plan/plan.ts';
import { renderMarkdown, type ReportData } from '../../src/report/markdown.ts';
import { summarize } from '../../src/report/summary.ts';
import type { CaseResult } from '../../src/score/score-run.ts';

function result(provider: string, model: string, status: CaseResult['status'], extra: Partial<CaseResult> = {}): CaseResult {
  const c: PlannedCase = {
    index: 0,
    provider,
    prompt: 'support',
    description: 'Return policy',
    vars: {},
    assertions: [{ type: 'contains', negate: false, value: '30 days', weight: 1 }],
    metadata: {},
    requestId: `r${Math.random()}`,
  };
  return { case: c, model, status, billed: true, usage: { inputTokens: 800, outputTokens: 200, cachedInputTokens: 0, cacheWriteTokens: 0 }, cost: { batch: 0.002, realtime: 0.004 }, ...extra };
}

function report(results: CaseResult[], extra: Partial<ReportData> = {}): string {
  return renderMarkdown({ title: 'Quickstart', status: 'completed', minPassRate: 1, summary: summarize(results), results, batches: [{ label: 'openai:gpt-4o', batchId: 'batch_1', providerStatus: 'completed' }], ...extra });
}

describe('the report', () => {
  it('has a row per model with counts, pass rate and costs, and a total', () => {
    const md = report([
      result('a', 'gpt-4o', 'passed'),
      result('a', 'gpt-4o', 'failed', { output: 'nope', score: { pass: false, score: 0, reason: 'missing', namedScores: {}, assertions: [] } }),
      result('b', 'gpt-4o-mini', 'passed'),
      result('b', 'gpt-4o-mini', 'errored', { error: 'server_error: boom (retryable)', usage: undefined, cost: undefined }),
    ], { status: 'failed' });
    expect(md).toContain('| a | 2 | 1 | 1 | 0 | 50.0% | $0.0040 | $0.0080 | $0.0040 |');
    expect(md).toContain('| b | 2 | 1 | 0 | 1 | 50.0% | $0.0020 | $0.0040 | $0.0020 |');
    expect(md).toContain('| **Total** | 4 | 2 | 1 | 1 | 50.0% | $0.0060 | $0.0120 | $0.0060 |');
    expect(md).toMatch(/^## ❌ batch-evals: Quickstart/);
    expect(md).toContain('**50.0% passed** (2 of 4 cases)');
    expect(md).toContain('<details><summary>2 failing cases</summary>');
    expect(md).toContain('server\\_error: boom \\(retryable\\)');
  });

  it('says price unknown instead of $0 for a model without a price', () => {
    const md = report([result('x', 'mystery', 'passed', { cost: undefined })]);
    expect(md).toContain('| x | 1 | 1 | 0 | 0 | 100% | price unknown | price unknown | price unknown |');
    expect(md).toMatch(/Price unknown for 1 request/);
  });

  it('shows failing output inside a code block that the output cannot break out of', () => {
    const output = '```\n</details>\n@everyone <img src=x>';
    const md = report([result('a', 'gpt-4o', 'failed', { output, score: { pass: false, score: 0, reason: 'Expected output to contain "30 days"', namedScores: {}, assertions: [] } })]);
    const details = md.slice(md.indexOf('<details>'), md.indexOf('</details>\n\n<sub>') + 10);
    expect(details.match(/<\/details>/g)).toHaveLength(2); // the output's, fenced, and ours
    expect(md).toContain('````text\n```\n</details>\n@everyone <img src=x>\n````');
  });

  it('counts pending cases apart from the pass rate', () => {
    const md = report([result('a', 'gpt-4o', 'passed'), result('a', 'gpt-4o', 'pending', { usage: undefined, cost: undefined, billed: false })], { status: 'pending' });
    expect(md).toMatch(/^## ⏳/);
    expect(md).toContain('**100% passed** (1 of 1 case) · **1 case pending** in running batches');
  });
});
