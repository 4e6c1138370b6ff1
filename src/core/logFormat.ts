// The log formats every command offers (`--log-format`, $OMIRR_LOG_FORMAT): a module of its
// own, without pino, so the command line can check the option before any logger is loaded.
// What each format looks like, and why text is the default: src/log.ts.
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The format asked for by $OMIRR_LOG_FORMAT, else text. An unknown value is text (the CLI refuses it first). */
export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env): LogFormat {
  return env.OMIRR_LOG_FORMAT === 'json' ? 'json' : 'text';
}
