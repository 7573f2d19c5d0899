import { splitSystem } from '../batch/anthropic.ts';
import type { BatchRequest, CachePrefix } from '../batch/types.ts';
import { ANTHROPIC_CHARS_PER_TOKEN } from '../cost/tokens.ts';
import type { Logger } from '../logger.ts';
import type { PlannedBatch } from './plan.ts';
import { canonicalJson } from './request-id.ts';

/**
 * Anthropic prompt caching, opt-in per provider (`config.promptCaching`). Across a model's requests, each request's
 * longest prefix (the system prompt, then its messages one by one) that at least one other request shares byte for
 * byte, and that is long enough for Anthropic to cache, gets the cache breakpoint: the request's `cachePrefix`, which
 * the Anthropic provider sends as `cache_control` on that prefix's last block. The first request with a prefix writes
 * it to the cache (1.25 times the input price, 2 times for the 1-hour cache), later ones read it (0.1 times), batch
 * discount included. In a batch, Anthropic serves cache hits on a best-effort basis.
 */

/**
 * Gives the requests of every Anthropic batch whose provider asked for caching (`optedIn`, the plan's `caching`) their
 * cache breakpoints, one model at a time. Called on the requests that are sent (after any that earlier outputs answer
 * are taken out, before batches are split), so a prefix counts as shared only by requests that go out.
 */
export function markPromptCaching(batches: PlannedBatch[], optedIn: ReadonlyMap<string, CachePrefix['ttl']> | undefined, log?: Logger): void {
  if (!optedIn || optedIn.size === 0) return;
  // A batch is one model at one endpoint (the cache is the endpoint's); the parts of a split one are counted together.
  const byKey = new Map<string, { model: string; requests: BatchRequest[] }>();
  for (const batch of batches) {
    if (batch.provider !== 'anthropic' || batch.purpose === 'grading') continue;
    const key = batch.key.replace(/#\d+$/, '');
    const entry = byKey.get(key);
    if (entry) entry.requests.push(...batch.requests);
    else byKey.set(key, { model: batch.model, requests: [...batch.requests] });
  }
  for (const { model, requests } of byKey.values()) markCachePrefixes(model, requests, optedIn, log);
}

/** A prefix is marked when at least this many requests share it: one write, then reads. */
export const MIN_SHARING_REQUESTS = 2;

/** Tokens of a prefix of `chars` characters, by the estimate's rule for Claude models (Anthropic has no offline tokenizer). */
export function estimateCacheTokens(chars: number): number {
  return Math.ceil(chars / ANTHROPIC_CHARS_PER_TOKEN);
}

/**
 * The shortest prompt prefix Anthropic caches, in tokens, by model (Anthropic's prompt caching docs, "Cache
 * limitations", checked 2026-11; where copies of that table disagree, the lower figure). A shorter prefix marked with
 * cache_control is simply not cached (no error, no write charge), so for a model not listed the lowest minimum is
 * assumed and the marker is sent.
 */
const MIN_CACHEABLE_TOKENS: [prefix: string, tokens: number][] = [
  ['claude-opus-4-6', 4096],
  ['claude-opus-4-5', 4096],
  ['claude-haiku-4-5', 4096],
  ['claude-3-5-haiku', 2048],
  ['claude-3-haiku', 2048],
  ['claude-sonnet-4-6', 1024],
  ['claude-sonnet-4-5', 1024],
  ['claude-opus-4-1', 1024],
  ['claude-opus-4', 1024],
  ['claude-sonnet-4', 1024],
  ['claude-3-7-sonnet', 1024],
  ['claude-3-5-sonnet', 1024],
  ['claude-3-opus', 1024],
];
export const DEFAULT_MIN_CACHEABLE_TOKENS = 1024;

/** The model's minimum cacheable prefix: the entry whose id is the model or the longest that starts it (dated versions). */
export function minCacheableTokens(model: string): { tokens: number; known: boolean } {
  const entry = MIN_CACHEABLE_TOKENS.filter(([id]) => model === id || model.startsWith(`${id}-`)).sort((a, b) => b[0].length - a[0].length)[0];
  return entry ? { tokens: entry[1], known: true } : { tokens: DEFAULT_MIN_CACHEABLE_TOKENS, known: false };
}

/** Parameters that do not change the prompt Anthropic caches: requests that differ only in these share a cache. */
const SAMPLING_PARAMS = new Set(['max_tokens', 'temperature', 'top_p', 'top_k', 'stop', 'stop_sequences', 'metadata', 'service_tier']);

interface Node {
  /** Requests whose prompt starts with the blocks up to this node. */
  count: number;
  /** Characters of the blocks up to this node. */
  chars: number;
  /** By role, then by the block's text (two maps, so no key string is made per request). */
  children?: Map<string, Map<string, Node>>;
}

export interface CacheMarking {
  /** Requests given a cache breakpoint. */
  marked: number;
  /** Requests that asked for caching. */
  optedIn: number;
  /** The distinct prefixes marked, with their estimated tokens and how many requests share each. */
  prefixes: { blocks: number; tokens: number; requests: number }[];
  /** Why the requests left unmarked are: the longest shared prefix they have, when it is too short. */
  longestTooShort?: number;
  minTokens: { tokens: number; known: boolean };
}

/**
 * Gives each opted-in request of one model its cache breakpoint: the longest prefix of its blocks that at least
 * MIN_SHARING_REQUESTS opted-in requests (with the same prompt-shaping parameters) share and that has at least the
 * model's minimum cacheable tokens. `optedIn` maps request ids to the cache they asked for. Logs what it did.
 */
export function markCachePrefixes(model: string, requests: BatchRequest[], optedIn: ReadonlyMap<string, CachePrefix['ttl']>, log?: Logger): CacheMarking {
  const minTokens = minCacheableTokens(model);
  const candidates = requests.filter((r) => optedIn.has(r.id) && r.input === undefined);
  const marking: CacheMarking = { marked: 0, optedIn: candidates.length, prefixes: [], minTokens };
  if (candidates.length === 0) return marking;

  const roots = new Map<string, Node>();
  const blocksOf = new Map<BatchRequest, { role: string; text: string }[]>();
  const rootOf = new Map<BatchRequest, Node>();
  for (const request of candidates) {
    const group = promptParams(request);
    let node = roots.get(group);
    if (!node) roots.set(group, (node = { count: 0, chars: 0 }));
    rootOf.set(request, node);
    const blocks = anthropicBlocks(request);
    blocksOf.set(request, blocks);
    node.count++;
    for (const block of blocks) {
      node.children ??= new Map();
      let byText = node.children.get(block.role);
      if (!byText) node.children.set(block.role, (byText = new Map()));
      let child = byText.get(block.text);
      if (!child) byText.set(block.text, (child = { count: 0, chars: node.chars + block.text.length }));
      child.count++;
      node = child;
    }
  }

  const prefixes = new Map<Node, { blocks: number; tokens: number; requests: number }>();
  let longestTooShort = 0;
  for (const request of candidates) {
    let node = rootOf.get(request)!;
    let best: { node: Node; blocks: number } | undefined;
    const blocks = blocksOf.get(request)!;
    for (let depth = 0; depth < blocks.length; depth++) {
      const block = blocks[depth];
      node = node.children!.get(block.role)!.get(block.text)!;
      if (node.count < MIN_SHARING_REQUESTS) break;
      // An empty block cannot carry the marker (the API refuses an empty text block); a longer prefix still can.
      if (block.text === '') continue;
      if (estimateCacheTokens(node.chars) >= minTokens.tokens) best = { node, blocks: depth + 1 };
      else longestTooShort = Math.max(longestTooShort, estimateCacheTokens(node.chars));
    }
    if (!best) continue;
    request.cachePrefix = { blocks: best.blocks, ttl: optedIn.get(request.id)! };
    marking.marked++;
    let prefix = prefixes.get(best.node);
    if (!prefix) prefixes.set(best.node, (prefix = { blocks: best.blocks, tokens: estimateCacheTokens(best.node.chars), requests: 0 }));
    prefix.requests++;
  }
  marking.prefixes = [...prefixes.values()];
  if (marking.marked < marking.optedIn && longestTooShort > 0) marking.longestTooShort = longestTooShort;
  log?.info(describeMarking(model, marking));
  return marking;
}

/** The parameters that shape the prompt Anthropic caches, as one string: requests differing in any other share a cache. */
function promptParams(request: BatchRequest): string {
  return canonicalJson(Object.fromEntries(Object.entries(request.params).filter(([k]) => !SAMPLING_PARAMS.has(k))));
}

/**
 * A marked request's cached prefix: `key`, the same for every request that shares the cache entry (model aside), and
 * its text. Undefined for a request without a cache breakpoint.
 */
export function cachedPrefixOf(request: BatchRequest): { key: string; text: string } | undefined {
  if (!request.cachePrefix) return undefined;
  const blocks = anthropicBlocks(request).slice(0, request.cachePrefix.blocks);
  return {
    key: [promptParams(request), ...blocks.flatMap((b) => [b.role, b.text])].join('\u0000'),
    text: blocks.map((b) => b.text).join(''),
  };
}

/** The request as Anthropic gets it, block by block: the system prompt (all system messages joined), then each message. */
function anthropicBlocks(request: BatchRequest): { role: string; text: string }[] {
  const { system, messages } = splitSystem(request.messages);
  const blocks = messages.map((m) => ({ role: m.role, text: m.content }));
  return system === undefined ? blocks : [{ role: 'system', text: system }, ...blocks];
}

/** One log line: what was marked, or why caching was skipped. */
export function describeMarking(model: string, m: CacheMarking): string {
  const label = `anthropic:${model}: prompt caching`;
  const minimum = `${m.minTokens.tokens.toLocaleString('en-US')} tokens${m.minTokens.known ? ` Anthropic caches for ${model}` : ' (assumed: the lowest minimum Anthropic documents; the model is not in our table)'}`;
  const estimate = `estimated at ${ANTHROPIC_CHARS_PER_TOKEN} characters a token`;
  if (m.marked === 0) {
    const why =
      m.longestTooShort !== undefined
        ? `the longest prefix ${MIN_SHARING_REQUESTS} or more requests share is about ${m.longestTooShort.toLocaleString('en-US')} tokens (${estimate}), below the ${minimum}`
        : `no prefix (the system prompt, then whole messages) is shared by ${MIN_SHARING_REQUESTS} or more of its ${m.optedIn.toLocaleString('en-US')} requests; put the shared part in a system message or messages of its own`;
    return `${label} skipped: ${why}`;
  }
  const shown = [...m.prefixes].sort((a, b) => b.requests - a.requests);
  const list = shown
    .slice(0, 3)
    .map((p) => `about ${p.tokens.toLocaleString('en-US')} tokens (${p.blocks === 1 ? '1 block' : `${p.blocks} blocks`}) shared by ${p.requests.toLocaleString('en-US')}`)
    .join(', ');
  const more = shown.length > 3 ? ` and ${shown.length - 3} more` : '';
  const left = m.optedIn - m.marked;
  const rest = left > 0 ? `; ${left.toLocaleString('en-US')} ${left === 1 ? 'shares' : 'share'} no prefix long enough to cache and ${left === 1 ? 'is' : 'are'} sent without` : '';
  return (
    `${label}: a cache breakpoint on ${m.marked.toLocaleString('en-US')} of ${m.optedIn.toLocaleString('en-US')} requests, ` +
    `${shown.length === 1 ? 'one prefix' : `${shown.length} prefixes`}: ${list}${more} (${estimate})${rest}. In a batch, cache hits are best-effort`
  );
}
