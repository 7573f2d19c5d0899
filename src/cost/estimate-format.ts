import { inline } from '../report/escape.ts';
import { money, plural } from '../report/markdown.ts';
import type { Estimate, EstimateRow } from './estimate.ts';
import { BATCH_DISCOUNT, PRICES_CHECKED } from './prices.ts';
import { ANTHROPIC_RULE } from './tokens.ts';

/** What the estimate is of, for its heading. */
export interface EstimateHeading {
  title: string;
  /** Provider batches the generation requests go out in. */
  batches: number;
  /** How the reader sets the assumed output length: `--output-tokens` (CLI) or the `output-tokens` input. */
  outputOption: string;
}

const HEADERS = ['Model', 'Requests', 'Input tokens', 'Output tokens', 'Batch: input', 'Batch: output', 'Batch total', 'Real-time total', 'Batch, at most'];

/** The estimate as a plain-text table and notes, for a terminal. */
export function estimateText(estimate: Estimate, heading: EstimateHeading): string {
  const rows = [HEADERS, ...tableRows(estimate)];
  const widths = HEADERS.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const table = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  return [`Estimate: ${heading.title}`, '', lead(estimate, heading), '', ...table, '', ...notes(estimate, heading).map((n) => `- ${n}`), ''].join('\n');
}

/** The estimate as markdown, for the job summary. */
export function estimateMarkdown(estimate: Estimate, heading: EstimateHeading): string {
  // The labels come from the suite (model ids): escaped. The figures and the notes are ours.
  const rows = tableRows(estimate);
  const total = rows.pop()!.map((c) => (c ? `**${c}**` : c));
  for (const r of rows) r[0] = inline(r[0], 200).replace(/\|/g, '\\|');
  return [
    `## 🧮 batch-evals estimate: ${inline(heading.title, 200)}`,
    '',
    lead(estimate, heading),
    '',
    `| ${HEADERS.join(' | ')} |`,
    `|:--|${HEADERS.slice(1).map(() => '--:').join('|')}|`,
    ...[...rows, total].map((r) => `| ${r.join(' | ')} |`),
    '',
    ...notes(estimate, heading).map((n) => `- ${n}`),
    '',
  ].join('\n');
}

function lead(estimate: Estimate, heading: EstimateHeading): string {
  const generation = estimate.rows.filter((r) => r.purpose === 'generation');
  const sent = generation.reduce((n, r) => n + r.requests, 0);
  const reused = estimate.reused.requests > 0 ? ` (${estimate.reused.requests} more reused)` : '';
  const total = estimate.total;
  const partial = estimate.unpriced.length > 0 ? ' for the priced models' : '';
  return (
    `${plural(estimate.cases, 'case')}, ${plural(sent, 'distinct request')} to send${reused} in ${plural(heading.batches, 'batch', 'batches')}: ` +
    `expected batch cost ${money(total.batch.expected)}${partial} (real time ${money(total.realtime.expected)}), ` +
    (total.batch.max === undefined
      ? `no upper bound: ${uncapped(estimate)} no max_tokens.`
      : `at most ${money(total.batch.max)} if every answer uses all of its max_tokens${estimate.rows.some((r) => r.cache) ? ' and no prompt-cache read hits' : ''}.`)
  );
}

/** Which rows have requests without an output cap, as the subject of "set(s) no max_tokens". */
function uncapped(estimate: Estimate): string {
  const rows = estimate.rows.filter((r) => r.price && r.maxOutputTokens === undefined).map((r) => (r.purpose === 'grading' ? `the grader ${r.label}` : r.label));
  return `${rows.join(', ')} ${rows.length === 1 ? 'sets' : 'set'}`;
}

function tableRows(estimate: Estimate): string[][] {
  const out = estimate.rows.map((r) => {
    const approx = r.counting.kind === 'approximate' || r.purpose === 'grading' ? '~' : '';
    const label = r.purpose === 'grading' ? `grading: ${r.label} (rough)` : r.label;
    const requests = `${r.requests}${r.reused ? ` (+${r.reused} reused)` : ''}`;
    const output = `~${n(r.outputTokens)}`; // always assumed
    if (!r.batch || !r.realtime) return [label, requests, `${approx}${n(r.inputTokens)}`, output, 'price unknown', '', '', '', ''];
    return [
      label,
      requests,
      `${approx}${n(r.inputTokens)}`,
      output,
      money(r.batch.input),
      money(r.batch.output),
      money(r.batch.total.expected),
      money(r.realtime.expected),
      r.batch.total.max === undefined ? 'no cap' : money(r.batch.total.max),
    ];
  });
  const t = estimate.total;
  const sum = (pick: (r: EstimateRow) => number) => estimate.rows.reduce((s, r) => s + pick(r), 0);
  const priced = estimate.rows.filter((r) => r.batch);
  out.push([
    estimate.unpriced.length ? 'Total (priced models)' : 'Total',
    `${sum((r) => r.requests)}${estimate.reused.requests ? ` (+${estimate.reused.requests} reused)` : ''}`,
    `~${n(sum((r) => r.inputTokens))}`,
    `~${n(sum((r) => r.outputTokens))}`,
    money(priced.reduce((s, r) => s + r.batch!.input, 0)),
    money(priced.reduce((s, r) => s + r.batch!.output, 0)),
    money(t.batch.expected),
    money(t.realtime.expected),
    t.batch.max === undefined ? 'no cap' : money(t.batch.max),
  ]);
  // Exact counts are told apart from approximate ones: without any approximation the total's input is exact too.
  if (estimate.rows.every((r) => r.counting.kind === 'tokenizer' && !r.counting.assumed && r.purpose === 'generation')) out.at(-1)![2] = n(sum((r) => r.inputTokens));
  return out;
}

function notes(estimate: Estimate, heading: EstimateHeading): string[] {
  const out: string[] = [];
  const counted = estimate.rows.filter((r) => r.counting.kind === 'tokenizer' && r.purpose === 'generation');
  const approximate = estimate.rows.filter((r) => r.counting.kind === 'approximate' && r.purpose === 'generation');
  if (counted.length) {
    const by = counted.map((r) => `${r.label} with ${r.counting.kind === 'tokenizer' ? r.counting.encoding : ''}${r.counting.kind === 'tokenizer' && r.counting.assumed ? ' (assumed: an unknown model)' : ''}`);
    out.push(`Input tokens counted with the model's tokenizer, chat messages framed as the OpenAI API counts them: ${by.join(', ')}.`);
  }
  if (approximate.length) {
    out.push(`~ approximate: ${approximate.map((r) => r.label).join(', ')} at ${ANTHROPIC_RULE} (Anthropic publishes no offline tokenizer for current Claude models).`);
  }
  out.push(
    `Output tokens are not known before the answers are written: assumed ${estimate.outputTokensAssumed} an answer (${heading.outputOption}), capped at each request's max_tokens. ` +
      '"Batch, at most": every answer uses all of its max_tokens.',
  );
  for (const r of estimate.rows.filter((row) => row.cache)) {
    out.push(
      `Prompt caching, ${r.label}: of its input, ~${n(r.cache!.writeTokens)} tokens are written to the cache (each shared prefix once, at the cache-write price) ` +
        `and ~${n(r.cache!.readTokens)} read from it (at the cache-read price). In a batch, cache hits are best-effort: "Batch, at most" assumes none, every request writing its prefix.`,
    );
  }
  if (estimate.reasoningModels.length) {
    out.push(`${estimate.reasoningModels.join(', ')}: reasoning models also bill hidden reasoning tokens as output, which can be many times the answer.`);
  }
  if (estimate.rows.some((r) => r.purpose === 'grading')) {
    out.push(
      'Grading (model-graded assertions) is a second batch sent once the outputs are in: its line is rough, each grading prompt counted with the assumed output in place of the real one' +
        (estimate.gradingNotEstimated ? `; ${plural(estimate.gradingNotEstimated, 'graded assertion')} could not be estimated.` : '.'),
    );
  }
  if (estimate.laterTurns > 0) {
    out.push(
      `${plural(estimate.laterTurns, 'later turn')} of conversations (\`_conversation\`) ${estimate.laterTurns === 1 ? 'goes' : 'go'} in ${plural(estimate.laterRounds, 'more round')} of batches, ` +
        'each turn once the one before it is answered. Each holds the answers before it, counted here at the assumed output length.',
    );
  }
  if (estimate.reused.requests > 0) {
    const one = estimate.reused.requests === 1;
    out.push(`${plural(estimate.reused.requests, 'request')} ${one ? 'reuses an earlier output and is' : 'reuse earlier outputs and are'} not sent: that saves ${money(estimate.reused.batch)} at batch prices (${money(estimate.reused.realtime)} real time), not in the totals.`);
  }
  if (estimate.unpriced.length) {
    out.push(`No price known for ${estimate.unpriced.join(', ')}: left out of the totals (give one under \`pricing:\` in the suite).`);
  }
  out.push(`Prices as of ${PRICES_CHECKED}; batch is ${BATCH_DISCOUNT * 100}% of real time. Retries of failed requests are not included.`);
  return out;
}

const n = (value: number) => value.toLocaleString('en-US');
