import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.ts';
import { confineReferences } from '../../src/config/files.ts';
import { loadSuite } from '../../src/config/load.ts';

/** A directory holding `files` (paths with `/`), and the path of the first. */
function tree(files: Record<string, string>): { dir: string; first: string } {
  const dir = mkdtempSync(join(tmpdir(), 'be-refs-'));
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, ...name.split('/'));
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  }
  return { dir, first: join(dir, ...Object.keys(files)[0].split('/')) };
}

function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const suite = (prompts: string[], tests = '') =>
  `prompts:\n${prompts.map((p) => `  - ${p}`).join('\n')}\nproviders:\n  - openai:gpt-4.1-mini\n${tests}`;

describe('file:// references: missing and confined files', () => {
  it('marks each missing referenced file with missingFile, the path that was tried', () => {
    const { dir, first } = tree({ 'evals/suite.yaml': suite(['file://a.txt', 'file://prompts/b.txt', 'file://here.txt']), 'evals/here.txt': 'Hi' });
    const error = configError(() => loadSuite(first));
    expect(error.issues.map((i) => [i.keyPath, i.missingFile, i.message])).toEqual([
      ['prompts[0]', join(dir, 'evals', 'a.txt'), `cannot read ${join(dir, 'evals', 'a.txt')}: file not found`],
      ['prompts[1]', join(dir, 'evals', 'prompts', 'b.txt'), `cannot read ${join(dir, 'evals', 'prompts', 'b.txt')}: file not found`],
    ]);
  });

  it('a var file missing from a CSV is named relative to the CSV', () => {
    const { dir, first } = tree({ 'evals/suite.yaml': suite(['Hi {{ x }}'], 'tests: file://data/t.csv\n'), 'evals/data/t.csv': 'x\nfile://../vars/x.txt\n' });
    const error = configError(() => loadSuite(first));
    expect(error.issues.map((i) => i.missingFile)).toEqual([join(dir, 'evals', 'vars', 'x.txt')]);
  });

  it('confineReferences refuses a file outside the root without reading it, and only while it runs', () => {
    const { dir, first } = tree({ 'repo/evals/suite.yaml': suite(['file://../../outside.txt', 'file://ok.txt']), 'repo/evals/ok.txt': 'fine', 'outside.txt': 'secret {{ x }}' });
    const root = join(dir, 'repo');
    const error = configError(() => confineReferences(root, () => loadSuite(first)));
    expect(error.issues).toEqual([
      {
        message: `cannot read ${join(dir, 'outside.txt')}: it is outside ${root}`,
        outsideFile: join(dir, 'outside.txt'),
        keyPath: 'prompts[0]',
        location: { file: first, line: 2, column: 5 },
      },
    ]);
    // Unconfined, the same suite loads and reads the outside file.
    expect(loadSuite(first).suite.prompts.map((p) => (p.kind === 'text' ? p.template : ''))).toEqual(['secret {{ x }}', 'fine']);
  });
});
