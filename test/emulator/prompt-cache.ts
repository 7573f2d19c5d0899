/**
 * Anthropic's prompt cache as the Message Batches emulator models it (see README.md, "Prompt caching"): blocks marked
 * with `cache_control` are cache breakpoints; the prefix up to a breakpoint (tools, then system, then messages) is
 * written to the cache the first time it is seen and read by later requests while it lives (5 minutes, or 1 hour with
 * `ttl: '1h'`, from its last use). A hit is looked for at each breakpoint and at the 20 block boundaries before it.
 * Unlike the real API in a batch (where hits are best-effort), the emulator is deterministic: requests are answered in
 * order, the first with a prefix writes it and every later one within the TTL reads it.
 */
import { createHash, type Hash } from 'node:crypto';

export type CacheTtl = '5m' | '1h';
export const CACHE_TTL_MS: Record<CacheTtl, number> = { '5m': 5 * 60_000, '1h': 60 * 60_000 };
/** At most this many blocks may carry cache_control in one request. */
export const MAX_CACHE_BREAKPOINTS = 4;
/** Block boundaries before a breakpoint where a hit is also looked for (Anthropic: "approximately 20"). */
export const CACHE_LOOKBACK_BLOCKS = 20;

/** The shortest prefix Anthropic caches, in tokens, by model (its prompt caching docs); 1,024 for other models. */
const MIN_TOKENS: [prefix: string, tokens: number][] = [
  ['claude-opus-4-6', 4096],
  ['claude-opus-4-5', 4096],
  ['claude-haiku-4-5', 4096],
  ['claude-3-5-haiku', 2048],
  ['claude-3-haiku', 2048],
];

export function defaultMinCacheTokens(model: string): number {
  const entry = MIN_TOKENS.filter(([id]) => model === id || model.startsWith(`${id}-`)).sort((a, b) => b[0].length - a[0].length)[0];
  return entry ? entry[1] : 1024;
}

export interface PromptCacheEntry {
  model: string;
  /** Tokens of the prefix (the emulator's count: ceil(characters / 4) of its texts joined by newlines). */
  tokens: number;
  ttl: CacheTtl;
  /** Epoch ms; refreshed on every read. */
  expires: number;
}

/** What one request read from and wrote to the cache. */
export interface CacheUsage {
  read: number;
  write5m: number;
  write1h: number;
}

interface CacheBlock {
  /** The text the emulator counts tokens of ('' for tools and non-text blocks). */
  text: string;
  /** The block's breakpoint, if it carries cache_control. */
  ttl?: CacheTtl;
  /** Hash of the model and every block up to and including this one, cache_control left out. */
  key: string;
}

/**
 * The cache_control markers of a request: a message for the first malformed one (the API's per-request
 * invalid_request_error), or null. Checked: `{type: 'ephemeral', ttl?: '5m' | '1h'}`, at most 4 in a request.
 */
export function checkCacheControl(params: Record<string, unknown>): string | null {
  let count = 0;
  for (const { path, control } of markers(params)) {
    count++;
    if (typeof control !== 'object' || control === null || Array.isArray(control)) return `${path}.cache_control: Input should be a valid dictionary or object`;
    const { type, ttl, ...extra } = control as Record<string, unknown>;
    if (type !== 'ephemeral') return `${path}.cache_control.type: Input should be 'ephemeral'`;
    if (ttl !== undefined && ttl !== '5m' && ttl !== '1h') return `${path}.cache_control.ttl: Input should be '5m' or '1h'`;
    for (const key of Object.keys(extra)) return `${path}.cache_control.${key}: Extra inputs are not permitted`;
  }
  if (count > MAX_CACHE_BREAKPOINTS) return `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${count}.`;
  return null;
}

/** Every cache_control in the request, with where it is (`system.0`, `messages.1.content.0`, `tools.2`). */
function* markers(params: Record<string, unknown>): Generator<{ path: string; control: unknown }> {
  for (const [path, block] of rawBlocks(params)) {
    if (block && typeof block === 'object' && 'cache_control' in block && (block as { cache_control?: unknown }).cache_control != null) {
      yield { path, control: (block as { cache_control: unknown }).cache_control };
    }
  }
}

/** The request's blocks in prompt order, with their paths: tools, system (a string is one block), each message's content. */
function* rawBlocks(params: Record<string, unknown>): Generator<[path: string, block: unknown, role: string]> {
  if (Array.isArray(params.tools)) for (const [i, tool] of params.tools.entries()) yield [`tools.${i}`, tool, 'tool'];
  const system = params.system;
  if (typeof system === 'string') {
    if (system !== '') yield ['system', { type: 'text', text: system }, 'system'];
  } else if (Array.isArray(system)) {
    for (const [i, block] of system.entries()) yield [`system.${i}`, block, 'system'];
  }
  const messages = Array.isArray(params.messages) ? params.messages : [];
  for (const [m, message] of messages.entries()) {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    if (typeof content === 'string') yield [`messages.${m}.content`, { type: 'text', text: content }, String(role)];
    else if (Array.isArray(content)) for (const [i, block] of content.entries()) yield [`messages.${m}.content.${i}`, block, String(role)];
  }
}

/** The emulator's token count, ceil(characters / 4) (estimateTokens in responder.ts), from a length. */
function tokensOfChars(chars: number): number {
  return Math.ceil(chars / 4);
}

function cacheBlocks(model: string, params: Record<string, unknown>): CacheBlock[] {
  const hash: Hash = createHash('sha256').update(`${model}\u0000`);
  const blocks: CacheBlock[] = [];
  for (const [, block, role] of rawBlocks(params)) {
    const { cache_control: control, ...rest } = (block && typeof block === 'object' ? block : { value: block }) as Record<string, unknown>;
    hash.update(JSON.stringify([role, rest]));
    const text = role !== 'tool' && rest.type === 'text' && typeof rest.text === 'string' ? rest.text : '';
    const ttl = control && typeof control === 'object' ? ((control as { ttl?: CacheTtl }).ttl ?? '5m') : undefined;
    blocks.push({ text, ...(ttl ? { ttl } : {}), key: hash.copy().digest('hex') });
  }
  return blocks;
}

/** The cache of one emulator (one organization): prefixes by hash, shared by all its batches. */
export class PromptCache {
  readonly entries = new Map<string, PromptCacheEntry>();
  readonly #minTokens: (model: string) => number;

  constructor(minTokens: number | ((model: string) => number) = defaultMinCacheTokens) {
    this.#minTokens = typeof minTokens === 'number' ? () => minTokens : minTokens;
  }

  /**
   * What a request answered at `atMs` reads and writes, the cache updated: the longest live prefix at or before a
   * breakpoint (within the lookback) is read; each breakpoint past it whose prefix has at least the model's minimum
   * tokens is written, the tokens from the end of what was read (or written) before it to the breakpoint counted as
   * written at that breakpoint's TTL. `totalTokens` caps the counts (the prompt's own token count).
   */
  use(model: string, params: Record<string, unknown>, totalTokens: number, atMs: number): CacheUsage {
    const usage: CacheUsage = { read: 0, write5m: 0, write1h: 0 };
    const blocks = cacheBlocks(model, params);
    const breakpoints = blocks.flatMap((b, i) => (b.ttl ? [i] : []));
    if (breakpoints.length === 0) return usage;

    // Tokens of the prefix through each block: its non-empty texts joined by newlines, as the input count has them.
    const tokens: number[] = [];
    let chars = 0;
    let parts = 0;
    for (const block of blocks) {
      if (block.text !== '') {
        chars += block.text.length + (parts > 0 ? 1 : 0);
        parts++;
      }
      tokens.push(Math.min(totalTokens, tokensOfChars(chars)));
    }

    let hit = -1;
    for (const b of [...breakpoints].reverse()) {
      for (let p = b; p >= Math.max(0, b - CACHE_LOOKBACK_BLOCKS) && p > hit; p--) {
        const entry = this.entries.get(blocks[p].key);
        if (entry && entry.expires > atMs) {
          hit = p;
          entry.expires = Math.max(entry.expires, atMs + CACHE_TTL_MS[entry.ttl]);
          break;
        }
      }
    }
    if (hit >= 0) usage.read = tokens[hit];

    const min = this.#minTokens(model);
    let covered = usage.read;
    for (const b of breakpoints) {
      if (b <= hit || tokens[b] < min) continue;
      const ttl = blocks[b].ttl!;
      this.entries.set(blocks[b].key, { model, tokens: tokens[b], ttl, expires: atMs + CACHE_TTL_MS[ttl] });
      const written = Math.max(0, tokens[b] - covered);
      if (ttl === '1h') usage.write1h += written;
      else usage.write5m += written;
      covered = Math.max(covered, tokens[b]);
    }
    return usage;
  }
}
