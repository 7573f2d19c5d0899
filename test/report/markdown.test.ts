import { describe, expect, it } from 'vitest';
import type { PlannedCase } from '../../src/plan/plan.ts';
import type { CaseResult } from '../../src/score/score-run.ts';
import { caseResult, grid, report } from './fixtures.ts';

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

// ---- the table of cases where the models disagree --------------------------------------------------------------------

const SUMMARY = / where the models disagree<\/summary>/;

/** The lines of the disagreement section, from its <details open> to its </details>; undefined when there is none. */
function disagreementSection(md: string): string[] | undefined {
  const start = md.indexOf('<details open>');
  if (start === -1) return undefined;
  const end = md.indexOf('</details>', start);
  return md.slice(start, end + '</details>'.length).split('\n');
}

describe('the report: cases where the models disagree', () => {
  it('lists only the cases whose statuses differ, a ✅/❌/⚠️/⏳ column per model, between the totals and the failures', () => {
    const results = grid(['openai:gpt-4.1-mini', 'anthropic:messages:claude-haiku-4-5'], {
      'Both pass': ['passed', 'passed'],
      'Return policy': ['passed', 'failed'],
      'Keeps answers short': ['failed', 'passed'],
      'Both fail': ['failed', 'failed'],
      'Server error': ['errored', 'failed'],
      'Still running': ['passed', 'pending'],
      'Both errored': ['errored', 'errored'],
    });
    const md = report(results, { status: 'failed' });

    expect(disagreementSection(md)).toEqual([
      '<details open><summary>4 cases where the models disagree</summary>',
      '',
      '| Case | openai:gpt-4.1-mini | anthropic:messages:claude-haiku-4-5 |',
      '|:--|:-:|:-:|',
      '| Return policy \\(prompt support\\) | ✅ | ❌ |',
      '| Keeps answers short \\(prompt support\\) | ❌ | ✅ |',
      '| Server error \\(prompt support\\) | ⚠️ | ❌ |',
      '| Still running \\(prompt support\\) | ✅ | ⏳ |',
      '',
      '</details>',
    ]);
    // After the table of models (and its Total), before the failing cases.
    const total = md.indexOf('| **Total** | 14 |');
    const table = md.indexOf('<details open><summary>4 cases where the models disagree');
    const failures = md.indexOf('<details><summary>8 failing cases</summary>');
    expect(total).toBeGreaterThan(0);
    expect(table).toBeGreaterThan(total);
    expect(failures).toBeGreaterThan(table);
  });

  it('says "1 case" in the singular', () => {
    const md = report(grid(['a', 'b'], { One: ['passed', 'failed'], Two: ['passed', 'passed'] }));
    expect(disagreementSection(md)?.[0]).toBe('<details open><summary>1 case where the models disagree</summary>');
  });

  it('is left out with a single model, even when its cases pass and fail', () => {
    const md = report(grid(['openai:gpt-4.1-mini'], { 'Return policy': ['passed'], 'Keeps answers short': ['failed'], 'Server error': ['errored'] }), { status: 'failed' });
    expect(md).not.toMatch(SUMMARY);
    expect(md).not.toContain('<details open>');
    expect(md).not.toContain('| Case |');
    expect(md).toContain('<details><summary>2 failing cases</summary>');
  });

  it('is left out when every model has the same status on every case', () => {
    const md = report(grid(['a', 'b', 'c'], { One: ['passed', 'passed', 'passed'], Two: ['failed', 'failed', 'failed'], Three: ['errored', 'errored', 'errored'] }), { status: 'failed' });
    expect(md).not.toMatch(SUMMARY);
    expect(md).not.toContain('| Case |');
    expect(md).toContain('| **Total** | 9 | 3 | 3 | 3 |');
  });

  it('tells apart the cases of one test expanded from a list of vars, of two prompts, and of two tests with one description', () => {
    const loc = (line: number) => ({ file: '/suite.yaml', line, column: 5 });
    const results = ['a', 'b'].flatMap((provider) => [
      // One test, vars expanded from a list: only Grace splits the models.
      caseResult({ provider, description: 'Greets by name', vars: { name: 'Ada' }, location: loc(10), status: 'passed' }),
      caseResult({ provider, description: 'Greets by name', vars: { name: 'Grace' }, location: loc(10), status: provider === 'a' ? 'passed' : 'failed' }),
      // The same test under two prompts: only the terse prompt splits them.
      caseResult({ provider, description: 'Return policy', prompt: 'terse', location: loc(20), status: provider === 'a' ? 'failed' : 'passed' }),
      caseResult({ provider, description: 'Return policy', prompt: 'chatty', location: loc(20), status: 'passed' }),
      // Two tests with the same description at different places: the second splits them.
      caseResult({ provider, description: 'Same words', location: loc(30), status: 'failed' }),
      caseResult({ provider, description: 'Same words', location: loc(40), status: provider === 'a' ? 'errored' : 'failed' }),
    ]);
    const md = report(results, { status: 'failed' });
    expect(disagreementSection(md)?.slice(0, 7)).toEqual([
      '<details open><summary>3 cases where the models disagree</summary>',
      '',
      '| Case | a | b |',
      '|:--|:-:|:-:|',
      '| Greets by name \\(prompt support\\) | ✅ | ❌ |',
      '| Return policy \\(prompt terse\\) | ❌ | ✅ |',
      '| Same words \\(prompt support\\) | ⚠️ | ❌ |',
    ]);
  });

  it('with three models, marks a model that did not run a case with –', () => {
    const results = [
      ...grid(['a', 'b', 'c'], { Everyone: ['passed', 'failed', 'passed'] }),
      // c only runs the first prompt (a provider `prompts:` filter): it has no result for these cases.
      caseResult({ provider: 'a', description: 'Only a and b', prompt: 'other', status: 'passed' }),
      caseResult({ provider: 'b', description: 'Only a and b', prompt: 'other', status: 'errored' }),
      caseResult({ provider: 'a', description: 'Agreed by a and b', prompt: 'other', status: 'failed' }),
      caseResult({ provider: 'b', description: 'Agreed by a and b', prompt: 'other', status: 'failed' }),
    ];
    const md = report(results, { status: 'failed' });
    expect(disagreementSection(md)).toEqual([
      '<details open><summary>2 cases where the models disagree</summary>',
      '',
      '| Case | a | b | c |',
      '|:--|:-:|:-:|:-:|',
      '| Everyone \\(prompt support\\) | ✅ | ❌ | ✅ |',
      '| Only a and b \\(prompt other\\) | ✅ | ⚠️ | – |',
      '',
      '</details>',
    ]);
  });

  it('does not count a case that only one model ran as a disagreement', () => {
    // b only runs the shared prompt: everything passes, and the models agree wherever both ran.
    const results = [
      caseResult({ provider: 'a', description: 'Q', prompt: 'shared', status: 'passed' }),
      caseResult({ provider: 'b', description: 'Q', prompt: 'shared', status: 'passed' }),
      caseResult({ provider: 'a', description: 'Q', prompt: 'only-a', status: 'passed' }),
      caseResult({ provider: 'a', description: 'R', prompt: 'only-a', status: 'failed' }),
    ];
    const md = report(results, { status: 'failed' });
    expect(md).toContain('| a | 3 | 2 | 1 | 0 | 66.7% |');
    expect(md).toContain('| b | 1 | 1 | 0 | 0 | 100% |');
    expect(md).not.toMatch(SUMMARY);
    expect(md).not.toContain('| Case |');
  });

  it('shows at most 30 rows and counts the rest', () => {
    const statuses: Record<string, CaseResult['status'][]> = {};
    for (let i = 1; i <= 33; i++) statuses[`Case ${String(i).padStart(2, '0')}`] = ['passed', 'failed'];
    statuses['Agreed'] = ['passed', 'passed'];
    const md = report(grid(['a', 'b'], statuses), { status: 'failed' });
    const section = disagreementSection(md)!;
    expect(section[0]).toBe('<details open><summary>33 cases where the models disagree</summary>');
    const rows = section.filter((l) => l.startsWith('| Case ') && !l.startsWith('| Case |'));
    expect(rows).toHaveLength(30);
    expect(rows[0]).toBe('| Case 01 \\(prompt support\\) | ✅ | ❌ |');
    expect(rows[29]).toBe('| Case 30 \\(prompt support\\) | ✅ | ❌ |');
    expect(section.slice(-4)).toEqual(['', '…and 3 more in the results file.', '', '</details>']);
    expect(md).not.toContain('Case 31 \\(prompt');
    expect(md.match(/\| Case 3[1-3] /g)).toBeNull();
  });

  it('escapes model labels, descriptions and prompt labels, keeps a row to one line, and shows no model output', () => {
    const evilLabel = 'openai:x|y <b>bold</b> @octocat';
    const evilDescription = 'Leaks | a cell\n## heading <img src=x onerror=alert(1)> @everyone [click](https://evil.example)';
    const output = '</details>\n| fake | row |\n<script>alert(1)</script>';
    const results = [
      caseResult({ provider: evilLabel, description: evilDescription, prompt: 'p|<i>', status: 'passed', output }),
      caseResult({ provider: 'plain', description: evilDescription, prompt: 'p|<i>', status: 'failed', output }),
    ];
    const md = report(results, { status: 'failed' });
    const section = disagreementSection(md)!;
    expect(section).toEqual([
      '<details open><summary>1 case where the models disagree</summary>',
      '',
      '| Case | openai:x\\|y &lt;b&gt;bold&lt;/b&gt; @\u200boctocat | plain |',
      '|:--|:-:|:-:|',
      '| Leaks \\| a cell \\#\\# heading &lt;img src=x onerror=alert\\(1\\)&gt; @\u200beveryone \\[click\\]\\(https:\u200b//evil.example\\) \\(prompt p\\|&lt;i&gt;\\) | ✅ | ❌ |',
      '',
      '</details>',
    ]);
    // Every row has exactly one cell per column: no unescaped | inside a cell.
    for (const line of section.filter((l) => l.startsWith('|'))) expect(line.split(/(?<!\\)\|/).length - 2).toBe(3);
    expect(section.join('\n')).not.toContain('fake');
    expect(section.join('\n')).not.toContain('script');
    // The output is shown only in the failing case, fenced.
    expect(md).toContain('```text\n</details>\n| fake | row |\n<script>alert(1)</script>\n```');
  });

  it('cuts a long model label to 60 characters and a long case title to 120', () => {
    const long = `openai:${'m'.repeat(100)}`;
    const md = report([caseResult({ provider: long, description: 'd'.repeat(200), status: 'passed' }), caseResult({ provider: 'b', description: 'd'.repeat(200), status: 'failed' })], { status: 'failed' });
    const [, , header, , row] = disagreementSection(md)!;
    expect(header).toBe(`| Case | openai:${'m'.repeat(52)}… | b |`);
    expect(row).toBe(`| ${'d'.repeat(119)}… | ✅ | ❌ |`);
  });
});

describe('the report: assertions of a failing case', () => {
  it('gives the reason of failed and not-applicable assertions only', () => {
    const assertions = [
      { assertion: { type: 'contains', negate: false, value: '30 days', weight: 1 }, pass: true, score: 1, reason: 'Assertion passed' },
      { assertion: { type: 'icontains', negate: true, value: 'as an AI', weight: 1 }, pass: false, score: 0, reason: 'Expected output to not contain "as an AI"' },
      { assertion: { type: 'latency', negate: false, weight: 1, threshold: 1000 }, pass: true, score: 0, reason: 'latency cannot be measured in a batch', notApplicable: true },
      { assertion: { type: 'word-count', negate: false, value: { max: 60 }, weight: 1 }, pass: false, score: 0, reason: 'Word count 75 is not at most 60' },
    ];
    const md = report([result('a', 'gpt-4o', 'failed', { output: 'As an AI...', score: { pass: false, score: 0.25, reason: 'x', namedScores: {}, assertions } })], { status: 'failed' });
    const start = md.indexOf('**❌ failed** · a · prompt support · Return policy');
    expect(start).toBeGreaterThan(0);
    expect(md.slice(start).split('\n').slice(0, 6)).toEqual([
      '**❌ failed** · a · prompt support · Return policy',
      '',
      '- ✔️ `contains` 30 days',
      '- ✖️ `not-icontains` as an AI: Expected output to not contain "as an AI"',
      '- ➖ `latency` (threshold 1000): latency cannot be measured in a batch',
      '- ✖️ `word-count` \\{"max":60\\}: Word count 75 is not at most 60',
    ]);
    expect(md).not.toContain('Assertion passed');
  });
});
