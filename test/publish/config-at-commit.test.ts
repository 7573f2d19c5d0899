import * as github from '@actions/github';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.ts';
import type { Logger } from '../../src/logger.ts';
import { ConfigAtCommitError, materializeConfigAt, type MaterializedConfig } from '../../src/publish/config-at-commit.ts';
import { startGitHubEmulator, type CommitFiles, type GitHubEmulator } from '../github/github-emulator.ts';

// ---- fixtures ------------------------------------------------------------------------------------------------------

const SHA_A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';
const SHA_B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2';
const SHA_BROKEN = 'cccccccccccccccccccccccccccccccccccccc03';
const SHA_ESCAPE = 'dddddddddddddddddddddddddddddddddddddd04';
const SHA_ABSOLUTE = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee05';
const SHA_TEMPLATE = 'ffffffffffffffffffffffffffffffffffffff06';
const CONFIG = 'evals/suite.yaml';
const BIG_CONTEXT = `${'background '.repeat(100_000)}end`; // 1.1 MB: the contents API leaves out its content

const COMMIT_A: CommitFiles = {
  'evals/suite.yaml': [
    'description: suite at A',
    'prompts:',
    '  - file://prompts/greet.txt',
    '  - file://prompts/system.yaml',
    'providers:',
    '  - openai:gpt-4.1-mini',
    'tests:',
    '  - file://data/cases.csv',
    '  - file://data/more/extra.yaml',
    '',
  ].join('\n'),
  'evals/prompts/greet.txt': 'Greet {{ name }} politely.\n---\nSay hi to {{ name }}.\n',
  'evals/prompts/system.yaml': '- role: system\n  content: You are terse.\n- role: user\n  content: "{{ context }}"\n',
  // A var file named relative to the CSV (evals/data/), one directory up.
  'evals/data/cases.csv': 'name,context,__expected\nAda,file://../shared/context.txt,icontains:ada\n',
  // A var file named relative to a tests file two directories down.
  'evals/data/more/extra.yaml': '- vars:\n    name: Bob\n    context: file://notes/bob.md\n  assert:\n    - type: contains\n      value: Bob\n',
  'evals/shared/context.txt': 'Ada wrote the first program.',
  'evals/data/more/notes/bob.md': '# Bob\nBob builds bridges.',
  'evals/unused.txt': 'never referenced',
  'README.md': '# repo\n',
};

const COMMIT_B: CommitFiles = {
  'evals/suite.yaml': ['description: suite at B', 'prompts:', '  - file://prompts/greet.txt', 'providers:', '  - openai:gpt-4.1-nano', 'tests: file://data/cases.csv', ''].join('\n'),
  'evals/prompts/greet.txt': 'Welcome {{ name }}.\n',
  'evals/data/cases.csv': 'name,context\nGrace,file://../shared/context.txt\nLinus,plain\n',
  'evals/shared/context.txt': BIG_CONTEXT,
};

const suiteReferencing = (ref: string) => `description: broken\nprompts:\n  - ${ref}\nproviders:\n  - openai:gpt-4.1-mini\n`;

const COMMITS: Record<string, CommitFiles> = {
  [SHA_A]: COMMIT_A,
  [SHA_B]: COMMIT_B,
  [SHA_BROKEN]: {
    'evals/suite.yaml': `description: broken\nprompts:\n  - file://prompts/greet.txt\n  - file://prompts/gone.txt\nproviders:\n  - openai:gpt-4.1-mini\n`,
    'evals/prompts/greet.txt': 'Hi {{ name }}',
  },
  [SHA_ESCAPE]: { 'evals/suite.yaml': suiteReferencing('file://../../secrets.txt'), 'secrets.txt': 'outside evals but inside the repo' },
  // This test file: absolute, and it exists on this machine.
  [SHA_ABSOLUTE]: { 'evals/suite.yaml': suiteReferencing(`file://${import.meta.filename}`) },
  [SHA_TEMPLATE]: { 'evals/suite.yaml': suiteReferencing('file://prompts/bad.txt'), 'evals/prompts/bad.txt': 'line one\nHello {{ name \n' },
};

// ---- harness -------------------------------------------------------------------------------------------------------

let running: GitHubEmulator[] = [];
let materialized: MaterializedConfig[] = [];
afterEach(async () => {
  await Promise.all(materialized.map((m) => m.cleanup()));
  await Promise.all(running.map((e) => e.close()));
  running = [];
  materialized = [];
});

async function setup() {
  const emulator = await startGitHubEmulator({
    tokens: { ghs_read: { login: 'github-actions[bot]', kind: 'installation', permissions: { contents: 'read' }, repositories: ['octo-org/evals'] } },
    repos: [{ owner: 'octo-org', repo: 'evals', private: true, branches: { main: SHA_B }, commits: COMMITS }],
  });
  running.push(emulator);
  const octokit = github.getOctokit('ghs_read', { baseUrl: emulator.url });
  const messages: string[] = [];
  const log: Logger = { info: (m) => messages.push(`info: ${m}`), warning: (m) => messages.push(`warning: ${m}`), debug: (m) => messages.push(`debug: ${m}`) };
  const materialize = async (sha: string, configPath = CONFIG, options?: { maxFiles?: number }) => {
    const result = await materializeConfigAt(octokit, { owner: 'octo-org', repo: 'evals', sha, configPath }, log, options);
    materialized.push(result);
    return result;
  };
  /** Repository paths asked for through the contents API, in order, each with its ref. */
  const fetched = () =>
    emulator.state.requests
      .filter((r) => r.path.startsWith('/repos/octo-org/evals/contents/'))
      .map((r) => [decodeURIComponent(r.path.slice('/repos/octo-org/evals/contents/'.length)), new URLSearchParams(r.query).get('ref'), r.status]);
  return { emulator, octokit, materialize, fetched, messages };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a failure').toBeInstanceOf(Error);
  return error as Error;
}

/** Every file under `dir`, as repository paths. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

const leftoverDirs = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith('batch-evals-config-')));

// ---- tests ---------------------------------------------------------------------------------------------------------

describe('materializeConfigAt', () => {
  it('fetches the config and exactly the files it references, relative references included, and loads it', async () => {
    const { materialize, fetched, messages } = await setup();
    const result = await materialize(SHA_A);

    expect(result.configFile).toBe(join(result.dir, 'evals', 'suite.yaml'));
    expect(result.files).toBe(7);
    expect(filesUnder(result.dir)).toEqual([
      'evals/data/cases.csv',
      'evals/data/more/extra.yaml',
      'evals/data/more/notes/bob.md',
      'evals/prompts/greet.txt',
      'evals/prompts/system.yaml',
      'evals/shared/context.txt',
      'evals/suite.yaml',
    ]);
    for (const path of filesUnder(result.dir)) expect(readFileSync(join(result.dir, path), 'utf8')).toBe(COMMIT_A[path]);

    const { suite } = result.loaded;
    expect(suite.description).toBe('suite at A');
    expect(suite.file).toBe(result.configFile);
    expect(suite.prompts.map((p) => [p.label, p.kind === 'text' ? p.template : p.messages.map((m) => m.content)])).toEqual([
      ['greet.txt: 1', 'Greet {{ name }} politely.'],
      ['greet.txt: 2', 'Say hi to {{ name }}.'],
      ['system.yaml', ['You are terse.', '{{ context }}']],
    ]);
    expect(suite.providers.map((p) => p.model)).toEqual(['gpt-4.1-mini']);
    expect(suite.tests.map((t) => t.vars)).toEqual([
      { name: 'Ada', context: 'Ada wrote the first program.' },
      { name: 'Bob', context: '# Bob\nBob builds bridges.' },
    ]);
    expect(suite.tests.map((t) => t.assert.map((a) => [a.type, a.value]))).toEqual([[['icontains', 'ada']], [['contains', 'Bob']]]);

    // Each file once, all at commit A; the unreferenced ones never.
    expect(fetched()).toEqual([
      ['evals/suite.yaml', SHA_A, 200],
      ['evals/prompts/greet.txt', SHA_A, 200],
      ['evals/prompts/system.yaml', SHA_A, 200],
      ['evals/data/cases.csv', SHA_A, 200],
      ['evals/data/more/extra.yaml', SHA_A, 200],
      ['evals/shared/context.txt', SHA_A, 200],
      ['evals/data/more/notes/bob.md', SHA_A, 200],
    ]);
    expect(messages.filter((m) => m.startsWith('info:'))).toEqual([`info: read evals/suite.yaml at ${SHA_A.slice(0, 12)}: 7 files fetched`]);

    await result.cleanup();
    expect(existsSync(result.dir)).toBe(false);
  });

  it('gives each commit its own version of the same paths; a file over 1 MB comes through the raw media type', async () => {
    const { materialize, fetched } = await setup();
    const [a, b] = await Promise.all([materialize(SHA_A), materialize(SHA_B)]);
    expect(a.dir).not.toBe(b.dir);

    expect(b.files).toBe(4);
    expect(filesUnder(b.dir)).toEqual(['evals/data/cases.csv', 'evals/prompts/greet.txt', 'evals/shared/context.txt', 'evals/suite.yaml']);
    expect(b.loaded.suite.description).toBe('suite at B');
    expect(b.loaded.suite.prompts.map((p) => p.label)).toEqual(['greet.txt']);
    expect(b.loaded.suite.providers.map((p) => p.model)).toEqual(['gpt-4.1-nano']);
    expect(b.loaded.suite.tests.map((t) => t.vars.name)).toEqual(['Grace', 'Linus']);
    expect(b.loaded.suite.tests[0].vars.context).toBe(BIG_CONTEXT);
    expect(b.loaded.suite.tests[1].vars.context).toBe('plain');
    expect(readFileSync(join(b.dir, 'evals/shared/context.txt')).length).toBe(1_100_003);

    expect(a.loaded.suite.description).toBe('suite at A');
    expect(readFileSync(join(a.dir, 'evals/prompts/greet.txt'), 'utf8')).toBe(COMMIT_A['evals/prompts/greet.txt']);
    expect(readFileSync(join(b.dir, 'evals/prompts/greet.txt'), 'utf8')).toBe('Welcome {{ name }}.\n');

    // The big file: once as JSON (content left out), once raw.
    expect(fetched().filter(([path, ref]) => path === 'evals/shared/context.txt' && ref === SHA_B)).toHaveLength(2);
    expect(fetched().filter(([, ref]) => ref === SHA_B)).toHaveLength(5);
  });

  it('a referenced file the commit does not have: the ConfigError names it, by its repository path', async () => {
    const { materialize, fetched } = await setup();
    const before = leftoverDirs();
    const error = await rejection(materialize(SHA_BROKEN));
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues).toEqual([
      {
        message: `cannot read evals/prompts/gone.txt: file not found at commit ${SHA_BROKEN}`,
        missingFile: 'evals/prompts/gone.txt',
        keyPath: 'prompts[1]',
        location: { file: 'evals/suite.yaml', line: 4, column: 5 },
      },
    ]);
    expect(error.message).toBe(`evals/suite.yaml:4:5 prompts[1]: cannot read evals/prompts/gone.txt: file not found at commit ${SHA_BROKEN}`);
    expect(fetched()).toEqual([
      ['evals/suite.yaml', SHA_BROKEN, 200],
      ['evals/prompts/greet.txt', SHA_BROKEN, 200],
      ['evals/prompts/gone.txt', SHA_BROKEN, 404],
    ]);
    expect([...leftoverDirs()].filter((d) => !before.has(d))).toEqual([]);
  });

  it('a config that is wrong for another reason: the loader error, its locations in repository paths', async () => {
    const { materialize } = await setup();
    const error = await rejection(materialize(SHA_TEMPLATE));
    expect(error).toBeInstanceOf(ConfigError);
    const [issue] = (error as ConfigError).issues;
    expect(issue.location?.file).toBe('evals/prompts/bad.txt');
    expect(issue.message).toMatch(/^template error: /);
    expect(issue.missingFile).toBeUndefined();
  });

  it('refuses a reference that climbs out of the repository, and an absolute one, reading and fetching neither', async () => {
    const { materialize, fetched } = await setup();
    // secrets.txt exists at the commit, one level above evals/, but ../../ climbs above the repository root.
    const escape = await rejection(materialize(SHA_ESCAPE));
    expect(escape).toBeInstanceOf(ConfigError);
    expect((escape as ConfigError).issues).toEqual([
      {
        message: `../secrets.txt is outside the repository: at commit ${SHA_ESCAPE} only files inside it can be read, so a file:// reference must be a relative path that stays inside the repository`,
        outsideFile: '../secrets.txt',
        keyPath: 'prompts[0]',
        location: { file: 'evals/suite.yaml', line: 3, column: 5 },
      },
    ]);

    const absolute = await rejection(materialize(SHA_ABSOLUTE));
    expect(absolute).toBeInstanceOf(ConfigError);
    expect(absolute.message).toBe(
      `evals/suite.yaml:3:5 prompts[0]: ${import.meta.filename} is outside the repository: at commit ${SHA_ABSOLUTE} only files inside it can be read, so a file:// reference must be a relative path that stays inside the repository`,
    );

    const configEscape = await rejection(materialize(SHA_A, '../other/suite.yaml'));
    expect(configEscape).toBeInstanceOf(ConfigAtCommitError);
    expect(configEscape.message).toBe("the eval config path '../other/suite.yaml' must be relative to the repository root and stay inside it");
    const configAbsolute = await rejection(materialize(SHA_A, '/evals/suite.yaml'));
    expect(configAbsolute).toBeInstanceOf(ConfigAtCommitError);

    expect(fetched()).toEqual([
      ['evals/suite.yaml', SHA_ESCAPE, 200],
      ['evals/suite.yaml', SHA_ABSOLUTE, 200],
    ]);
  });

  it('a config that does not exist at the commit, a directory, an unknown commit: errors naming path and commit', async () => {
    const { materialize, fetched } = await setup();
    const error = await rejection(materialize(SHA_B, 'evals/other.yaml'));
    expect(error).toBeInstanceOf(ConfigAtCommitError);
    expect(error.message).toBe(`the eval config evals/other.yaml does not exist at commit ${SHA_B} of octo-org/evals`);
    const directory = await rejection(materialize(SHA_B, 'evals/'));
    expect(directory.message).toBe(`evals is a directory at commit ${SHA_B}, not a file`);
    const unknown = await rejection(materialize('9'.repeat(40)));
    expect(unknown).toBeInstanceOf(ConfigAtCommitError);
    expect(unknown.message).toBe(`commit ${'9'.repeat(40)} is not in octo-org/evals (GitHub: No commit found for the ref ${'9'.repeat(40)})`);
    expect(fetched()).toEqual([
      ['evals/other.yaml', SHA_B, 404],
      ['evals', SHA_B, 200],
      ['evals/suite.yaml', '9'.repeat(40), 404],
    ]);
  });

  it('stops at the file cap, and reports an API failure other than 404 with the path and commit', async () => {
    const { emulator, materialize } = await setup();
    const capped = await rejection(materialize(SHA_A, CONFIG, { maxFiles: 3 }));
    expect(capped.message).toBe(`evals/suite.yaml at commit ${SHA_A} of octo-org/evals needs more than 3 files; stopped before fetching evals/data/cases.csv`);

    emulator.state.addFault({ path: /\/contents\//, status: 502 });
    const failed = await rejection(materialize(SHA_A));
    expect(failed.message).toBe(`could not fetch evals/suite.yaml at commit ${SHA_A} of octo-org/evals: Server Error`);
    expect((failed.cause as { status?: number }).status).toBe(502);
  });
});
