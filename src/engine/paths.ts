// The path rules moved down: the pure ones to src/core/paths.ts, assertRealDirChain (file
// system) to src/workers/paths.ts, so the workers no longer import the engine. Re-exported
// here so the engine, net and daemon modules that import them from here are unchanged (and
// the temporary's name, core/tempPath.ts, which the workers' paths do not re-export: a scan
// does not need node:crypto).
export * from '../workers/paths.js';
export * from '../core/tempPath.js';
