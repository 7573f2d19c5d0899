/** Shared helpers for the batch integration tests: emulator on a fake clock, capturing logger, request factory, a cutting proxy. */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAIBatchProvider } from '../../src/batch/openai.ts';
import type { BatchRun } from '../../src/batch/run-batches.ts';
import type { BatchRequest } from '../../src/batch/types.ts';
import type { Logger } from '../../src/logger.ts';
import { startOpenAIEmulator, type OpenAIEmulator, type OpenAIEmulatorOptions } from '../emulator/openai-emulator.ts';

export const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

export interface LogLine {
  level: 'info' | 'warning' | 'debug';
  message: string;
}

/** A Logger that keeps every line, for assertions. */
export function captureLog() {
  const lines: LogLine[] = [];
  const log: Logger = {
    info: (message) => lines.push({ level: 'info', message }),
    warning: (message) => lines.push({ level: 'warning', message }),
    debug: (message) => lines.push({ level: 'debug', message }),
  };
  const of = (level: LogLine['level']) => lines.filter((l) => l.level === level).map((l) => l.message);
  return { log, lines, infos: () => of('info'), warnings: () => of('warning') };
}

/** Things to close after each test. */
export const closers: (() => Promise<void>)[] = [];

export async function closeAll(): Promise<void> {
  const pending = closers.splice(0);
  await Promise.all(pending.map((close) => close()));
}

/** An emulator whose clock only moves when the test moves it (`clock.now += ms`). */
export async function emulatorOnFakeClock(options: OpenAIEmulatorOptions = {}) {
  const clock = { now: T0 };
  const emulator = await startOpenAIEmulator({ clock: () => clock.now, ...options });
  closers.push(() => emulator.close());
  return { emulator, clock };
}

export function providerAt(baseURL: string, log: Logger = captureLog().log): OpenAIBatchProvider {
  return new OpenAIBatchProvider({ apiKey: 'test-key', baseURL, log });
}

/** One chat request per question, ids `<prefix>-<i>`. */
export function chatRequests(model: string, questions: string[], params: Record<string, unknown> = {}, prefix = model): BatchRequest[] {
  return questions.map((question, i) => ({
    id: `${prefix}-${i}`,
    model,
    messages: [
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: question },
    ],
    params,
  }));
}

export function runFor(requests: BatchRequest[], provider: BatchRun['provider']): BatchRun {
  const model = requests[0].model;
  return { batch: { key: `openai||${model}`, provider: 'openai', model, requests }, provider };
}

/** The JSON lines of an emulator file. */
export function fileJson(emulator: OpenAIEmulator, fileId: string): any[] {
  const file = emulator.state.files.get(fileId);
  if (!file) throw new Error(`no file ${fileId} in the emulator`);
  return file.content
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** What the proxy does with one request: forward it untouched, answer it itself, or forward it and cut the body short. */
export type ProxyAction = { kind: 'forward' } | { kind: 'respond'; status: number; body: unknown } | { kind: 'cut'; afterBytes: number };

/**
 * A plain HTTP proxy in front of the emulator that can answer or break chosen requests, for failures a well-behaved
 * emulator does not produce (a connection dropped in the middle of a download, a one-off error answer).
 */
export async function startProxy(targetBaseUrl: string, decide: (method: string, path: string) => ProxyAction) {
  const target = new URL(targetBaseUrl);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const action = decide(req.method ?? 'GET', path);
    if (action.kind === 'respond') {
      req.resume();
      res.writeHead(action.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(action.body));
      return;
    }
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (action.kind === 'forward') {
          up.pipe(res);
          return;
        }
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent >= action.afterBytes) return;
          const part = chunk.subarray(0, action.afterBytes - sent);
          sent += part.length;
          res.write(part);
          if (sent >= action.afterBytes) {
            up.destroy();
            // Let the written bytes reach the client, then drop the connection with the body unfinished.
            setTimeout(() => res.destroy(), 20);
          }
        });
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  closers.push(close);
  return { url: `http://127.0.0.1:${port}${target.pathname}`, close };
}
