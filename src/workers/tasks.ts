// The piscina worker module: every task omirr runs in a worker, as named exports
// (pool.run(task, { name })). See pool.ts for which pool runs which.
export { scan, hash, partSizes, apply, lstatMany } from './fsTasks.js';
export { packBatch, extract } from './tarTasks.js';
export { copyFiles } from './copyTasks.js';

/** No work: warmPools() runs one per thread to start the threads early. */
export function ping(): null {
  return null;
}
export { deltaStat, deltaSign, deltaMatch, deltaApply, deltaHash } from './deltaTasks.js';
