import type { BatchRequest } from '../batch/types.ts';
import type { ChatMessage } from '../config/types.ts';
import { batchFor, batchKeyOf, requestFor, type Conversation, type PlannedBatch, type PlannedCase } from './plan.ts';
import { renderPrompt } from './render-prompt.ts';
import { templateErrorMessage } from '../templates.ts';

/**
 * promptfoo's multi-turn conversations (`_conversation`), in batches: the first turn of every thread goes out with the
 * suite's other requests; each later turn is rendered once the turn before it is answered, with the thread so far in
 * `_conversation`, and goes out in the next round of batches. A suite of three-turn threads takes three rounds.
 */

/** A case's answer, as a later turn sees it: the messages sent, and the output ('' when the request failed). */
export interface TurnAnswer {
  messages: ChatMessage[];
  output: string;
}

/** promptfoo's entry for one earlier turn: the prompt as sent, its last message's content, and the output. */
export interface ConversationTurn {
  prompt: ChatMessage[] | string;
  input: string;
  output: string;
}

export interface TurnRound {
  /** One batch per model, keyed `<model's key>~turn<N>`, so that a resumed run attaches to it. */
  batches: PlannedBatch[];
  /** The cases given their request, with it. */
  sent: { case: PlannedCase; request: BatchRequest }[];
  /** The cases whose prompt could not be rendered with the thread so far, with why (and the model they were for). */
  failed: { case: PlannedCase; model: string; error: string }[];
  /** Request id -> the prompt cache its provider asked for, as the plan's `caching`. */
  caching: Map<string, '5m' | '1h'>;
}

/** The turns after the first that are still to be sent: those whose earlier turn has no answer yet, when the run ends. */
export function unsentTurns(conversations: Conversation[]): { case: PlannedCase; model: string }[] {
  return conversations.flatMap((t) => t.cases.filter((c) => c.requestId === '').map((c) => ({ case: c, model: t.provider.model })));
}

/**
 * The requests of turn `turn` (1-based; 2 and up) of every thread whose earlier turns are all answered (`answerOf`
 * gives undefined for one that is not: its later turns wait), with the case each is for (the caller gives the case its
 * request id). Identical requests in a round are sent once.
 */
export function turnRound(conversations: Conversation[], turn: number, answerOf: (c: PlannedCase) => TurnAnswer | undefined): TurnRound {
  const batches = new Map<string, PlannedBatch>();
  const sent: TurnRound['sent'] = [];
  const failed: TurnRound['failed'] = [];
  const caching = new Map<string, '5m' | '1h'>();
  const known = new Map<string, BatchRequest>();
  for (const thread of conversations) {
    const c = thread.cases[turn - 1];
    if (!c || c.requestId !== '') continue;
    const earlier: ConversationTurn[] = [];
    for (const before of thread.cases.slice(0, turn - 1)) {
      const answer = answerOf(before);
      if (!answer) break;
      earlier.push(conversationTurn(thread, answer));
    }
    if (earlier.length < turn - 1) continue;
    const { provider } = thread;
    let messages: ChatMessage[];
    try {
      messages = renderPrompt(thread.prompt, { ...c.vars, _conversation: earlier });
    } catch (err) {
      const message = templateErrorMessage(err);
      // The usual cause: an answer with a quote or a line break, put into the JSON as it is.
      const hint = /not a valid JSON list/.test(message) ? ' (an earlier answer may hold a quote or a line break that the template puts into the JSON as it is; `{{ completion.output | dump }}` writes it as a JSON string)' : '';
      failed.push({ case: c, model: provider.model, error: `turn ${turn} of conversation ${thread.key} cannot be rendered with the turns before it: ${message}${hint}` });
      continue;
    }
    const planned = requestFor(provider, messages);
    let request = known.get(planned.id);
    if (!request) {
      known.set(planned.id, (request = planned));
      batchFor(batches, provider, `${batchKeyOf(provider)}~turn${turn}`).requests.push(request);
    }
    const { id } = request;
    sent.push({ case: c, request });
    if (provider.promptCaching && caching.get(id) !== '1h') caching.set(id, provider.promptCaching);
  }
  return { batches: [...batches.values()], sent, failed, caching };
}

/** The most turns any thread has. */
export function turnsOf(conversations: Conversation[]): number {
  return conversations.reduce((n, t) => Math.max(n, t.cases.length), 0);
}

/**
 * An earlier turn as promptfoo passes it: `prompt`, the messages when the prompt is a chat (a list, or text that
 * renders to one), else the text; `input`, the last message's content; `output`, the answer.
 */
function conversationTurn(thread: Conversation, answer: TurnAnswer): ConversationTurn {
  const { messages, output } = answer;
  const last = messages.at(-1)?.content ?? '';
  const chat = thread.prompt.kind === 'chat' || messages.length > 1 || messages[0]?.role !== 'user' || last.trim().startsWith('[');
  return { prompt: chat ? messages : last, input: last, output };
}
