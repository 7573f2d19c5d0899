import type { Assertion } from '../config/types.ts';
import { PRICES_CHECKED } from '../cost/prices.ts';
import type { CaseResult } from '../score/score-run.ts';
import { code, codeBlock, inline } from './escape.ts';
import type { RunSummary, Tally } from './summary.ts';

export type RunStatus = 'completed' | 'pending' | 'failed';

export interface BatchFacts {
  label: string;
  batchId?: string;
  providerStatus?: string;
  error?: string;
}

export interface ReportData {
  title: string;
  status: RunStatus;
  minPassRate: number;
  summary: RunSummary;
  results: CaseResult[];
  batches: BatchFacts[];
  /** How many failures to show in full; the rest are counted. */
  maxFailures?: number;
}

/** The run as markdown: headline, a row per model, failures collapsed, then the batches. */
export function renderMarkdown(data: ReportData): string {
  const { summary, status } = data;
  const total = summary.total;
  const lines: string[] = [];
  const icon = status === 'pending' ? '⏳' : status === 'failed' ? '❌' : '✅';
  lines.push(`## ${icon} batch-evals: ${inline(data.title, 120)}`, '');
  lines.push(headline(data), '');
  lines.push('| Model | Cases | Passed | Failed | Errored | Pass rate | Batch cost | Real-time cost | Saved |');
  lines.push('|:--|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const t of summary.providers) lines.push(row(t, inline(t.label, 80)));
  if (summary.providers.length > 1) lines.push(row(total, '**Total**'));
  if (total.unpriced > 0) {
    lines.push('', `Price unknown for ${total.unpriced} request(s): their cost is not in the figures; add the model under \`pricing:\` in the suite.`);
  }
  lines.push('');

  lines.push(...disagreements(data.results, summary.providers.map((t) => t.label)));

  const failures = data.results.filter((r) => r.status === 'failed' || r.status === 'errored');
  if (failures.length > 0) {
    const shown = failures.slice(0, data.maxFailures ?? 50);
    lines.push(`<details><summary>${failures.length} failing case${failures.length === 1 ? '' : 's'}</summary>`, '');
    for (const r of shown) lines.push(...failure(r), '');
    if (shown.length < failures.length) lines.push(`…and ${failures.length - shown.length} more in the results file.`, '');
    lines.push('</details>', '');
  }

  const facts = data.batches.map((b) => {
    const what = b.batchId ? `${code(b.batchId, 80)} ${inline(b.providerStatus ?? 'submitted')}` : 'not submitted';
    return `${inline(b.label)}: ${what}${b.error ? ` (${inline(b.error, 200)})` : ''}`;
  });
  lines.push(`<sub>Batches: ${facts.join(' · ') || 'none'}. Prices as of ${PRICES_CHECKED}; batch is 50% of real time.</sub>`);
  return `${lines.join('\n')}\n`;
}

const MARK: Record<CaseResult['status'], string> = { passed: '✅', failed: '❌', errored: '⚠️', pending: '⏳' };

/** With several models, the cases where they do not all agree: a row per case, a column per model. */
function disagreements(results: CaseResult[], labels: string[], maxRows = 30): string[] {
  if (labels.length < 2) return [];
  const rows = new Map<string, { title: string; status: Map<string, CaseResult['status']> }>();
  for (const r of results) {
    const c = r.case;
    const key = `${c.prompt}\u0000${c.location ? `${c.location.file}:${c.location.line}:${c.location.column}` : c.description}\u0000${JSON.stringify(c.vars)}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { title: `${c.description} (prompt ${c.prompt})`, status: new Map() }));
    row.status.set(c.provider, r.status);
  }
  // Only the models that ran a case are compared: a case another model has no result for (a provider `prompts:`
  // filter) is not a disagreement by itself; that model's column shows – where a row is listed.
  const split = [...rows.values()].filter((row) => new Set(row.status.values()).size > 1);
  if (split.length === 0) return [];
  const out = [
    `<details open><summary>${plural(split.length, 'case')} where the models disagree</summary>`,
    '',
    `| Case | ${labels.map((l) => inline(l, 60)).join(' | ')} |`,
    `|:--|${labels.map(() => ':-:').join('|')}|`,
  ];
  for (const row of split.slice(0, maxRows)) {
    out.push(`| ${inline(row.title, 120)} | ${labels.map((l) => (row.status.has(l) ? MARK[row.status.get(l)!] : '–')).join(' | ')} |`);
  }
  if (split.length > maxRows) out.push('', `…and ${split.length - maxRows} more in the results file.`);
  out.push('', '</details>', '');
  return out;
}

function headline(data: ReportData): string {
  const t = data.summary.total;
  const scored = t.passed + t.failed + t.errored;
  const parts: string[] = [];
  if (t.passRate !== undefined) parts.push(`**${percent(t.passRate)} passed** (${t.passed} of ${plural(scored, 'case')})`);
  if (t.pending > 0) parts.push(`**${t.pending} case${t.pending === 1 ? '' : 's'} pending** in running batches`);
  parts.push(`batch cost ${money(t.batchCost)}`);
  parts.push(`saved ${money(t.realtimeCost - t.batchCost)} against real time`);
  const gate = data.status === 'failed' && t.passRate !== undefined ? ` · below the required ${percent(data.minPassRate)}` : '';
  return `${parts.join(' · ')}${gate}`;
}

function row(t: Tally, name: string): string {
  const rate = t.passRate === undefined ? '–' : percent(t.passRate);
  const unknown = t.unpriced > 0 && t.batchCost === 0;
  const cost = (v: number) => (unknown ? 'price unknown' : money(v) + (t.unpriced > 0 ? '*' : ''));
  return `| ${name} | ${t.cases} | ${t.passed} | ${t.failed} | ${t.errored} | ${rate} | ${cost(t.batchCost)} | ${cost(t.realtimeCost)} | ${cost(t.realtimeCost - t.batchCost)} |`;
}

function failure(r: CaseResult): string[] {
  const mark = r.status === 'errored' ? '⚠️ errored' : '❌ failed';
  const out = [`**${mark}** · ${inline(r.case.provider, 80)} · prompt ${inline(r.case.prompt, 80)} · ${inline(r.case.description, 160)}`, ''];
  if (r.error) out.push(`- ${inline(r.error, 400)}`);
  for (const a of r.score?.assertions ?? []) {
    const sign = a.notApplicable ? '➖' : a.pass ? '✔️' : '✖️';
    out.push(`- ${sign} ${describeAssertion(a.assertion)}${a.pass && !a.notApplicable ? '' : `: ${inline(a.reason, 400)}`}`);
  }
  if (r.output !== undefined) out.push('', 'Output:', '', codeBlock(r.output, 1200));
  return out;
}

export function describeAssertion(a: Assertion): string {
  const type = `\`${a.negate ? 'not-' : ''}${a.type}\`${a.threshold === undefined ? '' : ` (threshold ${a.threshold})`}`;
  if (a.value === undefined) return type;
  const value = typeof a.value === 'string' ? a.value : JSON.stringify(a.value);
  return `${type} ${inline(value, 120)}`;
}

export function percent(rate: number): string {
  return `${(rate * 100).toFixed(rate === 1 || rate === 0 ? 0 : 1)}%`;
}

/** Dollars with enough decimals that a small run's cost does not read as free. */
export function money(usd: number): string {
  const abs = Math.abs(usd);
  if (abs === 0) return '$0.00';
  if (abs >= 1) return `$${usd.toFixed(2)}`;
  if (abs >= 0.0001) return `$${usd.toFixed(4)}`;
  if (abs >= 0.000001) return `$${usd.toFixed(6)}`;
  return usd > 0 ? '<$0.000001' : '>-$0.000001';
}

export function plural(n: number, word: string, plural = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : plural}`;
}
