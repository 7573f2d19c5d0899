import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { GRADING_PROMPTS } from '../../src/grade/prompts.ts';

it('docs/grading.md shows every grading prompt exactly as sent', () => {
  const doc = readFileSync(new URL('../../docs/grading.md', import.meta.url), 'utf8');
  for (const [type, messages] of Object.entries(GRADING_PROMPTS)) {
    for (const m of messages) expect(doc, `${type} ${m.role} message`).toContain(`\`\`\`text\n${m.content}\n\`\`\``);
  }
});
