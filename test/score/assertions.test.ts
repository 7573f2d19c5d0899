import { describe, expect, it } from 'vitest';
import { evaluateAssertion, list } from '../../src/score/assertions.ts';
import { assertion, ctx } from './helpers.ts';

function run(written: string, value: unknown, output: unknown, extra = {}) {
  return evaluateAssertion(assertion(written, value, extra), output, ctx);
}

function passes(written: string, value: unknown, output: unknown, extra = {}): boolean {
  return run(written, value, output, extra).pass;
}

describe('equals', () => {
  it('compares the whole output as text, without trimming', () => {
    expect(passes('equals', 'Paris', 'Paris')).toBe(true);
    expect(passes('equals', 'Paris', 'Paris\n')).toBe(false);
    expect(passes('equals', 42, '42')).toBe(true);
  });
  it('compares an object value with the output parsed as JSON, ignoring key order', () => {
    expect(passes('equals', { a: 1, b: [2] }, '{"b":[2],"a":1}')).toBe(true);
    expect(passes('equals', { a: 1 }, '{"a":2}')).toBe(false);
    expect(passes('equals', { a: 1 }, 'not json')).toBe(false);
    expect(passes('not-equals', { a: 1 }, 'not json')).toBe(true);
  });
  it('says what it expected', () => {
    const r = run('equals', 'Paris', 'Lyon');
    expect(r).toMatchObject({ pass: false, score: 0, reason: 'Expected output "Lyon" to equal "Paris"' });
  });
});

describe('contains and icontains', () => {
  it('looks for a substring, case-sensitive or not', () => {
    expect(passes('contains', 'Paris', 'It is Paris.')).toBe(true);
    expect(passes('contains', 'paris', 'It is Paris.')).toBe(false);
    expect(passes('icontains', 'paris', 'It is PARIS.')).toBe(true);
    expect(passes('icontains', 'lyon', 'It is Paris.')).toBe(false);
  });
  it('accepts a number value', () => {
    expect(passes('contains', 4, 'The answer is 4')).toBe(true);
  });
  it('fails on an empty value instead of passing vacuously', () => {
    const r = run('contains', '', 'anything');
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/contains: the value must be a non-empty string or a number/);
  });
});

describe('contains-any / contains-all and their case-insensitive forms', () => {
  it('takes a list', () => {
    expect(passes('contains-any', ['Lyon', 'Paris'], 'Paris')).toBe(true);
    expect(passes('contains-any', ['Lyon', 'Nice'], 'Paris')).toBe(false);
    expect(passes('contains-all', ['a', 'b'], 'a and b')).toBe(true);
    expect(passes('contains-all', ['a', 'z'], 'a and b')).toBe(false);
    expect(passes('icontains-any', ['PARIS'], 'paris')).toBe(true);
    expect(passes('icontains-any', ['LYON'], 'paris')).toBe(false);
    expect(passes('icontains-all', ['PARIS', 'france'], 'Paris, France')).toBe(true);
    expect(passes('icontains-all', ['PARIS', 'spain'], 'Paris, France')).toBe(false);
  });
  it('splits a string on commas, trimming, keeping quoted commas', () => {
    expect(list('red, green ,blue')).toEqual(['red', 'green', 'blue']);
    expect(list('"Paris, France", Lyon')).toEqual(['Paris, France', 'Lyon']);
    expect(list('"say ""hi""", x')).toEqual(['say "hi"', 'x']);
    expect(list('a,,b,')).toEqual(['a', 'b']);
    expect(passes('contains-any', 'Lyon, Paris', 'I live in Paris')).toBe(true);
    expect(passes('contains-all', '"Paris, France", Lyon', 'Paris, France')).toBe(false);
  });
  it('names what is missing', () => {
    const r = run('contains-all', ['a', 'x', 'y'], 'a');
    expect(r.reason).toBe('Expected output to contain all of "a", "x", "y". Missing: "x", "y"');
  });
  it('rejects an unclosed quote', () => {
    expect(run('contains-any', '"open, b', 'x').reason).toMatch(/not closed/);
  });
});

describe('starts-with and regex', () => {
  it('starts-with checks the prefix', () => {
    expect(passes('starts-with', 'Yes', 'Yes, it is')).toBe(true);
    expect(passes('starts-with', 'Yes', ' Yes')).toBe(false);
  });
  it('regex tests the pattern without flags', () => {
    expect(passes('regex', '^\\d{3}-\\d{4}$', '555-1234')).toBe(true);
    expect(passes('regex', '^paris$', 'Paris')).toBe(false);
  });
  it('an invalid pattern fails with the reason', () => {
    const r = run('regex', '([a-z', 'x');
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/^regex: invalid regular expression/);
  });
});

describe('is-json', () => {
  const schema = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } };
  it('passes on valid JSON of any kind and fails on prose', () => {
    expect(passes('is-json', undefined, '{"a": 1}')).toBe(true);
    expect(passes('is-json', undefined, '[1, 2]')).toBe(true);
    expect(passes('is-json', undefined, 'Here: {"a": 1}')).toBe(false);
  });
  it('checks a schema given as an object or as YAML text', () => {
    expect(passes('is-json', schema, '{"name": "Ada"}')).toBe(true);
    expect(passes('is-json', 'type: object\nrequired: [name]', '{"name": "Ada"}')).toBe(true);
    const r = run('is-json', schema, '{"name": 3}');
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/JSON does not conform to the provided schema\. Errors: data\/name must be string/);
  });
  it('not-is-json passes on prose and on JSON that breaks the schema', () => {
    expect(passes('not-is-json', undefined, 'hello')).toBe(true);
    expect(passes('not-is-json', undefined, '{}')).toBe(false);
    expect(passes('not-is-json', schema, '{"name": 3}')).toBe(true);
    expect(passes('not-is-json', schema, '{"name": "Ada"}')).toBe(false);
  });
  it('a value that is not a schema fails the assertion', () => {
    expect(run('is-json', 42, '{}').reason).toMatch(/must be a JSON schema/);
  });
});

describe('contains-json', () => {
  const schema = { type: 'object', required: ['answer'] };
  it('finds a JSON object inside prose or a code fence', () => {
    expect(passes('contains-json', undefined, 'Sure! ```json\n{"answer": "4", "note": "a } in a string"}\n``` done')).toBe(true);
    expect(passes('contains-json', undefined, 'no json here {not: json}')).toBe(false);
    expect(passes('contains-json', undefined, '[1, 2, 3]')).toBe(false);
  });
  it('passes when any embedded object meets the schema', () => {
    expect(passes('contains-json', schema, 'first {"x": 1} then {"answer": 4}')).toBe(true);
    const r = run('contains-json', schema, 'only {"x": 1}');
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/must have required property 'answer'/);
  });
  it('negates', () => {
    expect(passes('not-contains-json', undefined, 'plain text')).toBe(true);
    expect(passes('not-contains-json', schema, 'x {"answer": 1}')).toBe(false);
  });
});

describe('levenshtein', () => {
  it('passes within the threshold, 5 by default', () => {
    expect(passes('levenshtein', 'kitten', 'sitting')).toBe(true);
    expect(passes('levenshtein', 'kitten', 'sitting', { threshold: 2 })).toBe(false);
    expect(passes('levenshtein', 'abc', 'abcdefghi')).toBe(false);
    expect(run('levenshtein', 'abc', 'abcdefghi').reason).toBe('Levenshtein distance 6 is greater than threshold 5');
  });
  it('a threshold of 0 means exact', () => {
    expect(passes('levenshtein', 'abc', 'abd', { threshold: 0 })).toBe(false);
    expect(passes('levenshtein', 'abc', 'abc', { threshold: 0 })).toBe(true);
  });
  it('negates', () => {
    expect(passes('not-levenshtein', 'kitten', 'sitting')).toBe(false);
    expect(passes('not-levenshtein', 'kitten', 'a completely different sentence')).toBe(true);
  });
});

describe('rouge-n', () => {
  it('scores unigram overlap F1, case-insensitive, against 0.75 by default', () => {
    const same = run('rouge-n', 'The cat sat on the mat', 'the CAT sat on the mat');
    expect(same.score).toBeCloseTo(1);
    expect(same.pass).toBe(true);
    const half = run('rouge-n', 'the cat sat on the mat', 'the cat sat');
    expect(half.score).toBeCloseTo(2 / 3);
    expect(half.pass).toBe(false);
    expect(half.reason).toBe('ROUGE-N score 0.67 is less than threshold 0.75');
  });
  it('takes a threshold', () => {
    expect(passes('rouge-n', 'the cat sat on the mat', 'the cat sat', { threshold: 0.6 })).toBe(true);
  });
  it('not-rouge-n flips pass and reports 1 - score', () => {
    const r = run('not-rouge-n', 'the cat sat on the mat', 'the cat sat');
    expect(r.pass).toBe(true);
    expect(r.score).toBeCloseTo(1 / 3);
  });
});

describe('word-count', () => {
  it('checks an exact count', () => {
    expect(passes('word-count', 3, ' one two\nthree ')).toBe(true);
    expect(passes('word-count', '3', 'one two three')).toBe(true);
    expect(run('word-count', 4, 'one two three').reason).toBe('Word count 3 does not equal expected 4');
  });
  it('checks a range, or one bound', () => {
    expect(passes('word-count', { min: 2, max: 4 }, 'one two three')).toBe(true);
    expect(passes('word-count', { min: 4, max: 6 }, 'one two three')).toBe(false);
    expect(passes('word-count', { max: 2 }, 'one two three')).toBe(false);
    expect(passes('word-count', { min: 3 }, 'one two three')).toBe(true);
    expect(run('word-count', { max: 2 }, 'one two three').reason).toBe('Word count 3 is not at most 2');
  });
  it('negates', () => {
    expect(passes('not-word-count', { min: 2, max: 4 }, 'one two three')).toBe(false);
    expect(passes('not-word-count', 5, 'one two three')).toBe(true);
  });
  it('rejects a bad value', () => {
    expect(run('word-count', { min: 5, max: 1 }, 'x').reason).toMatch(/min \(5\) must not exceed max \(1\)/);
    expect(run('word-count', 'many', 'x').pass).toBe(false);
  });
});

describe('javascript', () => {
  it('a boolean expression passes or fails', () => {
    expect(passes('javascript', "output.includes('Paris')", 'Paris')).toBe(true);
    const r = run('javascript', 'output.length < 3', 'Paris');
    expect(r).toMatchObject({ pass: false, score: 0 });
    expect(r.reason).toBe('Custom function returned false\noutput.length < 3');
  });
  it('runs the peer-suite score expression, trailing semicolon and all', () => {
    const code = 'Math.max(0, Math.min(1, 1 - (output.length - 100) / 900));';
    const short = run('javascript', code, 'x'.repeat(50));
    expect(short).toMatchObject({ pass: true, score: 1 });
    const mid = run('javascript', code, 'x'.repeat(550));
    expect(mid.pass).toBe(true);
    expect(mid.score).toBeCloseTo(0.5);
    const long = run('javascript', code, 'x'.repeat(1200));
    expect(long).toMatchObject({ pass: false, score: 0 });
  });
  it('a number passes when above 0, or when it reaches the threshold', () => {
    expect(run('javascript', '0.4', 'x')).toMatchObject({ pass: true, score: 0.4 });
    expect(run('javascript', '0.4', 'x', { threshold: 0.5 })).toMatchObject({ pass: false, score: 0.4 });
    expect(run('javascript', '0.5', 'x', { threshold: 0.5 })).toMatchObject({ pass: true, score: 0.5 });
  });
  it('not- flips pass but keeps a numeric score, as promptfoo does', () => {
    expect(run('not-javascript', '0.9', 'x')).toMatchObject({ pass: false, score: 0.9 });
    expect(run('not-javascript', 'false', 'x')).toMatchObject({ pass: true, score: 1 });
  });
  it('a grading result object gives pass, score and reason', () => {
    const r = run('javascript', "({ pass: output === 'ok', score: 0.3, reason: 'graded by hand' })", 'ok');
    expect(r).toMatchObject({ pass: true, score: 0.3, reason: 'graded by hand' });
    expect(run('not-javascript', '({ pass: true, score: 0.8, reason: "r" })', 'x')).toMatchObject({ pass: false, score: 0.8 });
  });
  it('sees the vars and the prompt through context', () => {
    expect(passes('javascript', 'output.includes(context.vars.city) && context.prompt.includes("France")', 'Paris')).toBe(true);
    expect(passes('javascript', "context.provider.id() === 'gpt-4.1-mini'", 'x')).toBe(true);
  });
  it('runs a one-liner with declarations, returning the last expression', () => {
    expect(passes('javascript', 'const n = output.split(";").length; n === 3', 'a;b;c')).toBe(true);
    expect(passes('javascript', 'const s = "x;y"; s === output', 'x;y')).toBe(true);
  });
  it('runs multi-line code as a function body', () => {
    const code = 'const words = output.split(" ");\nreturn words.length === 2;\n';
    expect(passes('javascript', code, 'hello world')).toBe(true);
    expect(passes('javascript', code, 'hello')).toBe(false);
  });
  it('a multi-line body without return fails, saying why', () => {
    const r = run('javascript', 'const x = 1;\nx === 1', 'y');
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/returned undefined \(multi-line code is a function body and needs `return`\)/);
  });
  it('an exception fails the assertion with its message', () => {
    const r = run('javascript', 'JSON.parse(output).score > 0.5', 'not json');
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/^Custom function threw error: .*JSON/);
    expect(run('not-javascript', 'null.x', 'y').pass).toBe(false);
  });
  it('a syntax error fails the assertion', () => {
    const r = run('javascript', 'output ===', 'y');
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/Custom function threw error/);
  });
  it('other return values fail', () => {
    expect(run('javascript', '"yes"', 'y').reason).toMatch(/must return a boolean, a finite number, or an object/);
    expect(run('javascript', 'NaN', 'y').pass).toBe(false);
  });
  it('receives a transformed object as is', () => {
    expect(passes('javascript', 'output.score > 0.5', { score: 0.8 })).toBe(true);
  });
});

describe('cost', () => {
  it('passes at or under the threshold', () => {
    expect(passes('cost', undefined, 'x', { threshold: 0.002 })).toBe(true);
    const r = run('cost', undefined, 'x', { threshold: 0.001 });
    expect(r).toMatchObject({ pass: false, score: 0, reason: 'Cost $0.0020 is greater than threshold 0.001' });
  });
  it('not-cost passes above the threshold', () => {
    expect(passes('not-cost', undefined, 'x', { threshold: 0.001 })).toBe(true);
    expect(passes('not-cost', undefined, 'x', { threshold: 0.01 })).toBe(false);
  });
  it('without a threshold records the cost as the score of its metric', () => {
    expect(run('cost', undefined, 'x', { metric: 'spend' })).toMatchObject({ pass: true, score: 0.002 });
    expect(run('cost', undefined, 'x').pass).toBe(false);
  });
  it('is not applicable, and never passes, when the price is unknown', () => {
    const r = evaluateAssertion(assertion('cost', undefined, { threshold: 1 }), 'x', { ...ctx, cost: undefined });
    expect(r).toMatchObject({ pass: false, notApplicable: true });
    expect(r.reason).toMatch(/price is unknown/);
    expect(evaluateAssertion(assertion('not-cost', undefined, { threshold: 1 }), 'x', { ...ctx, cost: undefined }).pass).toBe(false);
  });
});

describe('latency', () => {
  it('is not applicable in a batch, negated or not, and never passes', () => {
    for (const written of ['latency', 'not-latency']) {
      const r = run(written, undefined, 'x', { threshold: 1000 });
      expect(r).toMatchObject({ pass: false, score: 0, notApplicable: true });
      expect(r.reason).toMatch(/latency cannot be measured in a batch/);
    }
  });
});

describe('negation of the simple checks', () => {
  it.each([
    ['contains', 'a', 'abc', 'xyz'],
    ['icontains', 'A', 'abc', 'xyz'],
    ['contains-any', ['a', 'q'], 'abc', 'xyz'],
    ['contains-all', ['a', 'b'], 'abc', 'axz'],
    ['icontains-any', ['A'], 'abc', 'xyz'],
    ['icontains-all', ['A', 'B'], 'abc', 'axz'],
    ['starts-with', 'ab', 'abc', 'cab'],
    ['regex', 'b+', 'abc', 'xyz'],
    ['equals', 'abc', 'abc', 'abd'],
  ])('not-%s fails where %s passes and passes where it fails', (type, value, matching, other) => {
    expect(passes(type, value, matching)).toBe(true);
    expect(passes(`not-${type}`, value, matching)).toBe(false);
    expect(passes(type, value, other)).toBe(false);
    expect(run(`not-${type}`, value, other)).toMatchObject({ pass: true, score: 1, reason: 'Assertion passed' });
  });
  it('names the negated expectation', () => {
    expect(run('not-contains', 'b', 'abc').reason).toBe('Expected output to not contain "b"');
  });
});

describe('objects from a transform', () => {
  it('are compared as their JSON text', () => {
    expect(passes('contains', '"score":1', { score: 1 })).toBe(true);
    expect(passes('equals', { a: 1 }, { a: 1 })).toBe(true);
    expect(passes('is-json', undefined, [1, 2])).toBe(true);
  });
});

it('throws on a type it does not know', () => {
  expect(() => run('llm-rubric', 'x', 'y')).toThrow(/unsupported assertion type 'llm-rubric'/);
  expect(() => run('constructor', 'x', 'y')).toThrow(/unsupported assertion type 'constructor'/);
});

it('shortens a long output quoted in an equals reason', () => {
  const r = run('equals', 'short', 'y'.repeat(1000));
  expect(r.reason.length).toBeLessThan(260);
  expect(r.reason).toMatch(/y…" to equal "short"$/);
});
