/**
 * The whole run, offline: starts the project's OpenAI Batch API emulator with scripted answers for the
 * quickstart suite, runs the CLI against it exactly as a user would against the real API, and prints the
 * PR comment the action would post.
 *
 *   npm run demo                     # the quickstart suite
 *   npm run demo -- path/to/suite.yaml   # any suite (the emulator's default responder answers it)
 */
import { fileURLToPath } from 'node:url';
import { main as cli } from '../src/cli.ts';
import { startOpenAIEmulator } from '../test/emulator/openai-emulator.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const suite = process.argv[2] ?? `${root}examples/quickstart/promptfooconfig.yaml`;
const script = process.argv[2] ? undefined : `${root}test/emulator/quickstart-script.yaml`;

// Batches move through validating -> in_progress -> finalizing -> completed in a few seconds, so the log
// shows the polling a real run does over minutes.
const emulator = await startOpenAIEmulator({ script, validatingMs: 500, inProgressMs: 2_000, finalizingMs: 500 });
console.error(`demo: OpenAI Batch API emulator on ${emulator.url}${script ? ' (answers scripted for the quickstart)' : ''}`);
console.error(`demo: running \`batch-evals run ${suite}\`; the PR comment follows on stdout\n`);

process.env.OPENAI_API_KEY = 'sk-demo-not-a-real-key';
try {
  process.exitCode = await cli(['run', suite, '--openai-base-url', emulator.url, '--poll-interval', '1s']);
} finally {
  await emulator.close();
}
console.error(`\ndemo: batch-evals exited with ${process.exitCode} (0 passed, 1 some cases failed, 2 bad config, 3 still pending)`);
if (process.exitCode === 1) process.exitCode = 0; // failing cases are part of the demo
