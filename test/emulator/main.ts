/**
 * The OpenAI emulator as a standalone server:
 *   node test/emulator/main.ts [--port N] [--host H] [--script file.yaml] [--instant]
 *                              [--validating-ms N] [--in-progress-ms N] [--finalizing-ms N] [--expire-after-ms N]
 */
import { parseArgs } from 'node:util';
import { startOpenAIEmulator } from './openai-emulator.ts';

const USAGE = `usage: node test/emulator/main.ts [--port N] [--host H] [--script file.yaml] [--instant]
                                  [--validating-ms N] [--in-progress-ms N] [--finalizing-ms N] [--expire-after-ms N]`;

function main(): Promise<void> | void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        script: { type: 'string' },
        instant: { type: 'boolean' },
        'validating-ms': { type: 'string' },
        'in-progress-ms': { type: 'string' },
        'finalizing-ms': { type: 'string' },
        'expire-after-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const number = (name: keyof typeof values): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) {
      console.error(`--${name} must be a non-negative integer, got ${raw}`);
      process.exit(2);
    }
    return n;
  };

  return startOpenAIEmulator({
    port: number('port') ?? 0,
    host: values.host,
    script: values.script,
    instant: values.instant,
    validatingMs: number('validating-ms'),
    inProgressMs: number('in-progress-ms'),
    finalizingMs: number('finalizing-ms'),
    expireAfterMs: number('expire-after-ms'),
  }).then((emulator) => {
    console.log(`OpenAI emulator listening on ${emulator.url}`);
    console.log(`${values.script ? `Answers scripted by ${values.script}` : 'Answers from the default responder'}${values.instant ? ', batches complete instantly' : ''}.`);
    console.log('Point batch-evals at it with:');
    console.log(`  OPENAI_API_KEY=emulator npm run cli -- run <config.yaml> --openai-base-url ${emulator.url}`);
    console.log('or, for any OpenAI SDK: OPENAI_API_KEY=emulator OPENAI_BASE_URL=' + emulator.url);
    console.log('Ctrl-C to stop.');

    const stop = (signal: string) => {
      console.log(`\n${signal}: stopping the emulator`);
      emulator.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

await main();
