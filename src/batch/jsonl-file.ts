import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

/** How the items are laid out: JSON Lines (OpenAI's batch file), or one JSON document around them (Anthropic's body). */
export interface Frame {
  head: string;
  /** Before every item but the first. */
  between: string;
  /** After every item. */
  after: string;
  tail: string;
}

export const JSONL: Frame = { head: '', between: '', after: '\n', tail: '' };

/** Bytes written to the file at a time. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * Writes one JSON line per item to a temporary file, refusing to pass the provider's limits. The file is uploaded
 * from disk, so a 200 MB batch is never held in memory. The lines go through one buffer, reused: a stream would make
 * a Buffer of every line, and the allocator keeps their memory after the GC frees them.
 */
export async function writeJsonl<T>(items: Iterable<T>, toLine: (item: T) => unknown, limits: BatchLimits, label: string, frame: Frame = JSONL): Promise<JsonlFile> {
  const dir = await mkdtemp(join(tmpdir(), 'batch-evals-'));
  const path = join(dir, frame === JSONL ? 'requests.jsonl' : 'requests.json');
  const remove = () => rm(dir, { recursive: true, force: true });
  let lines = 0;
  let bytes = 0;
  let file: FileHandle | undefined;
  try {
    file = await open(path, 'w');
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let used = 0;
    const put = async (text: string) => {
      const size = Buffer.byteLength(text);
      if (used + size > buffer.length) {
        await writeAll(file!, buffer.subarray(0, used));
        used = 0;
      }
      if (size > buffer.length) await writeAll(file!, Buffer.from(text));
      else used += buffer.write(text, used);
    };
    await put(frame.head);
    bytes += Buffer.byteLength(frame.head) + Buffer.byteLength(frame.tail);
    for (const item of items) {
      const line = `${lines > 0 ? frame.between : ''}${JSON.stringify(toLine(item))}${frame.after}`;
      const size = Buffer.byteLength(line);
      lines++;
      bytes += size;
      if (lines > limits.maxRequests || bytes > limits.maxBytes) {
        const limit = lines > limits.maxRequests ? `${limits.maxRequests.toLocaleString('en-US')} requests` : formatBytes(limits.maxBytes);
        throw new BatchLimitError(
          `${label}: the batch passes the provider's limit of ${limit} per batch`,
        );
      }
      await put(line);
    }
    await put(frame.tail);
    await writeAll(file, buffer.subarray(0, used));
    await file.close();
  } catch (err) {
    await file?.close().catch(() => {});
    await remove();
    throw err;
  }
  return { path, lines, bytes, remove };
}

async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; ) offset += (await file.write(data, offset)).bytesWritten;
}

/** Sizes the way providers document them: 200 MB means 200 × 1024 × 1024 bytes. */
function formatBytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 1 ? `${Number(mb.toFixed(2))} MB` : `${bytes.toLocaleString('en-US')} bytes`;
}
