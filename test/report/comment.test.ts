import { describe, expect, it } from 'vitest';
import { compare, toBaseline, type Comparison } from '../../src/report/baseline.ts';
import type { CaseResult } from '../../src/score/score-run.ts';
import { caseResult, report, splitFences, type CaseSpec } from './fixtures.ts';

// The pull-request comment: the report rendered against the base branch's baseline, within a size budget.

const OPENAI = 'openai:gpt-4.1-mini';
const CLAUDE = 'anthropic:claude-haiku-4-5';
const ELSEWHERE = 'the job summary and the results file';
const COMMENT_MAX_CHARS = 65_336;

/** A baseline of `ref` (null: a baseline without a ref) made from `before`, compared with `after`. */
function against(before: CaseResult[], after: CaseResult[], ref: string | null = 'main'): Comparison {
  return compare(after, toBaseline(before, { suite: 'Quickstart', sha: 'base0123456789abcdef', ref: ref ?? undefined }));
}

/** One case on main and now; now's request id differs, as after an edit of the prompt's text. */
function pair(spec: Omit<CaseSpec, 'status'>, before: CaseResult['status'], now: CaseResult['status'], extra: Partial<CaseSpec> = {}): [CaseResult, CaseResult] {
  return [caseResult({ ...spec, status: before, requestId: `main-${spec.provider}-${spec.description}` }), caseResult({ ...spec, ...extra, status: now })];
}

/**
 * On main: GPT passes A–D; Claude passes A and D, fails B, errors on C (6 of 8, 75%).
 * Now: GPT fails B and errors on D; Claude passes A–C and fails D (5 of 8, 62.5%).
 * So 3 regressions (GPT B, GPT D, Claude D) and 2 fixes (Claude B, Claude C).
 */
function scenario() {
  const pairs = [
    pair({ provider: OPENAI, description: 'Greets by name' }, 'passed', 'passed'),
    pair({ provider: OPENAI, description: 'Return policy' }, 'passed', 'failed', { reason: 'Expected output to contain "30 days"' }),
    pair({ provider: OPENAI, description: 'Keeps it short' }, 'passed', 'passed'),
    pair({ provider: OPENAI, description: 'Refuses politely' }, 'passed', 'errored', { error: 'server_error: boom (retryable)' }),
    pair({ provider: CLAUDE, description: 'Greets by name' }, 'passed', 'passed'),
    pair({ provider: CLAUDE, description: 'Return policy' }, 'failed', 'passed'),
    pair({ provider: CLAUDE, description: 'Keeps it short' }, 'errored', 'passed'),
    pair({ provider: CLAUDE, description: 'Refuses politely' }, 'passed', 'failed', { reason: 'Expected output to contain "sorry"', assertion: { type: 'icontains', negate: false, value: 'sorry', weight: 1 } }),
  ];
  const before = pairs.map(([b]) => b);
  const now = pairs.map(([, n]) => n);
  return { before, now, comparison: against(before, now) };
}

/** The lines of the section that starts with the line `title`, up to the next blank line after its list. */
function section(md: string, title: string | RegExp): string[] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => (typeof title === 'string' ? l === title : title.test(l)));
  if (start === -1) return [];
  const end = lines.findIndex((l, i) => i > start + 1 && l === '');
  return lines.slice(start, end);
}

describe('the comment against a baseline', () => {
  const { now, comparison } = scenario();
  const md = report(now, { status: 'failed', comparison, baselineNote: 'Compared with `main` at base01234567.' });

  it('says in the headline how far the pass rate moved, in points, and how many cases regressed and were fixed', () => {
    expect(md.split('\n')[2]).toBe('**62.5% passed** (5 of 8 cases) · −12.5 pts against `main` at `base012` · **3 regressions** · 2 fixes · batch cost $0.00 · saved $0.00 against real time · below the required 100%');
  });

  it('has a Change column with each model\'s move in points, and the total\'s', () => {
    expect(md).toContain('| Model | Cases | Passed | Failed | Errored | Pass rate | Change | Batch cost | Real-time cost | Saved |\n|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
    expect(md).toContain(`| ${OPENAI} | 4 | 2 | 1 | 1 | 50.0% | −50.0 pts | $0.00 | $0.00 | $0.00 |`);
    expect(md).toContain(`| ${CLAUDE} | 4 | 3 | 1 | 0 | 75.0% | +25.0 pts | $0.00 | $0.00 | $0.00 |`);
    expect(md).toContain('| **Total** | 8 | 5 | 2 | 1 | 62.5% | −12.5 pts | $0.00 | $0.00 | $0.00 |');
  });

  it('lists each regression with its model, test and first failing assertion (or its error)', () => {
    expect(section(md, /^### ❌/)).toEqual([
      '### ❌ 3 regressions: passed on `main`, fail now',
      '',
      `- ${OPENAI} · Return policy · \`contains\` 30 days: Expected output to contain "30 days"`,
      `- ${OPENAI} · Refuses politely · server\\_error: boom \\(retryable\\)`,
      `- ${CLAUDE} · Refuses politely · \`icontains\` sorry: Expected output to contain "sorry"`,
    ]);
    // The first failing assertion only: not the passing one before it, nor the failing one after.
    expect(section(md, /^### ❌/).join('\n')).not.toMatch(/refund|latency|SECOND FAILURE/);
  });

  it('lists the fixes with their model and test', () => {
    expect(section(md, /^### ✅/)).toEqual(['### ✅ 2 fixes: failed on `main`, pass now', '', `- ${CLAUDE} · Return policy`, `- ${CLAUDE} · Keeps it short`]);
  });

  it('orders headline, table, chart, regressions, fixes, disagreements, failures, run facts', () => {
    const at = ['**62.5% passed**', '| **Total** |', '```mermaid', '### ❌ 3 regressions', '### ✅ 2 fixes', 'where the models disagree</summary>', '<details><summary>3 failing cases</summary>', '<sub>Batches:'].map((s) => md.indexOf(s));
    for (const i of at) expect(i).toBeGreaterThan(0);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it('charts this run\'s pass rate per model as bars and the baseline\'s as a line', () => {
    const { blocks } = splitFences(md);
    const mermaid = blocks.filter((b) => b.startsWith('```mermaid'));
    expect(mermaid).toHaveLength(1);
    const lines = mermaid[0].split('\n');
    expect(lines).toContain('xychart-beta');
    expect(lines).toContain('  title "Pass rate by model, % (line: base branch)"');
    expect(lines).toContain('  x-axis ["gpt-4.1-mini", "claude-haiku-4-5"]');
    expect(lines).toContain('  y-axis "pass rate %" 0 --> 100');
    expect(lines).toContain('  bar [50, 75]');
    expect(lines).toContain('  line [100, 50]');
    expect(lines.at(-1)).toBe('```');
  });

  it('does not show the baseline note when there is a comparison', () => {
    expect(md).not.toContain('Compared with');
  });

  it('says "the base branch" when the baseline has no ref, and shows a ref as written', () => {
    const { before, now } = scenario();
    const noRef = report(now, { comparison: against(before, now, null) });
    expect(noRef).toContain(' · −12.5 pts against the base branch at `base012` · ');
    expect(noRef).toContain('### ❌ 3 regressions: passed on the base branch, fail now');
    expect(noRef).toContain('### ✅ 2 fixes: failed on the base branch, pass now');
    // In a code span a backslash shows as itself, so a ref there must not be markdown-escaped.
    const underscored = report(now, { comparison: against(before, now, 'release_2.x') });
    expect(underscored).toContain(' · −12.5 pts against `release_2.x` at `base012` · ');
    expect(underscored).toContain('### ❌ 3 regressions: passed on `release_2.x`, fail now');
    expect(underscored).not.toContain('release\\_2');
    // A ref cannot end its code span early: inside one, nothing is HTML or a mention.
    const sneaky = report(now, { comparison: against(before, now, 'x`<img src=y>`@z') });
    expect(sneaky).toContain(' · −12.5 pts against `x <img src=y> @z` at `base012` · ');
    expect(sneaky).toContain('### ❌ 3 regressions: passed on `x <img src=y> @z`, fail now');
  });
});

describe('the comment against a baseline: edge cases', () => {
  it('marks a model the baseline did not have as new, and shows ±0 for no change', () => {
    const before = [caseResult({ provider: OPENAI, description: 'One', status: 'passed' }), caseResult({ provider: OPENAI, description: 'Two', status: 'failed' })];
    const now = [...before, caseResult({ provider: CLAUDE, description: 'One', status: 'passed' }), caseResult({ provider: CLAUDE, description: 'Two', status: 'passed' })];
    const md = report(now, { comparison: against(before, now) });
    expect(md).toContain(`| ${OPENAI} | 2 | 1 | 1 | 0 | 50.0% | ±0 pts |`);
    expect(md).toContain(`| ${CLAUDE} | 2 | 2 | 0 | 0 | 100% | new |`);
    expect(md).toContain('| **Total** | 4 | 3 | 1 | 0 | 75.0% | +25.0 pts |');
    expect(md).toContain('(3 of 4 cases) · +25.0 pts against `main` at `base012` · batch cost');
    expect(md).not.toContain('regression');
    expect(md).not.toContain('### ✅');
  });

  it('charts a single model when comparing, and not without a comparison', () => {
    const before = [caseResult({ provider: OPENAI, description: 'One', status: 'passed' })];
    const now = [caseResult({ provider: OPENAI, description: 'One', status: 'failed' })];
    const md = report(now, { comparison: against(before, now) });
    expect(md).toContain('  bar [0]\n  line [100]\n```');
    expect(report(now)).not.toContain('```mermaid');
  });

  it('without a baseline shows the note why, and no Change column or points', () => {
    const now = scenario().now;
    const md = report(now, { baselineNote: 'No baseline for main yet: regressions show once a run on main has saved one.' });
    expect(md).toContain('<sub>No baseline for main yet: regressions show once a run on main has saved one.</sub>');
    expect(md).not.toContain('Change');
    expect(md).not.toContain(' pts');
    expect(md).not.toContain('### ❌');
    expect(md).not.toContain('line [');
    // Two models: still a chart, of this run only.
    expect(md).toContain('  title "Pass rate by model, %"\n');
    expect(md).toContain('| **Total** | 8 | 5 | 2 | 1 | 62.5% | $0.00 | $0.00 | $0.00 |');
  });

  it('shows the note\'s branch names as code and escapes the rest, which can quote an error', () => {
    const now = scenario().now;
    const missing = report(now, { baselineNote: 'No baseline for `release_2` yet: regressions show once a run of this suite on `release_2` has saved one (a push, schedule or manual run there).' });
    expect(missing).toContain('\n<sub>No baseline for `release_2` yet: regressions show once a run of this suite on `release_2` has saved one \\(a push, schedule or manual run there\\).</sub>\n');
    const broken = report(now, { baselineNote: 'The baseline of `main` could not be read from the Actions cache (<img src=x> @octocat `</sub>` [x](https://evil.example)), so regressions are not shown.' });
    expect(broken).toContain('\n<sub>The baseline of `main` could not be read from the Actions cache \\(&lt;img src=x&gt; @\u200boctocat `</sub>` \\[x\\]\\(https:\u200b//evil.example\\)\\), so regressions are not shown.</sub>\n');
  });

  it('gives the reason of a failed case that has no failing assertion (it fell below its threshold)', () => {
    const before = [caseResult({ provider: OPENAI, description: 'Close enough', status: 'passed' })];
    const failed = caseResult({ provider: OPENAI, description: 'Close enough', status: 'failed' });
    failed.score = { pass: false, score: 0.6, reason: 'Aggregate score 0.60 < 0.80 threshold', namedScores: {}, assertions: [] };
    const md = report([failed], { comparison: against(before, [failed]) });
    expect(section(md, /^### ❌/)[2]).toBe(`- ${OPENAI} · Close enough · Aggregate score 0.60 &lt; 0.80 threshold`);
  });
});

describe('the comment: run facts', () => {
  const now = [caseResult({ provider: OPENAI, description: 'One', status: 'passed' })];

  it('ends with the commit, a link to the workflow run and the command that reproduces the run', () => {
    const md = report(now, {
      facts: { configPath: 'evals/support.yaml', sha: '0123456789abcdef0123', runUrl: 'https://github.com/acme/app/actions/runs/42/attempts/1' },
      batches: [{ label: OPENAI, batchId: 'batch_abc', providerStatus: 'completed', submittedAt: '2026-11-25T10:00:00Z', endedAt: '2026-11-25T10:12:00Z' }],
    });
    const lines = md.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('<sub>Commit `0123456789ab` · [workflow run](https://github.com/acme/app/actions/runs/42/attempts/1) · reproduce locally with `npx batch-evals run evals/support.yaml`</sub>');
    expect(lines.at(-3)).toMatch(/^<sub>Batches: openai:gpt-4\.1-mini: `batch_abc` completed in 12m.*<\/sub>$/);
  });

  it('links only an https URL, and keeps the config path inside its code span', () => {
    for (const runUrl of ['javascript:alert(1)', 'http://github.com/x', 'https://evil.example/a)(b', 'https://x y']) {
      const md = report(now, { facts: { configPath: 'evals/a`b.yaml', runUrl } });
      expect(md.trimEnd().split('\n').at(-1)).toBe('<sub>reproduce locally with `npx batch-evals run evals/a b.yaml`</sub>');
    }
  });
});

// ---- untrusted model output ---------------------------------------------------------------------------------------------

const HOSTILE = [
  'Sure!',
  '</details>',
  '</details></details>',
  '@someone please look',
  '![x](http://evil.example/pixel.png)',
  '[click](https://evil.example/phish)',
  '```',
  '````',
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '## Not a heading',
  '| fake | row |',
].join('\n');

/** What the markdown outside every code block must not contain, whatever the model said. */
function expectNeutral(md: string) {
  const { outside, unclosed, blocks } = splitFences(md);
  expect(unclosed).toBe(false);
  // Only our own <details> open and close.
  expect((outside.match(/<details[ >]/g) ?? []).length).toBe((outside.match(/<\/details>/g) ?? []).length);
  expect(outside).not.toMatch(/<(img|script)/i);
  expect(outside).not.toMatch(/(^|[^\u200b])@someone/);
  expect(outside).not.toMatch(/!\[x\]\(/);
  expect(outside).not.toMatch(/(?<!\\)\]\(https?:\/\/evil/);
  expect(outside).not.toContain('http://evil');
  expect(outside).not.toContain('https://evil');
  expect(outside).not.toMatch(/^## Not a heading/m);
  expect(outside).not.toMatch(/^\| fake \| row \|/m);
  // Every block is one we made: a chart or a fenced output.
  for (const b of blocks) expect(b).toMatch(/^(```mermaid|`{3,}text)\n/);
}

describe('the comment: untrusted model output', () => {
  const before = ['One', 'Two', 'Three'].map((description) => caseResult({ provider: OPENAI, description, status: 'passed' }));
  const now = [
    caseResult({ provider: OPENAI, description: 'One', status: 'failed', output: HOSTILE, reason: `Expected output "${HOSTILE}" to equal "hi"` }),
    caseResult({ provider: OPENAI, description: 'Two', status: 'errored', error: `invalid_response: the model said ${HOSTILE}` }),
    caseResult({ provider: OPENAI, description: 'Three', status: 'failed', output: HOSTILE, reason: 'ok', assertion: { type: 'equals', negate: false, value: HOSTILE, weight: 1 } }),
  ];
  const md = report(now, { status: 'failed', comparison: against(before, now), maxChars: COMMENT_MAX_CHARS, elsewhere: ELSEWHERE });

  it('reaches the regressions, the failures and their code blocks', () => {
    expect(md).toContain('### ❌ 3 regressions');
    expect(md).toContain('<details><summary>3 failing cases</summary>');
    const regressions = section(md, /^### ❌/);
    expect(regressions).toHaveLength(5); // one line per case, however many lines the output had
    const escaped = 'Sure\\! &lt;/details&gt; &lt;/details&gt;&lt;/details&gt; @\u200bsomeone please look \\!\\[x\\]\\(http:\u200b//evil.example/pixel.png\\)';
    const start = (line: string, prefix: string) => expect(line.slice(0, prefix.length)).toBe(prefix);
    start(regressions[2], `- ${OPENAI} · One · \`contains\` 30 days: Expected output "${escaped}`);
    start(regressions[3], `- ${OPENAI} · Two · invalid\\_response: the model said ${escaped}`);
    start(regressions[4], `- ${OPENAI} · Three · \`equals\` ${escaped}`);
    expect(regressions[4].slice(-5)).toBe('…: ok');
  });

  it('fences the output so that it cannot close the block, and shows it unchanged inside', () => {
    const { blocks } = splitFences(md);
    const outputs = blocks.filter((b) => b.startsWith('`````text\n'));
    expect(outputs).toEqual([`\`\`\`\`\`text\n${HOSTILE}\n\`\`\`\`\``, `\`\`\`\`\`text\n${HOSTILE}\n\`\`\`\`\``]);
  });

  it('neutralises it in every section outside the code blocks', () => {
    expectNeutral(md);
  });

  it('cannot break the chart out of its code block through a model label', () => {
    const evil = 'a"]\n```\n<img src=x>';
    const results = [caseResult({ provider: evil, description: 'One', status: 'failed', reason: 'r' }), caseResult({ provider: `${OPENAI}\`\`\``, description: 'One', status: 'passed' })];
    const out = report(results, { comparison: against(results, results) });
    const { blocks, outside, unclosed } = splitFences(out);
    expect(unclosed).toBe(false);
    const chart = blocks.find((b) => b.startsWith('```mermaid'))!;
    expect(chart.split('\n')).toContain('  x-axis ["a]<img src=x>", "gpt-4.1-mini"]');
    expect(chart.split('\n').filter((l) => l.startsWith('```'))).toEqual(['```mermaid', '```']);
    expect(outside).not.toMatch(/<img/);
    expect(out).toContain('| a"\\] \\`\\`\\` &lt;img src=x&gt; | 1 | 0 | 1 | 0 | 0% | ±0 pts |');
  });
});

// ---- the size budget ----------------------------------------------------------------------------------------------------

/** `n` tests that passed for both models on main and fail now, with long outputs and reasons; some errored for b. */
function bigRun(n: number) {
  const long = (i: number) => `Output ${i}: ${'the quick brown fox jumps over the lazy dog. '.repeat(120)}`;
  const description = (i: number) => `Case ${String(i).padStart(4, '0')}: ${'a rather long test description '.repeat(6)}`;
  const before: CaseResult[] = [];
  const now: CaseResult[] = [];
  for (const provider of ['a', 'b']) {
    for (let i = 0; i < n; i++) {
      const spec = { provider, description: description(i) };
      before.push(caseResult({ ...spec, status: 'passed', requestId: `main-${provider}-${i}` }));
      const errored = provider === 'b' && i % 3 === 0;
      now.push(caseResult({ ...spec, status: errored ? 'errored' : 'failed', output: long(i), reason: `Expected output to contain "30 days" but got ${long(i)}` }));
    }
  }
  return { before, now, comparison: against(before, now) };
}

describe('the comment: size budget', () => {
  const { now, comparison } = bigRun(1000);
  const md = report(now, { status: 'failed', comparison, maxChars: COMMENT_MAX_CHARS, elsewhere: ELSEWHERE, facts: { configPath: 'evals/big.yaml', sha: 'feedfacecafebeef' } });
  const full = report(now, { status: 'failed', comparison, elsewhere: ELSEWHERE });

  it('fits 2,000 failing cases with long outputs into the budget', () => {
    expect(full.length).toBeGreaterThan(COMMENT_MAX_CHARS * 4);
    expect(md.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    expect(md).not.toContain('…cut at');
  });

  it('keeps the headline, the table and the run facts whole', () => {
    expect(md).toMatch(/^## ❌ batch-evals: Quickstart\n\n\*\*0% passed\*\* \(0 of 2,000 cases\) · −100\.0 pts against `main` at `base012` · \*\*2,000 regressions\*\* · /);
    expect(md).toContain('| a | 1000 | 0 | 1000 | 0 | 0% | −100.0 pts |');
    expect(md).toContain('| b | 1000 | 0 | 666 | 334 | 0% | −100.0 pts |');
    expect(md).toContain('| **Total** | 2000 | 0 | 1666 | 334 | 0% | −100.0 pts |');
    expect(md).toContain('```mermaid');
    expect(md.trimEnd().split('\n').at(-1)).toBe('<sub>Commit `feedfacecafe` · reproduce locally with `npx batch-evals run evals/big.yaml`</sub>');
    expectNeutral(md);
  });

  it('trims the regressions last: they keep rows while the other sections give all theirs', () => {
    const regressions = section(md, /^### ❌/);
    expect(regressions[0]).toBe('### ❌ 2,000 regressions: passed on `main`, fail now');
    const shown = regressions.filter((l) => /^- [ab] · Case /.test(l));
    expect(shown.length).toBeGreaterThan(50);
    expect(regressions.at(-1)).toBe(`- …and ${2000 - shown.length} more in ${ELSEWHERE}.`);
    // The first regressions in order, a line each.
    expect(shown[0]).toMatch(/^- a · Case 0000: a rather long/);
    expect(shown[1]).toMatch(/^- a · Case 0001: a rather long/);
    // The disagreements and the failures say how many are left out, and where.
    expect(md).toContain('<details open><summary>334 cases where the models disagree</summary>');
    expect(md).toMatch(/\n…and (\d+) more in the job summary and the results file\.\n\n<\/details>/);
    expect(md).toContain(`<details><summary>2,000 failing cases</summary>\n\n…and 2000 more in ${ELSEWHERE}.\n\n</details>`);
    // Trimmed to nothing, the disagreements show no table header without rows.
    expect(md).toContain(`<details open><summary>334 cases where the models disagree</summary>\n\n\n…and 334 more in ${ELSEWHERE}.\n\n</details>`);
    expect(md).not.toContain('| Case |');
  });

  it('takes rows from the longest section first', () => {
    // 40 tests: a fails them all (40 long failures, 40 regressions), b passes them all (40 disagreements, 30 shown).
    const before = Array.from({ length: 40 }, (_, i) => ['a', 'b'].map((provider) => caseResult({ provider, description: `Case ${i}`, status: 'passed', requestId: `main-${provider}-${i}` }))).flat();
    const after = Array.from({ length: 40 }, (_, i) => [
      caseResult({ provider: 'a', description: `Case ${i}`, status: 'failed', output: 'x'.repeat(5000), reason: 'Expected output to contain "30 days"' }),
      caseResult({ provider: 'b', description: `Case ${i}`, status: 'passed' }),
    ]).flat();
    const c = against(before, after);
    const whole = report(after, { status: 'failed', comparison: c, elsewhere: ELSEWHERE });
    const maxChars = whole.length - 5000;
    const trimmed = report(after, { status: 'failed', comparison: c, elsewhere: ELSEWHERE, maxChars });
    expect(trimmed.length).toBeLessThanOrEqual(maxChars);
    // The failures (about 50,000 characters) gave rows; the regressions and disagreements kept all theirs.
    expect(trimmed).toContain(`<details><summary>40 failing cases</summary>`);
    // Rows go in steps of a fifth: 40 → 32 is enough to free 5,000 characters.
    expect(trimmed).toContain(`…and 8 more in ${ELSEWHERE}.\n\n</details>`);
    expect((trimmed.match(/^\*\*❌ failed\*\*/gm) ?? []).length).toBe(32);
    expect(section(trimmed, /^### ❌/)).toHaveLength(42);
    expect((trimmed.match(/^\| Case \d+ \\\(prompt support\\\) \| ❌ \| ✅ \|$/gm) ?? []).length).toBe(30);
    expect(trimmed).toContain(`…and 10 more in ${ELSEWHERE}.`);
  });
});
