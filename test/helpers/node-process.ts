import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to a copy of this process's environment without anything GitHub-, OpenAI- or batch-evals-specific. */
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/** Variables the parent may have (e.g. when the tests run inside a GitHub job) that must not leak into the child. */
const PRIVATE_PREFIXES = ['GITHUB_', 'INPUT_', 'RUNNER_', 'ACTIONS_', 'OPENAI_', 'ANTHROPIC_', 'BATCH_EVALS_'];

export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || PRIVATE_PREFIXES.some((p) => name.toUpperCase().startsWith(p))) continue;
    env[name] = value;
  }
  delete env.NODE_OPTIONS;
  delete env.CI;
  return { ...env, ...extra };
}

/**
 * Runs `node <args>` with the Node running the tests (Node 24 under `npx vitest`, which runs .ts files directly).
 * Asynchronous on purpose: the emulator answers from this process's event loop.
 */
export function runNode(args: string[], options: RunOptions = {}): Promise<ProcessResult> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 23) throw new Error(`the e2e tests need Node >= 23 to run .ts files; run them with npx vitest (this is ${process.version})`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd ?? process.cwd(), env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not end within ${options.timeoutMs ?? 20_000} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Writes files (path relative to a fresh temp directory -> content) and returns the directory. */
export function tempTree(files: Record<string, string>, prefix = 'be-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return dir;
}
