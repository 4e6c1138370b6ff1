// Makes every actor transition visible at debug level: pass the returned function
// as the `inspect` option of createActor() on a root actor; it sees the whole system.
// Beside log.ts (not in src/actors) because the engine uses it too and dependencies point down.
import type { InspectionEvent } from 'xstate';
import type { Logger } from './log.js';

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
