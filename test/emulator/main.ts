/**
 * The emulators as a standalone server:
 *   node test/emulator/main.ts [--provider openai|anthropic|both] [--port N] [--anthropic-port N] [--host H]
 *                              [--script file.yaml] [--faults file.yaml] [--instant] [--in-progress-ms N]
 *                              [--expire-after-ms N]
 *                              [--validating-ms N] [--finalizing-ms N] [--cancelling-ms N]   (OpenAI)
 *                              [--canceling-ms N]                                            (Anthropic)
 * --provider openai (the default) serves OpenAI's Files and Batch APIs on --port; anthropic serves Anthropic's
 * Message Batches API on --port; both serves OpenAI on --port and Anthropic on --anthropic-port (default any free
 * port). --anthropic-port alone means both. The script, the faults, --instant and the timings apply to every server
 * started (with both, every fault in the file must suit both providers).
 */
import { parseArgs } from 'node:util';
import { startAnthropicEmulator } from './anthropic-emulator.ts';
import { loadFaults } from './faults.ts';
import { startOpenAIEmulator } from './openai-emulator.ts';

const USAGE = `usage: node test/emulator/main.ts [--provider openai|anthropic|both] [--port N] [--anthropic-port N] [--host H]
                                  [--script file.yaml] [--faults file.yaml] [--instant] [--in-progress-ms N] [--expire-after-ms N]
                                  [--validating-ms N] [--finalizing-ms N] [--cancelling-ms N]   (OpenAI)
                                  [--canceling-ms N]                                            (Anthropic)`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        provider: { type: 'string' },
        port: { type: 'string' },
        'anthropic-port': { type: 'string' },
        host: { type: 'string' },
        script: { type: 'string' },
        faults: { type: 'string' },
        instant: { type: 'boolean' },
        'validating-ms': { type: 'string' },
        'in-progress-ms': { type: 'string' },
        'finalizing-ms': { type: 'string' },
        'cancelling-ms': { type: 'string' },
        'canceling-ms': { type: 'string' },
        'expire-after-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return usageError((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const provider = values.provider ?? (values['anthropic-port'] !== undefined ? 'both' : 'openai');
  if (provider !== 'openai' && provider !== 'anthropic' && provider !== 'both') return usageError(`--provider must be openai, anthropic or both, got ${provider}`);
  if (provider !== 'both' && values['anthropic-port'] !== undefined) return usageError(`--anthropic-port is for --provider both (with --provider ${provider}, use --port)`);
  const number = (name: keyof typeof values): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (typeof raw !== 'string' || !Number.isInteger(n) || n < 0) {
      console.error(`--${name} must be a non-negative integer, got ${raw}`);
      process.exit(2);
    }
    return n;
  };
  const common = { host: values.host, script: values.script, instant: values.instant, inProgressMs: number('in-progress-ms'), expireAfterMs: number('expire-after-ms') };

  const closers: (() => Promise<void>)[] = [];
  try {
    if (provider !== 'anthropic') {
      const emulator = await startOpenAIEmulator({
        ...common,
        faults: values.faults === undefined ? undefined : loadFaults(values.faults, 'openai'),
        port: number('port') ?? 0,
        validatingMs: number('validating-ms'),
        finalizingMs: number('finalizing-ms'),
        cancellingMs: number('cancelling-ms'),
      });
      closers.push(emulator.close);
      console.log(`OpenAI emulator listening on ${emulator.url}`);
      console.log(`${values.script ? `Answers scripted by ${values.script}` : 'Answers from the default responder'}${values.instant ? ', batches complete instantly' : ''}${values.faults ? `, faults from ${values.faults}` : ''}.`);
      console.log('Point batch-evals at it with:');
      console.log(`  OPENAI_API_KEY=emulator npm run cli -- run <config.yaml> --openai-base-url ${emulator.url}`);
      console.log('or, for any OpenAI SDK: OPENAI_API_KEY=emulator OPENAI_BASE_URL=' + emulator.url);
    }
    if (provider !== 'openai') {
      const emulator = await startAnthropicEmulator({
        ...common,
        faults: values.faults === undefined ? undefined : loadFaults(values.faults, 'anthropic'),
        port: (provider === 'both' ? number('anthropic-port') : number('port')) ?? 0,
        cancelingMs: number('canceling-ms'),
      });
      closers.push(emulator.close);
      console.log(`Anthropic emulator listening on ${emulator.url}`);
      console.log(`${values.script ? `Answers scripted by ${values.script}` : 'Answers from the default responder'}${values.instant ? ', batches end instantly' : ''}${values.faults ? `, faults from ${values.faults}` : ''}.`);
      console.log('Point any Anthropic SDK at it with: ANTHROPIC_API_KEY=emulator ANTHROPIC_BASE_URL=' + emulator.url);
    }
  } catch (error) {
    await Promise.allSettled(closers.map((close) => close()));
    throw error;
  }
  console.log('Ctrl-C to stop.');

  const stop = (signal: string) => {
    console.log(`\n${signal}: stopping the emulator${closers.length > 1 ? 's' : ''}`);
    Promise.all(closers.map((close) => close())).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

function usageError(message: string): void {
  console.error(`${message}\n${USAGE}`);
  process.exitCode = 2;
}

await main();
