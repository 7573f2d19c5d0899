/**
 * The eval config as it was at a commit that is not checked out (a scheduled resume on the default branch rebuilds
 * a pull request's plan from the PR's commit). The config and every file it references are fetched through the
 * contents API into a temporary directory that mirrors the repository's paths, so the loader reads them as usual.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, posix, relative, sep } from 'node:path';
import { ConfigError, type ConfigIssue } from '../config/errors.ts';
import { confineReferences } from '../config/files.ts';
import { loadSuite, type LoadedSuite } from '../config/load.ts';
import type { Logger } from '../logger.ts';
import { httpStatus, type Octokit } from './github.ts';

export interface ConfigAtCommit {
  owner: string;
  repo: string;
  /** The commit to read the files at. */
  sha: string;
  /** The config's path in the repository, relative to its root (e.g. `evals/suite.yaml`). */
  configPath: string;
}

export interface MaterializedConfig {
  /** The temporary directory standing for the repository's root. */
  dir: string;
  /** The config's absolute path inside `dir`, for loadSuite. */
  configFile: string;
  /** How many files were fetched (the config included). */
  files: number;
  /** The suite as loaded from `configFile`. */
  loaded: LoadedSuite;
  /** Removes `dir`. */
  cleanup(): Promise<void>;
}

/** Most files one config may pull in (the config, its prompts, tests and var files). */
export const MAX_CONFIG_FILES = 200;

/** The config cannot be fetched: its path leaves the repository, the commit is unknown, or a path is not a file there. */
export class ConfigAtCommitError extends Error {}

/**
 * Fetches the config at `sha` into a temporary directory and loads it. Each time loading fails because a referenced
 * file is missing, that file is fetched at the same commit and loading is tried again, until the config loads or
 * fails for another reason. References are confined to the directory: one that climbs out of the repository or is
 * absolute is a ConfigError, and nothing outside is read. A referenced file that does not exist at the commit, or any
 * other problem, ends it with the loader's ConfigError, its paths given relative to the repository root. On failure
 * the directory is removed.
 */
export async function materializeConfigAt(octokit: Octokit, at: ConfigAtCommit, log: Logger, options: { maxFiles?: number } = {}): Promise<MaterializedConfig> {
  const maxFiles = options.maxFiles ?? MAX_CONFIG_FILES;
  const where = `commit ${at.sha} of ${at.owner}/${at.repo}`;
  const configPath = repoPathOf(at.configPath, () => `the eval config path '${at.configPath}' must be relative to the repository root and stay inside it`);
  // The repository goes one level down in a directory of its own, so a `..` reference that climbs out of it
  // lands in that directory (and is shown relative), never beside other files of the machine.
  const parent = await mkdtemp(join(tmpdir(), 'batch-evals-config-'));
  const dir = join(parent, 'repo');
  await mkdir(dir);
  const cleanup = () => rm(parent, { recursive: true, force: true });
  const configFile = join(dir, ...configPath.split('/'));
  const attempted = new Set<string>();
  let files = 0;

  const fetchInto = async (path: string): Promise<boolean> => {
    attempted.add(path);
    const bytes = await fetchFile(octokit, at, path);
    if (!bytes) {
      log.debug(`${path} does not exist at ${where}`);
      return false;
    }
    const target = join(dir, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
    files++;
    log.debug(`fetched ${path} (${bytes.length} bytes) at ${where}`);
    return true;
  };

  try {
    if (!(await fetchInto(configPath))) throw new ConfigAtCommitError(`the eval config ${configPath} does not exist at ${where}`);
    for (;;) {
      let error: ConfigError;
      try {
        const loaded = confineReferences(dir, () => loadSuite(configFile));
        log.info(`read ${configPath} at ${at.sha.slice(0, 12)}: ${files} file${files === 1 ? '' : 's'} fetched`);
        return { dir, configFile, files, loaded, cleanup };
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        error = err;
      }
      // A reference out of the repository is refused before anything else is fetched.
      if (error.issues.some((issue) => issue.outsideFile !== undefined)) throw inRepository(error, dir, at.sha);
      const missing: string[] = [];
      for (const issue of error.issues) {
        if (issue.missingFile === undefined) continue;
        const path = relative(dir, issue.missingFile).split(sep).join('/');
        if (!attempted.has(path) && !missing.includes(path)) missing.push(path);
      }
      // Nothing left to fetch: the config is wrong at that commit (or names a file the commit does not have).
      if (missing.length === 0) throw inRepository(error, dir, at.sha);
      if (attempted.size + missing.length > maxFiles) {
        throw new ConfigAtCommitError(`${configPath} at ${where} needs more than ${maxFiles} files; stopped before fetching ${missing.join(', ')}`);
      }
      for (const path of missing) await fetchInto(path);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * A file's bytes at the commit; undefined when the commit does not have it. Files over 1 MB come back from the
 * contents API without content, so they are fetched again with the raw media type.
 */
async function fetchFile(octokit: Octokit, at: ConfigAtCommit, path: string): Promise<Buffer | undefined> {
  const request = { owner: at.owner, repo: at.repo, path, ref: at.sha };
  let data: unknown;
  try {
    ({ data } = await octokit.rest.repos.getContent(request));
  } catch (err) {
    if (httpStatus(err) === 404) {
      const message = (err as { response?: { data?: { message?: unknown } } }).response?.data?.message;
      if (typeof message === 'string' && message.startsWith('No commit found')) {
        throw new ConfigAtCommitError(`commit ${at.sha} is not in ${at.owner}/${at.repo} (GitHub: ${message})`);
      }
      return undefined;
    }
    throw new Error(`could not fetch ${path} at commit ${at.sha} of ${at.owner}/${at.repo}: ${(err as Error).message}`, { cause: err });
  }
  if (Array.isArray(data)) throw new ConfigAtCommitError(`${path} is a directory at commit ${at.sha}, not a file`);
  const entry = data as { type?: string; content?: string; encoding?: string; size?: number };
  if (entry.type !== 'file') throw new ConfigAtCommitError(`${path} is a ${entry.type ?? 'non-file entry'} at commit ${at.sha}, not a file`);
  if (entry.encoding === 'base64' && typeof entry.content === 'string' && (entry.content !== '' || entry.size === 0)) {
    return Buffer.from(entry.content, 'base64');
  }
  const raw = await octokit.rest.repos.getContent({ ...request, mediaType: { format: 'raw' } });
  return rawBytes(raw.data as unknown);
}

/** The raw media type's body as Octokit parsed it: text for text/* answers (GitHub's), bytes otherwise. */
function rawBytes(data: unknown): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new Error(`unexpected answer to a raw contents request: ${typeof data}`);
}

/** `path` (a relative path with either separator) as a repository path, or throws when it leaves the repository. */
function repoPathOf(path: string, message: () => string): string {
  if (path === '' || isAbsolute(path) || posix.isAbsolute(path) || /^[a-zA-Z]:/.test(path)) throw new ConfigAtCommitError(message());
  const normal = posix.normalize(path.split(sep).join('/'));
  if (normal === '.' || normal === '..' || normal.startsWith('../')) throw new ConfigAtCommitError(message());
  return normal.replace(/\/+$/, '');
}

/** A path inside `dir` as a repository path; anything else as it is. */
function displayPath(path: string, dir: string): string {
  const rel = relative(dir, path);
  const inside = rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  return inside ? rel.split(sep).join('/') : path;
}

/** The loader's error with the temporary directory taken out of its paths, so that each names a repository file. */
function inRepository(error: ConfigError, dir: string, sha: string): ConfigError {
  const prefix = dir + sep;
  const issues = error.issues.map((issue): ConfigIssue => {
    const location = issue.location ? { ...issue.location, file: displayPath(issue.location.file, dir) } : undefined;
    if (issue.outsideFile !== undefined) {
      // A `..` escape shows relative to the repository root (`../x`); an absolute reference as written.
      const rel = relative(dir, issue.outsideFile);
      const shown = issue.outsideFile.startsWith(dirname(dir) + sep) ? rel.split(sep).join('/') : issue.outsideFile;
      const message = `${shown} is outside the repository: at commit ${sha} only files inside it can be read, so a file:// reference must be a relative path that stays inside the repository`;
      return { ...issue, location, outsideFile: shown, message };
    }
    if (issue.missingFile !== undefined) {
      const path = displayPath(issue.missingFile, dir);
      return { ...issue, location, missingFile: path, message: `cannot read ${path}: file not found at commit ${sha}` };
    }
    return { ...issue, location, message: issue.message.split(prefix).join('') };
  });
  return new ConfigError(issues);
}
