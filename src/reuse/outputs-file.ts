import { readFile, writeFile } from 'node:fs/promises';
import type { Logger } from '../logger.ts';
import { EarlierOutputs } from './earlier-outputs.ts';

/** The CLI's store: a JSON file, read when it exists and written after the run. */
export async function readOutputsFile(path: string, log: Logger): Promise<EarlierOutputs> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new EarlierOutputs();
    throw err;
  }
  const { outputs, problem } = EarlierOutputs.fromDocument(text);
  if (!outputs) {
    log.warning(`${path} was not used for reuse: ${problem}`);
    return new EarlierOutputs();
  }
  log.info(`earlier outputs: ${outputs.size} from ${path}`);
  return outputs;
}

export async function writeOutputsFile(path: string, outputs: EarlierOutputs): Promise<void> {
  await writeFile(path, JSON.stringify(outputs.toDocument()));
}
