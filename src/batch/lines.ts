import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

/**
 * The body of a results download broke off after its headers came (a reset connection, a short read): what was read
 * before is good, and the same download may well succeed whole if made again. The SDKs do not retry this themselves.
 */
export class ResultsDownloadError extends Error {}

/** The lines of an HTTP response body, read as they arrive (a results file may be hundreds of MB). */
export async function* responseLines(response: Response): AsyncGenerator<string> {
  if (!response.body) return;
  const input = Readable.fromWeb(response.body as unknown as WebReadableStream);
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.trim()) yield line;
    }
  } catch (err) {
    throw new ResultsDownloadError(`the download broke off: ${(err as Error).message}`, { cause: err });
  }
}
