// Optional bridge to Stately's own inspector (@statelyai/inspect). It is not a
// dependency of omirr: Stately's UI lives online, so it is loaded only when asked for.
// `createSkyInspector` (the default) prints a stately.ai URL for live viewing;
// given a ws:// URL, events go to that WebSocket instead (Stately's local relay).
import type { InspectionEvent } from 'xstate';

export interface StatelyBridge {
  inspect: (ev: InspectionEvent) => void;
  stop(): void;
}

export class StatelyUnavailableError extends Error {
  override name = 'StatelyUnavailableError';
}

/** `target`: true (Stately Sky, prints its URL) or a ws:// URL of a WebSocket inspector. */
export async function loadStatelyInspector(target: true | string = true, importer: (name: string) => Promise<unknown> = (n) => import(n)): Promise<StatelyBridge> {
  let mod: Record<string, unknown>;
  try {
    mod = (await importer('@statelyai/inspect')) as Record<string, unknown>;
  } catch (err) {
    throw new StatelyUnavailableError(
      `--stately needs the optional package @statelyai/inspect, which is not installed ` +
        `(npm install @statelyai/inspect next to omirr); omirr's own --inspect page works without it ` +
        `(${(err as Error).message.split('\n')[0]})`,
    );
  }
  type Made = { inspect: unknown; stop?: () => void };
  let made: Made;
  if (typeof target === 'string') {
    const create = mod.createWebSocketInspector as ((o: { url: string }) => Made) | undefined;
    if (typeof create !== 'function') throw new StatelyUnavailableError('@statelyai/inspect has no createWebSocketInspector');
    made = create({ url: target });
  } else {
    const create = mod.createSkyInspector as ((o?: object) => Made) | undefined;
    if (typeof create !== 'function') throw new StatelyUnavailableError('@statelyai/inspect has no createSkyInspector (too old a version?)');
    made = create();
  }
  const insp = made.inspect as ((ev: InspectionEvent) => void) | { next?: (ev: InspectionEvent) => void };
  const inspect = typeof insp === 'function' ? insp : (ev: InspectionEvent) => insp.next?.(ev);
  return { inspect, stop: () => made.stop?.() };
}
