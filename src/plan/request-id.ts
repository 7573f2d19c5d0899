import { createHash } from 'node:crypto';

/**
 * The request's identity: a hash of everything that decides the answer. Used as `custom_id` (Anthropic allows
 * `^[a-zA-Z0-9_-]{1,64}$`), to join results, and to send an identical request once.
 */
export function requestId(parts: { provider: string; baseURL?: string; model: string; params: unknown; messages: unknown; input?: string; api?: string }): string {
  const id = `r${createHash('sha256').update(canonicalJson(parts)).digest('hex').slice(0, 40)}`;
  // As one flat string: the template makes a rope over a slice that keeps all 64 hex digits alive (90 bytes
  // more per request, held by the plan, the batches and the scorer's maps for the whole run).
  return Buffer.from(id, 'latin1').toString('latin1');
}

/** JSON with object keys sorted, so equal values always hash alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
