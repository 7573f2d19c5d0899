/** Where a value sits in the eval YAML, for error messages and annotations. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface Assertion {
  /** Base type without the `not-` prefix, e.g. `contains`. */
  type: string;
  negate: boolean;
  /** The assertion's value; templates are rendered per case by the plan stage. */
  value?: unknown;
  threshold?: number;
  weight: number;
  metric?: string;
  /** `similar` only: the metric when it is not cosine (`similar:dot`, `similar:euclidean`). */
  similarity?: 'dot' | 'euclidean';
  /** JavaScript expression over `output` (and `context`) applied before this assertion. */
  transform?: string;
  /** Model-graded assertions: the model that grades (embeds, for `similar`) the output. */
  grader?: GraderSpec;
  /**
   * `answer-relevance` only: the embeddings model that compares the questions the (chat) grader writes from the
   * output with the input, as promptfoo does (its `provider.embedding`, else the default embeddings model).
   */
  embeddingGrader?: GraderSpec;
  /** factuality: the score of each category (promptfoo's `options.factuality`); a category above 0 passes. */
  factualityScores?: Partial<Record<'subset' | 'superset' | 'agree' | 'disagree' | 'differButFactual', number>>;
  /** Model-graded assertions: the suite's own grading prompt (promptfoo's `rubricPrompt`), in place of ours. */
  rubricPrompt?: string | ChatMessage[];
  location?: SourceLocation;
}

/**
 * The model behind a model-graded assertion: the assertion's `provider`, else the test's `options.provider`, else
 * `defaultTest.options.provider`, as in promptfoo; batch-evals' default when the suite names none.
 */
export interface GraderSpec {
  /** As written in the suite (or the default's id), e.g. `openai:gpt-4.1`. */
  id: string;
  provider: ProviderName;
  model: string;
  /** `embedding` for `similar` (OpenAI's embeddings endpoint); `chat` for the rubric graders. */
  kind: 'chat' | 'embedding';
  /** Request parameters from the grader's `config` (temperature, max_tokens, ...). */
  params: Record<string, unknown>;
  baseURL?: string;
  /** True when the suite named no grader and batch-evals chose it (the log says which). */
  isDefault?: boolean;
  /** A chat grader on OpenAI's Responses API (`openai:responses:<model>`). */
  api?: 'responses';
}

export interface TestCase {
  description?: string;
  vars: Record<string, unknown>;
  assert: Assertion[];
  threshold?: number;
  metadata: Record<string, unknown>;
  /** JavaScript expression over `output` applied before every assertion of the test. */
  transform?: string;
  location?: SourceLocation;
}

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: string;
}

/**
 * A prompt is either Nunjucks text (rendered whole; when the result is a JSON list of chat messages it is sent
 * as such, as promptfoo does, otherwise as one user message) or a list of chat messages whose contents are
 * Nunjucks templates.
 */
export type Prompt = {
  label: string;
  location?: SourceLocation;
  /** The prompt uses promptfoo's `_conversation`: each test's case is a turn of a thread, sent once the turns before it are answered. */
  conversational?: boolean;
} & (
  | { kind: 'text'; template: string }
  | { kind: 'chat'; messages: ChatMessage[] }
);

export type ProviderName = 'openai' | 'anthropic';

export interface ProviderSpec {
  /** The id as written, e.g. `openai:chat:gpt-4.1-mini`. */
  id: string;
  provider: ProviderName;
  model: string;
  /** Unique within the suite: the label, or the id when there is none. */
  label: string;
  /** Request parameters (temperature, max_tokens, ...) passed into the request body. */
  params: Record<string, unknown>;
  baseURL?: string;
  /** Labels of the prompts this provider gets; all when absent. */
  prompts?: string[];
  /** OpenAI's Responses API (`openai:responses:<model>`): the requests go to `/v1/responses`; else Chat Completions. */
  api?: 'responses';
  /** Anthropic prompt caching (`config.promptCaching`): the cache the shared prefix of its requests is written to. */
  promptCaching?: '5m' | '1h';
  /** false: this provider's requests are always sent, never answered from earlier outputs. */
  reuse?: false;
  location?: SourceLocation;
}

/** Per-model price override, USD per million tokens. */
export interface PriceOverride {
  input: number;
  output: number;
  cachedInput?: number;
  cacheWrite?: number;
}

export interface Suite {
  description?: string;
  /** Absolute path of the eval YAML. */
  file: string;
  prompts: Prompt[];
  providers: ProviderSpec[];
  tests: TestCase[];
  /** Minimum pass rate (0..1) from the suite's own `threshold`, when set. */
  threshold?: number;
  pricing: Record<string, PriceOverride>;
  batch: BatchOptions;
}

/** The suite's own `batch:` options. */
export interface BatchOptions {
  maxRequests?: number;
  /** For every model, or per model id. */
  maxEnqueuedTokens?: number | Record<string, number>;
  maxRetries?: number;
}

export interface ConfigWarning {
  message: string;
  location?: SourceLocation;
}
