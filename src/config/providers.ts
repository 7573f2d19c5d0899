import { ConfigError, keyPathString, type ConfigIssue } from './errors.ts';
import type { ConfigWarning, ProviderName, ProviderSpec } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

type RawProvider = string | { id: string; label?: string; config?: Record<string, unknown>; prompts?: string[]; reuse?: boolean };

/** promptfoo provider options that configure the client, not the request body. */
const CLIENT_OPTIONS = ['apiKey', 'apiKeyEnvar', 'apiHost', 'apiBaseUrl', 'organization', 'headers', 'cost', 'showThinking', 'functionToolCallbacks', 'maxRetries'];
/** batch-evals' own provider options: how requests are sent, never in the request body. */
const OWN_OPTIONS = ['promptCaching'];

const SUPPORTED = 'openai:<model>, openai:chat:<model>, openai:responses:<model>, anthropic:<model>, anthropic:messages:<model>';
const OTHER_PROVIDERS = ['vertex', 'google', 'gemini', 'bedrock', 'azure', 'ollama', 'mistral', 'groq', 'replicate', 'huggingface', 'cohere', 'http', 'exec', 'python', 'file', 'echo', 'openrouter', 'perplexity', 'togetherai', 'fireworks', 'deepseek', 'xai'];

export function loadProviders(source: YamlSource, raw: RawProvider | RawProvider[], warnings: ConfigWarning[] = []): ProviderSpec[] {
  const list = Array.isArray(raw) ? raw : [raw];
  const issues: ConfigIssue[] = [];
  const specs: ProviderSpec[] = [];
  list.forEach((entry, i) => {
    const path = Array.isArray(raw) ? ['providers', i] : ['providers'];
    const keyPath = keyPathString(path);
    const location = source.locate(path);
    const item = typeof entry === 'string' ? { id: entry } : entry;
    const parsed = parseProviderId(item.id);
    if ('error' in parsed) {
      issues.push({ message: parsed.error, location: source.locate(typeof entry === 'string' ? path : [...path, 'id']), keyPath });
      return;
    }
    const { params, baseURL } = requestOptions(item.config);
    const promptCaching = cacheTtl(item.config?.promptCaching);
    if (promptCaching && parsed.provider !== 'anthropic') {
      warnings.push({
        message: `${keyPathString([...path, 'config', 'promptCaching'])}: ignored for OpenAI models, which cache prompt prefixes of 1,024 tokens or more by themselves (the report shows the tokens read from the cache)`,
        location: source.locateKey([...path, 'config', 'promptCaching']),
      });
    }
    specs.push({
      id: item.id,
      provider: parsed.provider,
      model: parsed.model,
      label: item.label ?? item.id,
      params,
      baseURL,
      prompts: item.prompts,
      ...('api' in parsed && parsed.api ? { api: parsed.api } : {}),
      ...(promptCaching && parsed.provider === 'anthropic' ? { promptCaching } : {}),
      ...(item.reuse === false ? { reuse: false } : {}),
      location,
    });
  });

  const seen = new Map<string, ProviderSpec>();
  for (const spec of specs) {
    if (seen.has(spec.label)) {
      issues.push({
        message: `two providers are both named '${spec.label}': give them distinct labels`,
        location: spec.location,
        keyPath: 'providers',
      });
    }
    seen.set(spec.label, spec);
  }
  if (issues.length) throw new ConfigError(issues);
  return specs;
}

/** A provider's `config` as a request's parameters (client options left out, `passthrough` merged) and base URL. */
export function requestOptions(config: Record<string, unknown> | undefined): { params: Record<string, unknown>; baseURL?: string } {
  const copy = { ...(config ?? {}) };
  const baseURL = typeof copy.apiBaseUrl === 'string' ? copy.apiBaseUrl : undefined;
  const passthrough = isRecord(copy.passthrough) ? copy.passthrough : {};
  const params = Object.fromEntries(Object.entries(copy).filter(([k]) => !CLIENT_OPTIONS.includes(k) && !OWN_OPTIONS.includes(k) && k !== 'passthrough'));
  return { params: { ...params, ...passthrough }, baseURL };
}

/**
 * A grading model's id: for `chat` as parseProviderId; for `embedding` OpenAI's embeddings endpoint,
 * `openai:embedding:<model>` or `openai:embeddings:<model>` (Anthropic has none). `needs` names what asks for it,
 * e.g. `the similar assertion`.
 */
export function parseGraderId(id: string, kind: 'chat' | 'embedding', needs: string): { provider: ProviderName; model: string; api?: 'responses' } | { error: string } {
  const [name, ...rest] = id.split(':');
  const embeddingsApi = name === 'openai' && (rest[0] === 'embedding' || rest[0] === 'embeddings');
  if (kind === 'chat') {
    if (embeddingsApi) return { error: `provider '${id}' is an embeddings model; ${needs} is graded by a chat model (openai:<model>, anthropic:messages:<model>)` };
    return parseProviderId(id);
  }
  if (embeddingsApi) {
    if (rest.length === 2 && rest[1]) return { provider: 'openai', model: rest[1] };
    return { error: `provider '${id}' names no model; write openai:embedding:<model>, e.g. openai:embedding:text-embedding-3-small` };
  }
  if (name === 'anthropic') {
    return { error: `provider '${id}': Anthropic has no embeddings endpoint; ${needs} needs an embeddings model, e.g. openai:embedding:text-embedding-3-small` };
  }
  const parsed = parseProviderId(id);
  if ('error' in parsed) return parsed;
  return {
    error:
      `provider '${id}' is a chat model; ${needs} needs an embeddings model, e.g. openai:embedding:text-embedding-3-small ` +
      "(name one per purpose with provider: {text: <chat model>, embedding: <embeddings model>})",
  };
}

export function parseProviderId(id: string): { provider: ProviderName; model: string; api?: 'responses' } | { error: string } {
  const [name, ...rest] = id.split(':');
  if (name === 'openai') {
    if (rest.length === 2 && rest[0] === 'chat' && rest[1]) return { provider: 'openai', model: rest[1] };
    if (rest.length === 2 && rest[0] === 'responses' && rest[1]) return { provider: 'openai', model: rest[1], api: 'responses' };
    if (rest.length === 1 && rest[0] && !['chat', 'responses', 'embedding', 'embeddings', 'completion'].includes(rest[0])) {
      return { provider: 'openai', model: rest[0] };
    }
    if (['embedding', 'embeddings', 'completion', 'assistant', 'realtime'].includes(rest[0])) {
      return { error: `provider '${id}': the OpenAI ${rest[0]} API is not supported yet; use openai:<model>, openai:chat:<model> or openai:responses:<model>` };
    }
    return { error: `provider '${id}' names no model; write openai:<model> or openai:chat:<model>` };
  }
  if (name === 'anthropic') {
    if (rest.length === 2 && rest[0] === 'messages' && rest[1]) return { provider: 'anthropic', model: rest[1] };
    if (rest.length === 1 && rest[0] && !['messages', 'completion'].includes(rest[0])) return { provider: 'anthropic', model: rest[0] };
    if (rest[0] === 'completion' || rest[0] === 'claude-agent-sdk' || rest[0] === 'claude-code') {
      return { error: `provider '${id}': the Anthropic ${rest[0]} API has no batch endpoint; use anthropic:messages:<model>` };
    }
    return { error: `provider '${id}' names no model; write anthropic:<model> or anthropic:messages:<model>` };
  }
  if (OTHER_PROVIDERS.includes(name)) {
    return { error: `provider '${id}': the ${name} provider is not supported yet (supported: ${SUPPORTED})` };
  }
  return { error: `unknown provider '${id}' (supported: ${SUPPORTED})` };
}

/** `config.promptCaching` (checked by the schema: true, false, '5m' or '1h') as the cache it asks for; undefined for off. */
function cacheTtl(value: unknown): '5m' | '1h' | undefined {
  if (value === true || value === '5m') return '5m';
  return value === '1h' ? '1h' : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
