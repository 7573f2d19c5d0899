import { describe, expect, it } from 'vitest';
import { functionBody } from '../../src/score/script.ts';
import { levenshtein, rougeN, countWords } from '../../src/score/text-metrics.ts';
import { applyTransform } from '../../src/score/transform.ts';
import { extractJsonObjects } from '../../src/score/json-checks.ts';

const context = { vars: { n: 2 }, prompt: 'the prompt', provider: 'p' };

describe('applyTransform', () => {
  it('evaluates a one-line expression over output and context', () => {
    expect(applyTransform('output.toUpperCase()', 'abc', context)).toBe('ABC');
    expect(applyTransform('output.repeat(context.vars.n)', 'ab', context)).toBe('abab');
    expect(applyTransform('JSON.parse(output)', '{"a":1}', context)).toEqual({ a: 1 });
  });
  it('runs multi-line code as a function body with return', () => {
    const code = 'const lines = output.split("\\n");\nreturn lines.length;';
    expect(applyTransform(code, 'a\nb\nc', context)).toBe(3);
  });
  it('treats a one-liner with a trailing newline (YAML block) as an expression', () => {
    expect(applyTransform('output.trim()\n', '  x  ', context)).toBe('x');
  });
  it('reports a throwing transform with its code', () => {
    expect(() => applyTransform('JSON.parse(output)', 'nope', context)).toThrow(/^transform `JSON.parse\(output\)` failed: .*JSON/);
  });
  it('reports a transform that returns nothing, with a hint for multi-line code', () => {
    expect(() => applyTransform('undefined', 'x', context)).toThrow('transform `undefined` returned undefined');
    expect(() => applyTransform('const a = 1;\na', 'x', context)).toThrow(/needs `return`/);
  });
  it('shortens long code in the message', () => {
    const code = `output.nope.${'x'.repeat(200)}`;
    expect(() => applyTransform(code, 'x', context)).toThrow(/…` failed/);
  });
});

describe('functionBody', () => {
  it('returns an expression, dropping trailing semicolons', () => {
    expect(functionBody('output.length > 3;;')).toBe('return output.length > 3');
  });
  it('returns the last expression after declarations, ignoring semicolons in strings and brackets', () => {
    expect(functionBody("const a = 'x;y'; const f = () => { return 1; }; a + f()")).toBe(
      "const a = 'x;y'; const f = () => { return 1; }; return a + f()",
    );
  });
  it('leaves multi-line code alone', () => {
    expect(functionBody('const a = 1;\nreturn a;\n')).toBe('const a = 1;\nreturn a;');
  });
});

describe('text metrics', () => {
  it('levenshtein', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('same', 'same')).toBe(0);
  });
  it('rouge-n clips repeated words', () => {
    expect(rougeN('the the the', 'the cat')).toBeCloseTo(0.4);
    expect(rougeN('', 'the cat')).toBe(0);
    expect(rougeN('Hello, world!', 'hello world')).toBeCloseTo(2 / 3);
  });
  it('countWords', () => {
    expect(countWords('')).toBe(0);
    expect(countWords('  a  b\tc\n')).toBe(3);
  });
  it('extractJsonObjects skips invalid braces and finds nested objects whole', () => {
    expect(extractJsonObjects('x {bad} {"a": {"b": 1}} y {"c": "}"}')).toEqual([{ a: { b: 1 } }, { c: '}' }]);
  });
});
