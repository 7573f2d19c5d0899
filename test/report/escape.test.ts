import { describe, expect, it } from 'vitest';
import { codeBlock, inline } from '../../src/report/escape.ts';

describe('escaping untrusted model output', () => {
  it('inline text cannot become HTML, a mention, an image, a link or a table cell break', () => {
    const hostile = '</details><img src=x onerror=alert(1)> @octocat ![x](https://evil.example/p.png) [click](javascript:x) a|b #12';
    const out = inline(hostile);
    expect(out).not.toMatch(/<\/?[a-z]/i);
    expect(out).not.toContain('@octocat');
    expect(out).not.toContain('![');
    expect(out).not.toContain('](');
    expect(out).not.toMatch(/(?<!\\)\|/);
    expect(out).not.toContain('https://');
    expect(out).toContain('&lt;/details&gt;');
  });

  it('inline text is one line and bounded', () => {
    expect(inline('a\n\nb\r\nc')).toBe('a b c');
    expect(inline('x'.repeat(1000), 50)).toHaveLength(50);
  });

  it('a code block fence outgrows any backtick run in the output, so the output cannot close it', () => {
    const out = codeBlock('before\n```\n</details>\n````\nafter');
    const fence = out.split('\n')[0].replace('text', '');
    expect(fence).toBe('`````');
    expect(out.endsWith(`\n${fence}`)).toBe(true);
    expect(out.split('\n').filter((l) => l.startsWith(fence))).toHaveLength(2);
  });

  it('a code block drops control characters and truncates long output, saying so', () => {
    const out = codeBlock(`a\u0007b\u202e${'y'.repeat(3000)}`, 100);
    expect(out).not.toMatch(/[\u0007\u202e]/);
    expect(out).toMatch(/more characters in the results file/);
  });
});
