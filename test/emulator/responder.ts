import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** One message of a conversation as plain text, whatever the provider's wire format. */
export interface ResponderMessage {
  /** 'system' for a system prompt (OpenAI system/developer messages, Anthropic's top-level `system`), else 'user' / 'assistant' / 'tool'... */
  role: string;
  /** The text parts joined with newlines; images and other non-text parts are left out. */
  content: string;
}

/** One request of a batch, as the responder sees it. */
export interface ResponderRequest {
  customId: string;
  model: string;
  /** Which emulator asks; 'openai' when absent. */
  provider?: 'openai' | 'anthropic';
  /** The endpoint the request is for: the OpenAI batch endpoint, e.g. '/v1/chat/completions', or '/v1/messages'. */
  endpoint: string;
  /**
   * The conversation, provider-neutral: the system prompt (if any) as a 'system' message first, then the turns.
   * Both emulators fill it; when absent (a hand-made request) it is read from `body.messages`.
   */
  messages?: ResponderMessage[];
  /** The request body as sent (OpenAI: the line's `body`; Anthropic: the request's `params`), untouched. */
  body: Record<string, unknown>;
}

export interface ResponderUsage {
  /** All prompt tokens, cached ones included (Anthropic's input_tokens are this minus cachedTokens and cacheWriteTokens). */
  promptTokens?: number;
  completionTokens?: number;
  /** Prompt tokens read from the cache (OpenAI cached_tokens, Anthropic cache_read_input_tokens). */
  cachedTokens?: number;
  /** Prompt tokens written to the cache (Anthropic cache_creation_input_tokens; OpenAI ignores it). */
  cacheWriteTokens?: number;
  reasoningTokens?: number;
}

export interface ResponderReply {
  content: string;
  /** 'stop' unless said otherwise (or 'length' when the emulator truncates to max_completion_tokens). */
  finishReason?: 'stop' | 'length' | 'content_filter';
  /** Missing counts are estimated as ceil(characters / 4) of the prompt and of the reply. */
  usage?: ResponderUsage;
}

/**
 * A per-request failure: OpenAI puts it in the batch's error file with this HTTP status and error body; Anthropic
 * makes it an `errored` result whose error type is `type` when it is one of Anthropic's, else derived from `status`.
 */
export interface ResponderError {
  error: { status: number; message: string; type?: string; code?: string | null; param?: string | null };
}

export type ResponderResult = ResponderReply | ResponderError;

/**
 * Must be synchronous and deterministic (given what it was asked before): the emulator calls it exactly once per
 * request it answers. A scripted responder with `failTimes` rules counts the answers per custom_id.
 */
export type Responder = (request: ResponderRequest) => ResponderResult;

export function isResponderError(result: ResponderResult): result is ResponderError {
  return 'error' in result && result.error !== undefined;
}

/** The token count the emulator charges for a text: ceil(characters / 4). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The text of a message's content: a string, or the text parts of an array of parts (tool results included). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => {
        if (!part || typeof part !== 'object') return '';
        const p = part as { type?: unknown; text?: unknown; content?: unknown };
        if (typeof p.text === 'string') return p.text;
        if (p.type === 'tool_result') return contentText(p.content);
        return '';
      })
      .filter(Boolean)
      .join('\n');
  }
  return '';
}

/** An OpenAI chat body's messages as plain text (system and developer messages become role 'system'). */
export function chatMessages(body: Record<string, unknown>): ResponderMessage[] {
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  return messages
    .filter((m): m is { role?: unknown; content?: unknown } => !!m && typeof m === 'object')
    .map((m) => ({ role: m.role === 'developer' ? 'system' : String(m.role ?? ''), content: contentText(m.content) }));
}

/** An Anthropic Messages request's `system` (a string or text blocks) and `messages` as plain text. */
export function anthropicMessages(params: Record<string, unknown>): ResponderMessage[] {
  const system = contentText(params.system);
  const messages = chatMessages(params);
  return system ? [{ role: 'system', content: system }, ...messages] : messages;
}

/** The request's conversation: `request.messages`, or the OpenAI-shaped `body.messages` when not given. */
export function requestMessages(request: ResponderRequest): ResponderMessage[] {
  return request.messages ?? chatMessages(request.body);
}

/** The text of the last user message (of the last message when none is from the user). */
function lastUserText(messages: ResponderMessage[]): string {
  const user = messages.findLast((m) => m.role === 'user') ?? messages.at(-1);
  return user ? user.content : '';
}

/** Every message's text, one after the other: what the prompt token estimate is computed from. */
export function conversationText(messages: ResponderMessage[]): string {
  return messages.map((m) => m.content).join('\n');
}

/** The last non-empty line of the last user message, whitespace collapsed: usually the question itself. */
function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
  return lines.at(-1) ?? '';
}

/** The text of the last user message of an OpenAI chat body. */
export function lastUserMessage(body: Record<string, unknown>): string {
  return lastUserText(chatMessages(body));
}

/** Every message's text of an OpenAI chat body. */
export function promptText(body: Record<string, unknown>): string {
  return conversationText(chatMessages(body));
}

/** The last non-empty line of the last user message of an OpenAI chat body. */
export function questionOf(body: Record<string, unknown>): string {
  return lastLine(lastUserMessage(body));
}

/**
 * `[emulated MODEL] You asked: "QUESTION"` with the question cut at 200 characters; a grading request (the last user
 * message holds `<Output>` and `<Rubric>` or `<Reference>`) gets the JSON verdict of `heuristicGrade` instead.
 */
export const defaultResponder: Responder = (request) => {
  const message = lastUserText(requestMessages(request));
  const grade = heuristicGrade(message);
  if (grade) return { content: JSON.stringify(grade) };
  const question = lastLine(message);
  const shown = question.length > 200 ? `${question.slice(0, 199)}…` : question;
  return { content: `[emulated ${request.model}] You asked: "${shown}"` };
};

// ---------------------------------------------------------------------------------------------------------------
// Grading requests (model-graded assertions)

/** A grader's verdict, as the grading prompts ask for it (and as a script's `grade:` rule gives it). */
export interface GradeReply {
  reason: string;
  /** Left out of a `grade:` rule for factuality, which answers with a category (the default grader always sets it). */
  pass?: boolean;
  score?: number;
  /** Factuality's answer: A (subset), B (superset), C (same details), D (disagreement), E (differences don't matter). */
  category?: 'A' | 'B' | 'C' | 'D' | 'E';
}

/**
 * Words left out of the rubric's content words: common words of four letters or more, and the words rubrics use to
 * talk about the output ("The response should mention ...").
 */
export const GRADING_STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'about above after again also always another answer answers because been before being below between both ' +
    'could does doing done during each either else even every from further have having here into itself just ' +
    'least less like made make many mention mentions more most much must neither never only other otherwise ' +
    'ought output outputs over own rather reply response responses said same says should since some something ' +
    'such than that their theirs them then there these they this those through under until upon very want were ' +
    'what when where whether which while whom whose will with within without would your yours contain contains ' +
    'include includes including correct correctly clearly given provided'
  ).split(' '),
);

/**
 * The text between the last `<Tag>` and the `</Tag>` after it (case-insensitive), or undefined; an instruction
 * mentioning the tags before the data ("between <Output> and </Output>") does not get in the way.
 */
function taggedText(text: string, tag: string): string | undefined {
  const re = new RegExp(`<${tag}>((?:(?!<${tag}>)[\\s\\S])*?)</${tag}>`, 'gi');
  let found: string | undefined;
  for (const match of text.matchAll(re)) found = match[1];
  return found;
}

/** Lower-cased words (letters and digits) of a text, in order. */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** The distinct content words of a text: lower-cased, at least 4 characters, not in GRADING_STOP_WORDS. */
export function contentWords(text: string): string[] {
  return [...new Set(wordsOf(text).filter((w) => w.length >= 4 && !GRADING_STOP_WORDS.has(w)))];
}

/**
 * The default responder's verdict on a grading request, or undefined when `message` is not one: it must hold an
 * `<Output>...</Output>` and a `<Rubric>...</Rubric>` or `<Reference>...</Reference>` (the last of each is used).
 * score = the share of the rubric's (else the reference's; for answer-relevance, the question's) content words found among the output's words, rounded to
 * 2 decimals (1 when there are none); pass = score >= 0.5; with a reference, category C when it passes, else D.
 */
export function heuristicGrade(message: string): GradeReply | undefined {
  const output = taggedText(message, 'Output');
  let rubric = taggedText(message, 'Rubric');
  let what = 'rubric';
  // answer-relevance's rubric names what to judge, not words to find: the question's words are what to look for.
  const question = taggedText(message, 'Question');
  if (rubric?.trim() === 'relevance to the question' && question !== undefined) [rubric, what] = [question, 'question'];
  const reference = rubric === undefined ? taggedText(message, 'Reference') : undefined;
  if (reference !== undefined) what = 'reference';
  const criterion = rubric ?? reference;
  if (output === undefined || criterion === undefined) return undefined;
  const wanted = contentWords(criterion);
  const present = new Set(wordsOf(output));
  const missing = wanted.filter((w) => !present.has(w));
  const found = wanted.length - missing.length;
  const score = wanted.length === 0 ? 1 : Math.round((found / wanted.length) * 100) / 100;
  const pass = score >= 0.5;
  const shown = missing.slice(0, 10).map((w) => `"${w}"`).join(', ') + (missing.length > 10 ? `, and ${missing.length - 10} more` : '');
  const reason =
    wanted.length === 0
      ? `The ${what} has no content words to look for.`
      : missing.length === 0
        ? `The output has all ${wanted.length} content words of the ${what}.`
        : `The output has ${found} of the ${wanted.length} content words of the ${what}; missing: ${shown}.`;
  const grade: GradeReply = { reason, pass, score };
  if (reference !== undefined) grade.category = pass ? 'C' : 'D';
  return grade;
}

// ---------------------------------------------------------------------------------------------------------------
// Scripted responder

export interface ScriptRule {
  /** Exact model name, or a RegExp (in a file: a string written `/source/flags`). */
  model?: string | RegExp;
  /** Exact custom_id, or a RegExp (same notation as model). */
  customId?: string | RegExp;
  /** A regular expression searched in the last user message (a string is its source; `/source/flags` for flags). */
  match?: string | RegExp;
  /** The assistant's reply; `{{model}}`, `{{customId}}` and `{{0}}`..`{{9}}` (groups of `match`) are replaced. */
  reply?: string;
  /** A grader's verdict: the reply is this object as JSON text (`reason` gets the same replacements as `reply`). */
  grade?: GradeReply;
  finishReason?: ResponderReply['finishReason'];
  usage?: ResponderUsage;
  /** Answer this request with an error instead of a reply. */
  error?: { status: number; message?: string; code?: string | null; type?: string; param?: string | null };
  /**
   * With `error`: the error only for the first `failTimes` requests of each custom_id this rule matches (over all
   * batches); after that the rule is passed over, so a later batch with the same custom_id gets the next rule's answer.
   */
  failTimes?: number;
}

export interface Script {
  rules: ScriptRule[];
}

const RULE_KEYS = new Set(['model', 'customId', 'match', 'reply', 'grade', 'finishReason', 'usage', 'error', 'failTimes']);
const GRADE_KEYS = new Set(['reason', 'pass', 'score', 'category']);

/** A responder that answers with the first rule that matches, and with `fallback` when none does. */
export function scriptedResponder(script: Script | ScriptRule[], fallback: Responder = defaultResponder): Responder {
  const rules = compileRules(Array.isArray(script) ? script : script.rules);
  /** Per rule with failTimes: custom_id -> errors given so far. */
  const failures = new Map<CompiledRule, Map<string, number>>();
  return (request) => {
    const message = lastUserText(requestMessages(request));
    for (const rule of rules) {
      if (rule.model && !rule.model(request.model)) continue;
      if (rule.customId && !rule.customId(request.customId)) continue;
      let groups: RegExpExecArray | null = null;
      if (rule.match) {
        rule.match.lastIndex = 0;
        groups = rule.match.exec(message);
        if (!groups) continue;
      }
      const source = rule.source;
      if (source.failTimes !== undefined) {
        const given = failures.get(rule) ?? new Map<string, number>();
        failures.set(rule, given);
        const count = given.get(request.customId) ?? 0;
        if (count >= source.failTimes) continue;
        given.set(request.customId, count + 1);
      }
      if (source.error) {
        const status = source.error.status;
        return {
          error: {
            status,
            message: source.error.message ?? `Scripted error ${status}.`,
            // Left undefined when not given: each emulator derives its own provider's type from the status.
            type: source.error.type,
            code: source.error.code ?? null,
            param: source.error.param ?? null,
          },
        };
      }
      const fill = (template: string) =>
        template.replace(/\{\{\s*(model|customId|\d)\s*\}\}/g, (_, key: string) => {
          if (key === 'model') return request.model;
          if (key === 'customId') return request.customId;
          return groups?.[Number(key)] ?? '';
        });
      const content = source.grade ? JSON.stringify(gradeJson(source.grade, fill)) : fill(source.reply!);
      return { content, finishReason: source.finishReason, usage: source.usage };
    }
    return fallback(request);
  };
}

/** A `grade:` rule's verdict in the order the grading prompts ask for: reason, pass, score, category. */
function gradeJson(grade: GradeReply, fill: (template: string) => string): GradeReply {
  const json: GradeReply = { reason: fill(grade.reason) };
  if (grade.pass !== undefined) json.pass = grade.pass;
  if (grade.score !== undefined) json.score = grade.score;
  if (grade.category !== undefined) json.category = grade.category;
  return json;
}

interface CompiledRule {
  source: ScriptRule;
  model?: (value: string) => boolean;
  customId?: (value: string) => boolean;
  match?: RegExp;
}

function compileRules(rules: ScriptRule[]): CompiledRule[] {
  if (!Array.isArray(rules)) throw new Error('script: expected a list of rules');
  return rules.map((rule, index) => {
    const where = `script rule ${index + 1}`;
    if (!rule || typeof rule !== 'object') throw new Error(`${where}: expected an object`);
    for (const key of Object.keys(rule)) {
      if (!RULE_KEYS.has(key)) throw new Error(`${where}: unknown key "${key}" (allowed: ${[...RULE_KEYS].join(', ')})`);
    }
    if ([rule.reply, rule.error, rule.grade].filter((v) => v !== undefined).length !== 1) throw new Error(`${where}: give exactly one of "reply", "grade" and "error"`);
    if (rule.reply !== undefined && typeof rule.reply !== 'string') throw new Error(`${where}: "reply" must be a string`);
    if (rule.grade !== undefined) checkGrade(rule.grade, where);
    if (rule.error !== undefined) {
      const status = rule.error?.status;
      if (!Number.isInteger(status) || status < 400 || status > 599) throw new Error(`${where}: "error.status" must be an HTTP status from 400 to 599`);
    }
    if (rule.failTimes !== undefined) {
      if (rule.error === undefined) throw new Error(`${where}: "failTimes" goes with "error"`);
      if (!Number.isInteger(rule.failTimes) || rule.failTimes < 1) throw new Error(`${where}: "failTimes" must be a positive integer`);
    }
    return {
      source: rule,
      model: rule.model === undefined ? undefined : matcher(rule.model, `${where}: model`),
      customId: rule.customId === undefined ? undefined : matcher(rule.customId, `${where}: customId`),
      match: rule.match === undefined ? undefined : toRegExp(rule.match, `${where}: match`, true),
    };
  });
}

function checkGrade(grade: unknown, where: string): void {
  if (!grade || typeof grade !== 'object' || Array.isArray(grade)) throw new Error(`${where}: "grade" must be an object { pass, reason, score?, category? }`);
  const g = grade as Record<string, unknown>;
  for (const key of Object.keys(g)) {
    if (!GRADE_KEYS.has(key)) throw new Error(`${where}: unknown key "grade.${key}" (allowed: ${[...GRADE_KEYS].join(', ')})`);
  }
  if (g.pass === undefined && g.category === undefined) throw new Error(`${where}: "grade" needs "pass" (or, for factuality, "category")`);
  if (g.pass !== undefined && typeof g.pass !== 'boolean') throw new Error(`${where}: "grade.pass" must be true or false`);
  if (typeof g.reason !== 'string') throw new Error(`${where}: "grade.reason" must be a string`);
  if (g.score !== undefined && (typeof g.score !== 'number' || !Number.isFinite(g.score))) throw new Error(`${where}: "grade.score" must be a number`);
  if (g.category !== undefined && !['A', 'B', 'C', 'D', 'E'].includes(g.category as string)) throw new Error(`${where}: "grade.category" must be one of A, B, C, D, E`);
}

/** Exact comparison for a plain string, a regular expression test for a RegExp or a `/source/flags` string. */
function matcher(value: string | RegExp, where: string): (candidate: string) => boolean {
  if (typeof value === 'string' && !/^\/.*\/[a-z]*$/s.test(value)) return (candidate) => candidate === value;
  const re = toRegExp(value, where, false);
  return (candidate) => {
    re.lastIndex = 0;
    return re.test(candidate);
  };
}

function toRegExp(value: string | RegExp, where: string, plainIsSource: boolean): RegExp {
  if (value instanceof RegExp) return value;
  if (typeof value !== 'string') throw new Error(`${where} must be a string`);
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(value);
  try {
    if (literal) return new RegExp(literal[1], literal[2]);
    if (plainIsSource) return new RegExp(value);
  } catch (error) {
    throw new Error(`${where}: invalid regular expression ${value}: ${(error as Error).message}`);
  }
  throw new Error(`${where}: not a regular expression: ${value}`);
}

/** A script from YAML or JSON text: either `{ rules: [...] }` or the list of rules itself. Throws on mistakes. */
export function parseScript(text: string, source = 'script'): Script {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`);
  }
  const rules = Array.isArray(value) ? value : (value as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) throw new Error(`${source}: expected a list of rules, or an object with a "rules" list`);
  try {
    compileRules(rules as ScriptRule[]);
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`);
  }
  return { rules: rules as ScriptRule[] };
}

export function loadScript(path: string): Script {
  return parseScript(readFileSync(path, 'utf8'), path);
}
