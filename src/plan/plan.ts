import { ConfigError, type ConfigIssue } from '../config/errors.ts';
import type { Assertion, ProviderName, ProviderSpec, SourceLocation, Suite, TestCase } from '../config/types.ts';
import type { BatchRequest } from '../batch/types.ts';
import { renderDeep, templateErrorMessage } from '../templates.ts';
import { expandVars } from './expand-vars.ts';
import { renderPrompt } from './render-prompt.ts';
import { requestId } from './request-id.ts';

/** One prompt x provider x test (after var expansion): what is asked and how the answer is judged. */
export interface PlannedCase {
  index: number;
  provider: string;
  prompt: string;
  description: string;
  vars: Record<string, unknown>;
  assertions: Assertion[];
  threshold?: number;
  transform?: string;
  metadata: Record<string, unknown>;
  location?: SourceLocation;
  requestId: string;
}

/** The requests that go to one provider batch: one model at one endpoint. */
export interface PlannedBatch {
  key: string;
  provider: ProviderName;
  model: string;
  baseURL?: string;
  /** Set when the model's requests are split across several batches (provider limits, the suite's caps). */
  part?: { index: number; of: number };
  requests: BatchRequest[];
}

export interface Plan {
  cases: PlannedCase[];
  batches: PlannedBatch[];
}

/** Expands prompts x providers x tests into cases, and their distinct requests into one batch per model. */
export function buildPlan(suite: Suite): Plan {
  const cases: PlannedCase[] = [];
  const batches = new Map<string, PlannedBatch>();
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];

  // Assertions and descriptions depend on a test's vars only: made once per test, shared by its cases.
  const expanded = suite.tests.flatMap((test) => expandVars(test.vars).map((vars): ExpandedTest => ({ test, vars })));
  for (const provider of suite.providers) {
    const prompts = suite.prompts.filter((p) => !provider.prompts || provider.prompts.includes(p.label));
    const batch = batchFor(batches, provider);
    for (const prompt of prompts) {
      for (const entry of expanded) {
        const { test, vars } = entry;
        let messages;
        let assertions: Assertion[];
        try {
          messages = renderPrompt(prompt, vars);
          assertions = entry.assertions ??= test.assert.map((a) => ({ ...a, value: renderDeep(a.value, vars) }));
        } catch (err) {
          issues.push({
            message: `prompt '${prompt.label}' cannot be rendered for this test: ${templateErrorMessage(err)}`,
            location: test.location ?? prompt.location,
          });
          continue;
        }
        const id = requestId({ provider: provider.provider, baseURL: provider.baseURL, model: provider.model, params: provider.params, messages });
        if (!seen.has(id)) {
          seen.add(id);
          batch.requests.push({ id, model: provider.model, messages, params: provider.params });
        }
        cases.push({
          index: cases.length,
          provider: provider.label,
          prompt: prompt.label,
          description: (entry.description ??= describe(test, vars)),
          vars,
          assertions,
          threshold: test.threshold,
          transform: test.transform,
          metadata: test.metadata,
          location: test.location,
          requestId: id,
        });
      }
    }
  }
  if (issues.length) throw new ConfigError(issues.slice(0, 20));
  return { cases, batches: [...batches.values()].filter((b) => b.requests.length > 0) };
}

interface ExpandedTest {
  test: TestCase;
  vars: Record<string, unknown>;
  assertions?: Assertion[];
  description?: string;
}

function batchFor(batches: Map<string, PlannedBatch>, provider: ProviderSpec): PlannedBatch {
  const key = [provider.provider, provider.baseURL ?? '', provider.model].join('|');
  let batch = batches.get(key);
  if (!batch) {
    batch = { key, provider: provider.provider, model: provider.model, baseURL: provider.baseURL, requests: [] };
    batches.set(key, batch);
  }
  return batch;
}

function describe(test: TestCase, vars: Record<string, unknown>): string {
  if (test.description) return test.description;
  const text = Object.entries(vars)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return text.length > 80 ? `${text.slice(0, 77)}...` : text || '(no vars)';
}
