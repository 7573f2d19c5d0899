import type { ResultSink } from '../batch/batch-phase.ts';
import type { RequestResult, Usage } from '../batch/types.ts';
import type { PlannedBatch } from '../plan/plan.ts';

/** An answer as it is kept for reuse: what scoring needs, and the usage it was billed for. */
export interface StoredOutput {
  text: string;
  usage: Usage;
  finishReason?: string;
  embedding?: number[];
}

/** The document kept in the Actions cache (or a file, for the CLI): outputs by request id. */
export interface OutputsDocument {
  version: 1;
  outputs: Record<string, StoredOutput>;
}

/**
 * Earlier answers by request id (the hash of provider, model, params and rendered messages: the same id is the
 * same question), and the answers of this run, kept to be stored for the next. A request whose answer is here is
 * not sent again.
 */
export class EarlierOutputs {
  readonly #earlier: Map<string, StoredOutput>;
  readonly #used = new Map<string, StoredOutput>();

  constructor(earlier: Map<string, StoredOutput> = new Map()) {
    this.#earlier = earlier;
  }

  get size(): number {
    return this.#earlier.size;
  }

  /** The ids of the requests in these batches that an earlier answer would spare (for the estimate; nothing is marked used). */
  reusableIds(batches: PlannedBatch[]): Set<string> {
    const ids = new Set<string>();
    for (const batch of batches) if (batch.reuse !== false) for (const r of batch.requests) if (this.#earlier.has(r.id)) ids.add(r.id);
    return ids;
  }

  /** The earlier answer to this request, as a result flagged `reused`; undefined when there is none. */
  reuse(id: string): RequestResult | undefined {
    const stored = this.#earlier.get(id);
    if (!stored) return undefined;
    this.#used.set(id, stored);
    return { id, ok: true, text: stored.text, usage: stored.usage, finishReason: stored.finishReason, ...(stored.embedding ? { embedding: stored.embedding } : {}), reused: true };
  }

  /** Keeps a fresh answer for the next run; errors are not kept (they are asked again). */
  record(result: RequestResult): void {
    if (!result.ok || result.reused) return;
    this.#used.set(result.id, { text: result.text, usage: result.usage, ...(result.finishReason ? { finishReason: result.finishReason } : {}), ...(result.embedding ? { embedding: result.embedding } : {}) });
  }

  /** What this run used, reused or fresh: the next run's earlier outputs. Old answers no request needs are let go. */
  toDocument(): OutputsDocument {
    return { version: 1, outputs: Object.fromEntries(this.#used) };
  }

  /** Reads a document; a damaged or foreign one gives nothing to reuse rather than wrong answers. */
  static fromDocument(text: string): { outputs?: EarlierOutputs; problem?: string } {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return { problem: `not JSON (${(err as Error).message})` };
    }
    const d = doc as Partial<OutputsDocument> | null;
    if (!d || typeof d !== 'object' || d.version !== 1 || !d.outputs || typeof d.outputs !== 'object') return { problem: 'not an outputs document of this version' };
    const entries = new Map<string, StoredOutput>();
    for (const [id, o] of Object.entries(d.outputs)) {
      if (o && typeof o.text === 'string' && o.usage && typeof o.usage.inputTokens === 'number' && typeof o.usage.outputTokens === 'number') entries.set(id, o);
    }
    return { outputs: new EarlierOutputs(entries) };
  }

  /** Earlier outputs from several documents (a pull request's own, then its base branch's). */
  static merge(...stores: (EarlierOutputs | undefined)[]): EarlierOutputs {
    const entries = new Map<string, StoredOutput>();
    for (const store of stores) if (store) for (const [id, o] of store.#earlier) if (!entries.has(id)) entries.set(id, o);
    return new EarlierOutputs(entries);
  }
}

/**
 * A phase's batches with earlier outputs: every request they answer is handed to the sink as a result (a batch whose
 * provider opts out, `reuse: false`, is sent whole), and the sink returned keeps every fresh answer for the next
 * run. Without earlier outputs, the batches and the sink as they are.
 */
export function reuseEarlier(batches: PlannedBatch[], sink: ResultSink, earlier: EarlierOutputs | undefined): { batches: PlannedBatch[]; sink: ResultSink; reused: number } {
  if (!earlier) return { batches, sink, reused: 0 };
  let reused = 0;
  const left = batches.flatMap((batch) => {
    if (batch.reuse === false) return [batch];
    const requests = batch.requests.filter((request) => {
      const result = earlier.reuse(request.id);
      if (result) sink.add(result), reused++;
      return !result;
    });
    return requests.length ? [{ ...batch, requests }] : [];
  });
  const recording: ResultSink = {
    add: (result) => {
      const added = sink.add(result);
      if (added) earlier.record(result);
      return added;
    },
    has: (id) => sink.has(id),
  };
  return { batches: left, sink: recording, reused };
}
