import type { BatchRequest } from '../batch/types.ts';
import type { ProviderName } from '../config/types.ts';

/**
 * Input tokens of a request before it is sent. OpenAI models: counted with the model's tokenizer (gpt-tokenizer,
 * loaded on first use: its vocabularies are some 3.5 MB of JavaScript that a run without an estimate never loads),
 * chat messages framed as the OpenAI API counts them. Anthropic publishes no offline tokenizer for its current
 * models: their tokens are approximated from the characters.
 */

export type OpenAIEncoding = 'o200k_base' | 'cl100k_base';

/** How a request's input tokens were found. */
export type Counting =
  | { kind: 'tokenizer'; encoding: OpenAIEncoding; assumed: boolean }
  | { kind: 'approximate'; rule: string };

/**
 * The tokenizer of an OpenAI model: cl100k_base for gpt-4 (not 4o or 4.1), gpt-4-turbo, gpt-3.5 and the embeddings
 * models; o200k_base for gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and the o-series. A model that is none of these (a model
 * behind an OpenAI-compatible endpoint) is counted with o200k_base, marked as assumed. Fine-tunes
 * (`ft:gpt-4o-mini:org::id`) count as their base model.
 */
export function openaiEncoding(model: string): { encoding: OpenAIEncoding; assumed: boolean } {
  const base = model.startsWith('ft:') ? model.split(':')[1] : model;
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4)(\b|-|$)/.test(base)) return { encoding: 'o200k_base', assumed: false };
  if (/^(gpt-4|gpt-3\.5|text-embedding-3-|text-embedding-ada-002)/.test(base)) return { encoding: 'cl100k_base', assumed: false };
  return { encoding: 'o200k_base', assumed: true };
}

/**
 * OpenAI's chat framing, as its cookbook counts it ("How to count tokens with tiktoken", checked against the API's
 * `prompt_tokens`): 3 tokens a message, plus its role and content (and name, with 1 more), plus 3 that prime the reply.
 */
export const OPENAI_TOKENS_PER_MESSAGE = 3;
export const OPENAI_TOKENS_PER_NAME = 1;
export const OPENAI_REPLY_PRIMING_TOKENS = 3;

export interface CountableMessage {
  role: string;
  content: string;
  name?: string;
}

/** The input tokens of a chat completion's messages, with `count` counting a text's tokens. */
export function openaiChatTokens(messages: readonly CountableMessage[], count: (text: string) => number): number {
  let tokens = OPENAI_REPLY_PRIMING_TOKENS;
  for (const m of messages) {
    tokens += OPENAI_TOKENS_PER_MESSAGE + count(m.role) + count(m.content);
    if (m.name !== undefined) tokens += count(m.name) + OPENAI_TOKENS_PER_NAME;
  }
  return tokens;
}

/** Anthropic's rule of thumb: a Claude token is about 3.5 English characters. */
export const ANTHROPIC_CHARS_PER_TOKEN = 3.5;
/** The message framing, taken to be OpenAI's (3 a message and 3 for the reply): Anthropic does not publish its own. */
export const ANTHROPIC_TOKENS_PER_MESSAGE = 3;
export const ANTHROPIC_RULE = `characters / ${ANTHROPIC_CHARS_PER_TOKEN}, plus ${ANTHROPIC_TOKENS_PER_MESSAGE} a message`;

/** Approximate input tokens of an Anthropic request: its characters (system prompt included) / 3.5, plus the framing. */
export function anthropicApproximateTokens(request: Pick<BatchRequest, 'messages'>): number {
  let chars = 0;
  for (const m of request.messages) chars += m.content.length;
  return Math.ceil(chars / ANTHROPIC_CHARS_PER_TOKEN) + ANTHROPIC_TOKENS_PER_MESSAGE * (request.messages.length + 1);
}

/** Approximate tokens of a text sent to an Anthropic model (the rule above without the framing). */
export function anthropicApproximateText(text: string): number {
  return Math.ceil(text.length / ANTHROPIC_CHARS_PER_TOKEN);
}

type Counter = (text: string) => number;

const loaded = new Map<OpenAIEncoding, Promise<Counter>>();

/** The token counter of an encoding, loaded once (the import is lazy: the vocabularies are large). */
export function loadEncoding(encoding: OpenAIEncoding): Promise<Counter> {
  let counter = loaded.get(encoding);
  if (!counter) {
    counter = (encoding === 'o200k_base' ? import('gpt-tokenizer/encoding/o200k_base') : import('gpt-tokenizer/encoding/cl100k_base')).then((m) => {
      // Text is data, not control: `<|endoftext|>` in a prompt is counted as the characters it is.
      const options = { disallowedSpecial: new Set<string>() };
      return (text: string) => (text === '' ? 0 : m.countTokens(text, options));
    });
    loaded.set(encoding, counter);
  }
  return counter;
}

/** Counts the input tokens of requests to one model. */
export interface RequestCounter {
  counting: Counting;
  /** A request's input tokens (an embeddings request: its input's). */
  request(request: Pick<BatchRequest, 'messages' | 'input'>): number;
  /** A bare text's tokens, without any framing. */
  text(text: string): number;
}

/** The counter for a provider's model: OpenAI's tokenizer, or Anthropic's approximation. */
export async function counterFor(provider: ProviderName, model: string): Promise<RequestCounter> {
  if (provider === 'anthropic') {
    return {
      counting: { kind: 'approximate', rule: ANTHROPIC_RULE },
      request: anthropicApproximateTokens,
      text: anthropicApproximateText,
    };
  }
  const { encoding, assumed } = openaiEncoding(model);
  const count = await loadEncoding(encoding);
  return {
    counting: { kind: 'tokenizer', encoding, assumed },
    request: (r) => (r.input !== undefined ? count(r.input) : openaiChatTokens(r.messages, count)),
    text: count,
  };
}
