import { errorMessage, runScript, snippet } from './script.ts';

export interface TransformContext {
  vars: Record<string, unknown>;
  prompt: string;
  provider: string;
}

/**
 * Runs an inline promptfoo transform over the output: `output` and `context` are in scope; a one-line transform
 * is an expression, a multi-line one a function body with `return`. Throws, naming the transform, when it
 * throws or returns nothing.
 */
export function applyTransform(code: string, output: unknown, context: TransformContext): unknown {
  let result: unknown;
  try {
    result = runScript(code, { output, context });
  } catch (err) {
    throw new Error(`transform \`${snippet(code)}\` failed: ${errorMessage(err)}`);
  }
  if (result === undefined || result === null) {
    const hint = code.trimEnd().includes('\n') ? ' (a multi-line transform is a function body and needs `return`)' : '';
    throw new Error(`transform \`${snippet(code)}\` returned ${result}${hint}`);
  }
  if (result instanceof Promise) {
    throw new Error(`transform \`${snippet(code)}\` returned a Promise; async transforms are not supported`);
  }
  return result;
}
