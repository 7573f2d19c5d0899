import { dirname } from 'node:path';
import { isGraded } from './assertion-types.ts';
import { ConfigError, keyPathString, type ConfigIssue } from './errors.ts';
import { extensionOf, hasGlob, isFileRef, readReferenced, resolveRef } from './files.ts';
import { isRecord, parseGraderId, requestOptions } from './providers.ts';
import { describeValue } from './validate.ts';
import type { Assertion, ChatMessage, GraderSpec, ProviderSpec } from './types.ts';
import { parseYaml, type KeyPath, type YamlSource } from './yaml-source.ts';

/** What a model-graded assertion needs a model for: a chat model grades, an embeddings model embeds. */
type Purpose = GraderSpec['kind'];

/** The key of promptfoo's provider-per-purpose mapping (`provider: {text: ..., embedding: ...}`) for a purpose. */
const PURPOSE_KEY: Record<Purpose, string> = { chat: 'text', embedding: 'embedding' };

/** The chat grader when the suite names none and runs OpenAI models (promptfoo's default grader). */
export const DEFAULT_OPENAI_GRADER = 'openai:gpt-4.1';
/** The chat grader when the suite names none and runs Anthropic models but no OpenAI one. */
export const DEFAULT_ANTHROPIC_GRADER = 'anthropic:messages:claude-sonnet-4-5';
/** The embeddings model when the suite names none (promptfoo's default). */
export const DEFAULT_EMBEDDING_GRADER = 'openai:embedding:text-embedding-3-large';

/** batch-evals' graders for a suite that names none: by the providers it runs. */
export function defaultGraders(providers: readonly ProviderSpec[]): Record<Purpose, GraderSpec> {
  const anthropicOnly = !providers.some((p) => p.provider === 'openai') && providers.some((p) => p.provider === 'anthropic');
  const chat = anthropicOnly
    ? { id: DEFAULT_ANTHROPIC_GRADER, provider: 'anthropic' as const, model: 'claude-sonnet-4-5' }
    : { id: DEFAULT_OPENAI_GRADER, provider: 'openai' as const, model: 'gpt-4.1' };
  return {
    chat: { ...chat, kind: 'chat', params: {}, isDefault: true },
    embedding: { id: DEFAULT_EMBEDDING_GRADER, provider: 'openai', model: 'text-embedding-3-large', kind: 'embedding', params: {}, isDefault: true },
  };
}

/** Where a grading option may be written, in the order that wins (as in promptfoo). */
type Level = 'assertion' | 'test' | 'defaultTest';

/** A grading option (`provider` or `rubricPrompt`) as written at one level, and where. */
interface Slot {
  value: unknown;
  source: YamlSource;
  path: KeyPath;
  level: Level;
}

/** A graded assertion as written: the assertion, where it is written (its owner, a test or defaultTest), and its raw keys. */
export interface WrittenAssertion {
  assertion: Assertion;
  provider?: unknown;
  rubricPrompt?: unknown;
  source: YamlSource;
  path: KeyPath;
}

/** The grading options of a test (or of defaultTest): its `options.provider`, `options.rubricPrompt` and `options.factuality`. */
export interface GradingOptions {
  provider?: unknown;
  rubricPrompt?: unknown;
  /** Checked by the schema: category name -> score. */
  factuality?: Assertion['factualityScores'];
  source: YamlSource;
  path: KeyPath;
}

type SlotOutcome<T> = { value: T } | { absent: true } | { failed: true };

/**
 * Resolves the grader (and rubric prompt) of model-graded assertions: the assertion's own, else the test's
 * `options`, else `defaultTest.options`, else batch-evals' default. Each option as written is read once (a
 * `file://` rubric prompt is read once, a bad provider reported once, however many assertions use it), and the
 * specs it makes are shared.
 */
export class GraderResolver {
  readonly #defaults: Record<Purpose, GraderSpec>;
  readonly #suiteOptions: GradingOptions | undefined;
  readonly #issues: ConfigIssue[];
  /** Per source (a JSONL line is a source of its own, with the same paths as the next line), per slot. */
  readonly #seen = new WeakMap<YamlSource, Map<string, SlotOutcome<unknown>>>();

  constructor(providers: readonly ProviderSpec[], suiteOptions: GradingOptions | undefined, issues: ConfigIssue[]) {
    this.#defaults = defaultGraders(providers);
    this.#suiteOptions = suiteOptions;
    this.#issues = issues;
  }

  /**
   * `written` with its grader and rubric prompt, for the test it runs in (`test` undefined: defaultTest's own,
   * shared by tests without grading options). Not graded, or not resolvable (the issue is recorded): as it is.
   */
  apply(written: WrittenAssertion, test: GradingOptions | undefined): Assertion {
    const a = written.assertion;
    if (!isGraded(a.type)) return a;
    const slots = (key: 'provider' | 'rubricPrompt'): Slot[] => {
      const out: Slot[] = [{ value: written[key], source: written.source, path: [...written.path, key], level: 'assertion' }];
      if (test) out.push({ value: test[key], source: test.source, path: [...test.path, key], level: 'test' });
      const suite = this.#suiteOptions;
      if (suite) out.push({ value: suite[key], source: suite.source, path: [...suite.path, key], level: 'defaultTest' });
      return out;
    };
    const needs = `the ${a.type} assertion`;
    const providers = slots('provider');
    const graded: Assertion = { ...a };
    if (a.type === 'similar') {
      graded.grader = this.#grader('embedding', providers, needs);
    } else {
      graded.grader = this.#grader('chat', providers, needs);
      if (a.type === 'answer-relevance') graded.embeddingGrader = this.#grader('embedding', providers, needs);
      const rubricPrompt = this.#rubricPrompt(slots('rubricPrompt'));
      if (rubricPrompt !== undefined) graded.rubricPrompt = rubricPrompt;
      const scores = a.type === 'factuality' ? (test?.factuality ?? this.#suiteOptions?.factuality) : undefined;
      if (scores) graded.factualityScores = scores;
    }
    return graded;
  }

  #grader(purpose: Purpose, slots: Slot[], needs: string): GraderSpec | undefined {
    for (const slot of slots) {
      if (slot.value === undefined || slot.value === null) continue;
      const outcome = this.#once(slot, purpose, () => this.#graderAt(slot, purpose, needs));
      if ('absent' in outcome) continue;
      return 'value' in outcome ? (outcome.value as GraderSpec) : undefined;
    }
    return this.#defaults[purpose];
  }

  #graderAt(slot: Slot, purpose: Purpose, needs: string): SlotOutcome<GraderSpec> {
    const { value, path } = slot;
    if (typeof value === 'string') return this.#model(slot, value, path, purpose, needs);
    if (isRecord(value)) {
      const key = PURPOSE_KEY[purpose];
      if (value[key] !== undefined) return this.#model(slot, value[key], [...path, key], purpose, needs);
      if (value.id !== undefined) return this.#model(slot, value, path, purpose, needs);
      // A mapping by purpose without this purpose: an assertion's own provider must name it (promptfoo fails
      // there); a test's or defaultTest's leaves this purpose to the next level, or to the default.
      if (slot.level !== 'assertion') return { absent: true };
      return this.#fail(slot, path, `names no ${purpose === 'chat' ? 'chat' : 'embeddings'} model for ${needs}: give it ${keyPathString([path[path.length - 1], key])}, or an id`);
    }
    return this.#fail(slot, path, 'must be a provider id or a mapping with an id');
  }

  #model(slot: Slot, written: unknown, path: KeyPath, purpose: Purpose, needs: string): SlotOutcome<GraderSpec> {
    const item = typeof written === 'string' ? { id: written } : isRecord(written) ? written : undefined;
    if (!item || typeof item.id !== 'string') return this.#fail(slot, path, 'must be a provider id or a mapping with an id');
    const idPath = typeof written === 'string' ? path : [...path, 'id'];
    const parsed = parseGraderId(item.id, purpose, needs);
    if ('error' in parsed) return this.#fail(slot, idPath, parsed.error, path);
    const { params, baseURL } = requestOptions(isRecord(item.config) ? item.config : undefined);
    const spec: GraderSpec = { id: item.id, provider: parsed.provider, model: parsed.model, kind: purpose, params };
    if (baseURL !== undefined) spec.baseURL = baseURL;
    if (parsed.api) spec.api = parsed.api;
    return { value: spec };
  }

  #fail(slot: Slot, at: KeyPath, message: string, keyPath: KeyPath = at): { failed: true } {
    this.#issues.push({ message, location: slot.source.locate(at), keyPath: keyPathString(keyPath) });
    return { failed: true };
  }

  #rubricPrompt(slots: Slot[]): string | ChatMessage[] | undefined {
    for (const slot of slots) {
      // promptfoo takes the first that is set (`||`): an empty text is not set.
      if (slot.value === undefined || slot.value === null || slot.value === '') continue;
      const outcome = this.#once(slot, 'rubricPrompt', () => this.#rubricPromptAt(slot));
      return 'value' in outcome ? (outcome.value as string | ChatMessage[]) : undefined;
    }
    return undefined;
  }

  #rubricPromptAt(slot: Slot): SlotOutcome<string | ChatMessage[]> {
    const { value, source, path } = slot;
    if (Array.isArray(value)) return { value: value as ChatMessage[] };
    if (typeof value !== 'string') return this.#fail(slot, path, 'must be a text or a list of {role, content} messages');
    if (!isFileRef(value)) return { value: rubricPromptOf(value) };
    const file = resolveRef(value, dirname(source.file));
    const ext = extensionOf(file);
    if (hasGlob(file)) return this.#fail(slot, path, `rubricPrompt file globs are not supported: ${value}`);
    if (['.js', '.cjs', '.mjs', '.ts', '.py'].includes(ext)) {
      return this.#fail(slot, path, `rubricPrompt functions are not supported (${value}); use a text, JSON or YAML file`);
    }
    let text: string;
    try {
      text = readReferenced(file, source.locate(path), keyPathString(path));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.#issues.push(...err.issues);
      return { failed: true };
    }
    if (ext === '.yaml' || ext === '.yml') {
      try {
        const doc = parseYaml(text, file).value;
        if (typeof doc === 'string') return { value: rubricPromptOf(doc) };
        const messages = chatMessages(doc);
        if (messages) return { value: messages };
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        // Not YAML that we read (a template in it, say): its text, as promptfoo sends it.
      }
    }
    return { value: rubricPromptOf(text) };
  }

  #once<T>(slot: Slot, what: string, make: () => SlotOutcome<T>): SlotOutcome<T> {
    let bySlot = this.#seen.get(slot.source);
    if (!bySlot) this.#seen.set(slot.source, (bySlot = new Map()));
    const key = `${what} ${keyPathString(slot.path)}`;
    let outcome = bySlot.get(key) as SlotOutcome<T> | undefined;
    if (!outcome) bySlot.set(key, (outcome = make()));
    return outcome;
  }
}

/**
 * A rubric prompt written as text: the chat messages when it is a JSON list of them (as promptfoo reads it:
 * its strings are the templates), else the text, a template to render.
 */
function rubricPromptOf(text: string): string | ChatMessage[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) return text;
  try {
    return chatMessages(JSON.parse(trimmed)) ?? text;
  } catch {
    return text;
  }
}

const ROLES: readonly string[] = ['system', 'developer', 'user', 'assistant'];

function chatMessages(value: unknown): ChatMessage[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const ok = value.every((m) => isRecord(m) && typeof m.role === 'string' && ROLES.includes(m.role) && typeof m.content === 'string');
  return ok ? value.map((m: ChatMessage) => ({ role: m.role, content: m.content })) : undefined;
}

/**
 * The value of a model-graded assertion, checked as promptfoo checks it when it grades: llm-rubric a rubric (text,
 * or a mapping or list it shows the grader as JSON); factuality a reference answer and model-graded-closedqa a
 * criterion (text); g-eval criteria and similar expected texts (a text or a list of them); answer-relevance none.
 */
export function gradedValueProblem(type: string, value: unknown): { message: string; item?: number } | undefined {
  switch (type) {
    case 'llm-rubric':
      if (typeof value === 'number' || typeof value === 'boolean') return { message: `llm-rubric's value must be the rubric, a text, not ${describeValue(value)}` };
      return undefined;
    case 'factuality':
    case 'model-graded-closedqa': {
      const what = type === 'factuality' ? 'the reference answer' : 'the criterion the output must meet';
      if (value === undefined || value === null) return { message: `${type} needs a value: ${what}` };
      if (typeof value !== 'string') return { message: `${type}'s value must be ${what}, a text, not ${describeValue(value)}${colonHint(value)}` };
      return undefined;
    }
    case 'g-eval':
    case 'similar': {
      const what = type === 'g-eval' ? 'the criteria (a text or a list of texts)' : 'the expected text (or a list of texts, any one of which may match)';
      if (value === undefined || value === null) return { message: `${type} needs a value: ${what}` };
      if (typeof value === 'string') return undefined;
      if (!Array.isArray(value)) return { message: `${type}'s value must be ${what}, not ${describeValue(value)}${colonHint(value)}` };
      if (value.length === 0) return { message: `${type}'s value is an empty list: it needs ${what}` };
      const bad = value.findIndex((v) => typeof v !== 'string');
      if (bad >= 0) return { message: `${type}'s value must be ${what}; this item is ${describeValue(value[bad])}${colonHint(value[bad])}`, item: bad };
      return undefined;
    }
    default:
      return undefined;
  }
}

/** YAML reads an unquoted `- Recommends a ruler: realized ROI` as a mapping: say so. */
function colonHint(value: unknown): string {
  return isRecord(value) && Object.keys(value).length === 1 ? " (an unquoted text with ': ' in it is read as a mapping; quote it)" : '';
}

