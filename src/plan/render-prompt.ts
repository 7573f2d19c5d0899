import type { ChatMessage, Prompt } from '../config/types.ts';
import { renderTemplate } from '../templates.ts';

const ROLES = new Set(['system', 'developer', 'user', 'assistant']);

/**
 * Renders a prompt for one case. Text that renders to a JSON list of chat messages is sent as those messages
 * (as promptfoo does); any other text is one user message.
 */
export function renderPrompt(prompt: Prompt, vars: Record<string, unknown>): ChatMessage[] {
  if (prompt.kind === 'chat') {
    return prompt.messages.map((m) => ({ role: m.role, content: renderTemplate(String(m.content), vars) }));
  }
  const text = renderTemplate(prompt.template, vars);
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    const messages = parseChat(trimmed);
    if (messages) return messages;
    if (prompt.location?.file.endsWith('.json')) {
      throw new Error('the rendered prompt is not a valid JSON list of {role, content} messages');
    }
  }
  return [{ role: 'user', content: text }];
}

function parseChat(text: string): ChatMessage[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return undefined;
  const ok = parsed.every((m) => m && typeof m === 'object' && ROLES.has(m.role) && typeof m.content === 'string');
  return ok ? parsed.map((m) => ({ role: m.role, content: m.content })) : undefined;
}
