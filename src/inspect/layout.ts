// Places a machine graph on a plane for the inspector page: nested boxes for compound
// and parallel states, children of a compound in layers from its initial state
// (left to right, following transitions), one SVG path and label per transition.
// Server-side and pure so the browser only draws and the layout is unit-tested.
// Widths come from character counts in a monospace font (no text measuring here).
import type { GraphState, MachineGraph } from './graph.js';

export interface LayoutNode {
  id: string;
  key: string;
  type: GraphState['type'];
  x: number;
  y: number;
  w: number;
  h: number;
  /** Extra lines under the name: invoked actors, tags. */
  lines: string[];
  depth: number;
}

export interface LayoutEdge {
  from: string;
  to: string;
  label: string;
  kind: string;
  /** SVG path data, arrow head at the end. */
  d: string;
  labelX: number;
  labelY: number;
}

export interface LayoutInitial {
  /** The state the initial arrow points to. */
  to: string;
  x: number;
  y: number;
  d: string;
}

export interface ChartLayout {
  width: number;
  height: number;
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  initials: LayoutInitial[];
}

export const CHAR_W = 7.3; // 12px monospace
export const LABEL_CHAR_W = 6.1; // 10px monospace
const PAD = 12;
const PAD_LEFT = 30; // room for the initial-state dot
const HEADER = 24;
const LINE_H = 14;
const ATOMIC_H = 30;
const GAP_Y = 26;
const MIN_GAP_X = 46;
const MAX_GAP_X = 260;
const MARGIN = 16;

interface Size {
  w: number;
  h: number;
  /** Child positions relative to this box. */
  at: Map<string, { x: number; y: number }>;
}

function edgeLabel(t: GraphState['transitions'][number]): string {
  return t.label + (t.guard ? ` [${t.guard}]` : '');
}

function nodeLines(s: GraphState): string[] {
  const out = (s.invoke ?? []).map((i) => `▸ ${i.src}`);
  if (s.tags?.length) out.push(`#${s.tags.join(' #')}`);
  out.push(...internalLines(s));
  return out;
}

/** Targetless transitions (actions only, no state change) are listed in the box, not drawn. */
function internalLines(s: GraphState): string[] {
  return s.transitions.filter((t) => t.targets.length === 0).map((t) => `↺ ${edgeLabel(t)}`);
}

type Pt = [number, number];
function bezier(t: number, a: Pt, b: Pt, c: Pt, d: Pt): Pt {
  const u = 1 - t;
  const f = (i: 0 | 1) => u * u * u * a[i] + 3 * u * u * t * b[i] + 3 * u * t * t * c[i] + t * t * t * d[i];
  return [f(0), f(1)];
}

export function layoutGraph(g: MachineGraph): ChartLayout {
  const byId = new Map<string, GraphState>();
  const parent = new Map<string, string>();
  const rec = (s: GraphState) => {
    byId.set(s.id, s);
    for (const c of s.children) {
      parent.set(c.id, s.id);
      rec(c);
    }
  };
  rec(g.root);

  /** The child of `anc` that contains `id` (or undefined when `id` is not strictly inside). */
  const childOfContaining = (anc: string, id: string): string | undefined => {
    let cur: string | undefined = id;
    while (cur !== undefined && parent.get(cur) !== anc) cur = parent.get(cur);
    return cur;
  };
  const subtreeTransitions = (s: GraphState): { from: string; to: string; label: string }[] => {
    const out: { from: string; to: string; label: string }[] = [];
    const walk = (n: GraphState) => {
      for (const t of n.transitions) for (const to of t.targets) out.push({ from: n.id, to, label: edgeLabel(t) });
      n.children.forEach(walk);
    };
    walk(s);
    return out;
  };

  const sizes = new Map<string, Size>();
  const measure = (s: GraphState): Size => {
    if (s.children.length === 0) {
      const lines = nodeLines(s);
      const w = Math.max(64, ...[s.key, ...lines].map((l) => l.length * CHAR_W + 2 * PAD));
      const size = { w: Math.ceil(w), h: ATOMIC_H + lines.length * LINE_H, at: new Map() };
      sizes.set(s.id, size);
      return size;
    }
    for (const c of s.children) measure(c);
    const extra = nodeLines(s);
    const header = HEADER + extra.length * LINE_H;
    const title = Math.max(...[s === g.root ? g.id : s.key, ...extra].map((l) => l.length * CHAR_W + 2 * PAD));
    let columns: GraphState[][];
    const gaps: number[] = [];
    if (s.type === 'parallel') {
      columns = [s.children];
    } else {
      // layer children by distance from the initial child along transitions among them
      const succ = new Map<string, Set<string>>(s.children.map((c) => [c.id, new Set<string>()]));
      const labelsBetween = new Map<string, number>(); // "a>b" -> widest label
      for (const t of subtreeTransitions(s)) {
        const a = childOfContaining(s.id, t.from);
        const b = childOfContaining(s.id, t.to);
        if (!a || !b || a === b) continue;
        succ.get(a)!.add(b);
        const k = `${a}>${b}`;
        labelsBetween.set(k, Math.max(labelsBetween.get(k) ?? 0, t.label.length * LABEL_CHAR_W));
      }
      const layer = new Map<string, number>();
      const bfs = (start: string, base: number) => {
        layer.set(start, base);
        const q = [start];
        while (q.length) {
          const u = q.shift()!;
          for (const v of succ.get(u)!) {
            if (!layer.has(v)) {
              layer.set(v, layer.get(u)! + 1);
              q.push(v);
            }
          }
        }
      };
      bfs(s.initial ?? s.children[0]!.id, 0);
      for (const c of s.children) {
        if (layer.has(c.id)) continue;
        // unreachable from the initial state: next to whatever leads to it, else a new column
        const preds = s.children.filter((p) => layer.has(p.id) && succ.get(p.id)!.has(c.id));
        const maxLayer = Math.max(...layer.values());
        bfs(c.id, preds.length ? layer.get(preds[0]!.id)! + 1 : maxLayer + 1);
      }
      const n = Math.max(...layer.values()) + 1;
      columns = Array.from({ length: n }, () => [] as GraphState[]);
      for (const c of s.children) columns[layer.get(c.id)!]!.push(c);
      columns = columns.filter((col) => col.length > 0);
      for (let i = 0; i + 1 < columns.length; i++) {
        let widest = 0;
        for (const a of columns[i]!) for (const b of columns[i + 1]!) widest = Math.max(widest, labelsBetween.get(`${a.id}>${b.id}`) ?? 0);
        gaps.push(Math.min(MAX_GAP_X, Math.max(MIN_GAP_X, widest + 24)));
      }
    }
    const colW = columns.map((col) => Math.max(...col.map((c) => sizes.get(c.id)!.w)));
    const colH = columns.map((col) => col.reduce((h, c) => h + sizes.get(c.id)!.h, 0) + (col.length - 1) * GAP_Y);
    const innerH = Math.max(...colH);
    const at = new Map<string, { x: number; y: number }>();
    let x = PAD_LEFT;
    columns.forEach((col, i) => {
      let y = header + PAD + (innerH - colH[i]!) / 2;
      for (const c of col) {
        const cs = sizes.get(c.id)!;
        at.set(c.id, { x: x + (colW[i]! - cs.w) / 2, y });
        y += cs.h + GAP_Y;
      }
      x += colW[i]! + (gaps[i] ?? 0);
    });
    // room below for edges that loop back to an earlier column
    const size: Size = { w: Math.ceil(Math.max(title, x + PAD)), h: Math.ceil(header + PAD + innerH + PAD + 18), at };
    sizes.set(s.id, size);
    return size;
  };
  measure(g.root);

  const nodes: LayoutNode[] = [];
  const abs = new Map<string, LayoutNode>();
  const place = (s: GraphState, x: number, y: number, depth: number) => {
    const size = sizes.get(s.id)!;
    const node: LayoutNode = { id: s.id, key: s === g.root ? g.id : s.key, type: s.type, x: Math.round(x * 10) / 10, y: Math.round(y * 10) / 10, w: size.w, h: size.h, lines: nodeLines(s), depth };
    nodes.push(node);
    abs.set(s.id, node);
    for (const c of s.children) {
      const p = size.at.get(c.id)!;
      place(c, x + p.x, y + p.y, depth + 1);
    }
  };
  place(g.root, MARGIN, MARGIN, 0);

  const inside = (a: LayoutNode, b: LayoutNode) => a.x >= b.x && a.y >= b.y && a.x + a.w <= b.x + b.w && a.y + a.h <= b.y + b.h;
  const r = (n: number) => Math.round(n * 10) / 10;
  const edges: LayoutEdge[] = [];
  const selfCount = new Map<string, number>();
  const laneCount = new Map<number, number>();
  /** Boxes other than S, T and their ancestors and descendants that the straight way from S to T would cross. */
  const blockers = (S: LayoutNode, T: LayoutNode): LayoutNode[] => {
    const top = Math.min(S.y, T.y);
    const bottom = Math.max(S.y + S.h, T.y + Math.min(T.h, 30));
    return nodes.filter(
      (n) => n !== S && n !== T && !inside(S, n) && !inside(T, n) && !inside(n, S) && !inside(n, T) && n.x >= S.x + S.w && n.x + n.w <= T.x && n.y < bottom && n.y + n.h > top,
    );
  };
  const outCount = new Map<string, number>();
  const inCount = new Map<string, number>();
  for (const gs of byId.values()) {
    for (const t of gs.transitions) {
      for (const to of t.targets) {
        outCount.set(gs.id, (outCount.get(gs.id) ?? 0) + 1);
        inCount.set(to, (inCount.get(to) ?? 0) + 1);
      }
    }
  }
  for (const s of nodes) {
    const gs = byId.get(s.id)!;
    for (const t of gs.transitions) {
      const label = edgeLabel(t);
      for (const to of t.targets) {
        const T = abs.get(to);
        if (!T) continue;
        const S = s;
        const lw = label.length * LABEL_CHAR_W;
        let d: string;
        let lx: number;
        let ly: number;
        if (T === S) {
          // a transition back into itself: a loop on the box's right side
          const k = selfCount.get(S.id) ?? 0;
          selfCount.set(S.id, k + 1);
          const x0 = S.x + S.w;
          const y0 = S.y + 5;
          const y1 = S.y + Math.min(S.h - 5, 25);
          const lift = 26 + k * 14;
          d = `M${r(x0)},${r(y0)} C${r(x0 + lift)},${r(y0 - 8)} ${r(x0 + lift)},${r(y1 + 8)} ${r(x0)},${r(y1)}`;
          lx = x0 + lift * 0.75 + 3;
          ly = (y0 + y1) / 2 + 3 + k * 12;
        } else if (inside(T, S)) {
          // from a compound state into one of its descendants (e.g. a root-level event):
          // straight down from the compound's title band to the target's top
          const k = selfCount.get(`in:${T.id}`) ?? 0;
          selfCount.set(`in:${T.id}`, k + 1);
          const x0 = T.x + T.w / 2 + k * 10;
          const y0 = S.y + HEADER - 4 + S.lines.length * LINE_H;
          d = `M${r(x0)},${r(y0)} L${r(x0)},${r(T.y)}`;
          lx = x0 + 4;
          ly = y0 + 10 + k * 12;
        } else if (inside(S, T)) {
          // to an ancestor: leave to the right, enter its right border
          const x0 = S.x + S.w;
          const y0 = S.y + S.h / 2;
          const x1 = T.x + T.w;
          d = `M${r(x0)},${r(y0)} C${r(x0 + 20)},${r(y0)} ${r(x1 - 20)},${r(y0)} ${r(x1)},${r(y0)}`;
          lx = (x0 + x1) / 2;
          ly = y0 - 4;
        } else if (T.x >= S.x + S.w && blockers(S, T).length > 0) {
          // forward past other boxes (e.g. a timeout from an early state to a state far
          // right): down from the source, along a lane under the boxes it passes, into
          // the target's left side; each such edge of a region gets its own lane, its
          // label sits on the lane next to the source, so neither crosses a box
          const under = Math.max(S.y + S.h, ...blockers(S, T).map((n) => n.y + n.h));
          const k = laneCount.get(under) ?? 0;
          laneCount.set(under, k + 1);
          const lane = under + 16 + k * 16;
          const x0 = S.x + S.w / 2;
          const y0 = S.y + S.h;
          const x1 = T.x;
          const y1 = T.y + Math.min(T.h / 2, 15);
          d = `M${r(x0)},${r(y0)} L${r(x0)},${r(lane - 8)} Q${r(x0)},${r(lane)} ${r(x0 + 8)},${r(lane)} L${r(x1 - 24)},${r(lane)} C${r(x1 - 8)},${r(lane)} ${r(x1 - 16)},${r(y1)} ${r(x1)},${r(y1)}`;
          lx = x0 + 10;
          ly = lane - 3;
        } else if (T.x >= S.x + S.w) {
          // forward: right side to left side
          const x0 = S.x + S.w;
          const y0 = S.y + S.h / 2;
          const x1 = T.x;
          const y1 = T.y + Math.min(T.h / 2, 15);
          const dx = Math.max(20, (x1 - x0) / 2);
          d = `M${r(x0)},${r(y0)} C${r(x0 + dx)},${r(y0)} ${r(x1 - dx)},${r(y1)} ${r(x1)},${r(y1)}`;
          // a source with many edges fans out: its labels separate near the targets
          const t = (outCount.get(S.id) ?? 0) > (inCount.get(to) ?? 0) ? 0.68 : 0.32;
          const [px, py] = bezier(t, [x0, y0], [x0 + dx, y0], [x1 - dx, y1], [x1, y1]);
          lx = px - lw / 2;
          ly = py - 4;
        } else if (T.x + T.w <= S.x) {
          // backward: under both boxes, into the bottom of the target
          const x0 = S.x + S.w / 2;
          const y0 = S.y + S.h;
          const x1 = T.x + T.w / 2;
          const y1 = T.y + T.h;
          const low = Math.max(y0, y1) + 30;
          d = `M${r(x0)},${r(y0)} C${r(x0)},${r(low)} ${r(x1)},${r(low)} ${r(x1)},${r(y1)}`;
          lx = (x0 + x1) / 2 - lw / 2;
          ly = Math.max(y0, y1) + 22 + 4;
        } else if (T.y >= S.y + S.h) {
          // same column, below
          const x0 = S.x + S.w / 2 + 6;
          const y0 = S.y + S.h;
          const x1 = T.x + T.w / 2 + 6;
          const y1 = T.y;
          d = `M${r(x0)},${r(y0)} C${r(x0)},${r(y0 + 12)} ${r(x1)},${r(y1 - 12)} ${r(x1)},${r(y1)}`;
          lx = Math.max(x0, x1) + 6;
          ly = (y0 + y1) / 2 + 3;
        } else {
          // same column, above: go round the left side
          const x0 = S.x;
          const y0 = S.y + S.h / 2;
          const x1 = T.x;
          const y1 = T.y + T.h / 2;
          const out = Math.min(S.x, T.x) - 18;
          d = `M${r(x0)},${r(y0)} C${r(out)},${r(y0)} ${r(out)},${r(y1)} ${r(x1)},${r(y1)}`;
          lx = out - 2 - lw;
          ly = (y0 + y1) / 2;
        }
        edges.push({ from: S.id, to, label, kind: t.kind, d, labelX: r(Math.max(2, lx)), labelY: r(ly) });
      }
    }
  }

  const initials: LayoutInitial[] = [];
  for (const s of nodes) {
    const gs = byId.get(s.id)!;
    if (gs.type !== 'compound' || !gs.initial) continue;
    const T = abs.get(gs.initial)!;
    const y = T.y + Math.min(T.h / 2, 15);
    const x = s.x + 12;
    initials.push({ to: T.id, x: r(x), y: r(y), d: `M${r(x + 4)},${r(y)} L${r(T.x)},${r(y)}` });
  }

  separateLabels(edges, nodes.filter((n) => n.type !== 'compound' && n.type !== 'parallel'));

  const root = abs.get(g.root.id)!;
  let maxX = root.x + root.w;
  let maxY = root.y + root.h + 20;
  for (const e of edges) {
    maxX = Math.max(maxX, e.labelX + e.label.length * LABEL_CHAR_W);
    maxY = Math.max(maxY, e.labelY + 4);
  }
  return { width: Math.ceil(maxX + MARGIN), height: Math.ceil(maxY + MARGIN), nodes, edges, initials };
}

/** The box a label's text covers (10px monospace, baseline at labelY). */
export function labelBox(e: Pick<LayoutEdge, 'label' | 'labelX' | 'labelY'>): { x: number; y: number; w: number; h: number } {
  return { x: e.labelX, y: e.labelY - LABEL_H + 2, w: e.label.length * LABEL_CHAR_W, h: LABEL_H };
}

const LABEL_H = 12;
type Box = { x: number; y: number; w: number; h: number };
const overlaps = (a: Box, b: Box): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * Moves edge labels apart: each label, top to bottom, takes the nearest free place above or
 * below where its edge put it (in steps of a line), free of the labels already placed and,
 * when possible, of the state boxes. Edges that meet (many events into one state, a fan of
 * timers) otherwise print their labels on top of each other.
 */
function separateLabels(edges: LayoutEdge[], boxes: LayoutNode[]): void {
  const placed: Box[] = [];
  const order = [...edges].sort((a, b) => a.labelY - b.labelY || a.labelX - b.labelX);
  const offsets = [0];
  for (let k = 1; k <= 10; k++) offsets.push(k * LABEL_H, -k * LABEL_H);
  for (const e of order) {
    const free = (dy: number, avoidBoxes: boolean): boolean => {
      const b = labelBox({ ...e, labelY: e.labelY + dy });
      if (b.y < 0) return false;
      if (placed.some((p) => overlaps(p, b))) return false;
      return !avoidBoxes || !boxes.some((n) => overlaps(n, b));
    };
    const dy = offsets.find((o) => free(o, true)) ?? offsets.find((o) => free(o, false));
    if (dy !== undefined) e.labelY = Math.round((e.labelY + dy) * 10) / 10;
    placed.push(labelBox(e));
  }
}
