/** The report's prompt-cache line: tokens read from (and written to) the cache per model, and what that saved. */
import { describe, expect, it } from 'vitest';
import type { Usage } from '../../src/batch/types.ts';
import { cacheSavingOf, costOf, priceOf } from '../../src/cost/cost.ts';
import type { PlannedCase } from '../../src/plan/plan.ts';
import { renderMarkdown } from '../../src/report/markdown.ts';
import { summarize } from '../../src/report/summary.ts';
import type { CaseResult } from '../../src/score/score-run.ts';

let index = 0;
/** A passed case whose request had this usage, priced as the scorer prices it. */
function result(provider: string, model: string, usage: Usage, extra: Partial<CaseResult> = {}): CaseResult {
  const c: PlannedCase = { index: index++, provider, prompt: 'p', description: `case ${index}`, vars: {}, assertions: [], metadata: {}, requestId: `r${index}` };
  const price = priceOf(model);
  const saved = price ? cacheSavingOf(usage, price, true) : undefined;
  const cost = price ? { batch: costOf(usage, price, true), realtime: costOf(usage, price, false), ...(saved !== undefined ? { cacheSaved: saved } : {}) } : undefined;
  return { case: c, model, status: 'passed', billed: true, usage, cost, ...extra };
}

const use = (input: number, read: number, write: number, write1h?: number): Usage => ({
  inputTokens: input,
  cachedInputTokens: read,
  cacheWriteTokens: write,
  outputTokens: 10,
  ...(write1h ? { cacheWrite1hTokens: write1h } : {}),
});

function markdown(results: CaseResult[]): string {
  return renderMarkdown({ title: 'cache', status: 'completed', minPassRate: 1, summary: summarize(results), results, batches: [] });
}

describe('the prompt-cache line', () => {
  const HAIKU = 'anthropic:messages:claude-haiku-4-5';
  const MINI = 'openai:gpt-4.1-mini';

  it('sums per model the tokens read and written and what the cache saved at batch prices, under the table', () => {
    const results = [
      result(HAIKU, 'claude-haiku-4-5', use(100, 0, 5000)),
      result(HAIKU, 'claude-haiku-4-5', use(100, 5000, 0)),
      result(HAIKU, 'claude-haiku-4-5', use(100, 5000, 0)),
      // A second case of the same request carries no cost and counts no tokens.
      result(HAIKU, 'claude-haiku-4-5', use(100, 5000, 0), { billed: false }),
      result(MINI, 'gpt-4.1-mini', use(1000, 2048, 0)),
      result(MINI, 'gpt-4.1-mini', use(3000, 0, 0)),
    ];
    const summary = summarize(results);
    // Haiku: (10,000 x (1 - 0.1) - 5,000 x (1.25 - 1)) / 1M / 2; mini: 2,048 x (0.4 - 0.1) / 1M / 2.
    expect(summary.providers[0].cache).toEqual({ readTokens: 10_000, writeTokens: 5000, saved: expect.closeTo(0.003875, 12) });
    expect(summary.providers[1].cache).toEqual({ readTokens: 2048, writeTokens: 0, saved: expect.closeTo(0.0003072, 12) });
    expect(summary.total.cache).toEqual({ readTokens: 12_048, writeTokens: 5000, saved: expect.closeTo(0.0041822, 12) });

    const md = markdown(results);
    const lines = md.split('\n');
    const line = lines.find((l) => l.startsWith('**Prompt cache**'));
    expect(line).toBe(
      '**Prompt cache** (input tokens; savings against the full input price, at batch prices): ' +
        `${HAIKU} read 10,000 tokens, wrote 5,000, saved $0.0039 · ${MINI} read 2,048 tokens, saved $0.0003.`,
    );
    // Right under the table (and its total row), before anything else.
    expect(lines[lines.indexOf(line!) - 2]).toMatch(/^\| \*\*Total\*\* \|/);
  });

  it('counts 1-hour writes as writes, and says when writes were not read back', () => {
    const md = markdown([result(HAIKU, 'claude-haiku-4-5', use(100, 0, 0, 5000))]);
    expect(md).toContain(`${HAIKU} read 0 tokens, wrote 5,000, cost $0.0025 more (writes not read back).`);
  });

  it('is absent when no request read from or wrote to a cache', () => {
    const results = [result(HAIKU, 'claude-haiku-4-5', use(100, 0, 0)), result(MINI, 'gpt-4.1-mini', use(100, 0, 0))];
    expect(summarize(results).providers.every((t) => t.cache === undefined)).toBe(true);
    expect(markdown(results)).not.toContain('Prompt cache');
  });

  it('leaves the saving out for a model without a price', () => {
    const md = markdown([result('mystery', 'mystery-model', use(100, 4000, 0))]);
    expect(md).toContain('**Prompt cache** (input tokens; savings against the full input price, at batch prices): mystery read 4,000 tokens.');
  });
});
