// logTransitions moved to src/logTransitions.ts (beside log.ts) so that the engine can use it
// without importing the actors; re-exported here for the modules that import it from here.
export { logTransitions } from '../logTransitions.js';
