// Turns any value from an actor's context or an event into something JSON.stringify
// can print and a browser can show: bounded depth, string length, keys and items,
// so that a context holding a 100 MB buffer or 20,000 entries costs a few KiB.
// Actor references print as their id; cycles, functions and bigints never throw.

export interface JsonSafeLimits {
  maxDepth?: number;
  maxString?: number;
  maxKeys?: number;
  maxItems?: number;
}

const DEFAULTS: Required<JsonSafeLimits> = { maxDepth: 6, maxString: 400, maxKeys: 60, maxItems: 40 };

function isActorRef(v: object): v is { id: string; sessionId: string } {
  return typeof (v as { sessionId?: unknown }).sessionId === 'string' && typeof (v as { send?: unknown }).send === 'function';
}

export function toJsonSafe(value: unknown, limits: JsonSafeLimits = {}): unknown {
  const lim = { ...DEFAULTS, ...limits };
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    switch (typeof v) {
      case 'string':
        return v.length > lim.maxString ? `${v.slice(0, lim.maxString)}… (${v.length} chars)` : v;
      case 'number':
        return Number.isFinite(v) ? v : String(v);
      case 'boolean':
        return v;
      case 'bigint':
        return `${v}n`;
      case 'undefined':
        return undefined;
      case 'function':
        return `[function ${v.name || 'anonymous'}]`;
      case 'symbol':
        return v.toString();
    }
    if (v === null) return null;
    const o = v as object;
    if (isActorRef(o)) return `[actor ${o.id}]`;
    if (o instanceof Date) return Number.isNaN(o.getTime()) ? 'Invalid Date' : o.toISOString();
    if (o instanceof Error) return { error: o.name, message: walk(o.message, depth + 1) };
    if (ArrayBuffer.isView(o)) return `[${o.constructor.name} ${o.byteLength} bytes]`;
    if (o instanceof ArrayBuffer) return `[ArrayBuffer ${o.byteLength} bytes]`;
    if (seen.has(o)) return '[circular]';
    if (depth >= lim.maxDepth) return Array.isArray(o) ? `[array(${o.length})]` : '[object]';
    seen.add(o);
    try {
      if (Array.isArray(o) || o instanceof Set) {
        const arr = Array.isArray(o) ? o : [...o];
        const out = arr.slice(0, lim.maxItems).map((x) => walk(x, depth + 1) ?? null);
        if (arr.length > lim.maxItems) out.push(`… ${arr.length - lim.maxItems} more`);
        return out;
      }
      const entries: [string, unknown][] =
        o instanceof Map ? [...o].map(([k, x]) => [typeof k === 'string' ? k : String(walk(k, lim.maxDepth)), x]) : Object.entries(o);
      const out: Record<string, unknown> = {};
      for (const [k, x] of entries.slice(0, lim.maxKeys)) out[k] = walk(x, depth + 1);
      if (entries.length > lim.maxKeys) out['…'] = `${entries.length - lim.maxKeys} more keys`;
      return out;
    } finally {
      seen.delete(o);
    }
  };
  return walk(value, 0);
}
