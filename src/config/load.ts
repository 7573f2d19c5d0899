import { resolve } from 'node:path';
import { ConfigError } from './errors.ts';
import { loadPrompts } from './prompts.ts';
import { loadProviders } from './providers.ts';
import { buildTests, collectTests, type RawTestValue } from './tests.ts';
import type { ConfigWarning, PriceOverride, Suite, BatchOptions } from './types.ts';
import { validate } from './validate.ts';
import { readYamlFile } from './yaml-source.ts';

export interface LoadedSuite {
  suite: Suite;
  warnings: ConfigWarning[];
}

/** Reads, validates and normalises an eval YAML. Throws a ConfigError naming file, line and key on bad input. */
export function loadSuite(path: string): LoadedSuite {
  const file = resolve(path);
  const source = readYamlFile(file);
  if (typeof source.value !== 'object' || source.value === null || Array.isArray(source.value)) {
    throw new ConfigError([{ message: 'the eval config must be a mapping with prompts, providers and tests', location: { file, line: 1, column: 1 } }]);
  }
  const { value, warnings } = validate(source, 'suite');
  const config = value as {
    description?: string;
    prompts: Parameters<typeof loadPrompts>[1];
    providers: Parameters<typeof loadProviders>[1];
    tests?: unknown;
    defaultTest?: RawTestValue;
    threshold?: number;
    pricing?: Record<string, PriceOverride>;
    batch?: BatchOptions;
  };

  const prompts = loadPrompts(source, config.prompts);
  const providers = loadProviders(source, config.providers, warnings);
  checkPromptFilters(providers, prompts.map((p) => p.label), source);
  const rawTests = collectTests(source, config.tests, warnings);
  const defaults = config.defaultTest ? { value: config.defaultTest, source, path: ['defaultTest'] } : undefined;
  const tests = buildTests(rawTests, defaults, providers);

  return {
    suite: {
      description: config.description,
      file,
      prompts,
      providers,
      tests,
      threshold: config.threshold,
      pricing: config.pricing ?? {},
      batch: config.batch ?? {},
    },
    warnings,
  };
}

function checkPromptFilters(providers: Suite['providers'], labels: string[], source: ReturnType<typeof readYamlFile>): void {
  const issues = providers.flatMap((p) =>
    (p.prompts ?? [])
      .filter((label) => !labels.includes(label))
      .map((label) => ({
        message: `provider '${p.label}' asks for prompt '${label}', but no prompt has that label (labels: ${labels.join(', ')})`,
        location: p.location ?? source.locate(['providers']),
        keyPath: 'providers',
      })),
  );
  if (issues.length) throw new ConfigError(issues);
}
