import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CaseResult } from '../score/score-run.ts';
import type { BatchFacts, RunStatus } from './markdown.ts';
import type { RunSummary } from './summary.ts';
import { assertionName } from '../config/assertion-types.ts';

export interface ResultsFileData {
  suite: string;
  status: RunStatus;
  minPassRate: number;
  summary: RunSummary;
  batches: BatchFacts[];
  results: CaseResult[];
}

/** Writes every case as JSON, one case at a time, so a large run is never one giant string. */
export async function writeResultsFile(path: string, data: ResultsFileData): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  const { results, ...head } = data;
  await write(`${JSON.stringify({ version: 1, ...head }, null, 2).slice(0, -2)},\n  "cases": [\n`);
  // Some 64 KB at a time: a write per case (200,000 at 200,000 cases) costs the stream more than the JSON does.
  let chunk = '';
  for (let i = 0; i < results.length; i++) {
    chunk += `    ${JSON.stringify(caseRecord(results[i]))}${i < results.length - 1 ? ',' : ''}\n`;
    if (chunk.length >= 65_536) {
      await write(chunk);
      chunk = '';
    }
  }
  out.end(`${chunk}  ]\n}\n`);
  await once(out, 'finish');
}

function caseRecord(r: CaseResult) {
  return {
    provider: r.case.provider,
    model: r.model,
    prompt: r.case.prompt,
    description: r.case.description,
    vars: r.case.vars,
    requestId: r.case.requestId,
    location: r.case.location ? `${r.case.location.file}:${r.case.location.line}` : undefined,
    status: r.status,
    output: r.output,
    error: r.error,
    score: r.score?.score,
    reason: r.score?.reason,
    assertions: r.score?.assertions.map((a) => ({
      type: assertionName(a.assertion),
      value: a.assertion.value,
      pass: a.pass,
      score: a.score,
      reason: a.reason,
      notApplicable: a.notApplicable || undefined,
    })),
    usage: r.usage,
    cost: r.billed ? r.cost : undefined,
  };
}
