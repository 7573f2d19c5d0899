import type { ChatMessage, ProviderName } from '../config/types.ts';

/** One request as the plan stage produces it; `id` doubles as the provider's `custom_id`. */
export interface BatchRequest {
  id: string;
  model: string;
  /** OpenAI's Responses API: sent to `/v1/responses`, the messages as its `input`. */
  api?: 'responses';
  messages: ChatMessage[];
  params: Record<string, unknown>;
  /** An embeddings request (OpenAI `/v1/embeddings`) for this text instead of a chat request; `messages` is then empty. */
  input?: string;
  /**
   * Anthropic prompt caching (the provider's `config.promptCaching`): the request's first `blocks` blocks (the system
   * prompt, then each message) are a prefix it shares with other requests, and the last of them is sent with
   * `cache_control`. Not part of the id: it is how the request is sent, not what is asked.
   */
  cachePrefix?: CachePrefix;
}

/** Where an Anthropic request's cache breakpoint goes, and for how long the prefix is cached. */
export interface CachePrefix {
  /** How many blocks (the system prompt as one, then one per message) the cached prefix holds. */
  blocks: number;
  ttl: '5m' | '1h';
}

/** Token counts that do not overlap: each is billed at its own price. */
export interface Usage {
  /** Input tokens billed at the plain input price (neither read from nor written to a prompt cache). */
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from the provider's prompt cache. */
  cachedInputTokens: number;
  /** Input tokens written to the prompt cache (Anthropic; the 5-minute cache). */
  cacheWriteTokens: number;
  /** Input tokens written to Anthropic's 1-hour prompt cache (`ttl: '1h'`, a dearer write); absent when none. */
  cacheWrite1hTokens?: number;
}

export interface RequestError {
  code: string;
  message: string;
  /** Whether sending the same request again could succeed. */
  retryable: boolean;
}

export type RequestResult =
  | {
      id: string;
      ok: true;
      text: string;
      usage: Usage;
      finishReason?: string;
      /** An embeddings request's vector. */
      embedding?: number[];
      /** Answered from an earlier run's outputs: not sent, not billed now. */
      reused?: boolean;
    }
  | { id: string; ok: false; error: RequestError; usage?: Usage };

/** What a provider needs to find its batch again. Small and JSON-serialisable: it goes into run state. */
export interface BatchHandle {
  provider: ProviderName;
  batchId: string;
  requestCount: number;
  submittedAt: string;
}

export type BatchPhase = 'running' | 'ended';

export interface BatchStatus {
  phase: BatchPhase;
  /** The provider's own word for it, e.g. `in_progress`, `finalizing`, `expired`. */
  providerStatus: string;
  total: number;
  completed: number;
  failed: number;
  /** Batch-level errors (validation failures); per-request errors come with the results. */
  errors: string[];
  /** The validation errors that name a line of the input file (1-based), i.e. one request of the batch. */
  lineErrors?: { line: number; message: string }[];
}

/** Carried by the provider's batch (where it takes metadata), so a lost locator can be found by listing batches. */
export interface BatchMetadata {
  suite: string;
  repo?: string;
  pr?: string;
  sha?: string;
  /** The config's path in the repository and its suite id. */
  config?: string;
  suite_id?: string;
}

/** A running batch found by listing the provider's batches, with the metadata it was submitted with. */
export interface FoundBatch {
  handle: BatchHandle;
  model: string;
  metadata: Record<string, string>;
}

export interface BatchProvider {
  readonly name: ProviderName;
  /** This tool's batches still running for `repo`, where the provider keeps metadata (OpenAI; Anthropic does not). */
  findRunning?(repo: string, limit?: number): Promise<FoundBatch[]>;
  submit(requests: BatchRequest[], metadata: BatchMetadata): Promise<BatchHandle>;
  status(handle: BatchHandle): Promise<BatchStatus>;
  /** Every request of an ended batch, once each, in any order; requests the provider never answered are absent. */
  results(handle: BatchHandle): AsyncIterable<RequestResult>;
  cancel(handle: BatchHandle): Promise<void>;
}
