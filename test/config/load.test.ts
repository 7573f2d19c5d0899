import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSuite } from '../../src/config/load.ts';
import { configError, suiteFiles } from '../helpers/config-files.ts';

const fixture = join(import.meta.dirname, '../fixtures/suite/suite.yaml');

describe('loading a suite', () => {
  const { suite, warnings } = loadSuite(fixture);

  it('reads every kind of prompt, labelled', () => {
    expect(suite.prompts.map((p) => p.label)).toEqual(['Say hello to {{ name }}', 'chat prompt 2', 'from-file: 1', 'from-file: 2', 'chat.json']);
    const chat = suite.prompts[1];
    expect(chat.kind === 'chat' && chat.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(suite.prompts[3]).toMatchObject({ kind: 'text', template: 'Second prompt for {{ name }}', location: { line: 3 } });
  });

  it('reads providers with labels, request params and prompt filters', () => {
    expect(suite.providers.map((p) => [p.label, p.model])).toEqual([
      ['openai:gpt-4.1-mini', 'gpt-4.1-mini'],
      ['mini-hot', 'gpt-4.1-mini'],
    ]);
    expect(suite.providers[1].params).toEqual({ temperature: 0.9, max_tokens: 100, logprobs: true });
    expect(suite.providers[1].prompts).toEqual(['from-file: 1', 'Say hello to {{ name }}']);
  });

  it('merges defaultTest into inline, YAML, CSV and JSONL tests, keeping where each was written', () => {
    expect(suite.tests).toHaveLength(6);
    for (const t of suite.tests) {
      expect(t.vars.name).toBe('World');
      expect(t.assert[0]).toMatchObject({ type: 'cost', threshold: 0.01 });
    }
    const [inline, yaml, csv1, csv2, jsonl1, jsonl2] = suite.tests;
    expect(inline.assert[1]).toMatchObject({ type: 'contains', value: '{{ text }}', weight: 2, negate: false });
    expect(inline.location).toMatchObject({ line: 27 });
    expect(yaml).toMatchObject({ threshold: 0.5, location: { file: expect.stringMatching(/more-tests\.yaml$/), line: 1 } });
    expect(yaml.assert[1]).toMatchObject({ type: 'regex', negate: true });
    expect(csv1.assert.slice(1).map((a) => [a.type, a.negate, a.value])).toEqual([
      ['icontains', false, 'guten'],
      ['contains', true, 'bye'],
    ]);
    expect(csv1.metadata).toEqual({ tags: ['a', 'b,c'] });
    expect(csv2.assert.slice(1).map((a) => [a.type, a.value])).toEqual([
      ['is-json', undefined],
      ['equals', 'Just this exact text'],
    ]);
    expect(csv2.location).toMatchObject({ file: expect.stringMatching(/tests\.csv$/), line: 3 });
    expect(jsonl2).toMatchObject({ description: 'jsonl two', location: { line: 3 } });
    expect(jsonl1.assert[1]).toMatchObject({ type: 'starts-with', value: 'hej' });
  });

  it('warns about an unknown key, with its line, and loads anyway', () => {
    expect(warnings).toEqual([
      { message: "tests[0].assert[0].reason: unknown key 'reason' is ignored", location: expect.objectContaining({ line: 33, column: 9 }) },
    ]);
  });
});

describe('bad input gets a clear error with file, line and key', () => {
  it('broken YAML', () => {
    const path = suiteFiles({ 'e.yaml': 'prompts:\n  - "hi\nproviders: [openai:gpt-4o]\n' });
    const err = configError(path);
    expect(err.message).toMatch(/e\.yaml:\d+:\d+ invalid YAML/);
  });

  it('an unknown assertion type names the closest known one', () => {
    const path = suiteFiles({ 'e.yaml': 'prompts: [hi]\nproviders: [openai:gpt-4o]\ntests:\n  - assert:\n      - type: contians\n        value: x\n' });
    const err = configError(path);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ keyPath: 'tests[0].assert[0].type', location: { line: 5, column: 15 } });
    expect(err.issues[0].message).toBe("unknown assertion type 'contians' (did you mean 'contains'?)");
  });

  it('a model-graded assertion batch-evals does not grade yet says so', () => {
    const path = suiteFiles({ 'e.yaml': 'prompts: [hi]\nproviders: [openai:gpt-4o]\ndefaultTest:\n  assert:\n    - type: context-faithfulness\n      threshold: 0.9\n' });
    expect(configError(path).message).toMatch(/e\.yaml:5:13 defaultTest\.assert\[0\]\.type: .*'context-faithfulness' is model-graded.*not supported yet/);
  });

  it('an unknown provider and a provider not supported yet', () => {
    const path = suiteFiles({ 'e.yaml': 'prompts: [hi]\nproviders:\n  - foo:bar\n  - vertex:gemini-pro\n' });
    const err = configError(path);
    expect(err.issues.map((i) => [i.location?.line, i.message])).toEqual([
      [3, "unknown provider 'foo:bar' (supported: openai:<model>, openai:chat:<model>, openai:responses:<model>, anthropic:<model>, anthropic:messages:<model>)"],
      [4, expect.stringContaining('the vertex provider is not supported yet')],
    ]);
  });

  it('a promptfoo feature not supported yet is an error, not a warning', () => {
    const path = suiteFiles({ 'e.yaml': 'prompts: [hi]\nproviders: [openai:gpt-4o]\nscenarios:\n  - config: []\n' });
    expect(configError(path).message).toMatch(/e\.yaml:3:1 scenarios: scenarios are not supported yet/);
  });

  it('a wrong type names the key and what it should be', () => {
    const path = suiteFiles({ 'e.yaml': 'prompts: [hi]\nproviders:\n  - id: openai:gpt-4o\n    config:\n      temperature: hot\n' });
    const err = configError(path);
    expect(err.issues[0]).toMatchObject({ keyPath: 'providers[0].config.temperature', location: { line: 5, column: 20 } });
    expect(err.issues[0].message).toBe('must be a number, not string "hot"');
  });

  it('a missing required key', () => {
    const err = configError(suiteFiles({ 'e.yaml': 'prompts: [hi]\n' }));
    expect(err.message).toMatch(/e\.yaml:1:1 \(top level\): missing required key 'providers'/);
  });

  it('a missing referenced file', () => {
    const err = configError(suiteFiles({ 'e.yaml': 'prompts: [file://nope.txt]\nproviders: [openai:gpt-4o]\n' }));
    expect(err.message).toMatch(/e\.yaml:1:11 prompts\[0\]: cannot read .*nope\.txt: file not found/);
  });

  it('a template syntax error points into the prompt file', () => {
    const err = configError(suiteFiles({ 'e.yaml': 'prompts: [file://p.txt]\nproviders: [openai:gpt-4o]\n', 'p.txt': 'line one\n{% for m in messages %\n }{{ m }}{% endfor %}\n' }));
    expect(err.issues[0].location).toMatchObject({ file: expect.stringMatching(/p\.txt$/), line: 3 });
    expect(err.issues[0].message).toMatch(/^template error/);
  });

  it('a provider asking for a prompt label that does not exist', () => {
    const err = configError(
      suiteFiles({ 'e.yaml': 'prompts:\n  - id: hi\n    label: greet\nproviders:\n  - id: openai:gpt-4o\n    prompts: [greeting]\n' }),
    );
    expect(err.message).toMatch(/asks for prompt 'greeting', but no prompt has that label \(labels: greet\)/);
  });

  it('the same provider twice without labels', () => {
    const err = configError(suiteFiles({ 'e.yaml': 'prompts: [hi]\nproviders: [openai:gpt-4o, openai:gpt-4o]\n' }));
    expect(err.message).toMatch(/two providers are both named 'openai:gpt-4o'/);
  });

  it('a bad CSV assertion type names the CSV row', () => {
    const err = configError(suiteFiles({ 'e.yaml': 'prompts: [hi]\nproviders: [openai:gpt-4o]\ntests: file://t.csv\n', 't.csv': 'q,__expected\na,contains:x\nb,context-recall:y\n' }));
    expect(err.issues[0].location).toMatchObject({ file: expect.stringMatching(/t\.csv$/), line: 3 });
    expect(err.issues[0].message).toMatch(/'context-recall' is model-graded/);
  });
});
