import { permissionProblem, tokenIdentity, type Octokit } from './github.ts';

/** GitHub refuses comments longer than this (422). */
export const COMMENT_MAX_CHARS = 65_536;

/** The hidden line that finds a suite's comment again; one comment per suite and pull request. */
export function commentMarker(suiteId: string): string {
  return `<!-- batch-evals suite=${suiteId} -->`;
}

export interface PostedComment {
  action: 'created' | 'updated';
  id: number;
  url: string;
}

/**
 * Edits this suite's comment in place, or writes it the first time. Only comments by the token's own identity
 * count: a look-alike marker in anyone else's comment is ignored, never edited.
 */
export async function upsertComment(
  octokit: Octokit,
  where: { owner: string; repo: string; number: number },
  suiteId: string,
  markdown: string,
): Promise<PostedComment> {
  const marker = commentMarker(suiteId);
  const body = `${marker}\n${markdown}`;
  const me = await tokenIdentity(octokit);
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner: where.owner, repo: where.repo, issue_number: where.number, per_page: 100 });
  const mine = comments.find((c) => c.user?.login === me && c.body?.startsWith(marker));
  try {
    if (mine) {
      const { data } = await octokit.rest.issues.updateComment({ owner: where.owner, repo: where.repo, comment_id: mine.id, body });
      return { action: 'updated', id: data.id, url: data.html_url };
    }
    const { data } = await octokit.rest.issues.createComment({ owner: where.owner, repo: where.repo, issue_number: where.number, body });
    return { action: 'created', id: data.id, url: data.html_url };
  } catch (err) {
    throw permissionProblem(err, 'comment on the pull request', 'pull-requests: write') ?? err;
  }
}
