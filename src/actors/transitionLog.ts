// logTransitions moved to src/logTransitions.ts (beside log.ts) so that the engine can use it
// without importing the actors; re-exported here for the modules that import it from here.
// logFailures: every actor's new lastError, in the log (the daemon's inspect hook).
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../log.js';
import { actorLabel } from '../core/actorLabel.js';

export { logTransitions } from '../logTransitions.js';

/** Network errors of a peer that is down or unreachable (retried with backoff). */
const TRANSIENT = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|timed out|socket hang up|connection closed/i;

/**
 * Logs, at error level (warn for a peer that is only unreachable), each new `lastError` of any actor (a tree whose directory is gone, a
 * peer that refused our key): the reason `omirr status` shows, also in the log. Each actor's
 * error is logged when it changes, not at every retry of the same failure.
 */
export function logFailures(log: Logger): (ev: InspectionEvent) => void {
  const last = new Map<string, string>();
  return (ev) => {
    if (ev.type !== '@xstate.snapshot') return;
    const id = (ev.actorRef as { id?: string }).id ?? ev.rootId;
    const snap = ev.snapshot as { value?: unknown; context?: { lastError?: unknown } };
    const error = snap.context?.lastError;
    if (typeof error !== 'string' || error === '') {
      if (error === null) last.delete(id);
      return;
    }
    if (last.get(id) === error) return;
    last.set(id, error);
    // A peer that is down or unreachable is retried and is normal while hosts restart: warn.
    // Anything else (a refused key, a tree that cannot be watched) needs a person: error.
    const level = id.startsWith('peer:') && TRANSIENT.test(error) ? 'warn' : 'error';
    log[level]({ actor: id, state: snap.value }, `${actorLabel(id)}: ${error}`);
  };
}
