import { ANTHROPIC_DEFAULT_MAX_TOKENS } from '../batch/anthropic.ts';
import type { BatchRequest } from '../batch/types.ts';
import type { PriceOverride, ProviderName } from '../config/types.ts';
import { graderKey } from '../grade/grading-run.ts';
import { embeddingInputs, gradingMessages } from '../grade/prompts.ts';
import { cachedPrefixOf } from '../plan/cache-prefix.ts';
import { turnRound, turnsOf, type TurnAnswer } from '../plan/conversation.ts';
import type { Plan, PlannedBatch } from '../plan/plan.ts';
import { costOf, priceOf } from './cost.ts';
import { BATCH_DISCOUNT, type Price } from './prices.ts';
import { counterFor, type Counting, type RequestCounter } from './tokens.ts';

/**
 * What a plan will cost, worked out before anything is sent: input tokens counted (OpenAI) or approximated
 * (Anthropic) per distinct request, output tokens assumed (an answer's length is not known before it is written,
 * only its cap, max_tokens), priced from the table at batch and at real-time prices. Requests with a prompt-cache
 * breakpoint (Anthropic `promptCaching`) write their prefix once per model and read it after, as the cache is billed;
 * "at most" assumes no read hits (in a batch they are best-effort). Model-graded assertions are
 * graded in a second batch whose prompts hold the outputs: their line is rough, with the assumed output in place
 * of the real one.
 */

/** A later turn's history holds the answers before it: each is stood in for by this word, once per assumed token. */
const STAND_IN_WORD = 'answer ';

/** Output tokens assumed per answer when nothing else is said: a short paragraph. */
export const DEFAULT_OUTPUT_TOKENS = 256;

export interface EstimateOptions {
  /** The suite's price overrides. */
  pricing: Record<string, PriceOverride>;
  /** Output tokens assumed per answer, capped at each request's max_tokens; default DEFAULT_OUTPUT_TOKENS. */
  outputTokens?: number;
  /**
   * Ids of requests whose earlier outputs will be reused instead of being sent: reported as reused, their cost as
   * the saving, and left out of the totals.
   */
  reused?: ReadonlySet<string>;
}

export interface CostRange {
  /** With the assumed output. */
  expected: number;
  /** Every answer as long as its max_tokens allows; undefined when some request sets no cap. */
  max?: number;
}

export interface EstimateRow {
  /** `provider:model`, with the endpoint when the same model runs at two. */
  label: string;
  provider: ProviderName;
  model: string;
  /** Generation: the suite's own requests. Grading: the second batch of model-graded assertions (rough). */
  purpose: 'generation' | 'grading';
  /** Distinct requests that will be sent. */
  requests: number;
  /** Distinct requests whose earlier outputs are reused: not sent, not in the totals. */
  reused: number;
  /** Input tokens of the requests sent. */
  inputTokens: number;
  counting: Counting;
  /** Output tokens of the requests sent, assumed. */
  outputTokens: number;
  /** Their max_tokens added up; undefined when some request sets none. */
  maxOutputTokens?: number;
  /** Of the input tokens, those of prompt-cache prefixes: written once per prefix, read by the other requests. */
  cache?: { writeTokens: number; readTokens: number };
  /** Undefined when the model has no known price. */
  price?: Price;
  /** USD at batch prices: the counted input, the assumed output, and their total. */
  batch?: { input: number; output: number; total: CostRange };
  /** USD at real-time prices. */
  realtime?: CostRange;
  /** What the reused requests would have cost (expected), at batch and real-time prices. */
  saved?: { batch: number; realtime: number };
}

export interface Estimate {
  cases: number;
  outputTokensAssumed: number;
  rows: EstimateRow[];
  /** The priced rows added up; `max` undefined when some request sets no output cap. */
  total: { batch: CostRange; realtime: CostRange };
  /** Labels of the rows whose model has no known price: not in the totals. */
  unpriced: string[];
  reused: { requests: number; batch: number; realtime: number };
  /** Models that also bill hidden reasoning tokens as output (o-series, gpt-5): their output is the least certain. */
  reasoningModels: string[];
  /** Model-graded assertions whose grading is not estimated, with why (e.g. a rubricPrompt that cannot render yet). */
  gradingNotEstimated: number;
  /** Later turns of conversations (`_conversation`): counted with stand-ins of the assumed length for the answers before them. */
  laterTurns: number;
  /** The rounds of batches after the first that the later turns go in (one a turn). */
  laterRounds: number;
}

/** Distinct requests to one model, accumulated. */
interface Group {
  key: string;
  provider: ProviderName;
  model: string;
  baseURL?: string;
  purpose: EstimateRow['purpose'];
  counter: RequestCounter;
  requests: number;
  reused: number;
  inputTokens: number;
  outputTokens: number;
  maxOutputTokens: number;
  uncapped: boolean;
  reusedInput: number;
  reusedOutput: number;
  /** Prompt-cache prefix tokens by how they are billed, per cache lifetime; and the prefixes seen. */
  cache: { write5m: number; write1h: number; read5m: number; read1h: number; prefixes: Set<string> };
}

export async function estimatePlan(plan: Plan, options: EstimateOptions): Promise<Estimate> {
  const assumed = options.outputTokens ?? DEFAULT_OUTPUT_TOKENS;
  const reused = options.reused ?? new Set<string>();
  const groups = new Map<string, Group>();
  const group = async (key: string, spec: { provider: ProviderName; model: string; baseURL?: string }, purpose: Group['purpose']): Promise<Group> => {
    let g = groups.get(key);
    if (!g) {
      const counter = await counterFor(spec.provider, spec.model);
      const cache = { write5m: 0, write1h: 0, read5m: 0, read1h: 0, prefixes: new Set<string>() };
      g = { key, ...spec, purpose, counter, requests: 0, reused: 0, inputTokens: 0, outputTokens: 0, maxOutputTokens: 0, uncapped: false, reusedInput: 0, reusedOutput: 0, cache };
      groups.set(key, g);
    }
    return g;
  };

  // Generation: each distinct request once (the plan has already merged identical ones; a split batch's parts
  // are one model).
  const requests = new Map<string, { request: BatchRequest; batch: PlannedBatch; output: number }>();
  const count = async (batch: PlannedBatch, request: BatchRequest) => {
    if (requests.has(request.id)) return;
    // A split batch's parts, and a conversation's later rounds, are one model: one row.
    const g = await group(batch.key.split('#')[0].replace(/~turn\d+$/, ''), batch, 'generation');
    const cap = outputCap(batch.provider, request.params);
    const output = Math.min(assumed, cap ?? Infinity);
    requests.set(request.id, { request, batch, output });
    const input = g.counter.request(request);
    if (reused.has(request.id)) {
      g.reused++;
      g.reusedInput += input;
      g.reusedOutput += output;
      return;
    }
    g.requests++;
    g.inputTokens += input;
    g.outputTokens += output;
    if (cap === undefined) g.uncapped = true;
    else g.maxOutputTokens += cap;
    addCachedPrefix(g, request, input);
  };
  for (const batch of plan.batches) for (const request of batch.requests) await count(batch, request);

  // Conversations: each later turn is rendered as it will be, but with stand-ins of the assumed length for the
  // answers before it (which it holds), and counted as its model's.
  const laterTurn = new Map<number, BatchRequest>();
  if (plan.conversations) {
    const answers = new Map<number, TurnAnswer>();
    const standIn = (request: BatchRequest) => ({ messages: request.messages, output: STAND_IN_WORD.repeat(requests.get(request.id)?.output ?? assumed).trimEnd() });
    for (const thread of plan.conversations) {
      const first = requests.get(thread.cases[0].requestId)?.request;
      if (first) answers.set(thread.cases[0].index, standIn(first));
    }
    for (let turn = 2; turn <= turnsOf(plan.conversations); turn++) {
      const round = turnRound(plan.conversations, turn, (c) => answers.get(c.index));
      for (const batch of round.batches) for (const request of batch.requests) await count(batch, request);
      for (const { case: c, request } of round.sent) {
        laterTurn.set(c.index, request);
        answers.set(c.index, standIn(request));
      }
    }
  }

  // Grading, roughly: each model-graded assertion of each case makes the grading request it will make, with an
  // empty output whose tokens are then added as the assumed output. Identical grading requests (the same rubric
  // for the same request's output) are counted once, as they are sent once.
  const seen = new Set<string>();
  let gradingNotEstimated = 0;
  for (const c of plan.cases) {
    const generated = requests.get(c.requestId || (laterTurn.get(c.index)?.id ?? ''));
    if (!generated) continue;
    let prompt: string | undefined;
    for (const assertion of c.assertions) {
      const grader = assertion.grader;
      if (!grader) continue;
      const key = graderKey(grader);
      const g = await group(key, grader, 'grading');
      const cap = outputCap(grader.provider, grader.params);
      try {
        if (grader.kind === 'embedding') {
          const [, ...expected] = embeddingInputs(assertion, '');
          if (!seen.has(`${key}|${c.requestId}`)) {
            seen.add(`${key}|${c.requestId}`);
            addGrading(g, generated.output, 0, 0); // an embedding writes no output
          }
          for (const text of expected) {
            if (seen.has(`${key}|=${text}`)) continue;
            seen.add(`${key}|=${text}`);
            addGrading(g, g.counter.text(text), 0, 0);
          }
          continue;
        }
        prompt ??= generated.request.messages.map((m) => m.content).join('\n\n');
        const messages = gradingMessages(assertion, { output: '', vars: c.vars, prompt });
        const id = `${key}|${c.requestId}|${JSON.stringify(messages)}`;
        if (seen.has(id)) continue;
        seen.add(id);
        addGrading(g, g.counter.request({ messages }) + generated.output, Math.min(assumed, cap ?? Infinity), cap);
      } catch {
        // Not renderable before the output exists (or at all): the grading run says why for each case.
        gradingNotEstimated++;
      }
    }
  }

  const rows = [...groups.values()].filter((g) => g.requests + g.reused > 0).map((g) => row(g, options.pricing));
  labelRows(rows, [...groups.values()].filter((g) => g.requests + g.reused > 0));
  const priced = rows.filter((r) => r.price);
  const sum = (pick: (r: EstimateRow) => number | undefined): number | undefined =>
    priced.reduce<number | undefined>((n, r) => (n === undefined || pick(r) === undefined ? undefined : n + pick(r)!), 0);
  return {
    cases: plan.cases.length,
    outputTokensAssumed: assumed,
    rows,
    total: {
      batch: { expected: sum((r) => r.batch!.total.expected)!, max: sum((r) => r.batch!.total.max) },
      realtime: { expected: sum((r) => r.realtime!.expected)!, max: sum((r) => r.realtime!.max) },
    },
    unpriced: rows.filter((r) => !r.price).map((r) => r.label),
    reused: {
      requests: rows.reduce((n, r) => n + r.reused, 0),
      batch: rows.reduce((n, r) => n + (r.saved?.batch ?? 0), 0),
      realtime: rows.reduce((n, r) => n + (r.saved?.realtime ?? 0), 0),
    },
    reasoningModels: rows.filter((r) => r.provider === 'openai' && /^(o\d|gpt-5)/.test(r.model.replace(/^ft:/, ''))).map((r) => r.label),
    gradingNotEstimated,
    laterTurns: laterTurn.size,
    laterRounds: plan.conversations ? turnsOf(plan.conversations) - 1 : 0,
  };
}

/** A request's cache prefix: written by the first request of the model that has it, read by the others. */
function addCachedPrefix(g: Group, request: BatchRequest, input: number): void {
  const prefix = cachedPrefixOf(request);
  if (!prefix || !request.cachePrefix) return;
  const tokens = Math.min(g.counter.text(prefix.text), input);
  const hour = request.cachePrefix.ttl === '1h';
  if (g.cache.prefixes.has(prefix.key)) {
    if (hour) g.cache.read1h += tokens;
    else g.cache.read5m += tokens;
  } else {
    g.cache.prefixes.add(prefix.key);
    if (hour) g.cache.write1h += tokens;
    else g.cache.write5m += tokens;
  }
}

function addGrading(g: Group, input: number, output: number, cap: number | undefined): void {
  g.requests++;
  g.inputTokens += input;
  g.outputTokens += output;
  if (cap === undefined) g.uncapped = true;
  else g.maxOutputTokens += cap;
}

/**
 * The most output tokens a request may bill: OpenAI's max_output_tokens (Responses API), max_completion_tokens or max_tokens; Anthropic's max_tokens,
 * or the 1024 sent when the suite sets none. Undefined when there is no cap.
 */
export function outputCap(provider: ProviderName, params: Record<string, unknown>): number | undefined {
  const cap = provider === 'openai' ? (params.max_output_tokens ?? params.max_completion_tokens ?? params.max_tokens) : (params.max_tokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS);
  return typeof cap === 'number' && cap >= 0 ? cap : undefined;
}

function row(g: Group, pricing: Record<string, PriceOverride>): EstimateRow {
  const price = priceOf(g.model, pricing);
  const out: EstimateRow = {
    label: `${g.provider}:${g.model}`,
    provider: g.provider,
    model: g.model,
    purpose: g.purpose,
    requests: g.requests,
    reused: g.reused,
    inputTokens: g.inputTokens,
    counting: g.counter.counting,
    outputTokens: g.outputTokens,
    maxOutputTokens: g.uncapped ? undefined : g.maxOutputTokens,
  };
  const c = g.cache;
  if (c.prefixes.size > 0) out.cache = { writeTokens: c.write5m + c.write1h, readTokens: c.read5m + c.read1h };
  if (!price) return out;
  const usd = (input: number, output: number) => costOf({ inputTokens: input, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: output }, price, false);
  // The cached prefixes priced as a run's usage is: expected, each read a hit; at most, none is, and every one writes.
  const uncached = g.inputTokens - c.write5m - c.write1h - c.read5m - c.read1h;
  const input = costOf({ inputTokens: uncached, cachedInputTokens: c.read5m + c.read1h, cacheWriteTokens: c.write5m, cacheWrite1hTokens: c.write1h, outputTokens: 0 }, price, false);
  const inputAtMost = costOf({ inputTokens: uncached, cachedInputTokens: 0, cacheWriteTokens: c.write5m + c.read5m, cacheWrite1hTokens: c.write1h + c.read1h, outputTokens: 0 }, price, false);
  const expected = input + usd(0, g.outputTokens);
  const max = g.uncapped ? undefined : inputAtMost + usd(0, g.maxOutputTokens);
  const saved = usd(g.reusedInput, g.reusedOutput);
  return {
    ...out,
    price,
    batch: {
      input: input * BATCH_DISCOUNT,
      output: usd(0, g.outputTokens) * BATCH_DISCOUNT,
      total: { expected: expected * BATCH_DISCOUNT, max: max === undefined ? undefined : max * BATCH_DISCOUNT },
    },
    realtime: { expected, max },
    saved: g.reused > 0 ? { batch: saved * BATCH_DISCOUNT, realtime: saved } : undefined,
  };
}

/** Two rows of the same model at different endpoints are told apart by the endpoint. */
function labelRows(rows: EstimateRow[], groups: Group[]): void {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(`${r.purpose}|${r.label}`, (counts.get(`${r.purpose}|${r.label}`) ?? 0) + 1);
  rows.forEach((r, i) => {
    if ((counts.get(`${r.purpose}|${r.label}`) ?? 0) > 1 && groups[i].baseURL) r.label += ` (${groups[i].baseURL})`;
  });
}

/**
 * Why a run must not be sent with this limit, or undefined when its estimate is within it: the estimate at batch
 * prices (with the assumed output), the limit, and the rows that cost the most. A model without a price cannot be
 * checked, and is refused too: its cost could be anything.
 */
export function overBudget(estimate: Estimate, maxCost: number, money: (usd: number) => string): string | undefined {
  if (estimate.unpriced.length > 0) {
    return (
      `max-cost ${money(maxCost)} cannot be checked: no price is known for ${estimate.unpriced.join(', ')}. ` +
      'Give its price under `pricing:` in the suite (USD per million tokens), or run without max-cost.'
    );
  }
  const cost = estimate.total.batch.expected;
  if (cost <= maxCost) return undefined;
  const biggest = [...estimate.rows]
    .filter((r) => r.batch && r.batch.total.expected > 0)
    .sort((a, b) => b.batch!.total.expected - a.batch!.total.expected)
    .slice(0, 3)
    .map((r) => {
      const approx = r.counting.kind === 'approximate' || r.purpose === 'grading' ? '~' : '';
      return `${r.purpose === 'grading' ? 'grading by ' : ''}${r.label} ${money(r.batch!.total.expected)} (${r.requests} request${r.requests === 1 ? '' : 's'}, ${approx}${r.inputTokens.toLocaleString('en-US')} input tokens)`;
    });
  return (
    `the estimated batch cost ${money(cost)} is above max-cost ${money(maxCost)}, so nothing was sent. ` +
    `Biggest contributors: ${biggest.join('; ')}. ` +
    `(Input tokens counted with the tokenizer, ~ approximate; output assumed ${estimate.outputTokensAssumed} tokens an answer, capped at max_tokens.)`
  );
}
