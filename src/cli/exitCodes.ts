// The CLI's exit codes live in src/core/exitCodes.ts (parsers below the CLI throw UsageError
// too, and dependencies point down); re-exported here so the commands keep importing them
// from their own directory.
export { EXIT, UsageError } from '../core/exitCodes.js';
