import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';

export interface BatchLimits {
  maxRequests: number;
  maxBytes: number;
}

export class BatchLimitError extends Error {}

export interface JsonlFile {
  path: string;
  lines: number;
  bytes: number;
  remove(): Promise<void>;
}

/**
 * Writes one JSON line per item to a temporary file, a line at a time, refusing to pass the provider's limits.
 * The file is uploaded from disk, so a 200 MB batch is never held in memory.
 */
export async function writeJsonl<T>(items: Iterable<T>, toLine: (item: T) => unknown, limits: BatchLimits, label: string): Promise<JsonlFile> {
  const dir = await mkdtemp(join(tmpdir(), 'batch-evals-'));
  const path = join(dir, 'requests.jsonl');
  const remove = () => rm(dir, { recursive: true, force: true });
  const out = createWriteStream(path);
  let lines = 0;
  let bytes = 0;
  try {
    for (const item of items) {
      const line = `${JSON.stringify(toLine(item))}\n`;
      lines++;
      bytes += Buffer.byteLength(line);
      if (lines > limits.maxRequests || bytes > limits.maxBytes) {
        const limit = lines > limits.maxRequests ? `${limits.maxRequests.toLocaleString('en-US')} requests` : formatBytes(limits.maxBytes);
        throw new BatchLimitError(
          `${label}: the batch passes the provider's limit of ${limit} per batch; splitting a suite across batches is not supported yet, so run fewer cases per suite`,
        );
      }
      if (!out.write(line)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  } catch (err) {
    // Wait for the stream to close (an in-flight write fails with an 'error' that must not go unhandled) before removing.
    out.destroy();
    await finished(out).catch(() => {});
    await remove();
    throw err;
  }
  return { path, lines, bytes, remove };
}

/** Sizes the way providers document them: 200 MB means 200 × 1024 × 1024 bytes. */
function formatBytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 1 ? `${Number(mb.toFixed(2))} MB` : `${bytes.toLocaleString('en-US')} bytes`;
}
