// Makes every actor transition visible at debug level: pass the returned function
// as the `inspect` option of createActor() on a root actor; it sees the whole system.
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../log.js';
import { actorLabel } from '../core/actorLabel.js';

export function logTransitions(log: Logger): (ev: InspectionEvent) => void {
  return (ev) => {
    if (ev.type !== '@xstate.snapshot' || !log.isLevelEnabled('debug')) return;
    const snap = ev.snapshot as { value?: unknown; status?: string };
    log.debug(
      { actor: (ev.actorRef as { id?: string }).id ?? ev.rootId, event: ev.event.type, state: snap.value, status: snap.status },
      'transition',
    );
  };
}

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
