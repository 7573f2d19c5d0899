import { describe, expect, it } from 'vitest';
import { scoreTest } from '../../src/score/score-test.ts';
import { assertion, ctx } from './helpers.ts';

describe('scoreTest', () => {
  it('passes a test without assertions with score 1', () => {
    expect(scoreTest({ assert: [] }, 'anything', ctx)).toEqual({ pass: true, score: 1, reason: 'No assertions', namedScores: {}, assertions: [] });
  });

  it('passes when every assertion passes', () => {
    const s = scoreTest({ assert: [assertion('contains', 'Paris'), assertion('not-contains', 'Lyon')] }, 'Paris', ctx);
    expect(s).toMatchObject({ pass: true, score: 1, reason: 'All assertions passed' });
    expect(s.assertions).toHaveLength(2);
  });

  it('fails when any assertion fails, giving its reason, and averages the scores', () => {
    const s = scoreTest({ assert: [assertion('contains', 'Paris'), assertion('contains', 'France')] }, 'Paris', ctx);
    expect(s.pass).toBe(false);
    expect(s.score).toBe(0.5);
    expect(s.reason).toBe('Expected output to contain "France"');
  });

  it('weighs the scores', () => {
    const s = scoreTest(
      { assert: [assertion('contains', 'Paris', { weight: 3 }), assertion('contains', 'France', { weight: 1 })] },
      'Paris',
      ctx,
    );
    expect(s.score).toBe(0.75);
    expect(s.pass).toBe(false);
  });

  it('decides by the threshold when the test sets one, even with a failed assertion', () => {
    const assert = [assertion('contains', 'Paris', { weight: 3 }), assertion('contains', 'France')];
    const pass = scoreTest({ assert, threshold: 0.7 }, 'Paris', ctx);
    expect(pass).toMatchObject({ pass: true, score: 0.75, reason: 'Aggregate score 0.75 ≥ 0.7 threshold' });
    const fail = scoreTest({ assert, threshold: 0.8 }, 'Paris', ctx);
    expect(fail).toMatchObject({ pass: false, reason: 'Aggregate score 0.75 < 0.8 threshold' });
  });

  it('a threshold of 0 is honoured', () => {
    expect(scoreTest({ assert: [assertion('contains', 'zzz')], threshold: 0 }, 'Paris', ctx).pass).toBe(true);
  });

  it('an assertion with weight 0 cannot fail the test and does not count in its score', () => {
    const s = scoreTest({ assert: [assertion('contains', 'Paris'), assertion('contains', 'zzz', { weight: 0 })] }, 'Paris', ctx);
    expect(s).toMatchObject({ pass: true, score: 1 });
    expect(s.assertions[1].pass).toBe(true);
  });

  it('records named scores per metric, as weighted means, with templated names', () => {
    const s = scoreTest(
      {
        assert: [
          assertion('contains', 'Paris', { metric: 'accuracy' }),
          assertion('contains', 'France', { metric: 'accuracy', weight: 3 }),
          assertion('javascript', '0.4', { metric: 'style_{{lang}}' }),
          assertion('javascript', '0.8', { metric: 'tracked', weight: 0 }),
          assertion('icontains', 'paris'),
        ],
      },
      'Paris',
      ctx,
    );
    expect(s.namedScores).toEqual({ accuracy: 0.25, style_fr: 0.4, tracked: 0.8 });
  });

  it('leaves not-applicable assertions out of pass, score and metrics, but names them in the reason', () => {
    const s = scoreTest(
      { assert: [assertion('contains', 'Paris'), assertion('latency', undefined, { threshold: 500, metric: 'speed' })] },
      'Paris',
      ctx,
    );
    expect(s).toMatchObject({ pass: true, score: 1 });
    expect(s.reason).toMatch(/^All assertions passed \(not counted: latency not applicable: latency cannot be measured in a batch/);
    expect(s.namedScores).toEqual({});
    expect(s.assertions[1]).toMatchObject({ pass: false, notApplicable: true });
  });

  it('a test of only not-applicable assertions passes with nothing measured', () => {
    const s = scoreTest({ assert: [assertion('cost', undefined, { threshold: 0.01 })] }, 'x', { ...ctx, cost: undefined });
    expect(s.pass).toBe(true);
    expect(s.score).toBe(1);
    expect(s.reason).toMatch(/^No measurable assertions \(not counted: cost not applicable: the model's price is unknown/);
  });

  it('applies the test transform, then each assertion transform on top of it', () => {
    const s = scoreTest(
      {
        transform: 'JSON.parse(output)',
        assert: [
          assertion('javascript', 'output.answer === 4'),
          assertion('equals', '4', { transform: 'String(output.answer)' }),
          assertion('contains', '"answer":4'),
        ],
      },
      '{"answer": 4}',
      ctx,
    );
    expect(s.assertions.map((r) => r.pass)).toEqual([true, true, true]);
    expect(s.pass).toBe(true);
  });

  it('gives transforms the vars and prompt', () => {
    const s = scoreTest({ transform: 'output + " " + context.vars.city', assert: [assertion('equals', 'Capital: Paris')] }, 'Capital:', ctx);
    expect(s.pass).toBe(true);
  });

  it('a failing assertion transform fails that assertion only, naming the code', () => {
    const s = scoreTest(
      { assert: [assertion('contains', 'x', { transform: 'JSON.parse(output).a' }), assertion('contains', 'not json')] },
      'not json',
      ctx,
    );
    expect(s.assertions[0].pass).toBe(false);
    expect(s.assertions[0].reason).toMatch(/^transform `JSON.parse\(output\).a` failed: /);
    expect(s.assertions[1].pass).toBe(true);
    expect(s.pass).toBe(false);
    expect(s.score).toBe(0.5);
  });

  it('a failing test transform fails the test and every assertion', () => {
    const s = scoreTest({ transform: 'output.nope.deeper', assert: [assertion('contains', 'a'), assertion('contains', 'b')] }, 'ab', ctx);
    expect(s.pass).toBe(false);
    expect(s.score).toBe(0);
    expect(s.reason).toMatch(/^test transform `output.nope.deeper` failed: /);
    expect(s.assertions.every((r) => !r.pass)).toBe(true);
  });

  it('an exception in a javascript assertion fails it without throwing', () => {
    const s = scoreTest({ assert: [assertion('javascript', 'undefinedName > 1')] }, 'x', ctx);
    expect(s.pass).toBe(false);
    expect(s.reason).toMatch(/Custom function threw error: undefinedName is not defined/);
  });

  it('scores the peer-suite length expression', () => {
    const assert = [assertion('javascript', 'Math.max(0, Math.min(1, 1 - (output.length - 100) / 900));')];
    const s = scoreTest({ assert }, 'x'.repeat(325), ctx);
    expect(s.pass).toBe(true);
    expect(s.score).toBeCloseTo(0.75);
  });
});
