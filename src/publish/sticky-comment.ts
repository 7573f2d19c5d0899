import { decodeState, encodeState, isUnfinished, type RunState } from '../state/run-state.ts';
import { httpStatus, permissionProblem, tokenIdentity, type Octokit } from './github.ts';

/** GitHub refuses comments longer than this (422). */
export const COMMENT_MAX_CHARS = 65_536;

/**
 * The hidden first line that finds a suite's comment again (one per suite and pull request). It carries the
 * run's state while batches are pending, so a scheduled job, which cannot read a PR's cache, can resume it.
 */
export function commentMarker(suiteId: string, state?: RunState): string {
  return `<!-- batch-evals suite=${suiteId}${state ? ` state=${encodeState(state)}` : ''} -->`;
}

const MARKER = /^<!-- batch-evals suite=([\w-]+)(?: state=([\w-]+))? -->/;

export function parseMarker(body: string | undefined): { suiteId: string; state?: RunState } | undefined {
  const match = body ? MARKER.exec(body) : null;
  if (!match) return undefined;
  return { suiteId: match[1], state: match[2] ? decodeState(match[2]) : undefined };
}

export interface Where {
  owner: string;
  repo: string;
  number: number;
}

export interface OurComment {
  id: number;
  url: string;
  state?: RunState;
}

/** This suite's comment on the PR, among the comments of the token's own identity only: look-alikes are ignored. */
export async function findComment(octokit: Octokit, where: Where, suiteId: string, me?: string): Promise<OurComment | undefined> {
  const login = me ?? (await tokenIdentity(octokit));
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner: where.owner, repo: where.repo, issue_number: where.number, per_page: 100 });
  for (const c of comments) {
    if (c.user?.login !== login) continue;
    const marker = parseMarker(c.body);
    if (marker?.suiteId === suiteId) return { id: c.id, url: c.html_url, state: marker.state };
  }
  return undefined;
}

export interface PostedComment {
  action: 'created' | 'updated';
  id: number;
  url: string;
}

/** Edits this suite's comment in place, or writes it the first time. */
export async function upsertComment(octokit: Octokit, where: Where, suiteId: string, markdown: string, state?: RunState): Promise<PostedComment> {
  const body = `${commentMarker(suiteId, state)}\n${markdown}`;
  const mine = await findComment(octokit, where, suiteId);
  try {
    if (mine) {
      const { data } = await octokit.rest.issues.updateComment({ owner: where.owner, repo: where.repo, comment_id: mine.id, body });
      return { action: 'updated', id: data.id, url: data.html_url };
    }
    const { data } = await octokit.rest.issues.createComment({ owner: where.owner, repo: where.repo, issue_number: where.number, body });
    return { action: 'created', id: data.id, url: data.html_url };
  } catch (err) {
    const refused = permissionProblem(err, 'comment on the pull request', 'pull-requests: write');
    if (refused) throw refused;
    // GitHub measures length its own way: past its limit (422), post the head of the report and point to the rest.
    if (httpStatus(err) === 422 && body.length > 4_000) {
      const short = `${reportHead(markdown)}\n\n…GitHub refused the full report as too long: it is in the job summary and the results file.\n`;
      return upsertComment(octokit, where, suiteId, short, state);
    }
    throw err;
  }
}

/** Pending runs recorded in this identity's comments on the repository's open pull requests. */
export async function pendingFromComments(octokit: Octokit, owner: string, repo: string): Promise<{ pr: number; state: RunState }[]> {
  const me = await tokenIdentity(octokit);
  const pulls = await octokit.paginate(octokit.rest.pulls.list, { owner, repo, state: 'open', per_page: 100 });
  const found: { pr: number; state: RunState }[] = [];
  for (const pull of pulls) {
    const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: pull.number, per_page: 100 });
    for (const c of comments) {
      if (c.user?.login !== me) continue;
      const state = parseMarker(c.body)?.state;
      if (isUnfinished(state)) found.push({ pr: pull.number, state });
    }
  }
  return found;
}

/** The report's head (title, headline, table), which holds no code block: cut before the first chart or section. */
function reportHead(markdown: string): string {
  const ends = ['\n```', '\n<details', '\n### '].map((m) => markdown.indexOf(m)).filter((i) => i > 0);
  const end = Math.min(3_000, ...ends);
  const head = markdown.slice(0, end);
  return end === 3_000 ? head.slice(0, Math.max(head.lastIndexOf('\n\n'), 0)) : head.trimEnd();
}
