import nunjucks from 'nunjucks';

/**
 * The Nunjucks environment prompts and assertion values are rendered with, as promptfoo renders them:
 * no HTML autoescaping, undefined variables render empty, and promptfoo's built-in `load` filter (JSON.parse).
 */
const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false });
env.addFilter('load', (text: string) => JSON.parse(text));
env.addFilter('dump', (value: unknown) => JSON.stringify(value));

const compiled = new Map<string, nunjucks.Template>();

/** Throws the Nunjucks syntax error, if any, without rendering. */
export function compileTemplate(source: string): nunjucks.Template {
  let template = compiled.get(source);
  if (!template) {
    template = new nunjucks.Template(source, env, undefined, true);
    compiled.set(source, template);
  }
  return template;
}

export function renderTemplate(source: string, vars: Record<string, unknown>): string {
  if (!source.includes('{{') && !source.includes('{%')) return source;
  return compileTemplate(source).render(vars);
}

/**
 * Renders every string inside a value (assertion values may be strings, lists or objects). A list or object in
 * which nothing changes is returned as it is, not copied, so values without templates are shared, not repeated
 * per test.
 */
export function renderDeep(value: unknown, vars: Record<string, unknown>): unknown {
  if (typeof value === 'string') return renderTemplate(value, vars);
  if (Array.isArray(value)) {
    const rendered = value.map((v) => renderDeep(v, vars));
    return rendered.every((v, i) => v === value[i]) ? value : rendered;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    const rendered = entries.map(([k, v]) => [k, renderDeep(v, vars)] as const);
    return rendered.every(([, v], i) => v === entries[i][1]) ? value : Object.fromEntries(rendered);
  }
  return value;
}

/** The first line of a Nunjucks error, without its internal stack. */
export function templateErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^\(unknown path\)\s*/, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}
