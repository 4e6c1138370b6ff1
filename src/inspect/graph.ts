// The statechart of any xstate v5 machine as plain JSON: every state node with its
// nesting, initial child, final/parallel/history type, invoked actors, and every
// transition with its event name, guard, targets and, for `after`, the delay.
// Walks `machine.root` because `machine.toJSON()` leaves out `always` transitions.
// The result is stable (document order) so that docs generated from it diff cleanly.
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export type TransitionKind = 'event' | 'after' | 'always' | 'done' | 'error' | 'wildcard';

export interface GraphTransition {
  /** The raw event type (`xstate.after.1000.job.wait` for a delay, `''` for always). */
  event: string;
  kind: TransitionKind;
  /** What a person reads: `RETRY`, `after 5s`, `after retryDelay`, `always`, `done(fetch)`. */
  label: string;
  /** Milliseconds, or the name of a delay from setup({ delays }). Only for kind 'after'. */
  delay?: number | string;
  guard?: string;
  /** Ids of the target state nodes; empty for a targetless (self, internal) transition. */
  targets: string[];
  /** True when the transition exits and re-enters its source (reenter: true). */
  reenter?: boolean;
  actions?: string[];
}

export interface GraphState {
  /** State node id, unique within the machine (e.g. `job.running.fetch`). */
  id: string;
  key: string;
  /** Path from the root (empty for the root): the keys of its state value. */
  path: string[];
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Id of the initial child (compound states only). */
  initial?: string;
  description?: string;
  tags?: string[];
  /** Actors invoked while in this state: `src` names (or `id` when src is inline). */
  invoke?: { id: string; src: string }[];
  entry?: string[];
  exit?: string[];
  transitions: GraphTransition[];
  children: GraphState[];
}

export interface MachineGraph {
  id: string;
  root: GraphState;
}

function actionName(a: unknown): string {
  if (typeof a === 'string') return a;
  if (typeof a === 'function') {
    const t = (a as { type?: unknown }).type;
    if (typeof t === 'string') return t;
    return a.name && a.name !== 'anonymous' ? a.name : 'inline';
  }
  if (a && typeof a === 'object' && typeof (a as { type?: unknown }).type === 'string') return (a as { type: string }).type;
  return 'inline';
}

function guardName(g: unknown): string | undefined {
  if (g === undefined || g === null) return undefined;
  if (typeof g === 'string') return g;
  if (typeof g === 'function') {
    // built-in combinators (not/and/or) are functions carrying a `guards` list
    const inner = (g as { guards?: unknown[] }).guards;
    const name = g.name;
    if (Array.isArray(inner)) return `${name || 'guard'}(${inner.map((x) => guardName(x) ?? '?').join(', ')})`;
    // an arrow function written as `guard: (...) => ...` takes the property's name
    return name && name !== 'anonymous' && name !== 'guard' ? name : 'inline';
  }
  if (typeof g === 'object' && typeof (g as { type?: unknown }).type === 'string') return (g as { type: string }).type;
  return 'guard';
}

/** `1500` → `1.5s`, `60000` → `1m`, `250` → `250ms`. */
export function formatDelay(d: number | string): string {
  if (typeof d === 'string') return d;
  if (d >= 60_000 && d % 60_000 === 0) return `${d / 60_000}m`;
  if (d >= 1000) return `${+(d / 1000).toFixed(3)}s`;
  return `${d}ms`;
}

/** An invoke without an id gets a generated one (`0.machine.state`): name it by its src. */
function actorLabel(id: string, node: AnyStateNode): string {
  const inv = node.invoke.find((i) => i.id === id);
  return inv && typeof inv.src === 'string' && /^\d+\./.test(id) ? inv.src : id;
}

function classify(eventType: string, node: AnyStateNode, delays: Map<string, number | string>): Pick<GraphTransition, 'kind' | 'label' | 'delay'> {
  if (eventType === '') return { kind: 'always', label: 'always' };
  const delay = delays.get(eventType);
  if (delay !== undefined) return { kind: 'after', label: `after ${formatDelay(delay)}`, delay };
  if (eventType === '*') return { kind: 'wildcard', label: '*' };
  let m = /^xstate\.done\.actor\.(.*)$/.exec(eventType);
  if (m) return { kind: 'done', label: `done(${actorLabel(m[1]!, node)})` };
  m = /^xstate\.error\.actor\.(.*)$/.exec(eventType);
  if (m) return { kind: 'error', label: `error(${actorLabel(m[1]!, node)})` };
  if (eventType === `xstate.done.state.${node.id}`) return { kind: 'done', label: 'done' };
  m = /^xstate\.done\.state\.(.*)$/.exec(eventType);
  if (m) return { kind: 'done', label: `done(${m[1]})` };
  return { kind: 'event', label: eventType };
}

function walk(node: AnyStateNode): GraphState {
  const delays = new Map<string, number | string>();
  for (const a of node.after) delays.set(a.eventType, a.delay as number | string);

  const transitions: GraphTransition[] = [];
  const push = (eventType: string, defs: readonly unknown[]) => {
    for (const raw of defs) {
      const t = raw as { target?: AnyStateNode[]; guard?: unknown; reenter?: boolean; actions?: unknown[] };
      const tr: GraphTransition = {
        event: eventType,
        ...classify(eventType, node, delays),
        targets: (t.target ?? []).map((s) => s.id),
      };
      const g = guardName(t.guard);
      if (g) tr.guard = g;
      if (t.reenter) tr.reenter = true;
      const acts = (t.actions ?? []).map(actionName).filter((n) => !n.startsWith('xstate.'));
      if (acts.length) tr.actions = acts;
      transitions.push(tr);
    }
  };
  for (const [eventType, defs] of node.transitions) push(eventType, defs);
  if (node.always) push('', node.always);

  const out: GraphState = {
    id: node.id,
    key: node.key,
    path: [...node.path],
    type: node.type,
    transitions,
    children: Object.values(node.states as Record<string, AnyStateNode>).map(walk),
  };
  if (node.type === 'compound') {
    const init = node.initial?.target?.[0];
    if (init) out.initial = init.id;
  }
  if (node.description) out.description = node.description;
  if (node.tags.length) out.tags = [...node.tags];
  const inv = node.invoke.map((i) => ({ id: i.id, src: typeof i.src === 'string' ? i.src : i.id }));
  if (inv.length) out.invoke = inv;
  const entry = node.entry.map(actionName).filter((n) => !n.startsWith('xstate.'));
  if (entry.length) out.entry = entry;
  const exit = node.exit.map(actionName).filter((n) => !n.startsWith('xstate.'));
  if (exit.length) out.exit = exit;
  return out;
}

const cache = new WeakMap<AnyStateMachine, MachineGraph>();

/** The machine's statechart as JSON (cached per machine object). */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  let g = cache.get(machine);
  if (!g) {
    g = { id: machine.id, root: walk(machine.root) };
    cache.set(machine, g);
  }
  return g;
}

/** True when `logic` (an actor's logic) is a state machine whose chart can be drawn. */
export function isStateMachine(logic: unknown): logic is AnyStateMachine {
  return !!logic && typeof logic === 'object' && 'root' in logic && typeof (logic as { root?: { states?: unknown } }).root?.states === 'object';
}

/** Every state node in document order (root first). */
export function allStates(g: MachineGraph): GraphState[] {
  const out: GraphState[] = [];
  const rec = (s: GraphState) => {
    out.push(s);
    s.children.forEach(rec);
  };
  rec(g.root);
  return out;
}

/**
 * Ids of the state nodes active for a state value (root included), without needing
 * the live snapshot: `{ running: 'fetch' }` → [root, root.running, root.running.fetch].
 */
export function activeStateIds(g: MachineGraph, value: unknown): string[] {
  const out: string[] = [g.root.id];
  const rec = (node: GraphState, v: unknown) => {
    if (typeof v === 'string') {
      const c = node.children.find((x) => x.key === v);
      if (c) out.push(c.id);
      return;
    }
    if (v && typeof v === 'object') {
      for (const [k, sub] of Object.entries(v)) {
        const c = node.children.find((x) => x.key === k);
        if (!c) continue;
        out.push(c.id);
        rec(c, sub);
      }
    }
  };
  rec(g.root, value);
  return out;
}
