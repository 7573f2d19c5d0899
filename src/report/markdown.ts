import type { Assertion } from '../config/types.ts';
import { PRICES_CHECKED } from '../cost/prices.ts';
import type { GradingCost } from '../grade/grading-run.ts';
import type { CaseResult } from '../score/score-run.ts';
import { code, codeBlock, inline } from './escape.ts';
import { formatDuration } from '../batch/run-batches.ts';
import type { Comparison } from './baseline.ts';
import type { RunSummary, Tally } from './summary.ts';
import { assertionName } from '../config/assertion-types.ts';

export type RunStatus = 'completed' | 'pending' | 'failed';

export interface BatchFacts {
  label: string;
  batchId?: string;
  providerStatus?: string;
  error?: string;
  submittedAt?: string;
  /** When the provider was seen to have ended the batch (first poll that said so). */
  endedAt?: string;
}

export interface ReportData {
  title: string;
  status: RunStatus;
  minPassRate: number;
  summary: RunSummary;
  results: CaseResult[];
  batches: BatchFacts[];
  /** Against the base branch's baseline; undefined when there is none (then `baselineNote` says why). */
  comparison?: Comparison;
  baselineNote?: string;
  /** Whether regressions fail the step (fail-on-regression): the title then shows it. */
  regressionsFail?: boolean;
  /** Sentences for the top, e.g. superseded batches that were cancelled. */
  notes?: string[];
  /** While batches run: when they were submitted (the comment then says what to expect). */
  pendingSince?: string;
  /** Commit, config path and how to reproduce; shown at the end. */
  facts?: RunFacts;
  /** How many failures to show in full; the rest are counted. */
  maxFailures?: number;
  /** The most characters the markdown may have; the longest sections are trimmed first to fit. */
  maxChars?: number;
  /** Where the rows that were left out can be read, e.g. "the job summary and the results file". */
  elsewhere?: string;
}

export interface RunFacts {
  configPath: string;
  sha?: string;
  /** Link to the workflow run. */
  runUrl?: string;
}

/**
 * The run as markdown: headline, a row per model, the regressions and fixes against the baseline, the cases
 * where models disagree, the failures collapsed, then the run's facts. Past `maxChars`, the longest of the
 * trimmable sections gives up rows first, saying how many and where to find them; the regressions go last.
 */
export function renderMarkdown(data: ReportData): string {
  const sections = buildSections(data);
  const limit = data.maxChars ?? Infinity;
  const render = () => `${sections.map((s) => s.render().join('\n')).join('\n')}\n`;
  let text = render();
  while (text.length > limit) {
    const trimmable = sections.filter((s) => s.cap !== undefined && s.cap > 0);
    if (trimmable.length === 0) break;
    // The regressions give rows only once nothing else can: they are what a reviewer reads the comment for.
    const others = trimmable.filter((s) => !s.last);
    const longest = (others.length ? others : trimmable).reduce((a, b) => (a.render().join('\n').length >= b.render().join('\n').length ? a : b));
    // Small steps, so the comment keeps as many rows as fit.
    longest.cap = Math.floor(longest.cap! * 0.8);
    text = render();
  }
  return text.length > limit ? `${text.slice(0, limit - 80)}\n\n…cut at ${limit.toLocaleString('en-US')} characters.\n` : text;
}

interface Section {
  /** Rows this section may show; undefined for a section that is never trimmed. */
  cap?: number;
  /** Trimmed only when no other section has rows left to give. */
  last?: boolean;
  render(): string[];
}

function buildSections(data: ReportData): Section[] {
  const { summary, status, comparison } = data;
  const total = summary.total;
  const elsewhere = data.elsewhere ?? 'the results file';
  const failing = status === 'failed' || (data.regressionsFail === true && (comparison?.regressions.length ?? 0) > 0);
  const icon = status === 'pending' ? '⏳' : failing ? '❌' : '✅';
  const fixed = (lines: string[]): Section => ({ render: () => lines });
  const sections: Section[] = [];

  const head = [`## ${icon} batch-evals: ${inline(data.title, 120)}`, '', headline(data), ''];
  if (data.pendingSince) {
    const requests = data.batches.length;
    head.push(
      `⏳ **Waiting for the providers**: ${plural(requests, 'batch', 'batches')} submitted at ${inline(data.pendingSince, 40)} (ids below). ` +
        'Batch APIs answer within 24 hours, most often within minutes to a few hours; the resume job updates this comment when they end.',
      '',
    );
  }
  for (const note of data.notes ?? []) head.push(`> ${noteText(note)}`, '');
  const changeOf = (label: string) => comparison?.providers.find((p) => p.label === label);
  head.push(`| Model | Cases | Passed | Failed | Errored | Pass rate |${comparison ? ' Change |' : ''} Batch cost | Real-time cost | Saved |`);
  head.push(`|:--|--:|--:|--:|--:|--:|${comparison ? '--:|' : ''}--:|--:|--:|`);
  for (const t of summary.providers) head.push(row(t, inline(t.label, 80), comparison ? changeOf(t.label) ?? {} : undefined));
  if (summary.grading) head.push(gradingRow(summary.grading, !!comparison));
  if (summary.providers.length > 1 || summary.grading) head.push(row(total, '**Total**', comparison?.total));
  const reuse = reuseLine(summary);
  if (reuse) head.push('', reuse);
  const cache = cacheLine(summary.providers);
  if (cache) head.push('', cache);
  if (total.unpriced > 0) {
    head.push('', `Price unknown for ${plural(total.unpriced, 'request')}: their cost is not in the figures; add the model under \`pricing:\` in the suite.`);
  }
  head.push('');
  head.push(...chart(data));
  if (!comparison && data.baselineNote) head.push(`<sub>${noteText(data.baselineNote)}</sub>`, '');
  sections.push(fixed(head));

  if (comparison) {
    const base = baseName(comparison);
    sections.push(caseList(comparison.regressions, `### ❌ ${plural(comparison.regressions.length, 'regression')}: passed on ${base}, fail now`, elsewhere, true));
    sections.push(caseList(comparison.fixes, `### ✅ ${plural(comparison.fixes.length, 'fix', 'fixes')}: failed on ${base}, pass now`, elsewhere));
  }

  const split = disagreements(data.results, summary.providers.map((t) => t.label));
  if (split.rows.length) {
    const section: Section = {
      cap: Math.min(30, split.rows.length),
      render: () => {
        const shown = split.rows.slice(0, section.cap);
        // Trimmed to no rows, no table: a header alone would read as an empty result.
        const out = [`<details open><summary>${plural(split.rows.length, 'case')} where the models disagree</summary>`, '', ...(shown.length ? [...split.header, ...shown] : [])];
        if (shown.length < split.rows.length) out.push('', `…and ${split.rows.length - shown.length} more in ${elsewhere}.`);
        return [...out, '', '</details>', ''];
      },
    };
    sections.push(section);
  }

  const failures = data.results.filter((r) => r.status === 'failed' || r.status === 'errored');
  if (failures.length > 0) {
    const rendered = failures.slice(0, data.maxFailures ?? 50).map(failure);
    const section: Section = {
      cap: rendered.length,
      render: () => {
        const shown = rendered.slice(0, section.cap);
        const out = [`<details><summary>${plural(failures.length, 'failing case')}</summary>`, ''];
        for (const lines of shown) out.push(...lines, '');
        if (shown.length < failures.length) out.push(`…and ${failures.length - shown.length} more in ${elsewhere}.`, '');
        return [...out, '</details>', ''];
      },
    };
    sections.push(section);
  }

  sections.push(fixed(runFacts(data)));
  return sections;
}

/** Regressions or fixes, plainly: a line per case with the model, the test and the first failing check. */
function caseList(results: CaseResult[], title: string, elsewhere: string, last = false): Section {
  const lines = results.map((r) => {
    const failing = r.score?.assertions.find((a) => !a.pass && !a.notApplicable);
    // An error can quote the model: escaped like any reason. Without a failing assertion (below the test's
    // threshold), the score's own reason.
    const why = r.error !== undefined ? inline(r.error, 200) : failing ? `${describeAssertion(failing.assertion)}: ${inline(failing.reason, 200)}` : inline(r.score?.reason ?? '', 200);
    return `- ${inline(r.case.provider, 80)} · ${inline(r.case.description, 160)}${r.status === 'passed' ? '' : ` · ${why}`}`;
  });
  const section: Section = {
    cap: lines.length,
    last,
    render: () => {
      if (lines.length === 0) return [];
      const shown = lines.slice(0, section.cap);
      const out = [title, '', ...shown];
      if (shown.length < lines.length) out.push(`- …and ${lines.length - shown.length} more in ${elsewhere}.`);
      return [...out, ''];
    },
  };
  return section;
}

/** Pass rate per model as a Mermaid bar chart, against the baseline as a line; the table above is the fallback. */
function chart(data: ReportData): string[] {
  const rates = data.summary.providers.filter((t) => t.passRate !== undefined);
  if (rates.length === 0 || (rates.length < 2 && !data.comparison)) return [];
  const label = (text: string) => `"${text.replace(/["`\\\n\r]/g, '').slice(0, 40)}"`;
  const pct = (rate: number | undefined) => (rate === undefined ? 0 : Math.round(rate * 1000) / 10);
  // Short names: the model after the provider prefix, unless two rows would then read the same.
  const short = rates.map((t) => t.label.split(':').at(-1)!);
  const names = new Set(short).size === short.length ? short : rates.map((t) => t.label);
  const out = ['```mermaid', '%%{init: {"xyChart": {"width": 640, "height": 260}}}%%', 'xychart-beta'];
  const withLine = data.comparison?.providers.every((p) => p.before !== undefined) ?? false;
  out.push(`  title "Pass rate by model, %${withLine ? ' (line: base branch)' : ''}"`);
  out.push(`  x-axis [${names.map(label).join(', ')}]`, '  y-axis "pass rate %" 0 --> 100');
  out.push(`  bar [${rates.map((t) => pct(t.passRate)).join(', ')}]`);
  // The baseline as a line, when every model has one: a model new in this run would read as a jump from 0%.
  const before = rates.map((t) => data.comparison?.providers.find((p) => p.label === t.label)?.before);
  if (data.comparison && before.every((b) => b !== undefined)) out.push(`  line [${before.map(pct).join(', ')}]`);
  return [...out, '```', ''];
}

function runFacts(data: ReportData): string[] {
  const facts = data.batches.map((b) => {
    const what = b.batchId ? `${code(b.batchId, 80)} ${inline(b.providerStatus ?? 'submitted')}` : 'not submitted';
    const turnaround = b.submittedAt && b.endedAt ? ` in ${formatDuration(Date.parse(b.endedAt) - Date.parse(b.submittedAt))}` : '';
    return `${inline(b.label)}: ${what}${turnaround}${b.error ? ` (${inline(b.error, 200)})` : ''}`;
  });
  const lines = [`<sub>Batches: ${facts.join(' · ') || 'none'}. Prices as of ${PRICES_CHECKED}; batch is 50% of real time.</sub>`];
  const f = data.facts;
  if (f) {
    const commit = f.sha ? `Commit ${code(f.sha.slice(0, 12), 12)}` : undefined;
    const run = f.runUrl && /^https:\/\/[^\s()<>]+$/.test(f.runUrl) ? `[workflow run](${f.runUrl})` : undefined;
    const again = `reproduce locally with ${code(`npx batch-evals run ${f.configPath}`, 200)}`;
    lines.push('', `<sub>${[commit, run, again].filter(Boolean).join(' · ')}</sub>`);
  }
  return lines;
}

const MARK: Record<CaseResult['status'], string> = { passed: '✅', failed: '❌', errored: '⚠️', pending: '⏳' };

/** With several models, the cases where they do not all agree: a row per case, a column per model. */
function disagreements(results: CaseResult[], labels: string[]): { header: string[]; rows: string[] } {
  if (labels.length < 2) return { header: [], rows: [] };
  // A large run has a row per test and prompt (100,000 at 200,000 cases), all held until the end: a row is its first
  // case and a status per model (a title only for the rows shown), keyed by the vars' JSON, which is made once per
  // vars object (the cases of a test share theirs). The rows of the same vars (one per prompt and place) are a short
  // list, so that a row costs no key of its own.
  const column = new Map(labels.map((label, i) => [label, i]));
  const json = new Map<Record<string, unknown>, string>();
  const rows = new Map<string, Row>();
  const ordered: Row[] = [];
  for (const r of results) {
    const c = r.case;
    let vars = json.get(c.vars);
    if (vars === undefined) json.set(c.vars, (vars = JSON.stringify(c.vars)));
    let row = rows.get(vars);
    while (row && !samePlace(row.first.case, c)) row = row.next;
    if (!row) {
      // Sized for the models: an array grown from empty would make room for 17.
      row = { first: r, status: new Array(labels.length), next: rows.get(vars) };
      rows.set(vars, row);
      ordered.push(row);
    }
    let i = column.get(c.provider);
    if (i === undefined) column.set(c.provider, (i = column.size));
    row.status[i] = r.status;
  }
  // Only the models that ran a case are compared: a case another model has no result for (a provider `prompts:`
  // filter) is not a disagreement by itself; that model's column shows – where a row is listed.
  const split = ordered.filter((row) => new Set(row.status.filter((s) => s !== undefined)).size > 1);
  return {
    header: [`| Case | ${labels.map((l) => inline(l, 60)).join(' | ')} |`, `|:--|${labels.map(() => ':-:').join('|')}|`],
    rows: split.map((row) => {
      const title = `${row.first.case.description} (prompt ${row.first.case.prompt})`;
      return `| ${inline(title, 120)} | ${labels.map((_, i) => (row.status[i] !== undefined ? MARK[row.status[i]] : '–')).join(' | ')} |`;
    }),
  };
}

interface Row {
  first: CaseResult;
  status: (CaseResult['status'] | undefined)[];
  /** Another row of the same vars. */
  next?: Row;
}

/** Whether two cases make the same row: the same prompt, at the same place in the suite (or, without one, the same description). */
function samePlace(a: CaseResult['case'], b: CaseResult['case']): boolean {
  if (a.prompt !== b.prompt) return false;
  const x = a.location;
  const y = b.location;
  if (x && y) return x.file === y.file && x.line === y.line && x.column === y.column;
  return !x && !y && a.description === b.description;
}

function headline(data: ReportData): string {
  const t = data.summary.total;
  const scored = t.passed + t.failed + t.errored;
  const parts: string[] = [];
  if (t.passRate !== undefined) parts.push(`**${percent(t.passRate)} passed** (${t.passed} of ${plural(scored, 'case')})`);
  const c = data.comparison;
  if (c && c.total.before !== undefined && t.passRate !== undefined) {
    parts.push(`${change(t.passRate - c.total.before)} against ${baseName(c)}${c.baseline.sha ? ` at ${code(c.baseline.sha.slice(0, 7), 7)}` : ''}`);
  }
  if (c && c.regressions.length) parts.push(`**${plural(c.regressions.length, 'regression')}**`);
  if (c && c.fixes.length) parts.push(plural(c.fixes.length, 'fix', 'fixes'));
  if (t.pending > 0) parts.push(`**${t.pending} case${t.pending === 1 ? '' : 's'} pending** in running batches`);
  parts.push(`batch cost ${money(t.batchCost)}`);
  parts.push(`saved ${money(t.realtimeCost - t.batchCost)} against real time`);
  const gate = data.status === 'failed' && t.passRate !== undefined ? ` · below the required ${percent(data.minPassRate)}` : '';
  return `${parts.join(' · ')}${gate}`;
}

/** A note of ours: its `code spans` stay code spans, the rest is escaped as text (a branch or an error can say anything). */
function noteText(text: string): string {
  return text
    .split(/`([^`]*)`/)
    .map((part, i) => (i % 2 ? code(part, 60) : `${/^\s/.test(part) ? ' ' : ''}${inline(part, 300)}${/\s$/.test(part) ? ' ' : ''}`))
    .join('');
}

/** The baseline's branch as a code span (where a backslash would show, so `code`, not `inline`), or "the base branch". */
function baseName(c: Comparison): string {
  return c.baseline.ref ? code(c.baseline.ref, 60) : 'the base branch';
}

/** A pass-rate change in percentage points, signed. */
function change(delta: number): string {
  const points = Math.round(delta * 1000) / 10;
  if (points === 0) return '±0 pts';
  return `${points > 0 ? '+' : '−'}${Math.abs(points).toFixed(1)} pts`;
}

function row(t: Tally, name: string, rates?: { before?: number; after?: number }): string {
  const rate = t.passRate === undefined ? '–' : percent(t.passRate);
  const unknown = t.unpriced > 0 && t.batchCost === 0;
  const cost = (v: number) => (unknown ? 'price unknown' : money(v) + (t.unpriced > 0 ? '*' : ''));
  const delta = rates === undefined ? '' : ` ${rates.before === undefined || t.passRate === undefined ? 'new' : change(t.passRate - rates.before)} |`;
  return `| ${name} | ${t.cases} | ${t.passed} | ${t.failed} | ${t.errored} | ${rate} |${delta} ${cost(t.batchCost)} | ${cost(t.realtimeCost)} | ${cost(t.realtimeCost - t.batchCost)} |`;
}

/** Per model, the cases answered from earlier outputs and those sent, and what reuse saved; nothing when none was reused. */
function reuseLine(summary: RunSummary): string | undefined {
  const g = summary.grading;
  if (summary.total.reused === 0 && !g?.reused) return undefined;
  const parts = summary.providers.map((t) => `${inline(t.label, 60)} ${t.reused} of ${plural(t.cases, 'case')} (${t.cases - t.reused} sent)`);
  if (g) parts.push(`grading ${g.reused} of ${plural(g.requests, 'request')}`);
  return `♻️ **Reused earlier outputs** (the same requests, answered before): ${parts.join(' · ')}. Saved ${money(summary.total.reuseSaved)} at batch prices.`;
}

/** The grading batch's cost: its own line, as it is a second batch with its own models and prices. */
function gradingRow(g: GradingCost, withChange: boolean): string {
  const unknown = g.unpriced > 0 && g.batchCost === 0;
  const cost = (v: number) => (unknown ? 'price unknown' : money(v) + (g.unpriced > 0 ? '*' : ''));
  const name = `Grading (${g.models.map((m) => inline(m, 60)).join(', ')}; ${plural(g.requests, 'request')})`;
  return `| ${name} | | | | | |${withChange ? ' |' : ''} ${cost(g.batchCost)} | ${cost(g.realtimeCost)} | ${cost(g.realtimeCost - g.batchCost)} |`;
}

/**
 * Per model, the input tokens read from (and written to) the provider's prompt cache and what that saved against the
 * full input price, at batch prices (Anthropic with `promptCaching`; OpenAI's cached_tokens as billed); nothing when no
 * model used a cache.
 */
function cacheLine(tallies: Tally[]): string | undefined {
  const parts = tallies.flatMap((t) => {
    if (!t.cache) return [];
    const { readTokens, writeTokens, saved } = t.cache;
    const wrote = writeTokens > 0 ? `, wrote ${writeTokens.toLocaleString('en-US')}` : '';
    const net = saved >= 0 ? `saved ${money(saved)}` : `cost ${money(-saved)} more (writes not read back)`;
    const unknown = t.unpriced > 0 && t.batchCost === 0;
    return [`${inline(t.label, 60)} read ${plural(readTokens, 'token')}${wrote}${unknown ? '' : `, ${net}`}`];
  });
  if (parts.length === 0) return undefined;
  return `**Prompt cache** (input tokens; savings against the full input price, at batch prices): ${parts.join(' · ')}.`;
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
  const type = `\`${assertionName(a)}\`${a.threshold === undefined ? '' : ` (threshold ${a.threshold})`}`;
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
