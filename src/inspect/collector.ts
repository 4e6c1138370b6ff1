// Keeps a live picture of every actor in one or more xstate systems, fed by xstate's
// `inspect` option: who exists (and who spawned whom), which machine each one runs,
// its current state value and status, and the last events it received with their
// times. Readers get JSON-safe copies; writers are only xstate's inspection events.
// Work per inspection event is small and bounded (a ring of events per actor);
// contexts are turned into JSON only when someone asks for them.
import type { AnyActorRef, AnyStateMachine, InspectionEvent } from 'xstate';
import { activeStateIds, formatDelay, isStateMachine, machineGraph, type MachineGraph } from './graph.js';
import { layoutGraph, type ChartLayout } from './layout.js';
import { toJsonSafe } from './jsonSafe.js';
import { actorLabel } from '../core/actorLabel.js';

export interface ActorSummary {
  /** Unique per process (xstate's sessionId). */
  id: string;
  /** The actor's own id (invoke/spawn id, e.g. `job:site:package`). */
  name: string;
  /** What a person calls it (`peer beta`, `tree www`, `job site:pkg`, `lock job`): src/core/actorLabel.ts. */
  label: string;
  systemId?: string;
  parent?: string;
  /** The logic's name as given to invoke/spawn (`src`), when it was a name. */
  src?: string;
  /** Set for state machines: which chart to draw (see graph()). */
  graphId?: string;
  machineId?: string;
  value?: unknown;
  /** xstate's snapshot status: active, done, error, stopped. */
  status: string;
  /** Events received so far. */
  eventCount: number;
  startedAt: number;
  updatedAt: number;
  endedAt?: number;
}

export interface EventEntry {
  seq: number;
  /** Epoch milliseconds when the actor received it. */
  at: number;
  type: string;
  /** Sender's id (sessionId), when another actor sent it. */
  from?: string;
  fromName?: string;
  payload?: unknown;
  /** The state value after the actor processed it. */
  value?: unknown;
}

export interface TimerInfo {
  event: string;
  label: string;
  delayMs: number;
  /** Epoch milliseconds when it fires. */
  dueAt: number;
}

export interface ActorDetail extends ActorSummary {
  /** The state node ids lit in the chart. */
  active?: string[];
  context?: unknown;
  output?: unknown;
  error?: unknown;
  tags?: string[];
  timers: TimerInfo[];
  events: EventEntry[];
}

export type CollectorChange =
  | { type: 'added'; id: string }
  | { type: 'updated'; id: string }
  | { type: 'event'; id: string }
  | { type: 'ended'; id: string }
  | { type: 'removed'; id: string };

export interface CollectorOptions {
  /** Events kept per actor (default 200). */
  maxEvents?: number;
  /** Ended actors kept for viewing after they stop (default 100). */
  keepEnded?: number;
  /** Clock for event times (default Date.now). */
  now?: () => number;
}

interface Record_ {
  summary: ActorSummary;
  ref?: AnyActorRef; // dropped when the actor ends
  snapshot?: unknown;
  final?: Omit<ActorDetail, keyof ActorSummary | 'events'>; // frozen view once ended
  events: EventEntry[];
}

type AnyRef = AnyActorRef & { _parent?: AnyActorRef; src?: unknown; logic?: unknown; systemId?: string };

const EVENT_LIMITS = { maxDepth: 3, maxString: 200, maxKeys: 20, maxItems: 10 };

export class ActorCollector {
  private readonly actors = new Map<string, Record_>();
  private readonly ended: string[] = [];
  private readonly graphIds = new WeakMap<AnyStateMachine, string>();
  private readonly graphs = new Map<string, { machine: AnyStateMachine; graph?: MachineGraph; layout?: ChartLayout }>();
  private readonly listeners = new Set<(c: CollectorChange) => void>();
  private readonly maxEvents: number;
  private readonly keepEnded: number;
  private readonly now: () => number;
  private seq = 0;

  constructor(opts: CollectorOptions = {}) {
    this.maxEvents = opts.maxEvents ?? 200;
    this.keepEnded = opts.keepEnded ?? 100;
    this.now = opts.now ?? Date.now;
  }

  /** Pass as `createActor(logic, { inspect: collector.inspect })`; it sees the whole system. */
  readonly inspect = (ev: InspectionEvent): void => {
    const ref = ev.actorRef as AnyRef;
    switch (ev.type) {
      case '@xstate.actor':
        this.track(ref);
        return;
      case '@xstate.event': {
        const rec = this.track(ref);
        const src = ev.sourceRef as AnyRef | undefined;
        const { type, ...rest } = ev.event;
        const entry: EventEntry = { seq: ++this.seq, at: this.now(), type };
        if (src) {
          entry.from = src.sessionId;
          entry.fromName = src.id;
        }
        if (Object.keys(rest).length) entry.payload = toJsonSafe(rest, EVENT_LIMITS);
        rec.events.push(entry);
        if (rec.events.length > this.maxEvents) rec.events.splice(0, rec.events.length - this.maxEvents);
        rec.summary.eventCount++;
        this.emit({ type: 'event', id: rec.summary.id });
        return;
      }
      case '@xstate.snapshot': {
        const rec = this.track(ref);
        const snap = ev.snapshot as { status?: string; value?: unknown };
        rec.snapshot = ev.snapshot;
        rec.summary.status = snap.status ?? 'active';
        if ('value' in snap) rec.summary.value = toJsonSafe(snap.value);
        rec.summary.updatedAt = this.now();
        // the latest event of this type is the one that led here
        for (let i = rec.events.length - 1; i >= 0; i--) {
          const e = rec.events[i]!;
          if (e.type === ev.event.type) {
            if (!('value' in e)) e.value = rec.summary.value;
            break;
          }
        }
        if (rec.summary.status !== 'active' && rec.summary.endedAt === undefined) this.end(rec);
        else this.emit({ type: 'updated', id: rec.summary.id });
        return;
      }
      default:
        return;
    }
  };

  private track(ref: AnyRef): Record_ {
    const id = ref.sessionId;
    let rec = this.actors.get(id);
    if (rec) return rec;
    const t = this.now();
    const summary: ActorSummary = { id, name: ref.id, label: '', status: 'active', eventCount: 0, startedAt: t, updatedAt: t };
    if (ref.systemId) summary.systemId = ref.systemId;
    if (ref._parent) summary.parent = ref._parent.sessionId;
    if (typeof ref.src === 'string') summary.src = ref.src;
    const logic = ref.logic;
    if (isStateMachine(logic)) {
      summary.graphId = this.graphIdOf(logic);
      summary.machineId = logic.id;
      // a root actor's id is only its session id: its machine's name says more
      if (ref.id === ref.sessionId) summary.name = logic.id;
    }
    summary.label = actorLabel(summary.name, summary.src);
    rec = { summary, ref, events: [] };
    this.actors.set(id, rec);
    this.emit({ type: 'added', id });
    return rec;
  }

  private graphIdOf(m: AnyStateMachine): string {
    let gid = this.graphIds.get(m);
    if (!gid) {
      gid = m.id;
      for (let n = 2; this.graphs.has(gid); n++) gid = `${m.id}~${n}`;
      this.graphIds.set(m, gid);
      this.graphs.set(gid, { machine: m });
    }
    return gid;
  }

  private end(rec: Record_): void {
    rec.summary.endedAt = this.now();
    rec.final = this.liveDetail(rec);
    rec.final.timers = [];
    rec.ref = undefined;
    rec.snapshot = undefined;
    this.ended.push(rec.summary.id);
    this.emit({ type: 'ended', id: rec.summary.id });
    while (this.ended.length > this.keepEnded) {
      const old = this.ended.shift()!;
      this.actors.delete(old);
      this.emit({ type: 'removed', id: old });
    }
  }

  private liveDetail(rec: Record_): Omit<ActorDetail, keyof ActorSummary | 'events'> {
    const snap = rec.snapshot as { context?: unknown; output?: unknown; error?: unknown; tags?: Set<string> } | undefined;
    const out: Omit<ActorDetail, keyof ActorSummary | 'events'> = { timers: this.timersOf(rec) };
    if (rec.summary.graphId && rec.summary.value !== undefined) {
      out.active = activeStateIds(this.graph(rec.summary.graphId)!.graph, rec.summary.value);
    }
    if (snap) {
      if (snap.context !== undefined) out.context = toJsonSafe(snap.context);
      if (snap.output !== undefined) out.output = toJsonSafe(snap.output);
      if (snap.error !== undefined) out.error = toJsonSafe(snap.error);
      if (snap.tags instanceof Set && snap.tags.size) out.tags = [...snap.tags];
    }
    return out;
  }

  /** Delayed events this actor has scheduled (its `after` timers and delayed sends). */
  private timersOf(rec: Record_): TimerInfo[] {
    const ref = rec.ref as (AnyRef & { system?: { getSnapshot?: () => { _scheduledEvents?: Record<string, unknown> } } }) | undefined;
    const scheduled = ref?.system?.getSnapshot?.()._scheduledEvents;
    if (!scheduled) return [];
    const out: TimerInfo[] = [];
    for (const s of Object.values(scheduled) as { source: unknown; event: { type: string }; delay: number; startedAt: number }[]) {
      if (s.source !== ref) continue;
      const m = /^xstate\.after\.(.+?)\.(.+)$/.exec(s.event.type);
      const label = m ? `after ${/^\d+$/.test(m[1]!) ? formatDelay(Number(m[1])) : `${m[1]} (${formatDelay(s.delay)})`}` : s.event.type;
      out.push({ event: s.event.type, label, delayMs: s.delay, dueAt: s.startedAt + s.delay });
    }
    return out.sort((a, b) => a.dueAt - b.dueAt);
  }

  /** Every known actor (live ones and the most recently ended), parents before children. */
  list(): ActorSummary[] {
    return [...this.actors.values()].map((r) => ({ ...r.summary }));
  }

  get(id: string): ActorDetail | undefined {
    const rec = this.actors.get(id);
    if (!rec) return undefined;
    const extra = rec.final ?? this.liveDetail(rec);
    return { ...rec.summary, ...extra, events: rec.events.map((e) => ({ ...e })) };
  }

  /** The chart of a machine some actor runs, with its layout, by ActorSummary.graphId. */
  graph(graphId: string): { graph: MachineGraph; layout: ChartLayout } | undefined {
    const g = this.graphs.get(graphId);
    if (!g) return undefined;
    g.graph ??= machineGraph(g.machine);
    g.layout ??= layoutGraph(g.graph);
    return { graph: g.graph, layout: g.layout };
  }

  /** Called synchronously on every change; returns the unsubscribe function. */
  subscribe(fn: (c: CollectorChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(c: CollectorChange): void {
    for (const fn of this.listeners) {
      try {
        fn(c);
      } catch {
        // a broken listener must not break the actor system that feeds us
      }
    }
  }
}
