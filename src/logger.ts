/** Where the pipeline reports progress: @actions/core in the action, the console in the CLI. */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
}

export const consoleLogger: Logger = {
  info: (m) => console.error(m),
  warning: (m) => console.error(`warning: ${m}`),
  debug: (m) => {
    if (process.env.BATCH_EVALS_DEBUG) console.error(`debug: ${m}`);
  },
};
