import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.ts';
import { confineReferences } from '../../src/config/files.ts';
import { loadSuite } from '../../src/config/load.ts';
import type { Assertion, GraderSpec } from '../../src/config/types.ts';
import { configError, suiteFiles } from '../helpers/config-files.ts';

/** A suite of one prompt and `providers`, then `yaml`. */
function suite(yaml: string, providers = '[openai:gpt-4.1-mini]', more: Record<string, string> = {}): string {
  return suiteFiles({ 'e.yaml': `prompts: ['Answer {{ q }}']\nproviders: ${providers}\n${yaml}`, ...more });
}

/** The assertions of each test. */
function asserts(path: string): Assertion[][] {
  return loadSuite(path).suite.tests.map((t) => t.assert);
}

const OPENAI_DEFAULT: GraderSpec = { id: 'openai:gpt-4.1', provider: 'openai', model: 'gpt-4.1', kind: 'chat', params: {}, isDefault: true };
const EMBEDDING_DEFAULT: GraderSpec = {
  id: 'openai:embedding:text-embedding-3-large',
  provider: 'openai',
  model: 'text-embedding-3-large',
  kind: 'embedding',
  params: {},
  isDefault: true,
};

describe('model-graded assertions load with their grader', () => {
  it('each of the graded types, with promptfoo values, gets the default grader of its kind', () => {
    const [a] = asserts(
      suite(`tests:
  - vars: {q: capital of France}
    assert:
      - type: llm-rubric
        value: Is polite
      - type: not-llm-rubric
        value: {tone: rude}
      - type: factuality
        value: Paris is the capital of France
      - type: model-graded-factuality
        value: Paris
      - type: model-graded-closedqa
        value: Names a city
      - type: g-eval
        value: [Is clear, Is short]
        threshold: 0.8
      - type: answer-relevance
        threshold: 0.9
      - type: similar
        value: The capital is Paris
        threshold: 0.85
        weight: 2
        metric: closeness
      - type: not-similar
        value: [Berlin, Madrid]
      - type: similar:cosine
        value: Paris
`),
    );
    expect(a.map((x) => [x.type, x.negate, x.grader?.id])).toEqual([
      ['llm-rubric', false, 'openai:gpt-4.1'],
      ['llm-rubric', true, 'openai:gpt-4.1'],
      ['factuality', false, 'openai:gpt-4.1'],
      ['factuality', false, 'openai:gpt-4.1'],
      ['model-graded-closedqa', false, 'openai:gpt-4.1'],
      ['g-eval', false, 'openai:gpt-4.1'],
      ['answer-relevance', false, 'openai:gpt-4.1'],
      ['similar', false, 'openai:embedding:text-embedding-3-large'],
      ['similar', true, 'openai:embedding:text-embedding-3-large'],
      ['similar', false, 'openai:embedding:text-embedding-3-large'],
    ]);
    expect(a[0].grader).toEqual(OPENAI_DEFAULT);
    expect(a[6]).toMatchObject({ threshold: 0.9, grader: OPENAI_DEFAULT, embeddingGrader: EMBEDDING_DEFAULT });
    expect(a[7]).toMatchObject({ value: 'The capital is Paris', threshold: 0.85, weight: 2, metric: 'closeness', grader: EMBEDDING_DEFAULT });
    expect(a[5]).toMatchObject({ value: ['Is clear', 'Is short'], threshold: 0.8 });
    // Only answer-relevance has an embeddings model beside its chat model; nothing else gets a rubric prompt unasked.
    expect(a.filter((x) => x.embeddingGrader).map((x) => x.type)).toEqual(['answer-relevance']);
    expect(a.some((x) => 'rubricPrompt' in x)).toBe(false);
  });

  it('the default chat grader is Anthropic only for a suite with Anthropic providers and no OpenAI one', () => {
    const yaml = 'defaultTest:\n  assert:\n    - {type: llm-rubric, value: polite}\n    - {type: similar, value: hi}\n';
    const anthropic = asserts(suite(yaml, '[anthropic:messages:claude-haiku-4-5]'))[0];
    expect(anthropic[0].grader).toEqual({ id: 'anthropic:messages:claude-sonnet-4-5', provider: 'anthropic', model: 'claude-sonnet-4-5', kind: 'chat', params: {}, isDefault: true });
    expect(anthropic[1].grader).toEqual(EMBEDDING_DEFAULT);
    expect(asserts(suite(yaml, '[anthropic:claude-haiku-4-5, openai:gpt-4.1-mini]'))[0][0].grader).toEqual(OPENAI_DEFAULT);
  });

  it("the assertion's provider wins over the test's options.provider, which wins over defaultTest's", () => {
    const tests = asserts(
      suite(`defaultTest:
  options:
    provider: openai:chat:gpt-4.1-nano
  assert:
    - type: llm-rubric
      value: from defaultTest
tests:
  - description: defaultTest's grader
    assert:
      - {type: factuality, value: x}
  - description: the test's grader, for its own assertions and defaultTest's
    options:
      provider:
        id: anthropic:messages:claude-sonnet-4-5
        config: {temperature: 0, max_tokens: 500, apiKey: secret, apiBaseUrl: 'http://127.0.0.1:9/'}
    assert:
      - {type: g-eval, value: clear}
      - {type: model-graded-closedqa, value: y, provider: 'openai:gpt-4.1-mini'}
`),
    );
    const nano = { id: 'openai:chat:gpt-4.1-nano', provider: 'openai', model: 'gpt-4.1-nano', kind: 'chat', params: {} };
    const claude = { id: 'anthropic:messages:claude-sonnet-4-5', provider: 'anthropic', model: 'claude-sonnet-4-5', kind: 'chat', params: { temperature: 0, max_tokens: 500 }, baseURL: 'http://127.0.0.1:9/' };
    expect(tests[0].map((a) => a.grader)).toEqual([nano, nano]);
    expect(tests[1].map((a) => a.grader)).toEqual([claude, claude, { id: 'openai:gpt-4.1-mini', provider: 'openai', model: 'gpt-4.1-mini', kind: 'chat', params: {} }]);
    expect(tests[0][0].grader?.isDefault).toBeUndefined();
    // One spec per provider as written, shared by the assertions that use it.
    expect(tests[0][0].grader).toBe(tests[0][1].grader);
    expect(tests[1][0].grader).toBe(tests[1][1].grader);
  });

  it('a provider per purpose ({text, embedding}) gives each assertion the one for its kind', () => {
    const [a] = asserts(
      suite(`defaultTest:
  options:
    provider:
      text: anthropic:claude-sonnet-4-5
      embedding:
        id: openai:embeddings:text-embedding-3-small
        config: {dimensions: 256}
tests:
  - assert:
      - {type: llm-rubric, value: polite}
      - {type: similar, value: hi}
      - {type: answer-relevance}
`),
    );
    const small = { id: 'openai:embeddings:text-embedding-3-small', provider: 'openai', model: 'text-embedding-3-small', kind: 'embedding', params: { dimensions: 256 } };
    const sonnet = { id: 'anthropic:claude-sonnet-4-5', provider: 'anthropic', model: 'claude-sonnet-4-5', kind: 'chat', params: {} };
    expect(a.map((x) => x.grader)).toEqual([sonnet, small, sonnet]);
    expect(a[2].embeddingGrader).toEqual(small);
  });

  it("a test's or defaultTest's provider per purpose without the one needed leaves it to the next level, then the default", () => {
    const tests = asserts(
      suite(`defaultTest:
  options:
    provider: {text: openai:gpt-4.1-mini}
tests:
  - options:
      provider: {embedding: openai:embedding:text-embedding-3-small}
    assert:
      - {type: llm-rubric, value: polite}
      - {type: similar, value: hi}
  - assert:
      - {type: similar, value: hi}
`),
    );
    expect(tests[0].map((a) => a.grader?.id)).toEqual(['openai:gpt-4.1-mini', 'openai:embedding:text-embedding-3-small']);
    expect(tests[1][0].grader).toEqual(EMBEDDING_DEFAULT);
  });

  it('the rubric prompt: the assertion\'s, else the test\'s options.rubricPrompt, else defaultTest\'s', () => {
    const tests = asserts(
      suite(`defaultTest:
  options:
    rubricPrompt: 'Grade {{ output }} by {{ rubric }}'
  assert:
    - {type: llm-rubric, value: from defaultTest}
tests:
  - assert:
      - {type: factuality, value: Paris}
      - type: g-eval
        value: clear
        rubricPrompt:
          - {role: system, content: 'You grade. JSON only.'}
          - {role: user, content: '{{ output }}'}
  - options:
      rubricPrompt: '[{"role": "system", "content": "Strict grader"}, {"role": "user", "content": "{{ output }} / {{ rubric }}"}]'
    assert:
      - {type: model-graded-closedqa, value: y}
      - {type: similar, value: hi, rubricPrompt: not for embeddings}
`),
    );
    expect(tests[0].map((a) => a.rubricPrompt)).toEqual([
      'Grade {{ output }} by {{ rubric }}',
      'Grade {{ output }} by {{ rubric }}',
      [
        { role: 'system', content: 'You grade. JSON only.' },
        { role: 'user', content: '{{ output }}' },
      ],
    ]);
    // A rubric prompt written as a JSON list of messages is those messages; similar grades with no prompt.
    const strict = [
      { role: 'system', content: 'Strict grader' },
      { role: 'user', content: '{{ output }} / {{ rubric }}' },
    ];
    expect(tests[1].map((a) => a.rubricPrompt)).toEqual([strict, strict, undefined]);
  });

  it('a file:// rubric prompt is read relative to the file that names it: text, JSON messages or YAML messages', () => {
    const path = suite(
      `defaultTest:
  options:
    rubricPrompt: file://rubrics/plain.txt
  assert:
    - {type: llm-rubric, value: a}
tests:
  - assert:
      - {type: llm-rubric, value: b, rubricPrompt: file://rubrics/chat.json}
      - {type: llm-rubric, value: c, rubricPrompt: file://rubrics/chat.yaml}
      - {type: llm-rubric, value: d, rubricPrompt: 'file://rubrics/templated.json'}
  - file://more/tests.yaml
`,
      undefined,
      {
        'rubrics/plain.txt': 'Grade this: {{ output }}\n',
        'rubrics/chat.json': '[{"role": "system", "content": "JSON grader"}, {"role": "user", "content": "{{ output }}"}]',
        'rubrics/chat.yaml': '- role: system\n  content: YAML grader\n- role: user\n  content: "{{ output }}"\n',
        'rubrics/templated.json': '[{% for m in msgs %}{"role": "user", "content": "{{ m }}"}{% endfor %}]',
        'more/tests.yaml': '- options:\n    rubricPrompt: file://local.txt\n  assert:\n    - {type: factuality, value: x}\n',
        'more/local.txt': 'beside the tests file',
      },
    );
    const tests = asserts(path);
    expect(tests[0].map((a) => a.rubricPrompt)).toEqual([
      'Grade this: {{ output }}\n',
      [
        { role: 'system', content: 'JSON grader' },
        { role: 'user', content: '{{ output }}' },
      ],
      [
        { role: 'system', content: 'YAML grader' },
        { role: 'user', content: '{{ output }}' },
      ],
      '[{% for m in msgs %}{"role": "user", "content": "{{ m }}"}{% endfor %}]',
    ]);
    expect(tests[1].map((a) => a.rubricPrompt)).toEqual(['beside the tests file', 'beside the tests file']);
  });

  it('loads graded assertions from a JSONL file, each line with its own options', () => {
    const tests = asserts(
      suite('tests: file://t.jsonl\n', undefined, {
        't.jsonl':
          '{"options": {"provider": "anthropic:claude-haiku-4-5"}, "assert": [{"type": "llm-rubric", "value": "a"}]}\n' +
          '{"options": {"provider": "openai:gpt-4.1-mini"}, "assert": [{"type": "llm-rubric", "value": "b"}]}\n' +
          '{"assert": [{"type": "llm-rubric", "value": "c"}]}\n',
      }),
    );
    expect(tests.map((t) => t[0].grader?.id)).toEqual(['anthropic:claude-haiku-4-5', 'openai:gpt-4.1-mini', 'openai:gpt-4.1']);
  });

  it('assertions that are not model-graded get no grader, and a suite without graded ones needs no grader', () => {
    const [a] = asserts(suite('defaultTest:\n  options: {provider: vertex:gemini-pro}\ntests:\n  - assert: [{type: contains, value: x, provider: openai:gpt-4.1}]\n'));
    expect(a[0]).not.toHaveProperty('grader');
  });
});

describe('CSV short forms of graded assertions', () => {
  it("reads promptfoo's forms, with its CSV thresholds for similar (0.8) and answer-relevance (0.75)", () => {
    const [a] = asserts(
      suite('tests: file://t.csv\n', undefined, {
        't.csv': [
          'q,__expected1,__expected2,__expected3,__expected4,__expected5,__expected6,__expected7,__expected8,__expected9',
          'x,similar:hello world,similar(0.7):hi,not-similar:bye,factuality:Paris is the capital,llm-rubric:is about {{ q }},grade: polite,answer-relevance,answer-relevance(0.9),model-graded-closedqa:names a city',
        ].join('\n'),
      }),
    );
    expect(a.map((x) => [x.type, x.negate, x.value, x.threshold, x.grader?.kind])).toEqual([
      ['similar', false, 'hello world', 0.8, 'embedding'],
      ['similar', false, 'hi', 0.7, 'embedding'],
      ['similar', true, 'bye', 0.8, 'embedding'],
      ['factuality', false, 'Paris is the capital', undefined, 'chat'],
      ['llm-rubric', false, 'is about {{ q }}', undefined, 'chat'],
      ['llm-rubric', false, 'polite', undefined, 'chat'],
      ['answer-relevance', false, undefined, 0.75, 'chat'],
      ['answer-relevance', false, undefined, 0.9, 'chat'],
      ['model-graded-closedqa', false, 'names a city', undefined, 'chat'],
    ]);
  });

  it('similar with a metric: similar:dot(0.8):text and not-similar:euclidean:text; a metric word that is the value is the value', () => {
    const [a] = asserts(
      suite('tests: file://t.csv\n', undefined, {
        't.csv': ['q,__expected1,__expected2,__expected3', 'x,similar:dot(0.8):hello,not-similar:euclidean:bye,similar:dot products'].join('\n'),
      }),
    );
    expect(a.map((x) => [x.type, x.negate, x.similarity, x.value, x.threshold])).toEqual([
      ['similar', false, 'dot', 'hello', 0.8],
      ['similar', true, 'euclidean', 'bye', undefined],
      ['similar', false, undefined, 'dot products', 0.8],
    ]);
  });

  it('a negation promptfoo ignores is an error on the CSV row', () => {
    const err = configError(suite('tests: file://t.csv\n', undefined, { 't.csv': 'q,__expected\na,contains:x\nb,not-factuality:Paris\n' }));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0].location).toMatchObject({ file: expect.stringMatching(/t\.csv$/), line: 3 });
    expect(err.issues[0].message).toMatch(/'not-factuality' cannot be negated: promptfoo ignores the not- of factuality/);
  });
});

describe('bad graded assertions are errors with file, line and key', () => {
  it('a negated form promptfoo does not negate', () => {
    for (const type of ['factuality', 'model-graded-factuality', 'model-graded-closedqa', 'answer-relevance']) {
      const err = configError(suite(`tests:\n  - assert:\n      - type: not-${type}\n        value: x\n`));
      expect(err.issues).toHaveLength(1);
      expect(err.issues[0]).toMatchObject({ keyPath: 'tests[0].assert[0].type', location: { file: expect.stringMatching(/e\.yaml$/), line: 5, column: 15 } });
      expect(err.issues[0].message).toContain(`'not-${type}' cannot be negated`);
      expect(err.issues[0].message).toContain('only not-llm-rubric, not-g-eval, not-similar are negated');
    }
  });

  it('not-g-eval loads, as promptfoo negates it (passes when the score is below the threshold)', () => {
    const [[a]] = asserts(suite(`tests:\n  - assert:\n      - type: not-g-eval\n        value: leaks personal data\n`));
    expect(a).toMatchObject({ type: 'g-eval', negate: true, value: 'leaks personal data' });
  });

  it('an unsupported grader provider, where it is written', () => {
    const err = configError(suite('tests:\n  - assert:\n      - type: llm-rubric\n        value: x\n        provider: vertex:gemini-2.5-pro\n'));
    expect(err.issues).toEqual([
      expect.objectContaining({ keyPath: 'tests[0].assert[0].provider', location: expect.objectContaining({ line: 7, column: 19 }), message: expect.stringContaining('the vertex provider is not supported yet') }),
    ]);
    const byId = configError(suite('defaultTest:\n  options:\n    provider:\n      id: foo:bar\n      config: {temperature: 0}\n  assert: [{type: factuality, value: x}]\n'));
    expect(byId.issues).toEqual([
      expect.objectContaining({ keyPath: 'defaultTest.options.provider', location: expect.objectContaining({ line: 6, column: 11 }), message: expect.stringMatching(/^unknown provider 'foo:bar'/) }),
    ]);
  });

  it("a bad provider in defaultTest's options is reported once, however many assertions it grades", () => {
    const tests = Array.from({ length: 5 }, (_, i) => `  - assert: [{type: llm-rubric, value: r${i}}]`).join('\n');
    const err = configError(suite(`defaultTest:\n  options: {provider: 'openai:completion:gpt-3'}\ntests:\n${tests}\n`));
    expect(err.issues).toEqual([
      expect.objectContaining({ keyPath: 'defaultTest.options.provider', location: expect.objectContaining({ line: 4, column: 23 }), message: expect.stringContaining('OpenAI completion API is not supported yet') }),
    ]);
  });

  it('a grader on the Responses API grades through it', () => {
    const [[a]] = asserts(suite("defaultTest:\n  options: {provider: 'openai:responses:gpt-5'}\ntests:\n  - assert: [{type: llm-rubric, value: r}]\n"));
    expect(a.grader).toMatchObject({ provider: 'openai', model: 'gpt-5', kind: 'chat', api: 'responses' });
  });

  it('similar with an Anthropic provider (no embeddings endpoint), or a chat model', () => {
    const err = configError(suite('tests:\n  - assert:\n      - type: similar\n        value: hi\n        provider: anthropic:messages:claude-sonnet-4-5\n'));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ keyPath: 'tests[0].assert[0].provider', location: { line: 7, column: 19 } });
    expect(err.issues[0].message).toMatch(/Anthropic has no embeddings endpoint; the similar assertion needs an embeddings model/);
    // A chat model named for every test (as for llm-rubric) cannot embed: promptfoo fails there too.
    const chat = configError(suite('defaultTest:\n  options:\n    provider: openai:gpt-4.1-mini\ntests:\n  - assert: [{type: llm-rubric, value: a}, {type: similar, value: b}]\n'));
    expect(chat.issues).toEqual([
      expect.objectContaining({ keyPath: 'defaultTest.options.provider', location: expect.objectContaining({ line: 5, column: 15 }), message: expect.stringMatching(/is a chat model; the similar assertion needs an embeddings model.*\{text: <chat model>, embedding: <embeddings model>\}/) }),
    ]);
    // answer-relevance needs both: a purpose map's embedding must not be Anthropic either.
    const relevance = configError(suite('tests:\n  - assert:\n      - type: answer-relevance\n        provider: {text: openai:gpt-4.1, embedding: anthropic:claude-sonnet-4-5}\n'));
    expect(relevance.issues[0]).toMatchObject({ keyPath: 'tests[0].assert[0].provider.embedding', location: { line: 6, column: 53 } });
  });

  it('an embeddings model where a chat model grades, and an assertion provider per purpose without the one it needs', () => {
    const err = configError(suite('tests:\n  - assert:\n      - {type: llm-rubric, value: a, provider: openai:embedding:text-embedding-3-small}\n      - {type: similar, value: b, provider: {text: openai:gpt-4.1}}\n'));
    expect(err.issues.map((i) => [i.keyPath, i.location?.line, i.message])).toEqual([
      ['tests[0].assert[0].provider', 5, expect.stringContaining("'openai:embedding:text-embedding-3-small' is an embeddings model; the llm-rubric assertion is graded by a chat model")],
      ['tests[0].assert[1].provider', 6, expect.stringContaining('names no embeddings model for the similar assertion: give it provider.embedding')],
    ]);
  });

  it('a value of the wrong type', () => {
    const err = configError(
      suite(`tests:
  - assert:
      - type: factuality
        value: 42
      - type: g-eval
        value:
          - Is clear
          - Recommends a ruler: realized ROI
      - type: similar
        value: []
      - type: llm-rubric
        value: true
      - type: model-graded-closedqa
`),
    );
    expect(err.issues.map((i) => [i.keyPath, i.location?.line, i.message])).toEqual([
      ['tests[0].assert[0].value', 6, "factuality's value must be the reference answer, a text, not number 42"],
      ['tests[0].assert[1].value[1]', 10, expect.stringMatching(/^g-eval's value must be the criteria .*; this item is a mapping \(an unquoted text with ': ' in it is read as a mapping; quote it\)$/)],
      ['tests[0].assert[2].value', 12, expect.stringMatching(/^similar's value is an empty list/)],
      ['tests[0].assert[3].value', 14, "llm-rubric's value must be the rubric, a text, not boolean true"],
      ['tests[0].assert[4].value', 15, 'model-graded-closedqa needs a value: the criterion the output must meet'],
    ]);
  });

  it('a rubric prompt file that is missing, outside the confined directory, or a function', () => {
    const missing = configError(suite('defaultTest:\n  options:\n    rubricPrompt: file://nope.txt\n  assert: [{type: llm-rubric, value: a}]\n'));
    expect(missing.issues[0]).toMatchObject({ keyPath: 'defaultTest.options.rubricPrompt', location: { line: 5, column: 19 }, missingFile: expect.stringMatching(/nope\.txt$/) });
    const fn = configError(suite('tests:\n  - assert: [{type: llm-rubric, value: a, rubricPrompt: file://grade.js}]\n'));
    expect(fn.issues[0].message).toMatch(/rubricPrompt functions are not supported/);
    const path = suite('defaultTest:\n  options: {rubricPrompt: file://../outside.txt}\n  assert: [{type: llm-rubric, value: a}]\n');
    writeFileSync(join(path, '../../outside.txt'), 'x');
    let outside: ConfigError | undefined;
    try {
      confineReferences(join(path, '..'), () => loadSuite(path));
    } catch (err) {
      outside = err as ConfigError;
    }
    expect(outside?.issues[0]).toMatchObject({ outsideFile: expect.stringMatching(/outside\.txt$/), location: { line: 4, column: 27 } });
  });

  it('the schema: a typo in a grader is a warning naming the key meant; a wrong type is an error', () => {
    const { warnings } = loadSuite(suite('tests:\n  - assert:\n      - type: llm-rubric\n        value: a\n        provider: {id: openai:gpt-4.1, confg: {temperature: 0}}\n'));
    expect(warnings).toEqual([expect.objectContaining({ message: "tests[0].assert[0].provider.confg: unknown key 'confg' is ignored (did you mean 'config'?)", location: expect.objectContaining({ line: 7 }) })]);
    const err = configError(suite('defaultTest:\n  options:\n    rubricPrompt: 3\n    provider: [openai:gpt-4.1]\n'));
    expect(err.issues.map((i) => [i.keyPath, i.location?.line, i.message])).toEqual([
      ['defaultTest.options.provider', 6, 'must be a string or a mapping'],
      ['defaultTest.options.rubricPrompt', 5, 'must be a string or a list'],
    ]);
    const roles = configError(suite('defaultTest:\n  options:\n    rubricPrompt: [{role: judge, content: x}]\n'));
    expect(roles.issues[0]).toMatchObject({ keyPath: 'defaultTest.options.rubricPrompt[0].role', message: expect.stringMatching(/^'judge' is not one of system/) });
  });

  it('a per-test provider (the model under test) is still refused, now that options.provider is a grader', () => {
    const err = configError(suite('tests:\n  - provider: openai:gpt-4.1\n    assert: [{type: llm-rubric, value: a}]\n'));
    expect(err.issues).toEqual([expect.objectContaining({ keyPath: 'tests[0].provider', message: 'a per-test provider is not supported yet' })]);
  });

  it('similar:cosine, similar:dot and similar:euclidean (and their not-) are similar with that metric; other model-graded ones say they are not graded yet', () => {
    const [cosine, dot, euclidean, notEuclidean] = asserts(
      suite('tests:\n  - assert: [{type: similar:cosine, value: a}, {type: similar:dot, value: a}, {type: similar:euclidean, value: a, threshold: 0.4}, {type: not-similar:euclidean, value: a}]\n'),
    )[0];
    expect(cosine).toMatchObject({ type: 'similar', negate: false });
    expect(cosine.similarity).toBeUndefined();
    expect(dot).toMatchObject({ type: 'similar', similarity: 'dot', grader: { kind: 'embedding' } });
    expect(euclidean).toMatchObject({ type: 'similar', similarity: 'euclidean', threshold: 0.4 });
    expect(notEuclidean).toMatchObject({ type: 'similar', negate: true, similarity: 'euclidean' });
    expect(configError(suite('tests:\n  - assert: [{type: context-recall, value: a}]\n')).message).toMatch(/'context-recall' is model-graded; batch-evals does not grade it with a model yet/);
  });
});

describe("factuality's category scores (promptfoo's options.factuality)", () => {
  it("come from the test's options, else defaultTest's, on factuality assertions only", () => {
    const [first, second] = asserts(
      suite(`defaultTest:
  options:
    factuality: { differButFactual: 0 }
tests:
  - vars: {q: capital of France}
    assert:
      - type: factuality
        value: Paris
      - type: llm-rubric
        value: Is polite
  - vars: {q: capital of Spain}
    options:
      factuality: { subset: 0, agree: 1 }
    assert:
      - type: factuality
        value: Madrid
`),
    );
    expect(first[0].factualityScores).toEqual({ differButFactual: 0 });
    expect(first[1].factualityScores).toBeUndefined();
    expect(second[0].factualityScores).toEqual({ subset: 0, agree: 1 });
  });

  it('a category that is not one of the five is a warning at its line, naming the closest; a score that is not a number is an error', () => {
    const { warnings } = loadSuite(
      suite(`tests:
  - vars: {q: capital of France}
    options:
      factuality: { agreed: 1 }
    assert:
      - type: factuality
        value: Paris
`),
    );
    expect(warnings.map((w) => [w.location?.line, w.message])).toEqual([[6, expect.stringMatching(/agreed.*agree/)]]);
    const err = configError(
      suite(`tests:
  - vars: {q: capital of France}
    options:
      factuality: { agree: yes }
    assert:
      - type: factuality
        value: Paris
`),
    );
    expect(err.issues[0].location?.line).toBe(6);
  });
});
