/**
 * Model output (and anything derived from it) is untrusted: in a comment it must not become HTML, a mention,
 * an image, a link to a crafted URL, or markdown that closes our `<details>` early.
 */

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text inside a fenced code block: nothing in it is interpreted. The fence outgrows any backtick run inside. */
export function codeBlock(text: string, maxChars = 1500): string {
  let body = text.replace(/\r\n?/g, '\n').replace(CONTROL, '');
  if (body.length > maxChars) body = `${body.slice(0, maxChars)}\n… (${(text.length - maxChars).toLocaleString('en-US')} more characters in the results file)`;
  const longestRun = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}text\n${body}\n${fence}`;
}

/** Text on one line of markdown: HTML and markdown syntax escaped, mentions and references defused. */
export function inline(text: string, maxChars = 300): string {
  let flat = text.replace(CONTROL, '').replace(/\s+/g, ' ').trim();
  if (flat.length > maxChars) flat = `${flat.slice(0, maxChars - 1)}…`;
  return flat
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_{}[\]()#+!|~])/g, '\\$1')
    .replace(/@/g, '@\u200b')
    .replace(/:\/\//g, ':\u200b//');
}

/** A short identifier as an inline code span: nothing inside a code span is interpreted, so only backticks and line breaks go. */
export function code(text: string, maxChars = 120): string {
  let flat = text.replace(CONTROL, '').replace(/[`\s]+/g, ' ').trim();
  if (flat.length > maxChars) flat = `${flat.slice(0, maxChars - 1)}…`;
  return `\`${flat}\``;
}
