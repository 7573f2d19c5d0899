/**
 * Inputs for the config fuzz test (fuzz.test.ts): a seeded random source, a grammar of eval suites in the promptfoo
 * format (valid, near-valid and hostile), text and byte mutations of the project's own examples, and the files
 * the suites name by `file://`. Every case is a function of (seed, index) only, so one can be made again alone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GRADED_ASSERTIONS, GRADED_TYPE_NAMES, MODEL_GRADED_ASSERTIONS, NEGATABLE_GRADED, OTHER_PROMPTFOO_ASSERTIONS, SUPPORTED_ASSERTIONS } from '../../src/config/assertion-types.ts';

// ---------------------------------------------------------------------------------------------------------------
// Random source

/** mulberry32: small, fast, and the same sequence on every platform. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** 0..max, small numbers often and large ones rarely. */
  count(max: number): number {
    return Math.min(max, Math.floor(this.next() ** 2.5 * (max + 1)));
  }

  weighted<T>(entries: readonly (readonly [number, T])[]): T {
    let r = this.next() * entries.reduce((sum, [w]) => sum + w, 0);
    for (const [w, value] of entries) {
      r -= w;
      if (r < 0) return value;
    }
    return entries[entries.length - 1][1];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

/** The seed of case `index` of a run seeded `seed` (a 32-bit mix, so neighbouring cases are unrelated). */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------
// The files next to the suites

/**
 * Files every case may name, relative to the suite directory (`../` is the workspace root, outside it). Besides
 * these: copies of the fixture suite and the quickstart (see prepareWorkspace), directories named like files, and
 * a FIFO (pipe.csv), which must be refused, not read (reading one waits for a writer forever).
 */
const STATIC_FILES: Record<string, string | Buffer> = {
  'broken.txt': 'Hello {{ name }\n---\n{% if x %}never closed\n',
  'conv.txt': '{% for m in _conversation %}{{ m.input }}{% endfor %}{{ question }}',
  'ok.md': '# For {{ name }}\n\nSay hi in {{ text }}.\n',
  'chat.yaml': '- role: system\n  content: Be terse\n- role: user\n  content: "{{ question }}"\n',
  'string.yaml': '"A prompt in YAML for {{ name }}"\n',
  'badchat.json': '[{"role": "robot", "content": 1}, {{ name }}]',
  'notchat.json': '{"role": "user", "content": "{{ name }}"}',
  'bad.json': '[{"vars": {"a": 1}, "assert": [',
  'tests.json': '[{"vars": {"text": "hi"}, "assert": [{"type": "contains", "value": "hi"}]}, {"vars": {"text": ["a", "b"]}}]',
  'map.yaml': 'vars: {a: 1}\nassert: [{type: equals, value: x}]\n',
  'bad.yaml': 'a: [1, 2\nb: : :\n\t- x\n',
  'dup.yaml': '- vars: {a: 1, a: 2}\n',
  'alias-tests.yaml': '- &t {vars: {x: 1}, assert: [{type: contains, value: "{{ x }}"}]}\n- *t\n- *t\n',
  'bad.csv': 'a,b\n"unclosed,1\n2,3\n',
  'ragged.csv': 'a,b\n1\n1,2,3\n',
  'empty.csv': '',
  'headonly.csv': 'a,__expected\n',
  'special.csv':
    '__expected,__threshold,__metric,__metadata:x[],__weird,__proto__,constructor,__expected2\n' +
    '"not-icontains(0.5):x",abc,m,"a\\,b,c",w,p,c,grade:is it good\n' +
    '"fn:output.length > 1",0.5,,,,,,"contains-any:a,b"\n' +
    '"is-json",1e999,,,,,,"levenshtein(2):abc"\n',
  'bom.csv': '\uFEFFtext,__expected\nhi,contains:hi\n',
  'quotes.csv': 'q,__expected\n"say ""hi""",equals:"x"\n"multi\nline",regex:(\n',
  'bad.jsonl': '{"vars": {"a": 1}}\n[1,2]\n{not json\n',
  'yamlish.jsonl': '{vars: {a: 1}}\n{"vars": {"a": 1}, "vars": {"b": 2}}\n',
  'deep.jsonl': `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}\n`,
  'vars.json': '{"nested": {"list": [1, 2]}, "s": "{{ x }}"}',
  'vars.yaml': 'a: &x [1, 2]\nb: *x\n',
  'var.txt': 'a text var with {{ braces }} and {% tags %}',
  'latin1.txt': Buffer.from([0x48, 0xe9, 0xff, 0xfe, 0x00, 0x7b, 0x7b, 0x20, 0x6e, 0x20, 0x7d, 0x7d]),
  'prompt.py': 'def prompt(context):\n    return "hi"\n',
  'empty.txt': '',
  'seps.txt': '---\n---\n  \n---\n',
  'nul.txt': 'before\u0000after {{ name }}',
  'adir/inner.txt': 'inside a directory',
  'adir.csv/inner.csv': 'a\n1\n',
  'adir.yaml/inner.yaml': '[]\n',
  '../outside.txt': 'outside the suite directory {{ name }}',
  '../outside.csv': 'text\noutside\n',
};

export const FIFO = 'pipe.csv';

/** Writes the files every case may name into `suiteDir` (and its parent), `sources` among them (name -> content). */
export function prepareWorkspace(suiteDir: string, sources: Record<string, Buffer>): void {
  mkdirSync(suiteDir, { recursive: true });
  const write = (name: string, content: string | Buffer): void => {
    const path = join(suiteDir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  };
  for (const [name, content] of Object.entries(STATIC_FILES)) write(name, content);
  // The files the fixture suite and the quickstart name, under the names they use.
  for (const [name, content] of Object.entries(sources)) write(name, content);
  try {
    if (!existsSync(join(suiteDir, FIFO))) execFileSync('mkfifo', [join(suiteDir, FIFO)], { stdio: 'ignore' });
  } catch {
    // No mkfifo here (Windows): the cases that name pipe.csv find nothing, which is fine too.
  }
}

const PROMPT_REFS = [
  'prompts.txt', 'chat.json', 'prompts/support.txt', 'broken.txt', 'conv.txt', 'ok.md', 'chat.yaml', 'string.yaml',
  'badchat.json', 'notchat.json', 'bad.yaml', 'map.yaml', 'latin1.txt', 'prompt.py', 'empty.txt', 'seps.txt', 'nul.txt',
  'tests.csv', 'missing.txt', 'missing.json', 'missing/deeper.yaml', 'adir', 'adir/', 'adir.yaml', '', '.', '..',
  '../outside.txt', '../../../../../../../etc/hostname', '/etc/passwd', '/dev/null', '/dev/zero', '/dev/stdin',
  '/proc/self/status', FIFO, '*.txt', 'prompts/{a,b}.txt', 'a\u0000b.txt', `${'x'.repeat(300)}.txt`, 'C:\\x.txt',
  'file://prompts.txt', '~/x.txt', 'prompts.txt?x=1', '%2e%2e/outside.txt', 'prompts.txt:fn', ' prompts.txt',
];
const TEST_REFS = [
  'more-tests.yaml', 'tests.csv', 'tests.jsonl', 'tests.json', 'bad.json', 'map.yaml', 'bad.yaml', 'dup.yaml',
  'alias-tests.yaml', 'bad.csv', 'ragged.csv', 'empty.csv', 'headonly.csv', 'special.csv', 'bom.csv', 'quotes.csv',
  'bad.jsonl', 'yamlish.jsonl', 'deep.jsonl', 'prompts.txt', 'missing.csv', 'missing.yaml', 'adir.csv', 'adir.yaml',
  '../outside.csv', '/dev/zero', '/dev/null', FIFO, '*.csv', 'tests.{csv,jsonl}', '', 'tests.CSV', 'tests.jsonl.bak',
];
const VAR_REFS = [
  'vars.json', 'vars.yaml', 'var.txt', 'bad.yaml', 'bad.json', 'missing.txt', 'adir', '/dev/null', '/dev/zero', FIFO,
  'latin1.txt', 'chat.json', 'deep.jsonl', '../outside.txt', 'tests.csv', 'prompts/*.txt',
];

// ---------------------------------------------------------------------------------------------------------------
// A YAML tree that is written out by hand, so that it can hold what a serializer never writes: anchors and
// aliases anywhere, duplicate keys, raw (possibly invalid) scalars, tags.

type Props = { anchor?: string; tag?: string };
type SeqY = { t: 'seq'; items: Y[]; flow?: boolean } & Props;
type MapY = { t: 'map'; pairs: [string, Y][]; flow?: boolean } & Props;
type Y = ({ t: 'scalar'; text: string } & Props) | ({ t: 'block'; header: string; lines: string[] } & Props) | SeqY | MapY | { t: 'alias'; name: string };

const raw = (text: string): Y => ({ t: 'scalar', text });
const seqOf = (items: Y[], flow = false): SeqY => ({ t: 'seq', items, flow });
const mapOf = (pairs: [string, Y][], flow = false): MapY => ({ t: 'map', pairs, flow });

class Emitter {
  private readonly rng: Rng;

  constructor(rng: Rng) {
    this.rng = rng;
  }

  document(root: Y): string {
    if (this.isBlockCollection(root)) {
      const props = this.props(root).trimEnd();
      return [...(props ? [props] : []), ...this.blockLines(root, 0)].join('\n') + '\n';
    }
    return `${this.flow(root)}\n`;
  }

  private props(node: Y): string {
    if (node.t === 'alias') return '';
    return `${node.tag ? `${node.tag} ` : ''}${node.anchor ? `&${node.anchor} ` : ''}`;
  }

  private isBlockCollection(node: Y): boolean {
    return (node.t === 'seq' && !node.flow && node.items.length > 0) || (node.t === 'map' && !node.flow && node.pairs.length > 0);
  }

  private flow(node: Y): string {
    switch (node.t) {
      case 'alias':
        return `*${node.name}`;
      case 'scalar':
        return `${this.props(node)}${node.text}`;
      case 'block':
        return `${this.props(node)}${JSON.stringify(node.lines.join('\n'))}`;
      case 'seq':
        return `${this.props(node)}[${node.items.map((i) => this.flow(i)).join(', ')}]`;
      case 'map':
        return `${this.props(node)}{${node.pairs.map(([k, v]) => `${k}: ${this.flow(v)}`).join(', ')}}`;
    }
  }

  private blockScalar(node: Y & { t: 'block' }, indent: number): string[] {
    const first = node.lines.find((l) => l.trim() !== '') ?? '';
    const header = /^[ \t]/.test(first) ? `${node.header}2` : node.header;
    return [header, ...node.lines.map((l) => (l ? ' '.repeat(indent) + l : ''))];
  }

  private pairLines(key: string, value: Y, indent: number): string[] {
    const pad = ' '.repeat(indent);
    if (value.t === 'block') {
      const [header, ...lines] = this.blockScalar(value, indent + 2);
      return [`${pad}${key}: ${this.props(value)}${header}`, ...lines];
    }
    if (this.isBlockCollection(value)) {
      const props = this.props(value).trimEnd();
      const childIndent = value.t === 'seq' && this.rng.chance(0.3) ? indent : indent + 2;
      return [`${pad}${key}:${props ? ` ${props}` : ''}`, ...this.blockLines(value, childIndent)];
    }
    return [`${pad}${key}: ${this.flow(value)}`];
  }

  private itemLines(item: Y, indent: number): string[] {
    const pad = ' '.repeat(indent);
    if (item.t === 'block') {
      const [header, ...lines] = this.blockScalar(item, indent + 2);
      return [`${pad}- ${this.props(item)}${header}`, ...lines];
    }
    if (this.isBlockCollection(item)) {
      const props = this.props(item).trimEnd();
      const inner = this.blockLines(item, indent + 2);
      if (!props && this.rng.chance(0.8)) return [`${pad}- ${inner[0].slice(indent + 2)}`, ...inner.slice(1)];
      return [`${pad}-${props ? ` ${props}` : ''}`, ...inner];
    }
    return [`${pad}- ${this.flow(item)}`];
  }

  private blockLines(node: Y, indent: number): string[] {
    if (node.t === 'map') return node.pairs.flatMap(([k, v]) => this.pairLines(k, v, indent));
    if (node.t === 'seq') return node.items.flatMap((i) => this.itemLines(i, indent));
    return [' '.repeat(indent) + this.flow(node)];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Pools

const WORDS = [
  'hello', 'World', 'Say', 'hi', 'to', 'the', 'question', 'answer', 'JSON', 'order', '1234', 'yes', 'no', 'null',
  'true', '#', '-', '---', '...', '::', '? ', '& ', '* ', '!', '%', '@', '`', '|', '>', 'ü', '日本語', '😀', 'Ω≈ç√',
  'עברית', '\u200b', '\u202e', 'e\u0301', '\t', '\\n', 'a: b', '- x', '[x]', '{y}', '"', "'", '\\', ',', 'file://x',
];
const TEMPLATE_BITS = [
  '{{ name }}', '{{name}}', '{{ text }}', '{{ question }}', '{{', '}}', '{{ }}', '{{ name', 'name }}', '{%', '%}',
  '{% if name %}yes{% endif %}', '{% if name %}', '{% endif %}', '{% else %}', '{% for x in items %}{{ x }}{% endfor %}',
  '{% for %}', '{% endfor %}', '{{ name | upper }}', '{{ name | load }}', '{{ items | dump }}', '{{ name | nosuch }}',
  '{{ name(1) }}', '{{ name.a.b.c }}', '{{ items[0] }}', '{% raw %}{{ x }}{% endraw %}', '{% raw %}', '{# note #}', '{#',
  '{% set a = 1 %}{{ a }}', '{% include "prompts.txt" %}', '{% extends "base.txt" %}', '{% import "m" as m %}',
  '{% macro m() %}x{% endmacro %}{{ m() }}', '{{ _conversation }}', '{% for i in range(3) %}{{ i }}{% endfor %}',
  '{{ "a" ~ name }}', '{{ 1 / 0 }}', '{{ nothing.prop.deeper }}', '{{ items | join(",") }}', '{% call m() %}{% endcall %}',
  '{{ {} }}', '{{ [1, 2][5] }}', '{%- if true -%}x{%- endif -%}', '{{ caller() }}', '{% block b %}{% endblock %}',
  '{{ loop.index }}', '{{ name | safe }}', '{{ name | replace("a", "b") }}', '{% filter upper %}x{% endfilter %}',
  '{{ cycler(1, 2).next() }}', '{{ "%s" | format(name) }}', '{{ name is defined }}', '{{ x if y else z }}',
  '{% for k, v in obj %}{{ k }}{% endfor %}', '{% asyncEach x in items %}{% endeach %}', '{% ifAsync x %}{% endif %}',
  '{{ name | load | dump }}', '{{ "[" }}{"role": "user", "content": "x"}{{ "]" }}', '{{ range(5) | join }}',
  '{{ name.constructor }}', '{{ name.__proto__ }}', '{{ ((((((((1)))))))) }}', '{{ name | default("x") }}',
];
/** Template pieces that compile (rendering may still fail, e.g. upper of a number). */
const VALID_TEMPLATE_BITS = [
  '{{ name }}', '{{name}}', '{{ text }}', '{{ question }}', '{% if name %}yes{% endif %}', '{% for x in items %}{{ x }}{% endfor %}',
  '{{ items | dump }}', '{{ name.a.b.c }}', '{{ items[0] }}', '{% raw %}{{ x }}{% endraw %}', '{# note #}',
  '{% set a = 1 %}{{ a }}', '{% macro m() %}x{% endmacro %}{{ m() }}', '{% for i in range(3) %}{{ i }}{% endfor %}',
  '{{ "a" ~ name }}', '{{ nothing.prop.deeper }}', '{%- if true -%}x{%- endif -%}', '{{ name | safe }}',
  '{% filter upper %}x{% endfilter %}', '{{ name is defined }}', '{{ x if y else z }}', '{{ name | default("x") }}',
  '{{ "[" }}{"role": "user", "content": "x"}{{ "]" }}', '{{ obj | dump }}',
];
const VALID_PROMPT_REFS = ['prompts.txt', 'chat.json', 'prompts/support.txt', 'ok.md', 'chat.yaml', 'string.yaml'];
const VALID_TEST_REFS = ['more-tests.yaml', 'tests.csv', 'tests.jsonl', 'tests.json', 'bom.csv', 'alias-tests.yaml', 'headonly.csv'];
const VALID_VAR_REFS = ['vars.json', 'vars.yaml', 'var.txt', 'chat.json'];
const VALID_ROOT_EXTRA_KEYS = ['env', 'sharing', 'outputPath', 'evaluateOptions', 'commandLineOptions', 'writeLatestResults', 'tags', 'x-anchors', 'metadata'];
/** Keys that name what every JS object has: data must not be taken for behaviour (`String({toString: 1})` throws). */
const OBJECT_KEYS = ['toString', 'valueOf', 'toJSON', '__proto__', 'constructor', 'hasOwnProperty', 'then', 'length'];
const VAR_NAMES = ['name', 'text', 'question', 'x', 'items', 'n', 'obj', 'ünï', '__proto__', 'constructor', 'toString', 'a b', ''];
const VALID_ROLES = ['system', 'user', 'assistant', 'developer'];
const ROLES = [...VALID_ROLES, 'tool', 'User', 'function', ''];
const VALID_PROVIDER_IDS = ['openai:gpt-4.1-mini', 'openai:chat:gpt-4o-mini', 'anthropic:claude-haiku-4-5', 'anthropic:messages:claude-sonnet-4'];
const PROVIDER_IDS = [
  'openai:gpt-4.1-mini', 'openai:chat:gpt-4o-mini', 'anthropic:claude-haiku-4-5', 'anthropic:messages:claude-sonnet-4',
  'openai:', 'openai:chat:', 'openai:responses:gpt-4.1', 'openai:embedding:x', 'openai:chat:a:b', 'anthropic:completion:x',
  'anthropic:claude-code', 'anthropic:messages:', 'vertex:gemini', 'ollama:llama3', 'echo', 'OpenAI:gpt-4', 'foo:bar',
  'http://localhost:8080', 'file://provider.js', '', 'openai::', 'python:provider.py', 'openai:gpt-4.1-mini ', 'openai:😀',
];
const ASSERTION_KEYS = ['type', 'value', 'threshold', 'weight', 'metric', 'transform', 'provider', 'rubricPrompt'];
/** Graders of model-graded assertions: chat models, embeddings models, and ones refused (wrong kind, unsupported, no model). */
const VALID_CHAT_GRADERS = ['openai:gpt-4.1-mini', 'openai:chat:gpt-4.1', 'anthropic:messages:claude-sonnet-4-5', 'anthropic:claude-haiku-4-5'];
const VALID_EMBEDDING_GRADERS = ['openai:embedding:text-embedding-3-small', 'openai:embeddings:text-embedding-3-large'];
const GRADER_IDS = [
  ...VALID_CHAT_GRADERS, ...VALID_EMBEDDING_GRADERS, 'openai:embedding:', 'anthropic:embedding:x', 'vertex:gemini-2.5-pro',
  'openai:responses:gpt-5', 'anthropic:messages:', 'foo', '', 'openai:moderation:omni', 'file://grader.js',
];
const ASSERTION_EXTRA_KEYS = ['provider', 'rubricPrompt', 'reason', 'config', 'contextTransform', 'Type', 'valu'];
const TEST_EXTRA_KEYS = ['provider', 'providerOutput', 'scenarios', 'asserts', 'var', 'Vars', 'descripton', 'options2'];
const ROOT_EXTRA_KEYS = [
  'scenarios', 'extensions', 'nunjucksFilters', 'derivedMetrics', 'redteam', 'env', 'sharing', 'outputPath',
  'evaluateOptions', 'commandLineOptions', 'writeLatestResults', 'tags', 'prompt', 'provider', 'test', 'defaultTests',
  'Tests', 'tresholds', 'metadata', 'vars', 'x-anchors', '<<', '__proto__', 'constructor', '"description "',
];
const PROVIDER_EXTRA_KEYS = ['delay', 'transform', 'env', 'name', 'model', 'config2', 'Label'];
/** Scalars of the wrong kind (valid YAML; a few YAML reads as something unexpected, such as {{ name }}). */
const WRONG_SCALARS = [
  'null', '~', "''", '""', '0', '-1', '1.5', '1e999', '-1e999', '.nan', '.inf', '-.inf', 'true', 'false', 'no', 'yes', '"0.5"',
  "'1'", '0x1F', '0o17', '123456789012345678901234567890', '2001-12-14', '2001-12-14t21:59:43.10-05:00',
  '!!binary aGVsbG8=', '!!str 12', '!!float 1', '!!null', '!!bool yes', '!foo bar', '!<tag:x> y', '!!set {a, b}',
  '!!omap [a: 1]', '!!map {}', '!!seq []', '"\\0\\x01\\u2028\\ud800"', '{}', '[]', '[1, [2, {a: 3}]]',
  '{a: {b: [c]}}', '"{{"', '{{ name }}', '[{{ x }}]',
];
/** Scalars that break the YAML around them. */
const BROKEN_SCALARS = [
  '!!int "x"', '"\\q"', '{% if %}', '*undefined_anchor', '&', '*', '!', '|', '>', '@x', '`x`', '%x', '? x', '- x', ': x',
  '"unterminated', "'unterminated", '[unclosed', '{unclosed: 1', 'a: b: c', '#comment', '\t\tx',
];

// ---------------------------------------------------------------------------------------------------------------
// The grammar

interface Special {
  deep: boolean;
  huge: boolean;
  bomb: boolean;
  explode: boolean;
  many: boolean;
}

class SuiteGrammar {
  private anchors: string[] = [];
  private nextAnchor = 0;
  private labels: string[] = [];
  private nextFile = 0;
  /** Where the special content goes: a context name chosen up front (vars, assert, config, ...); used once. */
  private readonly specialAt: string;
  private specialUsed = false;
  /** Set by an explosion of many tests: the suite then gets many prompts and providers too (widen). */
  private widened = false;

  private readonly rng: Rng;
  private readonly files: Map<string, string | Buffer>;
  private readonly special: Special;
  private readonly noise: number;
  /** Only what the loader accepts (up to what can only be known when rendering, and the special content). */
  private readonly valid: boolean;
  /** Labels written on prompts, for the providers' prompt filters. */
  private readonly explicitLabels: string[] = [];
  private readonly providerLabels = new Set<string>();

  constructor(rng: Rng, files: Map<string, string | Buffer>, special: Special, noise: number, valid: boolean) {
    this.rng = rng;
    this.files = files;
    this.special = special;
    this.noise = valid ? 0 : noise;
    this.valid = valid;
    this.specialAt = rng.pick(['vars', 'assert', 'config', 'metadata', 'root', 'prompts', 'tests', 'defaultTest', 'description', 'type']);
  }

  suite(): Y {
    const r = this.rng;
    const parts: [string, () => Y][] = [];
    if (r.chance(0.6)) parts.push(['description', () => this.at('description', () => this.str(this.text()))]);
    if (this.valid || r.chance(0.97)) parts.push([this.keyName('prompts'), () => this.value(() => this.prompts())]);
    if (this.valid || r.chance(0.97)) parts.push([this.keyName('providers'), () => this.value(() => this.providers())]);
    if (r.chance(0.45)) parts.push([this.keyName('defaultTest'), () => this.value(() => this.test(true))]);
    if (r.chance(0.85)) parts.push([this.keyName('tests'), () => this.value(() => this.tests())]);
    if (r.chance(0.12)) parts.push(['threshold', () => this.value(() => this.fraction())]);
    if (r.chance(0.08)) parts.push(['pricing', () => this.value(() => this.pricing())]);
    if (r.chance(0.08)) parts.push(['batch', () => this.value(() => this.batchOptions())]);
    for (const key of new Set(Array.from({ length: r.count(3) }, () => r.pick(this.valid ? VALID_ROOT_EXTRA_KEYS : ROOT_EXTRA_KEYS)))) parts.push([this.key(key), () => this.any(3)]);
    if (r.chance(0.3)) r.shuffle(parts);
    // Anchors defined before they are used: a leading block of definitions under an unknown key.
    if (!this.valid && r.chance(0.1)) parts.unshift(['x-defs', () => this.definitions()]);
    if (this.specialAt === 'root') parts.push(['x-special', () => this.at('root', () => this.any(1))]);
    if (this.special.many && r.chance(0.3)) {
      for (let i = r.range(300, 2000); i > 0; i--) parts.push([this.key(`k${i}${r.pick(['', 'x', '_'])}`), () => this.any(1)]);
    }
    const pairs: [string, Y][] = [];
    for (const [key, make] of parts) {
      pairs.push([key, make()]);
      if (!this.valid && r.chance(0.005)) pairs.push([key, this.any(2)]); // a duplicate key
    }
    return mapOf(pairs);
  }

  /** `make()`, or the special content when this is where it goes. */
  private at(context: string, make: () => Y): Y {
    if (context !== this.specialAt || this.specialUsed) return make();
    this.specialUsed = true;
    // Where a mapping belongs (vars, config, metadata), the special content is the value of one of its keys.
    const inMap = (node: Y): Y => (['vars', 'defaultTest', 'config', 'metadata'].includes(context) ? mapOf([['x', node]]) : node);
    if (this.special.bomb) return inMap(this.bomb(context, make));
    if (this.special.deep) return inMap(this.deep());
    if (this.special.huge && context === 'root') return mapOf([[this.key(this.huge(1100)), raw('1')]]);
    return make();
  }

  // ---- values

  private value(make: () => Y, wrongRate = this.noise): Y {
    const r = this.rng;
    if (this.anchors.length && !this.valid && r.chance(0.03)) return { t: 'alias', name: r.pick(this.anchors) };
    if (!this.valid && r.chance(0.001)) return { t: 'alias', name: 'nowhere' };
    const node = r.chance(wrongRate) ? this.wrong() : make();
    if (node.t !== 'alias' && r.chance(0.03)) this.anchor(node);
    return node;
  }

  private anchor(node: Y): void {
    if (node.t === 'alias') return;
    const name = this.rng.chance(0.1) ? this.rng.pick(['a', 'x', 'a0']) : `a${this.nextAnchor++}`; // sometimes redefined
    node.anchor = name;
    this.anchors.push(name);
  }

  private wrong(): Y {
    const r = this.rng;
    if (r.chance(0.08)) return raw(r.pick(BROKEN_SCALARS));
    if (r.chance(0.7)) return raw(r.pick(WRONG_SCALARS));
    return this.any(2);
  }

  private any(depth: number): Y {
    const r = this.rng;
    const kind = depth <= 0 ? 0 : r.int(4);
    if (kind === 0) return r.chance(0.5) ? this.str(this.text()) : raw(r.pick(WRONG_SCALARS));
    if (kind === 1) return seqOf(Array.from({ length: r.count(4) }, () => this.value(() => this.any(depth - 1), 0)), r.chance(0.4));
    if (kind === 2) {
      const keys = [...new Set(Array.from({ length: r.count(4) }, () => this.key(r.chance(0.15) ? r.pick(OBJECT_KEYS) : this.word())))];
      return mapOf(keys.map((k) => [k, this.value(() => this.any(depth - 1), 0)] as [string, Y]), r.chance(0.4));
    }
    return this.str(this.template());
  }

  /** A string as YAML: plain when that is safe, otherwise quoted or a block scalar; now and then plain anyway. */
  private str(s: string): Y {
    const r = this.rng;
    const plainSafe = /^[A-Za-z][\w .\/-]*$/.test(s) && !/ $/.test(s) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(s);
    if (plainSafe && r.chance(0.7)) return raw(s);
    if (s.includes('\n') && !/[\u0000-\u0008\u000b-\u001f\u007f\u2028\u2029\ufeff]/.test(s) && r.chance(0.6)) {
      const lines = s.split('\n');
      return { t: 'block', header: r.pick(['|', '>', '|-', '>-', '|+']), lines: lines.map((l) => l.replace(/\r$/, '')) };
    }
    if (!s.includes('\n') && !/[\u0000-\u001f\u007f]/.test(s) && r.chance(0.3)) return raw(`'${s.replace(/'/g, "''")}'`);
    if (!this.valid && !s.includes('\n') && r.chance(0.007)) return raw(s); // unquoted though it should not be: {{ }} as a flow map...
    return raw(JSON.stringify(s));
  }

  private key(name: string): string {
    if (/^[A-Za-z_][\w.\-]*$/.test(name) || /^"[^"]*"$|^'[^']*'$/.test(name) || name === '<<') return name;
    return JSON.stringify(name);
  }

  /** The key as meant, or now and then misspelt. */
  private keyName(name: string): string {
    return this.rng.chance(this.noise * 0.5) ? this.key(this.typo(name)) : name;
  }

  private typo(word: string): string {
    const r = this.rng;
    const i = r.int(Math.max(1, word.length));
    switch (r.int(6)) {
      case 0:
        return word.slice(0, i) + word.slice(i + 1);
      case 1:
        return word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
      case 2:
        return word.slice(0, i) + word[i] + word.slice(i);
      case 3:
        return word.toUpperCase();
      case 4:
        return `${word}s`;
      default:
        return word.replace(/-/g, '_') + (r.chance(0.5) ? ' ' : '');
    }
  }

  private word(): string {
    const word = this.rng.pick(WORDS);
    return this.valid && word.startsWith('file:') ? 'file' : word;
  }

  private text(): string {
    const r = this.rng;
    if (this.special.huge && r.chance(0.05)) return this.huge();
    return r.weighted<() => string>([
      [5, () => Array.from({ length: r.range(1, 6) }, () => this.word()).join(r.pick([' ', '', '\n']))],
      [4, () => this.template()],
      [1, () => ''],
      [1, () => r.pick([' ', '\n', '\t', '  \n  ', '\r\n'])],
      [1, () => String(r.pick([0, 1, -1, 0.5, 1e21, 12345678901234567890]))],
      [this.valid ? 0 : 1, () => `file://${r.pick(PROMPT_REFS)}`],
    ])();
  }

  private template(): string {
    const r = this.rng;
    const bits = Array.from({ length: r.range(1, 4) }, () => (r.chance(0.6) ? r.pick(this.valid ? VALID_TEMPLATE_BITS : TEMPLATE_BITS) : this.word()));
    return bits.join(r.pick([' ', '', '\n']));
  }

  private huge(min = 10_000): string {
    const r = this.rng;
    const n = r.range(min, r.chance(0.2) ? 400_000 : 60_000);
    const unit = r.pick(['x', 'ab ', '😀', '{{ name }} ', '{% if x %}y{% endif %}', '\\', 'é\n', '{{', '- ']);
    return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
  }

  private fraction(): Y {
    const r = this.rng;
    if (this.valid) return raw(String(r.pick([0, 0.5, 0.8, 1, 0.25])));
    return raw(String(r.weighted<string | number>([[6, r.pick([0, 0.5, 0.8, 1, 0.25])], [1, r.pick([-1, 2, 100, 1e-9])], [1, r.pick(['"0.5"', "'80%'", '.nan', '~'])]])));
  }

  private number(): Y {
    const r = this.rng;
    if (this.valid) return raw(String(r.pick([1, 2, 10, 100, 300])));
    return raw(String(r.weighted<string | number>([[6, r.pick([0, 1, 2, 10, 100, 300, 0.5])], [1, r.pick([-5, 1.5, 1e999, 2 ** 53 + 1])], [1, r.pick(['"300"', '.inf', 'null'])]])));
  }

  private fileRef(pool: readonly string[], kind: 'prompt' | 'tests' | 'var'): string {
    const r = this.rng;
    if (r.chance(0.25)) return `file://${this.generatedFile(kind)}`;
    if (this.valid) return `file://${r.pick(kind === 'prompt' ? VALID_PROMPT_REFS : kind === 'tests' ? VALID_TEST_REFS : VALID_VAR_REFS)}`;
    return `file://${r.pick(pool)}`;
  }

  /** A file made for this case: prompt text, a tests CSV/JSONL/YAML, or a var file; often broken. */
  private generatedFile(kind: 'prompt' | 'tests' | 'var'): string {
    const r = this.rng;
    const ext = kind === 'prompt' ? r.pick(['.txt', '.md', '.json', '.yaml']) : kind === 'tests' ? r.pick(['.csv', '.jsonl', '.yaml', '.json']) : r.pick(['.txt', '.json', '.yaml']);
    const name = `gen-${this.nextFile++}${ext}`;
    let content: string;
    if (ext === '.csv') content = this.csv();
    else if (ext === '.jsonl') content = this.jsonl();
    else if (kind === 'tests') content = new Emitter(r).document(seqOf(Array.from({ length: r.count(5) }, () => this.value(() => this.test(false)))));
    else if (ext === '.yaml' && kind === 'prompt') content = new Emitter(r).document(r.chance(0.5) ? this.str(this.template()) : this.chat());
    else if (ext === '.json' && kind === 'prompt') content = JSON.stringify([{ role: r.pick(this.valid ? VALID_ROLES : ROLES), content: this.template() }]);
    else if (kind === 'var' && ext !== '.txt') content = new Emitter(r).document(this.any(3));
    else content = Array.from({ length: r.range(1, 3) }, () => this.template()).join(r.pick(['\n---\n', '\n', '---']));
    this.files.set(name, !this.valid && r.chance(0.2) ? mutateText(r, content, content) : content);
    return name;
  }

  private csv(): string {
    const r = this.rng;
    const names = ['text', 'name', 'question', '__expected', '__expected1', '__expected2', '__description', '__metric', '__metadata:m', '__metadata:tags[]'];
    const columns = this.valid
      ? [...new Set(Array.from({ length: r.range(1, 5) }, () => r.pick(names)))]
      : Array.from({ length: r.range(1, 5) }, () => r.pick([...names, '__threshold', '__weird', '', 'a,b', '"q"']));
    const cell = (): string => {
      const v = r.weighted<string>([
        [3, this.word()],
        [2, r.pick(['contains:hi', 'not-contains:bye', 'icontains-any:a,b', 'regex:(', 'is-json', 'fn:output', 'levenshtein(2):x', 'contains(0.5)', 'equals', 'not-', '0.5', 'abc', ...(this.valid ? [] : ['grade:good?', '1e999'])])],
        [1, r.pick(['similar:hi there', 'similar(0.7):x', 'not-similar:y', 'factuality:Paris', 'llm-rubric:is about {{ text }}', 'grade: polite', 'answer-relevance', 'answer-relevance(0.9)', 'g-eval:clear', 'model-graded-closedqa:names a city', ...(this.valid ? [] : ['not-factuality:x', 'similar', 'factuality', 'context-recall:x'])])],
        [1, this.template()],
        [1, ''],
      ]);
      return this.valid || r.chance(0.5) ? `"${v.replace(/"/g, this.valid || r.chance(0.9) ? '""' : '"')}"` : v;
    };
    const rows = Array.from({ length: r.count(6) }, () => Array.from({ length: this.valid || r.chance(0.9) ? columns.length : r.range(0, 7) }, cell).join(','));
    return [columns.join(','), ...rows].join(r.pick(['\n', '\r\n'])) + (r.chance(0.5) ? '\n' : '');
  }

  private jsonl(): string {
    const r = this.rng;
    const lines = Array.from({ length: r.count(6) }, () =>
      r.weighted<string>([
        [4, JSON.stringify({ vars: { text: this.word(), items: [1, 2] }, assert: [{ type: r.pick(this.valid ? ['contains', 'not-equals'] : ['contains', 'not-equals', 'bogus']), value: this.template() }] })],
        [1, JSON.stringify({ description: this.word(), threshold: r.pick(this.valid ? [0.5] : [0.5, '0.5', 2]), unknown: 1 })],
        [this.valid ? 0 : 1, r.pick(['[1, 2]', '"a string"', 'null', '{not json', '{vars: {a: 1}}', '{"vars": {"a": 1}, "vars": {}}', '{"assert": [{"type": "contains"}]}', ''])],
      ]),
    );
    return lines.join(r.pick(['\n', '\r\n', '\n\n']));
  }

  // ---- the suite's parts

  private prompts(): Y {
    const r = this.rng;
    if (r.chance(0.15)) {
      const text = this.promptText();
      this.labels.push(text);
      return this.str(text);
    }
    const items = Array.from({ length: !this.valid && r.chance(0.03) ? 0 : r.count(4) + 1 }, () => this.value(() => this.prompt()));
    return seqOf(items, r.chance(0.15));
  }

  private promptText(): string {
    return this.rng.chance(0.15) ? this.text() : this.template();
  }

  /** Label of a {id, label} prompt: often one of a few, so that labels repeat. */
  private promptLabel(): string {
    const r = this.rng;
    const label = this.valid ? `${r.pick(['support', 'a', 'b', 'from-file'])}${this.explicitLabels.length}` : r.pick(['support', 'a', 'b', 'from-file', this.word(), '']);
    this.explicitLabels.push(label);
    return label;
  }

  private prompt(): Y {
    const r = this.rng;
    return r.weighted<() => Y>([
      [7, () => {
        const text = this.promptText();
        this.labels.push(text);
        return this.str(text);
      }],
      [4, () => this.str(this.fileRef(PROMPT_REFS, 'prompt'))],
      [5, () => {
        const label = r.chance(0.7) ? this.promptLabel() : undefined;
        if (label !== undefined) this.labels.push(label);
        const pairs: [string, Y][] = [];
        if (this.valid || r.chance(0.95)) pairs.push(['id', this.value(() => this.str(r.chance(0.5) ? this.fileRef(PROMPT_REFS, 'prompt') : this.promptText()))]);
        if (r.chance(0.15)) pairs.push(['raw', this.value(() => this.str(this.promptText()))]);
        if (label !== undefined) pairs.push(['label', this.value(() => this.str(label))]);
        if (!this.valid && r.chance(0.1)) pairs.push([this.key(r.pick(['function', 'config', 'labl', 'prompt'])), this.any(1)]);
        return mapOf(r.shuffle(pairs), r.chance(0.2));
      }],
      [3, () => this.at('prompts', () => this.chat())],
    ])();
  }

  private chat(): Y {
    const r = this.rng;
    return seqOf(
      Array.from({ length: r.count(3) + 1 }, () => {
        const pairs: [string, Y][] = [];
        if (this.valid || r.chance(0.95)) pairs.push(['role', this.value(() => this.str(r.pick(this.valid ? VALID_ROLES : ROLES)))]);
        if (this.valid || r.chance(0.95)) pairs.push(['content', this.value(() => this.str(this.promptText()))]);
        if (!this.valid && r.chance(0.05)) pairs.push(['name', this.any(1)]);
        return this.value(() => mapOf(pairs, r.chance(0.3)));
      }),
      r.chance(0.1),
    );
  }

  private providers(): Y {
    const r = this.rng;
    if (r.chance(0.15)) return this.str(r.pick(this.valid ? VALID_PROVIDER_IDS : PROVIDER_IDS));
    return seqOf(Array.from({ length: !this.valid && r.chance(0.03) ? 0 : r.count(3) + 1 }, () => this.value(() => this.provider())), r.chance(0.1));
  }

  private provider(): Y {
    const r = this.rng;
    const id = this.valid || r.chance(0.8) ? r.pick(VALID_PROVIDER_IDS) : r.pick(PROVIDER_IDS);
    // Two providers of one name are an error: a valid suite labels a repeated id.
    const label = this.valid ? (this.providerLabels.has(id) ? `${id}#${this.providerLabels.size}` : undefined) : r.chance(0.4) ? r.pick(['a', 'b', 'mini', this.word()]) : undefined;
    this.providerLabels.add(label ?? id);
    if (label === undefined && r.chance(0.4)) return this.str(id);
    const pairs: [string, Y][] = [];
    if (this.valid || r.chance(0.95)) pairs.push(['id', this.value(() => this.str(id))]);
    if (label !== undefined) pairs.push(['label', this.value(() => this.str(label))]);
    if (r.chance(0.6)) pairs.push(['config', this.value(() => this.at('config', () => this.providerConfig()))]);
    if (r.chance(0.2)) {
      const known = this.valid ? this.explicitLabels : this.labels;
      const labels = Array.from({ length: r.count(3) + 1 }, () => this.str(known.length && (this.valid || r.chance(0.7)) ? r.pick(known) : r.pick(['support', 'nope', 'from-file: 1', 'chat prompt 1'])));
      if (!this.valid || known.length) pairs.push(['prompts', this.value(() => seqOf(labels))]);
    }
    if (!this.valid && r.chance(0.1)) pairs.push([this.key(r.pick(PROVIDER_EXTRA_KEYS)), this.any(1)]);
    return mapOf(pairs, r.chance(0.2));
  }

  private providerConfig(): Y {
    const r = this.rng;
    const params: [string, () => Y][] = [
      ['temperature', () => this.number()],
      ['max_tokens', () => this.number()],
      ['max_completion_tokens', () => this.number()],
      ['top_p', () => this.number()],
      ['seed', () => this.number()],
      ['stop', () => (this.valid || r.chance(0.5) ? this.str(this.word()) : seqOf([this.str(this.word()), this.any(1)]))],
      ['response_format', () => (this.valid || r.chance(0.7) ? mapOf([['type', raw('json_object')]]) : this.any(2))],
      ['apiBaseUrl', () => this.str(r.pick(this.valid ? ['http://localhost:1234/v1'] : ['http://localhost:1234/v1', '', 'not a url', 'file:///etc']))],
      ['passthrough', () => this.any(2)],
      ['apiKey', () => this.str('sk-not-a-key')],
      ['headers', () => this.any(2)],
      ['logprobs', () => raw('true')],
      ...(this.valid ? [] : [[this.word(), () => this.any(2)] as [string, () => Y]]),
    ];
    return mapOf(r.shuffle(params).slice(0, r.count(5)).map(([k, make]) => [this.key(k), this.value(make)] as [string, Y]), r.chance(0.2));
  }

  private tests(): Y {
    const r = this.rng;
    if (this.special.explode) return this.explosion();
    if (r.chance(0.1)) return this.str(this.fileRef(TEST_REFS, 'tests'));
    const n = this.special.many && r.chance(0.5) ? r.range(300, 2000) : r.count(6);
    const small = n > 50;
    return this.at('tests', () =>
      seqOf(
        Array.from({ length: n }, () =>
          r.chance(0.15) ? this.str(this.valid || r.chance(0.9) ? this.fileRef(TEST_REFS, 'tests') : this.text()) : this.value(() => (small ? this.smallTest() : this.test(false))),
        ),
        r.chance(0.05),
      ),
    );
  }

  /** One of many tests: small, with an error or an unknown key now and then. */
  private smallTest(): Y {
    const r = this.rng;
    return mapOf(
      [
        ['vars', mapOf([['x', raw(String(r.int(100)))]], true)],
        ...(r.chance(0.5) ? [['assert', seqOf([mapOf([['type', raw(r.pick(['contains', 'contain', 'not-equals', 'llm-rubric']))], ['value', raw('x')]], true)], true)] as [string, Y]] : []),
        ...(r.chance(0.3) ? [[r.pick(['threshold', 'tresh', 'weight']), raw(r.pick(['"x"', '0.5', '2']))] as [string, Y]] : []),
      ],
      true,
    );
  }

  private test(isDefault: boolean): MapY {
    const r = this.rng;
    const parts: [string, () => Y][] = [];
    if (!isDefault && r.chance(0.4)) parts.push(['description', () => this.str(this.text())]);
    if (r.chance(0.7)) parts.push([this.keyName('vars'), () => this.at(isDefault ? 'defaultTest' : 'vars', () => this.vars())]);
    if (r.chance(0.7)) parts.push([this.keyName('assert'), () => this.asserts()]);
    if (r.chance(0.1)) parts.push(['threshold', () => this.fraction()]);
    if (r.chance(0.1)) parts.push(['metadata', () => this.at('metadata', () => (this.valid ? mapOf([['m', this.any(2)]]) : this.any(2)))]);
    if (r.chance(0.1)) parts.push(['options', () => this.options()]);
    if (!this.valid && r.chance(0.05)) parts.push([this.key(r.pick(TEST_EXTRA_KEYS)), () => this.any(2)]);
    return mapOf(
      parts.map(([k, make]) => [k, this.value(make)] as [string, Y]),
      r.chance(0.1),
    );
  }

  private vars(): Y {
    const r = this.rng;
    const names = r.shuffle([...VAR_NAMES]).slice(0, r.count(5));
    return mapOf(
      names.map((name) => [this.key(name), this.value(() => this.varValue())] as [string, Y]),
      r.chance(0.2),
    );
  }

  private varValue(): Y {
    const r = this.rng;
    return r.weighted<() => Y>([
      [7, () => this.str(this.text())],
      [2, () => raw(String(r.pick([0, 1, -2.5, 1e21, 'true', 'null'])))],
      [4, () => seqOf(Array.from({ length: r.count(5) }, () => this.str(this.word())), r.chance(0.5))],
      [2, () => this.any(3)],
      [2, () => this.str(this.fileRef(VAR_REFS, 'var'))],
      [1, () => seqOf([this.str(this.fileRef(VAR_REFS, 'var')), this.str(this.word())])],
    ])();
  }

  private asserts(): Y {
    const r = this.rng;
    return seqOf(Array.from({ length: r.count(4) }, () => this.value(() => this.assertion())), r.chance(0.1));
  }

  private assertionType(): string {
    const r = this.rng;
    if (this.valid && r.chance(0.2)) {
      const graded = r.pick(GRADED_ASSERTIONS);
      return `${NEGATABLE_GRADED.includes(graded) && r.chance(0.3) ? 'not-' : ''}${graded}`;
    }
    if (this.valid) return `${r.chance(0.3) ? 'not-' : ''}${r.pick(SUPPORTED_ASSERTIONS)}`;
    return r.weighted<() => string>([
      [10, () => r.pick(SUPPORTED_ASSERTIONS)],
      [4, () => `not-${r.pick(SUPPORTED_ASSERTIONS)}`],
      [3, () => `${r.chance(0.3) ? 'not-' : ''}${r.pick(GRADED_TYPE_NAMES)}`],
      [2, () => r.pick([...MODEL_GRADED_ASSERTIONS, ...OTHER_PROMPTFOO_ASSERTIONS])],
      [2, () => this.typo(r.pick(SUPPORTED_ASSERTIONS))],
      [2, () => r.pick(['', 'not-', 'not-not-contains', 'CONTAINS', 'contains ', 'javascript:', 'not-llm-rubric', 'icontains-every', '__proto__', 'toString'])],
      [this.special.huge ? 2 : 0, () => this.huge()],
    ])();
  }

  private assertion(): Y {
    const r = this.rng;
    const type = this.assertionType();
    const base = type.replace(/^not-/, '');
    const pairs: [string, Y][] = [];
    if (this.valid || r.chance(0.97)) pairs.push(['type', this.value(() => this.at('type', () => this.str(type)))]);
    if (r.chance(0.8)) pairs.push(['value', this.value(() => this.at('assert', () => this.assertionValue(base)))]);
    if (r.chance(0.2)) pairs.push(['threshold', this.value(() => this.fraction())]);
    if (r.chance(0.1)) pairs.push(['weight', this.value(() => this.number())]);
    if (r.chance(0.1)) pairs.push(['metric', this.value(() => this.str(this.word()))]);
    if (r.chance(0.05)) pairs.push(['transform', this.value(() => this.str('output.trim()'))]);
    if (GRADED_TYPE_NAMES.includes(base) && r.chance(0.3)) pairs.push(['provider', this.value(() => this.grader(base))]);
    if (GRADED_TYPE_NAMES.includes(base) && r.chance(0.2)) pairs.push(['rubricPrompt', this.value(() => this.rubricPrompt())]);
    if (!this.valid && r.chance(0.05)) pairs.push([this.key(r.pick(ASSERTION_EXTRA_KEYS)), this.any(1)]);
    if (!this.valid && r.chance(0.005)) pairs.push([this.key(r.pick(ASSERTION_KEYS)), this.any(1)]); // a duplicate key
    return mapOf(pairs, r.chance(0.4));
  }

  private assertionValue(base: string): Y {
    const r = this.rng;
    switch (base) {
      case 'contains-any':
      case 'contains-all':
      case 'icontains-any':
      case 'icontains-all':
        return r.chance(0.8) ? seqOf(Array.from({ length: r.count(4) }, () => this.str(this.text())), r.chance(0.5)) : this.str(this.text());
      case 'regex':
        return this.str(r.pick(['^a', '(', '[a-', '\\b\\d+\\b', '(a+)+$', '{{ x }}', '(?<n>x)', '']));
      case 'is-json':
      case 'contains-json':
        return r.chance(0.6) ? mapOf([['type', raw('object')], ['required', seqOf([raw('order')], true)]]) : this.any(2);
      case 'javascript':
        return this.str(r.pick(['output.length < 400', 'while(true){}', 'throw new Error()', '{{ x }} > 1', 'file://check.js', '']));
      case 'word-count':
        return r.chance(0.5) ? this.number() : mapOf([['min', this.number()], ['max', this.number()]], true);
      case 'cost':
      case 'latency':
        return this.any(1);
      case 'g-eval':
      case 'similar':
        return r.chance(0.4) ? seqOf(Array.from({ length: r.count(3) + (this.valid ? 1 : 0) }, () => this.str(this.text())), r.chance(0.5)) : this.str(this.text());
      default:
        return r.chance(0.8) ? this.str(this.text()) : this.any(2);
    }
  }

  /**
   * The grader of a model-graded assertion (`base`), or of every one in a test (`base` undefined: options.provider,
   * where a valid suite names one per purpose, as one model cannot both grade and embed).
   */
  private grader(base?: string): Y {
    const r = this.rng;
    const model = (ids: readonly string[]): Y =>
      r.chance(0.6) ? this.str(r.pick(ids)) : mapOf([['id', this.str(r.pick(ids))], ...(r.chance(0.6) ? [['config', this.value(() => this.at('config', () => this.providerConfig()))] as [string, Y]] : [])]);
    if (!this.valid) {
      return r.weighted<() => Y>([
        [4, () => model(GRADER_IDS)],
        [2, () => mapOf([...(r.chance(0.7) ? [['text', model(GRADER_IDS)] as [string, Y]] : []), ...(r.chance(0.7) ? [['embedding', model(GRADER_IDS)] as [string, Y]] : [])])],
        [1, () => this.any(2)],
      ])();
    }
    const embeds = base === 'similar' || base === 'similar:cosine';
    if (base !== undefined && base !== 'answer-relevance' && r.chance(0.6)) return model(embeds ? VALID_EMBEDDING_GRADERS : VALID_CHAT_GRADERS);
    return mapOf([['text', model(VALID_CHAT_GRADERS)], ['embedding', model(VALID_EMBEDDING_GRADERS)]]);
  }

  /** A grading prompt: a template, chat messages, or a file of either. */
  private rubricPrompt(): Y {
    const r = this.rng;
    return r.weighted<() => Y>([
      [3, () => this.str(this.template())],
      [2, () => this.chat()],
      [1, () => this.str(JSON.stringify([{ role: 'system', content: 'Grade as JSON' }, { role: 'user', content: this.template() }]))],
      [2, () => this.str(this.fileRef(PROMPT_REFS, 'prompt'))],
      [this.valid ? 0 : 1, () => this.any(2)],
    ])();
  }

  private options(): Y {
    const r = this.rng;
    const pairs: [string, Y][] = [];
    if (r.chance(0.8)) pairs.push(['transform', this.value(() => this.str(r.pick(['output.trim()', 'file://t.js', ''])))]);
    if (r.chance(0.3)) pairs.push(['provider', this.value(() => this.grader())]);
    if (r.chance(0.3)) pairs.push(['rubricPrompt', this.value(() => this.rubricPrompt())]);
    if (!this.valid && r.chance(0.2)) pairs.push([this.key(r.pick(['provider', 'rubricPrompt', 'storeOutputAs', 'transfrom'])), this.any(1)]);
    return mapOf(pairs);
  }

  private pricing(): Y {
    const r = this.rng;
    return mapOf(
      Array.from({ length: r.count(2) + 1 }, () => {
        const price = mapOf([
          ['input', this.value(() => this.number())],
          ['output', this.value(() => this.number())],
          ...(r.chance(0.2) ? [['cachedInput', this.number()] as [string, Y]] : []),
          ...(!this.valid && r.chance(0.1) ? [[this.key(this.word()), this.any(1)] as [string, Y]] : []),
        ]);
        return [this.key(r.pick(['gpt-4.1-mini', 'claude-haiku-4-5', this.word()])), this.value(() => price)] as [string, Y];
      }),
    );
  }

  private batchOptions(): Y {
    const r = this.rng;
    return mapOf([
      ...(r.chance(0.6) ? [['maxRequests', this.value(() => this.number())] as [string, Y]] : []),
      ...(r.chance(0.4) ? [['maxEnqueuedTokens', this.value(() => (r.chance(0.5) ? this.number() : mapOf([['gpt-4.1-mini', this.number()]])))] as [string, Y]] : []),
      ...(r.chance(0.3) ? [['maxRetries', this.value(() => this.number())] as [string, Y]] : []),
      ...(!this.valid && r.chance(0.1) ? [[this.key(this.word()), this.any(1)] as [string, Y]] : []),
    ]);
  }

  /** A map of anchored values for later aliases (as people write `x-common: &common`). */
  private definitions(): Y {
    const r = this.rng;
    const makers: (() => Y)[] = [() => this.vars(), () => this.asserts(), () => this.assertion(), () => this.str(this.template()), () => this.test(false), () => this.providerConfig()];
    return mapOf(
      Array.from({ length: r.range(1, 4) }, (_, i) => {
        const node = r.pick(makers)();
        this.anchor(node);
        return [`d${i}`, node] as [string, Y];
      }),
    );
  }

  // ---- hostile content

  /** Nesting far past what a person writes (the YAML parser and every recursive walk after it meet it). */
  private deep(): Y {
    const r = this.rng;
    const depth = r.pick([64, 300, 800, 1200, 1600, 2500, 6000]);
    switch (r.int(4)) {
      case 0:
        return raw(`${'['.repeat(depth)}1${']'.repeat(depth)}`);
      case 1:
        return raw(`${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`);
      case 2: {
        let node: Y = raw('1');
        for (let i = 0; i < Math.min(depth, 400); i++) node = mapOf([[r.pick(['a', 'b', 'x']), node]]);
        return node;
      }
      default: {
        let node: Y = raw('1');
        for (let i = 0; i < Math.min(depth, 400); i++) node = seqOf([node]);
        return node;
      }
    }
  }

  /**
   * Alias bombs and their relatives, placed where `make()` would have put a value: billion laughs (each level
   * aliases the one before w times), one anchor aliased many times, chains of anchors, and an alias inside the
   * node it names (recursive data).
   */
  private bomb(context: string, make: () => Y): Y {
    const r = this.rng;
    const kind = r.pick(['laughs', 'laughs', 'wide', 'wide', 'chain', 'recursive', 'recursive']);
    const id = this.nextAnchor++;
    const name = (i: number): string => `b${id}_${i}`;
    if (kind === 'laughs') {
      const width = r.range(2, 12);
      const depth = r.range(3, 10);
      const levels: Y[] = [{ ...seqOf(Array.from({ length: width }, () => raw('lol')), true), anchor: name(0) }];
      for (let i = 1; i < depth; i++) levels.push({ ...seqOf(Array.from({ length: width }, () => ({ t: 'alias', name: name(i - 1) }) as Y), true), anchor: name(i) });
      return context === 'tests' || context === 'prompts' || context === 'assert' || context === 'type' ? seqOf(levels) : mapOf(levels.map((l, i) => [`l${i}`, l]));
    }
    if (kind === 'wide') {
      const times = r.pick([10, 200, 998, 999, 1000, 1001, 3000]);
      const target = make();
      if (target.t === 'alias') return target;
      target.anchor = name(0);
      const aliases = Array.from({ length: times }, () => ({ t: 'alias', name: name(0) }) as Y);
      if (context === 'tests' && target.t === 'seq') return seqOf([...target.items, { ...this.test(false), anchor: name(1) }, ...aliases.map(() => ({ t: 'alias', name: name(1) }) as Y)], true);
      return seqOf([target, ...aliases], r.chance(0.5));
    }
    if (kind === 'chain') {
      const length = r.range(5, 14);
      let node: Y = { ...seqOf([raw('1'), raw('2')], true), anchor: name(0) };
      const chain: Y[] = [node];
      for (let i = 1; i < length; i++) {
        node = { ...seqOf([{ t: 'alias', name: name(i - 1) }, { t: 'alias', name: name(i - 1) }], true), anchor: name(i) };
        chain.push(node);
      }
      return seqOf(chain);
    }
    // recursive: &a [*a], &a {x: *a}, or deeper inside
    const self: Y = { t: 'alias', name: name(0) };
    const inner = r.chance(0.5) ? self : mapOf([['y', seqOf([raw('1'), self], true)]], true);
    return r.chance(0.5) ? { ...seqOf([raw('1'), inner], true), anchor: name(0) } : { ...mapOf([['x', inner]], true), anchor: name(0) };
  }

  /**
   * Vars whose lists multiply into far more cases than anyone could run, or many prompts x providers x tests:
   * always past ten million cases, far past what a plan may hold (a suite just under it is slow to plan, rightly).
   */
  private explosion(): Y {
    const r = this.rng;
    if (r.chance(0.5)) {
      const lists = r.range(7, 40);
      const items = r.range(10, 30);
      const shared = r.chance(0.5);
      const list = (i: number): Y => (shared && i > 0 ? { t: 'alias', name: `xl${this.nextAnchor}` } : { ...seqOf(Array.from({ length: items }, (_, j) => raw(String(j))), true), ...(i === 0 ? { anchor: `xl${this.nextAnchor}` } : {}) });
      const vars = mapOf(Array.from({ length: lists }, (_, i) => [`v${i}`, list(i)] as [string, Y]));
      this.nextAnchor++;
      return seqOf([mapOf([['vars', vars]])]);
    }
    // Tests many enough that, with the many prompts and providers widen() gives the suite, the cases pass any sane count.
    this.widened = true;
    return seqOf(Array.from({ length: r.range(2000, 3000) }, (_, i) => mapOf([['vars', mapOf([['x', raw(String(i))], ['items', seqOf([raw('a'), raw('b'), raw('c'), raw('d')], true)]], true)]], true)));
  }

  /** The prompts and providers of an explosion: many of each. */
  widen(root: Y): Y {
    if (!this.widened || root.t !== 'map') return root;
    const r = this.rng;
    const prompts = seqOf(Array.from({ length: r.range(30, 40) }, (_, i) => raw(`"p${i} {{ x }}"`)), true);
    const providers = seqOf(Array.from({ length: r.range(30, 40) }, (_, i) => mapOf([['id', raw(`openai:m${i}`)]], true)), true);
    return { ...root, pairs: [['prompts', prompts], ['providers', providers], ...root.pairs.filter(([k]) => k !== 'prompts' && k !== 'providers')] };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations

const SNIPPETS = [
  '  - type: not-contains', 'tests: file://missing.csv', '<<: *a', '&a', '*a', '- &b x', '  ? complex', '%YAML 1.1', '---',
  '...', '\t- tab', 'prompts: [', '"', "'", '{{ name }}', '{% if %}', 'key: value: other', '- - - x', ': x', '!!binary x',
  'providers: anthropic:', 'defaultTest: {assert: [{type: cost, threshold: "x"}]}', '  vars: {name: [a, b, c, d]}',
  'threshold: 1e999', '#', '- file://../../../../etc/passwd', '  - file:///dev/zero', 'a: &a [*a]', '\u0000', '\ufeff',
];
const INTERESTING_CHARS = [':', '-', ' ', '\t', '\n', '"', "'", '{', '}', '[', ']', '&', '*', '!', '|', '>', '#', '%', '@', '`', ',', '?', '\\', '\u0000', '\ufeff', '\u2028', '\r', 'é', '😀'];

/** One to a few text mutations: flipped characters, lines deleted, duplicated, swapped or re-indented, truncation, splices. */
export function mutateText(r: Rng, text: string, other: string, times = r.range(1, 4)): string {
  let out = text;
  for (let n = times; n > 0; n--) {
    const lines = out.split('\n');
    const at = r.int(Math.max(1, lines.length));
    const pos = r.int(Math.max(1, out.length));
    switch (r.int(12)) {
      case 0:
        out = out.slice(0, pos) + r.pick(INTERESTING_CHARS) + out.slice(pos + 1);
        break;
      case 1:
        lines.splice(at, 1);
        out = lines.join('\n');
        break;
      case 2:
        lines.splice(at, 0, ...lines.slice(at, at + r.range(1, 3)));
        out = lines.join('\n');
        break;
      case 3: {
        const to = r.int(lines.length);
        [lines[at], lines[to]] = [lines[to], lines[at]];
        out = lines.join('\n');
        break;
      }
      case 4: {
        const shift = r.pick([-2, -1, 1, 2, 4]);
        const end = Math.min(lines.length, at + r.range(1, 5));
        for (let i = at; i < end; i++) lines[i] = shift > 0 ? ' '.repeat(shift) + lines[i] : lines[i].replace(new RegExp(`^ {0,${-shift}}`), '');
        out = lines.join('\n');
        break;
      }
      case 5:
        lines[at] = lines[at]?.replace(/^( +)/, (s) => (r.chance(0.5) ? '\t'.repeat(Math.ceil(s.length / 2)) : `\t${s.slice(1)}`)) ?? '';
        out = lines.join('\n');
        break;
      case 6:
        out = out.slice(0, pos);
        break;
      case 7:
        lines.splice(at, 0, (r.chance(0.5) ? (lines[at]?.match(/^ */)?.[0] ?? '') : '') + r.pick(SNIPPETS));
        out = lines.join('\n');
        break;
      case 8:
        out = out.slice(0, pos) + out.slice(pos + r.range(1, 40));
        break;
      case 9: {
        const len = r.range(1, 60);
        out = out.slice(0, pos) + out.slice(pos, pos + len).repeat(r.range(2, r.chance(0.1) ? 500 : 5)) + out.slice(pos + len);
        break;
      }
      case 10: {
        const from = r.int(Math.max(1, other.length));
        out = out.slice(0, pos) + other.slice(from, from + r.range(1, 200)) + out.slice(pos);
        break;
      }
      default: {
        // a scalar token replaced by a value of another kind
        const tokens = [...out.matchAll(/: ([^\n#]+)/g)];
        if (tokens.length) {
          const t = r.pick(tokens);
          const start = (t.index ?? 0) + 2;
          out = out.slice(0, start) + r.pick(r.chance(0.7) ? WRONG_SCALARS : BROKEN_SCALARS) + out.slice(start + t[1].length);
        }
      }
    }
  }
  return out;
}

/** Flips bits and overwrites bytes, so that the text may stop being UTF-8. */
export function mutateBytes(r: Rng, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  if (out.length === 0) return out;
  for (let n = r.range(1, 6); n > 0; n--) {
    const i = r.int(out.length);
    if (r.chance(0.5)) out[i] ^= 1 << r.int(8);
    else out[i] = r.pick([0x00, 0x09, 0x0a, 0x0d, 0x22, 0x27, 0x3a, 0x2d, 0x7b, 0x7d, 0x80, 0xc3, 0xef, 0xfe, 0xff]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Cases

export interface FuzzCase {
  /** How the input was made, e.g. `grammar+bomb` or `mutate:suite.yaml`. */
  kind: string;
  /** The suite file, relative to the suite directory. */
  main: string;
  /** Files of this case only (the suite among them), relative to the suite directory. */
  files: Map<string, string | Buffer>;
  /** Load with file:// references confined to the suite directory, as for a config read at a commit. */
  confine: boolean;
}

/**
 * Seeds for mutation: a suite file name -> its text, and for each file a suite names, which suite names it and how.
 * `sources` holds the fixture suite's files and the quickstart (as prepareWorkspace wrote them).
 */
export interface MutationSeeds {
  suites: string[];
  /** File a suite names -> [suite, the reference as written]. */
  referenced: Record<string, [string, string]>;
  sources: Record<string, Buffer>;
}

export function makeCase(seed: number, index: number, seeds: MutationSeeds): FuzzCase {
  const r = new Rng(caseSeed(seed, index));
  const files = new Map<string, string | Buffer>();
  const main = 'case.yaml';
  const confine = r.chance(0.3);
  const mode = r.weighted([[55, 'grammar'], [35, 'mutate'], [10, 'mutate-generated']] as const);

  if (mode === 'mutate') {
    const targets = [...seeds.suites, ...Object.keys(seeds.referenced)];
    const target = r.pick(targets);
    const other = seeds.sources[r.pick(Object.keys(seeds.sources))].toString('utf8');
    const original = seeds.sources[target];
    const mutated = mutatedFile(r, original, other);
    if (seeds.suites.includes(target)) {
      files.set(main, mutated);
      return { kind: `mutate:${target}`, main, files, confine };
    }
    // A referenced file mutated: its suite names the mutated copy instead.
    const [suite, ref] = seeds.referenced[target];
    const ext = target.slice(target.lastIndexOf('.'));
    const copy = `mutated${ext}`;
    files.set(copy, mutated);
    files.set(main, seeds.sources[suite].toString('utf8').split(ref).join(`file://${copy}`));
    return { kind: `mutate:${target}`, main, files, confine };
  }

  const special: Special = {
    deep: r.chance(0.02),
    huge: r.chance(0.02),
    bomb: r.chance(0.04),
    explode: r.chance(0.015),
    many: r.chance(0.01),
  };
  const noise = r.pick([0, 0.01, 0.03, 0.08]);
  // Valid suites (as far as the grammar knows), then near-valid ones: one or two small changes.
  const valid = r.chance(0.45);
  const grammar = new SuiteGrammar(r, files, special, noise, valid);
  const root = grammar.widen(grammar.suite());
  let text = new Emitter(r).document(root);
  if (r.chance(0.04)) text = `%YAML 1.1\n---\n${text}`;
  const kind = [valid ? 'valid' : 'grammar', ...Object.entries(special).filter(([, on]) => on).map(([k]) => k)].join('+');
  if (valid && r.chance(0.3)) {
    files.set(main, mutateText(r, text, text, r.range(1, 2)));
    return { kind: `${kind}+near`, main, files, confine };
  }
  if (mode === 'mutate-generated' || r.chance(0.15)) {
    files.set(main, mutatedFile(r, Buffer.from(text), text));
    return { kind: `${kind}+mutated`, main, files, confine };
  }
  files.set(main, text);
  return { kind, main, files, confine };
}

function mutatedFile(r: Rng, original: Buffer, other: string): Buffer {
  let out = r.chance(0.85) ? Buffer.from(mutateText(r, original.toString('utf8'), other)) : original;
  if (r.chance(0.3) || out.equals(original)) out = mutateBytes(r, out);
  return out;
}
