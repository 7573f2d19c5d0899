/** USD per million tokens at real-time prices. Batch is half of every line. */
export interface Price {
  input: number;
  output: number;
  /** Input read from the prompt cache. */
  cachedInput: number;
  /** Input written to the prompt cache (Anthropic, 5-minute cache). */
  cacheWrite: number;
  /** Input written to Anthropic's 1-hour cache; twice the input price when not given. */
  cacheWrite1h?: number;
}

export const PRICES_CHECKED = '2026-11';
export const BATCH_DISCOUNT = 0.5;

const openai = (input: number, output: number, cachedInput: number): Price => ({ input, output, cachedInput, cacheWrite: input });
// Anthropic: cache reads cost 10% of input, 5-minute cache writes 125%, 1-hour cache writes 200%. The batch discount
// applies to all of them (Anthropic: "the pricing discounts from both features stack").
const anthropic = (input: number, output: number): Price => ({ input, output, cachedInput: input * 0.1, cacheWrite: input * 1.25, cacheWrite1h: input * 2 });

/** Model ids and the prefixes of their dated versions (gpt-4o-2024-08-06, claude-sonnet-4-20250514). */
export const PRICES: Record<string, Price> = {
  'gpt-3.5-turbo': openai(0.5, 1.5, 0.5),
  'gpt-4-turbo': openai(10, 30, 10),
  'gpt-4o': openai(2.5, 10, 1.25),
  'gpt-4o-mini': openai(0.15, 0.6, 0.075),
  'gpt-4.1': openai(2, 8, 0.5),
  'gpt-4.1-mini': openai(0.4, 1.6, 0.1),
  'gpt-4.1-nano': openai(0.1, 0.4, 0.025),
  o3: openai(2, 8, 0.5),
  'o4-mini': openai(1.1, 4.4, 0.275),
  'gpt-5': openai(1.25, 10, 0.125),
  'gpt-5-mini': openai(0.25, 2, 0.025),
  'gpt-5-nano': openai(0.05, 0.4, 0.005),
  // Embeddings (the `similar` assertion): input only.
  'text-embedding-3-small': openai(0.02, 0, 0.02),
  'text-embedding-3-large': openai(0.13, 0, 0.13),
  'text-embedding-ada-002': openai(0.1, 0, 0.1),
  'claude-opus-4-5': anthropic(5, 25),
  'claude-opus-4-6': anthropic(5, 25),
  'claude-opus-4-1': anthropic(15, 75),
  'claude-opus-4': anthropic(15, 75),
  'claude-sonnet-4-5': anthropic(3, 15),
  'claude-sonnet-4': anthropic(3, 15),
  'claude-haiku-4-5': anthropic(1, 5),
  'claude-3-7-sonnet': anthropic(3, 15),
  'claude-3-5-sonnet': anthropic(3, 15),
  'claude-3-5-haiku': anthropic(0.8, 4),
  'claude-3-opus': anthropic(15, 75),
  'claude-3-haiku': anthropic(0.25, 1.25),
};
