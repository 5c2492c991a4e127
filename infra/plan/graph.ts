/**
 * Dependency graph analysis (spec: DependencyGraph): cycles with their path, execution layers and the
 * critical path. Pure functions over job ids and edges; deterministic (ids are visited in sorted order).
 */

export interface GraphNode {
  readonly id: string;
  readonly dependsOn: readonly string[];
  /** Worst-case duration of one attempt, the weight of the critical path. */
  readonly weight: number;
}

/**
 * Every cycle, one per strongly connected component, as a path that starts and ends at the component's
 * smallest job id: `["a", "b", "c", "a"]`. A job that depends on itself gives `["a", "a"]`.
 * Edges to unknown jobs are ignored here (they are `DEP_001_MISSING_UPSTREAM`).
 */
export function findCycles(nodes: readonly GraphNode[]): string[][] {
  const ids = new Set(nodes.map((n) => n.id));
  const edges = new Map<string, string[]>();
  for (const n of nodes) edges.set(n.id, [...new Set(n.dependsOn.filter((d) => ids.has(d)))].sort());

  // Tarjan's strongly connected components, iterative so deep graphs do not overflow the stack.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  for (const root of [...ids].sort()) {
    if (indices.has(root)) continue;
    const work: { id: string; next: number }[] = [{ id: root, next: 0 }];
    indices.set(root, index);
    low.set(root, index++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const succ = edges.get(frame.id) ?? [];
      if (frame.next < succ.length) {
        const w = succ[frame.next++]!;
        if (!indices.has(w)) {
          indices.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push({ id: w, next: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, indices.get(w)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.id, Math.min(low.get(parent.id)!, low.get(frame.id)!));
      if (low.get(frame.id) === indices.get(frame.id)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== frame.id);
        const selfLoop = component.length === 1 && (edges.get(frame.id) ?? []).includes(frame.id);
        if (component.length > 1 || selfLoop) components.push(component);
      }
    }
  }

  return components
    .map((component) => cyclePathWithin(new Set(component), edges))
    .sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}

/** A shortest cycle through the component's smallest id (breadth-first, sorted successors). */
function cyclePathWithin(component: Set<string>, edges: Map<string, string[]>): string[] {
  const start = [...component].sort()[0]!;
  const parent = new Map<string, string>();
  const queue: string[] = [start];
  const seen = new Set<string>([start]);
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of edges.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        // Walk back from v to the start, then read the cycle along `dependsOn` edges: a waits on b ...
        const back: string[] = [];
        for (let at: string | undefined = v; at !== undefined && at !== start; at = parent.get(at)) back.push(at);
        return [start, ...back.reverse(), start];
      }
      if (!seen.has(w)) {
        seen.add(w);
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/**
 * Execution layers of an acyclic graph: layer 0 has no dependencies; every other job sits one layer
 * below its deepest dependency. Jobs within a layer are sorted.
 */
export function executionLayers(nodes: readonly GraphNode[]): string[][] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const layerOf = new Map<string, number>();
  const visit = (id: string): number => {
    const known = layerOf.get(id);
    if (known !== undefined) return known;
    const deps = byId.get(id)?.dependsOn.filter((d) => byId.has(d)) ?? [];
    const layer = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(visit));
    layerOf.set(id, layer);
    return layer;
  };
  for (const id of [...byId.keys()].sort()) visit(id);
  const layers: string[][] = [];
  for (const [id, layer] of layerOf) (layers[layer] ??= []).push(id);
  return layers.map((l) => l.sort());
}

/**
 * The critical path: the chain of dependent jobs with the greatest total weight (worst-case duration),
 * from a root to a leaf. Ties go to the lexically smaller chain.
 */
export function criticalPath(nodes: readonly GraphNode[]): { path: string[]; weight: number } {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const best = new Map<string, { path: string[]; weight: number }>();
  const visit = (id: string): { path: string[]; weight: number } => {
    const known = best.get(id);
    if (known) return known;
    const node = byId.get(id)!;
    let upstream: { path: string[]; weight: number } = { path: [], weight: 0 };
    for (const dep of [...node.dependsOn].filter((d) => byId.has(d)).sort()) {
      const candidate = visit(dep);
      if (candidate.weight > upstream.weight) upstream = candidate;
    }
    const result = { path: [...upstream.path, id], weight: upstream.weight + node.weight };
    best.set(id, result);
    return result;
  };
  let winner: { path: string[]; weight: number } = { path: [], weight: 0 };
  for (const id of [...byId.keys()].sort()) {
    const candidate = visit(id);
    if (candidate.weight > winner.weight) winner = candidate;
  }
  return winner;
}
