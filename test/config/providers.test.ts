import { describe, expect, it } from 'vitest';
import { parseProviderId } from '../../src/config/providers.ts';

describe('provider ids', () => {
  it.each([
    ['openai:gpt-4.1-mini', { provider: 'openai', model: 'gpt-4.1-mini' }],
    ['openai:chat:gpt-4.1-mini', { provider: 'openai', model: 'gpt-4.1-mini' }],
    ['openai:responses:gpt-5-mini', { provider: 'openai', model: 'gpt-5-mini', api: 'responses' }],
    ['anthropic:claude-haiku-4-5', { provider: 'anthropic', model: 'claude-haiku-4-5' }],
    ['anthropic:messages:claude-sonnet-4-5-20250929', { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' }],
  ])('%s', (id, expected) => {
    expect(parseProviderId(id)).toEqual(expected);
  });

  it.each([
    ['anthropic:completion:claude-2', /Anthropic completion API has no batch endpoint/],
    ['anthropic:messages:', /names no model/],
    ['anthropic', /names no model/],
    ['openai:completion:gpt-3.5-turbo-instruct', /OpenAI completion API is not supported yet; use openai:<model>, openai:chat:<model> or openai:responses:<model>/],
    ['openai:responses:', /names no model/],
    ['bedrock:claude', /the bedrock provider is not supported yet .*anthropic:messages:<model>/],
  ])('%s is refused, saying why', (id, message) => {
    const parsed = parseProviderId(id);
    expect(parsed).toHaveProperty('error');
    expect((parsed as { error: string }).error).toMatch(message);
  });
});
