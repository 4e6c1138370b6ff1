// How a person names an actor (pure): in logs, the inspector's actor list and its titles.
// The ids are the code's (`tree:www`, `peer:beta`, `job:site:pkg`, xstate's generated
// `0.mmJob.active.locking` for an invoked step); the labels are what an operator calls them.
//   tree:www                       -> tree www
//   peer:beta                      -> peer beta
//   job:site:pkg                   -> job site:pkg
//   0.mmJob.active.locking (lockJob) -> lock job      (an invoked step: its logic's name, in words)
//   anything else                  -> itself

/** `lockJob` -> `lock job`. */
function words(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

/** The label of an actor id; `src` is the name its logic was invoked or spawned by, when it had one. */
export function actorLabel(id: string, src?: string): string {
  const m = /^(tree|peer|job):(.+)$/.exec(id);
  if (m) return `${m[1]} ${m[2]}`;
  // xstate's id for an invoke without one: INDEX.MACHINE.STATE.PATH
  const gen = /^\d+\.[\w-]+\.(?:[\w-]+\.)*([\w-]+)$/.exec(id);
  if (gen) return src ? words(src) : words(gen[1]!);
  return id;
}
