import type { Logger } from '../logger.ts';
import type { PlannedBatch } from '../plan/plan.ts';
import { ANTHROPIC_DEFAULT_BASE_URL, AnthropicBatchProvider } from './anthropic.ts';
import { OPENAI_DEFAULT_BASE_URL, OpenAIBatchProvider } from './openai.ts';
import type { BatchProvider } from './types.ts';

export interface Credentials {
  openaiApiKey?: string;
  /** Base URL for OpenAI batches whose provider config sets none. */
  openaiBaseUrl?: string;
  anthropicApiKey?: string;
  /** Base URL for Anthropic batches whose provider config sets none. */
  anthropicBaseUrl?: string;
}

export class MissingCredentialsError extends Error {}

/** The provider client for one planned batch. */
export function providerFor(batch: PlannedBatch, credentials: Credentials, log: Logger): BatchProvider {
  switch (batch.provider) {
    case 'openai': {
      if (!credentials.openaiApiKey) {
        throw new MissingCredentialsError(`openai:${batch.model} needs an API key: set the openai-api-key input (or OPENAI_API_KEY for the CLI)`);
      }
      const baseURL = batch.baseURL ?? credentials.openaiBaseUrl ?? OPENAI_DEFAULT_BASE_URL;
      return new OpenAIBatchProvider({ apiKey: credentials.openaiApiKey, baseURL, log });
    }
    case 'anthropic': {
      if (!credentials.anthropicApiKey) {
        throw new MissingCredentialsError(`anthropic:${batch.model} needs an API key: set the anthropic-api-key input (or ANTHROPIC_API_KEY for the CLI)`);
      }
      const baseURL = batch.baseURL ?? credentials.anthropicBaseUrl ?? ANTHROPIC_DEFAULT_BASE_URL;
      return new AnthropicBatchProvider({ apiKey: credentials.anthropicApiKey, baseURL, log });
    }
  }
}
