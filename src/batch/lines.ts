import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

/** The lines of an HTTP response body, read as they arrive (a results file may be hundreds of MB). */
export async function* responseLines(response: Response): AsyncGenerator<string> {
  if (!response.body) return;
  const input = Readable.fromWeb(response.body as unknown as WebReadableStream);
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim()) yield line;
  }
}
