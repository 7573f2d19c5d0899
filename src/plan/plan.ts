import { ConfigError, type ConfigIssue } from '../config/errors.ts';
import type { Assertion, ChatMessage, Prompt, ProviderName, ProviderSpec, SourceLocation, Suite, TestCase } from '../config/types.ts';
import type { BatchRequest } from '../batch/types.ts';
import { renderDeep, templateErrorMessage } from '../templates.ts';
import { expandVars } from './expand-vars.ts';
import { renderPrompt } from './render-prompt.ts';
import { requestId } from './request-id.ts';

/** One prompt x provider x test (after var expansion): what is asked and how the answer is judged. */
export interface PlannedCase {
  index: number;
  provider: string;
  prompt: string;
  description: string;
  vars: Record<string, unknown>;
  assertions: Assertion[];
  threshold?: number;
  transform?: string;
  metadata: Record<string, unknown>;
  location?: SourceLocation;
  requestId: string;
}

/** The requests that go to one provider batch: one model at one endpoint. */
export interface PlannedBatch {
  key: string;
  provider: ProviderName;
  model: string;
  baseURL?: string;
  /** false when the suite says this provider's requests are always sent (never answered from earlier outputs). */
  reuse?: false;
  /** Set for the second phase's batches: the grading requests of model-graded assertions. */
  purpose?: 'grading';
  /** Set when the model's requests are split across several batches (provider limits, the suite's caps). */
  part?: { index: number; of: number };
  requests: BatchRequest[];
}

/** One `_conversation` thread: its cases in turn order, and what renders the turns after the first. */
export interface Conversation {
  key: string;
  provider: ProviderSpec;
  prompt: Prompt;
  cases: PlannedCase[];
}

export interface Plan {
  cases: PlannedCase[];
  /** The requests to send first: every case's but the later turns of conversations, which wait for the turns before. */
  batches: PlannedBatch[];
  /** Threads of cases of prompts that use `_conversation`: their first turns are in `batches`, the rest sent turn by turn. */
  conversations?: Conversation[];
  /**
   * Request id -> the prompt cache its Anthropic provider asked for (`config.promptCaching`); absent when none did.
   * markPromptCaching (cache-prefix.ts) turns it into cache breakpoints over the requests that are sent.
   */
  caching?: Map<string, '5m' | '1h'>;
}

/**
 * The most cases a plan may hold. Past it the suite is a mistake, not an eval (list vars multiply: six vars of
 * twenty items are 64 million cases), and the plan would not fit in memory: a million cases take some 500 MB.
 */
export const MAX_CASES = 1_000_000;

/** Expands prompts x providers x tests into cases, and their distinct requests into one batch per model. */
export function buildPlan(suite: Suite): Plan {
  checkCaseCount(suite);
  const cases: PlannedCase[] = [];
  const batches = new Map<string, PlannedBatch>();
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  /** Request id -> the prompt cache its provider asked for (an identical request of two providers: either asks). */
  const caching = new Map<string, '5m' | '1h'>();

  /** Conversation key -> its thread, for prompts that use `_conversation`. */
  const threads = new Map<string, Conversation>();

  // Assertions and descriptions depend on a test's vars only: made once per test, shared by its cases.
  const expanded = suite.tests.flatMap((test) => expandVars(test.vars).map((vars): ExpandedTest => ({ test, vars })));
  // A prompt renders alike for every provider: its messages are made once per test, and shared by the providers'
  // requests (half the plan's text at two providers).
  const renderedBy = new Map<Prompt, ChatMessage[][]>();
  for (const provider of suite.providers) {
    const prompts = suite.prompts.filter((p) => !provider.prompts || provider.prompts.includes(p.label));
    const batch = batchFor(batches, provider);
    for (const prompt of prompts) {
      let rendered = renderedBy.get(prompt);
      if (!rendered) renderedBy.set(prompt, (rendered = new Array(expanded.length)));
      for (const [i, entry] of expanded.entries()) {
        const { test, vars } = entry;
        // A later turn of a conversation is rendered once the turns before it are answered (conversation.ts).
        const thread = prompt.conversational ? threadOf(threads, provider, prompt, test) : undefined;
        let messages;
        let assertions: Assertion[];
        try {
          assertions = entry.assertions ??= test.assert.map((a) => renderAssertion(a, vars));
          if (thread && thread.cases.length > 0) {
            const c: PlannedCase = { index: cases.length, provider: provider.label, prompt: prompt.label, description: (entry.description ??= describe(test, vars)), vars, assertions, threshold: test.threshold, transform: test.transform, metadata: test.metadata, location: test.location, requestId: '' };
            thread.cases.push(c);
            cases.push(c);
            continue;
          }
          messages = rendered[i] ??= renderPrompt(prompt, prompt.conversational ? { ...vars, _conversation: [] } : vars);
        } catch (err) {
          issues.push({
            message: `prompt '${prompt.label}' cannot be rendered for this test: ${templateErrorMessage(err)}`,
            location: test.location ?? prompt.location,
          });
          continue;
        }
        const request = requestFor(provider, messages);
        const { id } = request;
        if (!seen.has(id)) {
          seen.add(id);
          batch.requests.push(request);
        }
        if (provider.promptCaching && caching.get(id) !== '1h') caching.set(id, provider.promptCaching);
        const planned: PlannedCase = {
          index: cases.length,
          provider: provider.label,
          prompt: prompt.label,
          description: (entry.description ??= describe(test, vars)),
          vars,
          assertions,
          threshold: test.threshold,
          transform: test.transform,
          metadata: test.metadata,
          location: test.location,
          requestId: id,
        };
        cases.push(planned);
        thread?.cases.push(planned);
      }
    }
  }
  if (issues.length) throw new ConfigError(issues.slice(0, 20));
  const conversations = [...threads.values()].filter((t) => t.cases.length > 1);
  return {
    cases,
    batches: [...batches.values()].filter((b) => b.requests.length > 0),
    ...(caching.size > 0 ? { caching } : {}),
    ...(conversations.length > 0 ? { conversations } : {}),
  };
}

interface ExpandedTest {
  test: TestCase;
  vars: Record<string, unknown>;
  assertions?: Assertion[];
  description?: string;
}

/**
 * The assertion with its value rendered for the vars; the assertion itself when rendering changes nothing (no
 * template in it), so that the defaultTest's assertions and other constant ones are one object for every test.
 */
function renderAssertion(a: Assertion, vars: Record<string, unknown>): Assertion {
  const value = renderDeep(a.value, vars);
  return value === a.value ? a : { ...a, value };
}

/** Counts the cases before making any, and refuses more than MAX_CASES, naming the test that makes the most. */
function checkCaseCount(suite: Suite): void {
  const pairs = suite.providers.reduce((n, provider) => n + suite.prompts.filter((p) => !provider.prompts || provider.prompts.includes(p.label)).length, 0);
  // At least one: the vars are expanded even when no prompt is left (a prompt file of only separators).
  const perTest = Math.max(1, pairs);
  let total = 0;
  let largest: { test: TestCase; count: number } | undefined;
  for (const test of suite.tests) {
    const count = Object.values(test.vars).reduce<number>((n, v) => n * (Array.isArray(v) && v.length > 0 ? v.length : 1), perTest);
    total += count;
    if (!largest || count > largest.count) largest = { test, count };
  }
  if (total <= MAX_CASES) return;
  const many = (n: number): string => (n < 1e15 ? n.toLocaleString('en-US') : Number.isFinite(n) ? `about ${n.toExponential(1)}` : 'too many to count');
  throw new ConfigError([
    {
      message:
        `the suite makes ${many(total)} cases (prompts x providers x tests, each list var making one case per item), ` +
        `more than the ${MAX_CASES.toLocaleString('en-US')} batch-evals runs; the test here makes ${many(largest!.count)}`,
      location: largest!.test.location ?? suite.prompts[0]?.location ?? { file: suite.file, line: 1, column: 1 },
    },
  ]);
}

/**
 * The thread a test's case of a `_conversation` prompt belongs to: promptfoo's key, the provider's label, the prompt
 * and the test's `metadata.conversationId` (tests without one share the prompt's thread), in test order.
 */
function threadOf(threads: Map<string, Conversation>, provider: ProviderSpec, prompt: Prompt, test: TestCase): Conversation {
  const id = test.metadata?.conversationId;
  const key = `${provider.label}:${prompt.label}${id !== undefined && id !== '' ? `:${String(id)}` : ''}`;
  let thread = threads.get(key);
  if (!thread) threads.set(key, (thread = { key, provider, prompt, cases: [] }));
  return thread;
}

/** One batch per model, endpoint and API (a batch has one endpoint): a Responses API model's key says so. */
export function batchKeyOf(provider: Pick<ProviderSpec, 'provider' | 'baseURL' | 'model' | 'api'>): string {
  return [provider.provider, provider.baseURL ?? '', provider.model, ...(provider.api ? [provider.api] : [])].join('|');
}

/** The request of a provider for these messages: its id hashes what decides the answer (the API among it). */
export function requestFor(provider: ProviderSpec, messages: ChatMessage[]): BatchRequest {
  const { api } = provider;
  // An undefined api is left out of the hash: Chat Completions ids are as they were.
  const id = requestId({ provider: provider.provider, baseURL: provider.baseURL, model: provider.model, params: provider.params, messages, api });
  return { id, model: provider.model, messages, params: provider.params, ...(api ? { api } : {}) };
}

/** The provider's batch under `key` (one per model by default), made on first use. */
export function batchFor(batches: Map<string, PlannedBatch>, provider: ProviderSpec, key = batchKeyOf(provider)): PlannedBatch {
  let batch = batches.get(key);
  if (!batch) {
    batch = { key, provider: provider.provider, model: provider.model, baseURL: provider.baseURL, ...(provider.reuse === false ? { reuse: false as const } : {}), requests: [] };
    batches.set(key, batch);
  }
  return batch;
}

function describe(test: TestCase, vars: Record<string, unknown>): string {
  if (test.description) return test.description;
  const text = Object.entries(vars)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  // Joined, not `${text.slice(0, 77)}...`: that would be a rope over a slice keeping the whole text alive, and
  // every test keeps its description to the end of the run.
  return text.length > 80 ? [text.slice(0, 77), '...'].join('') : text || '(no vars)';
}
