// The programmatic API of omirr: everything the CLI uses is exported from here.
// One line per module; each module documents its own exports (see docs/api.md).
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './log.js';
export { logTransitions } from './actors/transitionLog.js';
export { VERSION } from './version.js';
