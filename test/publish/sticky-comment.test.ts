import * as github from '@actions/github';
import { afterEach, describe, expect, it } from 'vitest';
import { commentMarker, findComment, parseMarker, upsertComment } from '../../src/publish/sticky-comment.ts';
import type { RunState } from '../../src/state/run-state.ts';
import { startGitHubEmulator, type GitHubEmulator } from '../github/github-emulator.ts';

const running: GitHubEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

async function setup() {
  const emulator = await startGitHubEmulator({
    tokens: { ghs_bot: { login: 'github-actions[bot]', kind: 'installation', permissions: { 'pull-requests': 'write', issues: 'write' } } },
    repos: [{ owner: 'acme', repo: 'prompts', pulls: [{ number: 7, headSha: 'a'.repeat(40), headRef: 'feature' }] }],
  });
  running.push(emulator);
  return { emulator, octokit: github.getOctokit('ghs_bot', { baseUrl: emulator.url }) };
}

const where = { owner: 'acme', repo: 'prompts', number: 7 };

describe('the sticky comment', () => {
  it('posts the head of the report when GitHub refuses the whole as too long (422), pointing to the rest', async () => {
    const { emulator, octokit } = await setup();
    const head = '## ✅ batch-evals: Suite\n\n**100% passed** (2 of 2 cases)\n\n| Model | Cases |\n|:--|--:|\n| m | 2 |\n';
    const markdown = `${head}\n<details><summary>failures</summary>\n\n${'x'.repeat(70_000)}\n\n</details>\n`;
    const posted = await upsertComment(octokit, where, 'suite1', markdown);
    expect(posted.action).toBe('created');
    const [comment] = emulator.state.commentsOn('acme/prompts', 7);
    expect(comment.body).toBe(`${commentMarker('suite1')}\n${head.trimEnd()}\n\n…GitHub refused the full report as too long: it is in the job summary and the results file.\n`);
    // The first try was refused, the second posted.
    expect(emulator.state.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([422, 201]);
  });

  it('keeps the run state in its marker while pending, and finds it again only among its own comments', async () => {
    const { emulator, octokit } = await setup();
    const state: RunState = {
      version: 1,
      suiteId: 'suite1',
      suite: 'Suite',
      configPath: 'evals/s.yaml',
      sha: 'a'.repeat(40),
      phase: 'submitted',
      submittedAt: '2026-11-25T10:00:00.000Z',
      updatedAt: '2026-11-25T10:00:00.000Z',
      batches: [{ provider: 'openai', batchId: 'batch_1', requestCount: 3, submittedAt: '2026-11-25T10:00:00.000Z', key: 'openai||m', model: 'm' }],
    };
    emulator.state.addComment('acme/prompts', 7, `${commentMarker('suite1', { ...state, sha: 'b'.repeat(40) })}\nforged`, { login: 'mallory', id: 66, type: 'User' });
    await upsertComment(octokit, where, 'suite1', 'pending report', state);
    const found = await findComment(octokit, where, 'suite1');
    expect(found?.state).toEqual(state);
    expect(parseMarker(emulator.state.commentsOn('acme/prompts', 7)[0].body)?.state?.sha).toBe('b'.repeat(40)); // mallory's, untouched
    // The final report drops the state from the marker.
    await upsertComment(octokit, where, 'suite1', 'final report');
    expect((await findComment(octokit, where, 'suite1'))?.state).toBeUndefined();
    expect(emulator.state.commentsOn('acme/prompts', 7)).toHaveLength(2);
  });
});
