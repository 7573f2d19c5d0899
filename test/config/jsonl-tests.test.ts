import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSuite } from '../../src/config/load.ts';
import { configError } from '../helpers/config-files.ts';

/** A suite whose tests are the given JSONL text. */
function jsonlSuite(jsonl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'be-jsonl-'));
  writeFileSync(join(dir, 'suite.yaml'), 'prompts: ["Say {{ q }}"]\nproviders: [openai:gpt-4.1-mini]\ntests: file://tests.jsonl\n');
  writeFileSync(join(dir, 'tests.jsonl'), jsonl);
  return join(dir, 'suite.yaml');
}

// JSON lines are read with JSON.parse and their YAML documents made only when a position is asked for.
describe('JSONL tests', () => {
  it('reads JSON lines, and lines only YAML reads, with the position of each test and assertion', () => {
    const { suite } = loadSuite(
      jsonlSuite('\n{"vars": {"q": "hi"}, "assert": [{"type": "contains", "value": "hi"}]}\n   {vars: {q: ho}, assert: [{type: not-equals, value: x}]}\n'),
    );
    expect(suite.tests.map((t) => t.vars)).toEqual([{ q: 'hi' }, { q: 'ho' }]);
    expect(suite.tests[0].location).toMatchObject({ line: 2, column: 1 });
    expect(suite.tests[0].assert[0]).toMatchObject({ type: 'contains', value: 'hi', location: { line: 2, column: 34 } });
    expect(suite.tests[1].location).toMatchObject({ line: 3, column: 4 });
    expect(suite.tests[1].assert[0]).toMatchObject({ type: 'equals', negate: true, location: { line: 3, column: 29 } });
  });

  it('names the line and column of a problem in a JSON line', () => {
    const path = jsonlSuite('{"vars": {"q": "a"}}\n{"vars": {"q": "b"}, "assert": [{"type": "contains", "value": "b"}, {"type": "nonsense"}]}\n');
    expect(configError(path).issues[0]).toMatchObject({ message: expect.stringContaining("unknown assertion type 'nonsense'"), location: { line: 2, column: 78 } });
  });

  it('still refuses duplicate keys, which JSON.parse would let pass', () => {
    const error = configError(jsonlSuite('{"vars": {"q": "a"}, "vars": {"q": "b"}}\n'));
    expect(error.issues[0]).toMatchObject({ message: expect.stringContaining('Map keys must be unique'), location: { line: 1 } });
  });

  it('refuses a line that is not a test object, or not JSON', () => {
    expect(configError(jsonlSuite('{"vars": {}}\n[1, 2]\n')).issues[0]).toMatchObject({ message: 'each JSONL line must be a test object', location: { line: 2 } });
    expect(configError(jsonlSuite('{"vars": {"q": "a"\n')).issues[0]).toMatchObject({ message: expect.stringContaining('invalid YAML'), location: { line: 1 } });
  });
});
