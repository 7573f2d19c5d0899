import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.ts';
import { loadSuite } from '../../src/config/load.ts';
import { buildPlan } from '../../src/plan/plan.ts';

/** Real promptfoo suites written by others; present beside the project in development, absent in a user's clone. */
const peerDir = join(import.meta.dirname, '../../../shared/peer-suites');
const present = existsSync(peerDir);
if (!present) console.warn(`skipping the peer-suite tests: ${peerDir} is absent (it is not part of the project)`);

function configs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return configs(path);
    return /^promptfooconfig.*\.yaml$/.test(name) ? [path] : [];
  });
}

/** Why a suite may not load yet: each is a feature this version leaves out, and says so. */
const LEFT_OUT = [
  /model-graded; batch-evals does not grade it with a model yet/,
];

/** The suites that must load and plan, with their case counts (prompts x providers x tests). */
const MUST_LOAD: Record<string, number> = {
  'getting-started/promptfooconfig.yaml': 8,
  'simple-csv/promptfooconfig.yaml': 8,
  'anthropic/promptfooconfig.basic.yaml': 45,
  'anthropic/promptfooconfig.thinking.yaml': 15,
  'config-prompts-per-model/promptfooconfig.yaml': 48,
  // With llm-rubric assertions (inline, in defaultTest, or `llm-rubric:` in a CSV column), graded by the default grader.
  'eval-self-grading/promptfooconfig.yaml': 4,
  'self-grading/promptfooconfig.yaml': 20,
  'gpt-3.5-vs-4/promptfooconfig.yaml': 30,
  'gpt-4o-vs-4o-mini/promptfooconfig.yaml': 30,
  'openai-model-comparison/promptfooconfig.yaml': 30,
  'csv-metadata/promptfooconfig.yaml': 3,
  'anthropic/sonnet-4-6/promptfooconfig.yaml': 4,
  'anthropic/sonnet-5/promptfooconfig.yaml': 2,
  'anthropic/opus-5/promptfooconfig.yaml': 4,
  'anthropic/opus-4-5-coding/promptfooconfig.yaml': 5,
  'anthropic/opus-4-8-coding/promptfooconfig.yaml': 4,
  // `_conversation`: three threads (by metadata.conversationId) of 3, 2 and 2 turns.
  'multiple-turn-conversation/promptfooconfig.yaml': 7,
};

/** The default chat grader of each suite with model-graded assertions: Anthropic's for the suites with only Anthropic models. */
function defaultGraderOf(name: string): string {
  return name.startsWith('anthropic/') ? 'anthropic:messages:claude-sonnet-4-5' : 'openai:gpt-4.1';
}

describe.skipIf(!present)('the peer suites', () => {
  const all = present ? configs(peerDir) : [];

  it('finds them', () => {
    expect(all.length).toBeGreaterThanOrEqual(15);
  });

  for (const path of all) {
    const name = relative(peerDir, path);
    it(`${name} loads, or fails only on a feature left out, saying so with its line`, () => {
      let outcome: { cases: number } | ConfigError;
      try {
        const { suite } = loadSuite(path);
        outcome = { cases: buildPlan(suite).cases.length };
        // Every model-graded assertion has its grader: these suites name none, so batch-evals' default.
        for (const a of suite.tests.flatMap((t) => t.assert)) {
          if (a.type === 'llm-rubric') expect(a.grader).toMatchObject({ id: defaultGraderOf(name), kind: 'chat', isDefault: true });
          else expect(a.grader).toBeUndefined();
        }
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        outcome = err;
      }
      if (name in MUST_LOAD) {
        expect(outcome).toEqual({ cases: MUST_LOAD[name] });
        return;
      }
      expect(outcome).toBeInstanceOf(ConfigError);
      for (const issue of (outcome as ConfigError).issues) {
        expect(issue.location?.line).toBeGreaterThan(0);
        // The one upstream file with nunjucks tags split by a formatter fails as a template error, with its line.
        if (name === 'anthropic/promptfooconfig.conversation.yaml') expect(issue.message).toMatch(/template error/);
        else expect(LEFT_OUT.some((re) => re.test(issue.message)), issue.message).toBe(true);
      }
    });
  }
});
