// A machine graph as a Mermaid `stateDiagram-v2` (what GitHub renders in Markdown).
// The machine itself is the outermost composite state so that root-level transitions
// have a box to start from. Each transition is written inside the innermost composite
// that holds both ends, which keeps Mermaid's layout of nested states valid.
import { allStates, type GraphState, type MachineGraph } from './graph.js';

/** Mermaid ids allow letters, digits and underscores; state node ids may hold dots, colons... */
function makeIds(g: MachineGraph): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const s of allStates(g)) {
    const base = s.id.replace(/[^A-Za-z0-9_]/g, '_');
    let id = /^[A-Za-z]/.test(base) ? base : `s_${base}`;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    used.add(id);
    ids.set(s.id, id);
  }
  return ids;
}

/** Transition labels must not hold Mermaid's separators. */
function cleanLabel(s: string): string {
  return s.replace(/[;:{}#"]/g, ' ').replace(/\s+/g, ' ').trim();
}

function quote(s: string): string {
  return `"${s.replace(/"/g, "'")}"`;
}

export function toMermaid(g: MachineGraph): string {
  const ids = makeIds(g);
  const parentOf = new Map<string, GraphState>();
  for (const s of allStates(g)) for (const c of s.children) parentOf.set(c.id, s);

  const ancestors = (id: string): string[] => {
    const out = [id];
    for (let p = parentOf.get(id); p; p = parentOf.get(p.id)) out.push(p.id);
    return out;
  };
  /** Innermost composite holding all the given states (as siblings or deeper). */
  const scopeOf = (stateIds: string[]): string => {
    const chains = stateIds.map((id) => ancestors(id).slice(1)); // proper ancestors only
    const first = chains[0] ?? [g.root.id];
    return first.find((a) => chains.every((c) => c.includes(a))) ?? g.root.id;
  };

  const edges = new Map<string, string[]>(); // scope id -> lines
  const addEdge = (scope: string, line: string) => {
    const l = edges.get(scope) ?? [];
    l.push(line);
    edges.set(scope, l);
  };
  for (const s of allStates(g)) {
    for (const t of s.transitions) {
      let label = t.label + (t.guard ? ` [${t.guard}]` : '');
      const targets = t.targets.length ? t.targets : [s.id];
      if (!t.targets.length) label += ' (internal)';
      for (const target of targets) {
        // a transition from the machine itself is drawn from its outermost box
        const scope = s.id === g.root.id || target === g.root.id ? g.root.id : scopeOf([s.id, target]);
        addEdge(scope, `${ids.get(s.id)} --> ${ids.get(target)} : ${cleanLabel(label)}`);
      }
    }
  }
  // the machine box itself lives at the top level, so its own edges go there
  const top: string[] = [];
  const rootEdges = edges.get(g.root.id) ?? [];
  const innerRootEdges: string[] = [];
  for (const e of rootEdges) (e.startsWith(`${ids.get(g.root.id)} `) || e.includes(`--> ${ids.get(g.root.id)} `) ? top : innerRootEdges).push(e);
  edges.set(g.root.id, innerRootEdges);

  const lines: string[] = ['stateDiagram-v2'];
  const emit = (s: GraphState, indent: string) => {
    const id = ids.get(s.id)!;
    if (s.children.length === 0) {
      lines.push(`${indent}state ${quote(s.key)} as ${id}`);
      for (const inv of s.invoke ?? []) lines.push(`${indent}${id} : invoke ${cleanLabel(inv.src)}`);
      return;
    }
    lines.push(`${indent}state ${quote(s === g.root ? g.id : s.key)} as ${id} {`);
    const inner = indent + '  ';
    if (s.type === 'compound' && s.initial) lines.push(`${inner}[*] --> ${ids.get(s.initial)}`);
    s.children.forEach((c, i) => {
      if (s.type === 'parallel' && i > 0) lines.push(`${inner}--`);
      emit(c, inner);
    });
    for (const c of s.children) if (c.type === 'final') lines.push(`${inner}${ids.get(c.id)} --> [*]`);
    for (const e of edges.get(s.id) ?? []) lines.push(inner + e);
    lines.push(`${indent}}`);
  };
  emit(g.root, '  ');
  for (const e of top) lines.push('  ' + e);
  return lines.join('\n') + '\n';
}
