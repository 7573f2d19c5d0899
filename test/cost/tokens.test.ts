import { describe, expect, it } from 'vitest';
import { anthropicApproximateTokens, counterFor, loadEncoding, openaiChatTokens, openaiEncoding } from '../../src/cost/tokens.ts';

/**
 * The example chat of OpenAI's cookbook ("How to count tokens with tiktoken", section 6), whose prompt_tokens the
 * API reported as 129 for gpt-3.5-turbo and gpt-4 (cl100k_base) and 124 for gpt-4o and gpt-4o-mini (o200k_base).
 */
const COOKBOOK_MESSAGES = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

describe('OpenAI token counting', () => {
  it('picks o200k_base for gpt-4o, 4.1, 5 and the o-series, cl100k_base for gpt-4, 3.5 and the embeddings models', () => {
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-4o-2024-08-06', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-5', 'gpt-5-mini', 'o1', 'o3', 'o4-mini', 'ft:gpt-4o-mini:acme::abc123']) {
      expect(openaiEncoding(model), model).toEqual({ encoding: 'o200k_base', assumed: false });
    }
    for (const model of ['gpt-4', 'gpt-4-0613', 'gpt-4-turbo', 'gpt-3.5-turbo', 'text-embedding-3-small', 'text-embedding-3-large', 'text-embedding-ada-002']) {
      expect(openaiEncoding(model), model).toEqual({ encoding: 'cl100k_base', assumed: false });
    }
    // A model behind an OpenAI-compatible endpoint: counted with o200k_base, said to be an assumption.
    expect(openaiEncoding('llama-3.1-70b')).toEqual({ encoding: 'o200k_base', assumed: true });
  });

  it("counts text as tiktoken does (the cookbook's examples)", async () => {
    const o200k = await loadEncoding('o200k_base');
    const cl100k = await loadEncoding('cl100k_base');
    expect(cl100k('tiktoken is great!')).toBe(6);
    expect(o200k('tiktoken is great!')).toBe(6);
    // お誕生日おめでとう: 9 tokens in cl100k_base, 8 in o200k_base.
    expect(cl100k('お誕生日おめでとう')).toBe(9);
    expect(o200k('お誕生日おめでとう')).toBe(8);
    expect(o200k('')).toBe(0);
  });

  it("frames chat messages as the API counts them: the cookbook's chat is 129 tokens in cl100k_base, 124 in o200k_base", async () => {
    expect(openaiChatTokens(COOKBOOK_MESSAGES, await loadEncoding('cl100k_base'))).toBe(129);
    expect(openaiChatTokens(COOKBOOK_MESSAGES, await loadEncoding('o200k_base'))).toBe(124);
  });

  it('counts a request to a model with that model’s encoding, 3 tokens a message and 3 for the reply', async () => {
    const o200k = await loadEncoding('o200k_base');
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'What is the capital of France?' },
    ];
    const mini = await counterFor('openai', 'gpt-4o-mini');
    expect(mini.counting).toEqual({ kind: 'tokenizer', encoding: 'o200k_base', assumed: false });
    const expected = 3 + (3 + o200k('system') + o200k('You are terse.')) + (3 + o200k('user') + o200k('What is the capital of France?'));
    expect(mini.request({ messages })).toBe(expected);
    // The same words, tokenized: system 1, "You are terse." 4, user 1, the question 7.
    expect(expected).toBe(3 + 3 + 1 + 4 + 3 + 1 + 7);
    // An embeddings request: its input, no framing.
    const embed = await counterFor('openai', 'text-embedding-3-large');
    expect(embed.request({ messages: [], input: 'tiktoken is great!' })).toBe(6);
  });

  it('counts special-token text as the characters it is, without throwing', async () => {
    const counter = await counterFor('openai', 'gpt-4.1');
    expect(counter.text('a <|endoftext|> b')).toBeGreaterThan(3);
  });
});

describe('Anthropic token approximation', () => {
  it('is characters / 3.5 rounded up, plus 3 a message and 3 for the reply, and says it is approximate', async () => {
    const counter = await counterFor('anthropic', 'claude-haiku-4-5');
    expect(counter.counting).toEqual({ kind: 'approximate', rule: 'characters / 3.5, plus 3 a message' });
    const messages = [
      { role: 'system' as const, content: 'x'.repeat(35) },
      { role: 'user' as const, content: 'y'.repeat(36) },
    ];
    // 71 characters / 3.5 = 20.3 -> 21, and 3 x (2 messages + the reply).
    expect(anthropicApproximateTokens({ messages })).toBe(21 + 9);
    expect(counter.request({ messages })).toBe(30);
    expect(counter.text('z'.repeat(7))).toBe(2);
  });
});
