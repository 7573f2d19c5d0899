import { openAsBlob } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, { APIConnectionError, APIError } from 'openai';
import type { Logger } from '../logger.ts';
import { CREATE_RETRIES, errorText, failureOf as sdkFailureOf, retryable, retryDelayMs } from './create-retry.ts';
import { writeJsonl } from './jsonl-file.ts';
import { responseLines } from './lines.ts';
import type { BatchHandle, BatchMetadata, BatchProvider, FoundBatch, BatchRequest, BatchStatus, RequestError, RequestResult, Usage } from './types.ts';

/** An error of the openai SDK as the retry rules see it. */
const failureOf = (err: unknown) => sdkFailureOf(err, { APIError, APIConnectionError });

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const OPENAI_LIMITS = { maxRequests: 50_000, maxBytes: 200 * 1024 * 1024 };
const CHAT_ENDPOINT = '/v1/chat/completions';
const RESPONSES_ENDPOINT = '/v1/responses';
const EMBEDDINGS_ENDPOINT = '/v1/embeddings';
const RUNNING = new Set(['validating', 'in_progress', 'finalizing', 'cancelling']);

export interface OpenAIBatchOptions {
  apiKey: string;
  /** Always explicit: the SDK would otherwise read OPENAI_BASE_URL from the environment without saying so. */
  baseURL: string;
  log: Logger;
}

/** OpenAI's Batch API: the requests go up as a JSONL file, the answers come back as output and error files. */
export class OpenAIBatchProvider implements BatchProvider {
  readonly name = 'openai' as const;
  readonly #client: OpenAI;
  readonly #log: Logger;

  constructor(options: OpenAIBatchOptions) {
    this.#client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 4, timeout: 120_000 });
    this.#log = options.log;
  }

  async submit(requests: BatchRequest[], metadata: BatchMetadata): Promise<BatchHandle> {
    // A batch has one endpoint: the plan keeps embeddings requests (`similar` grading), and a Responses API model's,
    // in batches of their own.
    const endpoint = requests[0]?.input !== undefined ? EMBEDDINGS_ENDPOINT : requests[0]?.api === 'responses' ? RESPONSES_ENDPOINT : CHAT_ENDPOINT;
    const file = await writeJsonl(
      requests,
      (r) =>
        endpoint === EMBEDDINGS_ENDPOINT
          ? { custom_id: r.id, method: 'POST', url: endpoint, body: { ...r.params, model: r.model, input: r.input } }
          : endpoint === RESPONSES_ENDPOINT
            ? { custom_id: r.id, method: 'POST', url: endpoint, body: { ...responsesParams(r.params), model: r.model, input: r.messages } }
            : { custom_id: r.id, method: 'POST', url: endpoint, body: { ...r.params, model: r.model, messages: r.messages } },
      OPENAI_LIMITS,
      `openai:${requests[0]?.model}`,
    );
    try {
      this.#log.info(`openai:${requests[0]?.model}: uploading ${file.lines} requests (${(file.bytes / 1e6).toFixed(2)} MB)`);
      const upload = await this.#client.files.create({
        // A File over the disk-backed blob goes out from disk; a bare Blob would be read into memory first.
        file: new File([await openAsBlob(file.path)], 'batch-evals-requests.jsonl', { type: 'application/jsonl' }),
        purpose: 'batch',
      });
      const batch = await this.#createOnce({
        input_file_id: upload.id,
        endpoint,
        completion_window: '24h',
        metadata: openaiMetadata({ ...metadata, model: requests[0]?.model }),
      });
      return { provider: 'openai', batchId: batch.id, requestCount: file.lines, submittedAt: new Date(batch.created_at * 1000).toISOString() };
    } finally {
      await file.remove();
    }
  }

  /**
   * batches.create, retried as the SDK would, but never making a second batch: an answer lost after the batch was
   * made (a dropped connection, a timeout, a 5xx from a proxy) would have the SDK's retry create another, run and
   * billed in full beside the first. The input file was uploaded for this batch alone, so before trying again the
   * newest batches are searched for one made from it; a batch found is the one made, and is used.
   */
  async #createOnce(params: OpenAI.Batches.BatchCreateParams): Promise<OpenAI.Batches.Batch> {
    const since = Math.floor(Date.now() / 1000) - 300;
    let failure: unknown;
    for (let attempt = 0; attempt <= CREATE_RETRIES; attempt++) {
      if (attempt > 0) {
        await sleep(retryDelayMs(failureOf(failure), attempt));
        try {
          const made = await this.#findBatchOf(params.input_file_id, since);
          if (made) {
            this.#log.warning(`openai:${params.metadata?.model}: the batch was created though its answer was lost (${errorText(failure)}); using ${made.id}, not creating another`);
            return made;
          }
        } catch (err) {
          // Whether the batch was made is unknown: another create could make a second one, so ask again first. A
          // server without the listing (an OpenAI-compatible API) gets the plain retry the SDK would make.
          if (retryable(failureOf(err))) {
            failure = err;
            continue;
          }
        }
      }
      try {
        return await this.#client.batches.create(params, { maxRetries: 0 });
      } catch (err) {
        if (!retryable(failureOf(err))) throw err;
        failure = err;
      }
    }
    throw failure;
  }

  /** The batch made from this input file, among the newest (created since `since`, epoch seconds, give or take clock skew). */
  async #findBatchOf(inputFileId: string, since: number): Promise<OpenAI.Batches.Batch | undefined> {
    let seen = 0;
    for await (const batch of this.#client.batches.list({ limit: 100 }, { maxRetries: 0 })) {
      if (batch.input_file_id === inputFileId) return batch;
      if (batch.created_at < since || ++seen >= 1_000) return undefined;
    }
    return undefined;
  }

  async status(handle: BatchHandle): Promise<BatchStatus> {
    const batch = await this.#client.batches.retrieve(handle.batchId);
    const lineErrors = (batch.errors?.data ?? []).flatMap((e) => (e.line != null ? [{ line: e.line, message: [e.code, e.message].filter(Boolean).join(': ') }] : []));
    const counts = batch.request_counts ?? { total: handle.requestCount, completed: 0, failed: 0 };
    return {
      phase: RUNNING.has(batch.status) ? 'running' : 'ended',
      providerStatus: batch.status,
      total: counts.total,
      completed: counts.completed,
      failed: counts.failed,
      errors: (batch.errors?.data ?? []).map((e) => [e.line != null ? `line ${e.line}` : '', e.code, e.message].filter(Boolean).join(': ')),
      ...(lineErrors.length ? { lineErrors } : {}),

    };
  }

  async *results(handle: BatchHandle): AsyncGenerator<RequestResult> {
    const batch = await this.#client.batches.retrieve(handle.batchId);
    for (const fileId of [batch.output_file_id, batch.error_file_id]) {
      if (!fileId) continue;
      const response = await this.#client.files.content(fileId);
      for await (const line of responseLines(response)) {
        const result = parseResultLine(line);
        if (result) yield result;
        else this.#log.warning(`openai: skipped an unreadable line in ${fileId}: ${line.slice(0, 120)}`);
      }
    }
  }

  async findRunning(repo: string, limit = 500): Promise<FoundBatch[]> {
    const found: FoundBatch[] = [];
    let seen = 0;
    for await (const batch of this.#client.batches.list({ limit: 100 })) {
      if (++seen > limit) break;
      const metadata = (batch.metadata ?? {}) as Record<string, string>;
      // A batch being cancelled (a superseded commit's, or by hand) is not a run to resume.
      if (metadata.tool !== 'batch-evals' || metadata.repo !== repo || !RUNNING.has(batch.status) || batch.status === 'cancelling') continue;
      const model = metadata.model ?? '';
      found.push({
        handle: { provider: 'openai', batchId: batch.id, requestCount: batch.request_counts?.total ?? 0, submittedAt: new Date(batch.created_at * 1000).toISOString() },
        model,
        metadata,
      });
    }
    return found;
  }

  async cancel(handle: BatchHandle): Promise<void> {
    await this.#client.batches.cancel(handle.batchId);
  }
}

/** What the SDK retries: connection errors and timeouts, 408, 409, 429 and 5xx, or what `x-should-retry` says. */
/**
 * A suite's parameters for the Responses API, where two Chat Completions parameters moved (the API refuses them by
 * their old names): the output cap is `max_output_tokens`, and `response_format` is `text.format`, its
 * `json_schema` unwrapped (`{type: 'json_schema', name, schema, strict}`). The rest as written.
 */
export function responsesParams(params: Record<string, unknown>): Record<string, unknown> {
  const { max_tokens, max_completion_tokens, response_format, ...rest } = params;
  const out: Record<string, unknown> = { ...rest };
  const cap = rest.max_output_tokens ?? max_completion_tokens ?? max_tokens;
  if (cap !== undefined) out.max_output_tokens = cap;
  if (response_format !== undefined && out.text === undefined) {
    const format = response_format as { type?: string; json_schema?: Record<string, unknown> };
    out.text = { format: format.type === 'json_schema' && format.json_schema ? { type: 'json_schema', ...format.json_schema } : format };
  }
  return out;
}

/** OpenAI allows 16 pairs, keys up to 64 and values up to 512 characters. */
function openaiMetadata(metadata: BatchMetadata & { model?: string }): Record<string, string> {
  const pairs: Record<string, string> = { tool: 'batch-evals' };
  for (const [key, value] of Object.entries(metadata)) {
    if (value) pairs[key.slice(0, 64)] = String(value).slice(0, 512);
  }
  return pairs;
}

interface OutputLine {
  custom_id?: string;
  response?: { status_code: number; body?: ChatCompletionBody & { error?: { code?: string | null; type?: string; message?: string } } } | null;
  error?: { code?: string; message?: string } | null;
}

interface ChatCompletionBody {
  choices?: { message?: { content?: string | null; refusal?: string | null }; finish_reason?: string }[];
  /** A Responses API response: its output items (reasoning, messages), and why it stopped short. */
  object?: string;
  output?: { type?: string; content?: { type?: string; text?: string; refusal?: string }[] }[];
  status?: string;
  incomplete_details?: { reason?: string } | null;
  /** An embeddings response's vectors. */
  data?: { embedding?: number[] }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } };
}

/** Maps one line of an output or error file to a uniform result; undefined for a line that cannot be read. */
export function parseResultLine(line: string): RequestResult | undefined {
  let parsed: OutputLine;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const id = parsed.custom_id;
  if (typeof id !== 'string') return undefined;
  const response = parsed.response;
  if (response && response.status_code === 200 && response.body) {
    const embedding = response.body.data?.[0]?.embedding;
    if (Array.isArray(embedding)) return { id, ok: true, text: '', usage: usageOf(response.body), embedding };
    if (response.body.object === 'response') return responsesResult(id, response.body);
    const choice = response.body.choices?.[0];
    const text = choice?.message?.content ?? choice?.message?.refusal ?? '';
    return { id, ok: true, text, usage: usageOf(response.body), finishReason: choice?.finish_reason };
  }
  if (response) {
    const err = response.body?.error;
    return {
      id,
      ok: false,
      error: {
        code: err?.code ?? err?.type ?? `http_${response.status_code}`,
        message: err?.message ?? `HTTP ${response.status_code}`,
        retryable: response.status_code === 429 || response.status_code >= 500 || response.status_code === 408,
      },
    };
  }
  const error: RequestError = {
    code: parsed.error?.code ?? 'unknown_error',
    message: parsed.error?.message ?? 'the provider returned neither a response nor an error',
    retryable: ['batch_expired', 'batch_cancelled', 'server_error', 'rate_limit_exceeded', 'timeout'].includes(parsed.error?.code ?? ''),
  };
  return { id, ok: false, error };
}

/**
 * A Responses API answer: the text of its message items (`output_text` parts, or a refusal), its usage, and
 * `length` when it stopped at max_output_tokens, as Chat Completions says it.
 */
function responsesResult(id: string, body: ChatCompletionBody): RequestResult {
  const parts = (body.output ?? []).filter((item) => item.type === 'message').flatMap((item) => item.content ?? []);
  const text = parts.map((p) => (p.type === 'output_text' ? (p.text ?? '') : p.type === 'refusal' ? (p.refusal ?? '') : '')).join('');
  const usage = body.usage as { input_tokens?: number; output_tokens?: number; input_tokens_details?: { cached_tokens?: number } } | undefined;
  const input = usage?.input_tokens ?? 0;
  const cached = usage?.input_tokens_details?.cached_tokens ?? 0;
  const stoppedShort = body.status === 'incomplete' ? (body.incomplete_details?.reason === 'max_output_tokens' ? 'length' : (body.incomplete_details?.reason ?? 'incomplete')) : 'stop';
  return { id, ok: true, text, usage: { inputTokens: input - cached, cachedInputTokens: cached, outputTokens: usage?.output_tokens ?? 0, cacheWriteTokens: 0 }, finishReason: stoppedShort };
}

function usageOf(body: ChatCompletionBody): Usage {
  const prompt = body.usage?.prompt_tokens ?? 0;
  const cached = body.usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return { inputTokens: prompt - cached, cachedInputTokens: cached, outputTokens: body.usage?.completion_tokens ?? 0, cacheWriteTokens: 0 };
}
