/**
 * The whole run, offline: starts the project's emulators of OpenAI's Batch API and Anthropic's Message Batches
 * with scripted answers for the quickstart suite, runs the CLI against it exactly as a user would against the real API, and prints the
 * PR comment the action would post.
 *
 *   npm run demo                     # the quickstart suite
 *   npm run demo -- path/to/suite.yaml   # any suite (the emulator's default responder answers it)
 */
import { fileURLToPath } from 'node:url';
import { main as cli } from '../src/cli.ts';
import { startAnthropicEmulator } from '../test/emulator/anthropic-emulator.ts';
import { startOpenAIEmulator } from '../test/emulator/openai-emulator.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const suite = process.argv[2] ?? `${root}examples/quickstart/promptfooconfig.yaml`;
const script = process.argv[2] ? undefined : `${root}test/emulator/quickstart-script.yaml`;

// Batches move through validating -> in_progress -> finalizing -> completed in a few seconds, so the log
// shows the polling a real run does over minutes.
const openai = await startOpenAIEmulator({ script, validatingMs: 500, inProgressMs: 2_000, finalizingMs: 500 });
const anthropic = await startAnthropicEmulator({ script, inProgressMs: 3_000 });
console.error(`demo: OpenAI Batch API emulator on ${openai.url}, Anthropic Message Batches emulator on ${anthropic.url}`);
if (script) console.error('demo: their answers are scripted for the quickstart (test/emulator/quickstart-script.yaml)');
console.error(`demo: running \`batch-evals run ${suite}\`; the PR comment follows on stdout\n`);

process.env.OPENAI_API_KEY = 'sk-demo-not-a-real-key';
process.env.ANTHROPIC_API_KEY = 'sk-ant-demo-not-a-real-key';
try {
  process.exitCode = await cli(['run', suite, '--openai-base-url', openai.url, '--anthropic-base-url', anthropic.url, '--poll-interval', '1s']);
} finally {
  await Promise.all([openai.close(), anthropic.close()]);
}
console.error(`\ndemo: batch-evals exited with ${process.exitCode} (0 passed, 1 some cases failed, 2 bad config, 3 still pending)`);
if (process.exitCode === 1) process.exitCode = 0; // failing cases are part of the demo
