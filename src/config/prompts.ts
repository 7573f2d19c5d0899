import { basename, dirname } from 'node:path';
import { compileTemplate, templateErrorMessage } from '../templates.ts';
import { ConfigError, keyPathString, type ConfigIssue } from './errors.ts';
import { extensionOf, hasGlob, isFileRef, readReferenced, resolveRef } from './files.ts';
import type { ChatMessage, Prompt, SourceLocation } from './types.ts';
import { parseYaml, type YamlSource } from './yaml-source.ts';

type RawPrompt = string | ChatMessage[] | { id: string; raw?: string; label?: string };

/** Turns the `prompts` key into labelled prompts, reading `file://` references. */
export function loadPrompts(source: YamlSource, raw: RawPrompt | RawPrompt[]): Prompt[] {
  const baseDir = dirname(source.file);
  const list = Array.isArray(raw) && !isChatList(raw) ? (raw as RawPrompt[]) : [raw as RawPrompt];
  const prompts: Prompt[] = [];
  const issues: ConfigIssue[] = [];
  list.forEach((entry, i) => {
    const path = Array.isArray(raw) && !isChatList(raw) ? ['prompts', i] : ['prompts'];
    const location = source.locate(path);
    const keyPath = keyPathString(path);
    try {
      prompts.push(...promptsOf(entry, baseDir, location, keyPath, i));
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
    }
  });
  if (issues.length) throw new ConfigError(issues);
  return uniqueLabels(prompts);
}

function promptsOf(entry: RawPrompt, baseDir: string, location: SourceLocation, keyPath: string, index: number): Prompt[] {
  if (Array.isArray(entry)) return [checked({ kind: 'chat', label: `chat prompt ${index + 1}`, messages: entry, location }, keyPath)];
  if (typeof entry === 'object') {
    const text = entry.raw ?? entry.id;
    const prompts = promptsOf(text, baseDir, location, keyPath, index);
    if (!entry.label) return prompts;
    return prompts.map((p, n) => ({ ...p, label: prompts.length === 1 ? entry.label! : `${entry.label}: ${n + 1}` }));
  }
  if (!isFileRef(entry)) return [checked({ kind: 'text', label: shorten(entry), template: entry, location }, keyPath)];

  const path = resolveRef(entry, baseDir);
  if (hasGlob(path)) throw new ConfigError([{ message: `prompt file globs are not supported yet: ${entry}`, location, keyPath }]);
  const ext = extensionOf(path);
  const name = basename(path);
  const text = readReferenced(path, location, keyPath);
  const at: SourceLocation = { file: path, line: 1, column: 1 };
  switch (ext) {
    case '.txt':
    case '.md':
    case '': {
      const parts = splitOnSeparator(text);
      return parts.map((part, n) =>
        checked({ kind: 'text', label: parts.length === 1 ? name : `${name}: ${n + 1}`, template: part.text, location: { ...at, line: part.line } }, keyPath),
      );
    }
    case '.json':
      return [checked({ kind: 'text', label: name, template: text, location: at }, keyPath)];
    case '.yaml':
    case '.yml': {
      const doc = parseYaml(text, path);
      if (typeof doc.value === 'string') return [checked({ kind: 'text', label: name, template: doc.value, location: at }, keyPath)];
      if (isChatList(doc.value)) return [checked({ kind: 'chat', label: name, messages: doc.value, location: at }, keyPath)];
      throw new ConfigError([{ message: 'a YAML prompt file must hold a string or a list of {role, content} messages', location: at }]);
    }
    default:
      throw new ConfigError([
        { message: `prompt files of type '${ext}' are not supported (use .txt, .md, .json or .yaml; prompt functions are not supported)`, location, keyPath },
      ]);
  }
}

/** Compiles the templates now so that a syntax error names its file and line before anything is sent. */
function checked(prompt: Prompt, keyPath: string): Prompt {
  const sources = prompt.kind === 'text' ? [prompt.template] : prompt.messages.map((m) => m.content);
  for (const source of sources) {
    if (/\b_conversation\b/.test(source)) prompt.conversational = true;
    try {
      compileTemplate(source);
    } catch (err) {
      const message = templateErrorMessage(err);
      const line = /\[Line (\d+), Column (\d+)\]/.exec(message);
      const location =
        line && prompt.location
          ? { file: prompt.location.file, line: prompt.location.line + Number(line[1]) - 1, column: Number(line[2]) }
          : prompt.location;
      throw new ConfigError([{ message: `template error: ${message.replace(/\[Line \d+, Column \d+\]\s*/, '')}`, location, keyPath }]);
    }
  }
  return prompt;
}

/** promptfoo separates several prompts in one text file with a line of `---`. */
function splitOnSeparator(text: string): { text: string; line: number }[] {
  const parts: { text: string; line: number }[] = [];
  let current: string[] = [];
  let startLine = 1;
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '---') {
      parts.push({ text: current.join('\n').trim(), line: startLine });
      current = [];
      startLine = i + 2;
    } else {
      current.push(line);
    }
  });
  parts.push({ text: current.join('\n').trim(), line: startLine });
  return parts.filter((p) => p.text.length > 0);
}

function isChatList(value: unknown): value is ChatMessage[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((m) => m && typeof m === 'object' && !Array.isArray(m) && 'role' in m && 'content' in m)
  );
}

function shorten(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

function uniqueLabels(prompts: Prompt[]): Prompt[] {
  const seen = new Map<string, number>();
  return prompts.map((p) => {
    const n = (seen.get(p.label) ?? 0) + 1;
    seen.set(p.label, n);
    return n === 1 ? p : { ...p, label: `${p.label} #${n}` };
  });
}
