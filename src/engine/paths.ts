// The path rules moved down: the pure ones to src/core/paths.ts, assertRealDirChain (file
// system) to src/workers/paths.ts, so the workers no longer import the engine. Re-exported
// here so the engine, net and daemon modules that import them from here are unchanged.
export * from '../workers/paths.js';
