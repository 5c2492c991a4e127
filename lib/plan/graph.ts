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

/** A binary min-heap of job ids (sorted by code unit, as `Array.prototype.sort` sorts them). */
class IdHeap {
  private readonly items: string[] = [];
  get size(): number {
    return this.items.length;
  }
  push(id: string): void {
    const items = this.items;
    items.push(id);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= id) break;
      items[i] = items[parent]!;
      items[parent] = id;
      i = parent;
    }
  }
  pop(): string | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && items[l]! < items[m]!) m = l;
        if (r < items.length && items[r]! < items[m]!) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * The jobs of an acyclic graph in dependency order (Kahn's algorithm, smallest id first among the
 * ready ones, kept in a heap: O((V + E) log V)): every job after all of its dependencies. Iterative,
 * so any depth is fine.
 */
export function topologicalOrder(nodes: readonly GraphNode[]): GraphNode[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const n of nodes) {
    const deps = [...new Set(n.dependsOn.filter((d) => byId.has(d)))];
    waiting.set(n.id, deps.length);
    for (const d of deps) (dependents.get(d) ?? dependents.set(d, []).get(d)!).push(n.id);
  }
  const ready = new IdHeap();
  for (const [id, count] of waiting) if (count === 0) ready.push(id);
  const order: GraphNode[] = [];
  while (ready.size > 0) {
    const id = ready.pop()!;
    order.push(byId.get(id)!);
    for (const next of dependents.get(id) ?? []) {
      const left = waiting.get(next)! - 1;
      waiting.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  return order;
}

/**
 * Execution layers of an acyclic graph: layer 0 has no dependencies; every other job sits one layer
 * below its deepest dependency. Jobs within a layer are sorted.
 */
export function executionLayers(nodes: readonly GraphNode[]): string[][] {
  const layerOf = new Map<string, number>();
  for (const node of topologicalOrder(nodes)) {
    const deps = node.dependsOn.filter((d) => layerOf.has(d));
    layerOf.set(node.id, deps.length === 0 ? 0 : 1 + Math.max(...deps.map((d) => layerOf.get(d)!)));
  }
  const layers: string[][] = [];
  for (const [id, layer] of layerOf) (layers[layer] ??= []).push(id);
  return layers.map((l) => l.sort());
}

/**
 * The critical path: the chain of dependent jobs with the greatest total weight (worst-case duration),
 * from a root to a leaf. On a tie, the chain ending at the smallest job id wins, and upstream of each
 * job the smallest dependency id among the heaviest.
 */
export function criticalPath(nodes: readonly GraphNode[]): { path: string[]; weight: number } {
  // The heaviest chain ending at each job, kept as its weight and the job before it.
  const best = new Map<string, { weight: number; previous?: string }>();
  for (const node of topologicalOrder(nodes)) {
    let previous: string | undefined;
    let upstream = 0;
    for (const dep of [...node.dependsOn].sort()) {
      const candidate = best.get(dep);
      if (candidate && candidate.weight > upstream) {
        upstream = candidate.weight;
        previous = dep;
      }
    }
    best.set(node.id, { weight: upstream + node.weight, ...(previous !== undefined ? { previous } : {}) });
  }
  let end: string | undefined;
  let weight = 0;
  for (const id of [...best.keys()].sort()) {
    const candidate = best.get(id)!;
    if (candidate.weight > weight) {
      weight = candidate.weight;
      end = id;
    }
  }
  const path: string[] = [];
  for (let at = end; at !== undefined; at = best.get(at)?.previous) path.push(at);
  return { path: path.reverse(), weight };
}
