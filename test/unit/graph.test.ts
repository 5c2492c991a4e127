import { describe, expect, it } from 'vitest';
import { criticalPath, executionLayers, findCycles, type GraphNode } from '../../lib/plan/graph.ts';

/** A job `id` that depends on `dependsOn`, with an attempt duration of `weight` seconds. */
const job = (id: string, dependsOn: readonly string[] = [], weight = 1): GraphNode => ({ id, dependsOn, weight });

/** The same nodes in reverse order, to show results do not depend on declaration order. */
const reversed = (nodes: readonly GraphNode[]): GraphNode[] => [...nodes].reverse();

describe('findCycles', () => {
  it('reports a 3-cycle as a path along dependsOn edges that starts and ends at the smallest id', () => {
    // a dependsOn b, b dependsOn c, c dependsOn a
    const nodes = [job('a', ['b']), job('b', ['c']), job('c', ['a'])];
    expect(findCycles(nodes)).toStrictEqual([['a', 'b', 'c', 'a']]);
  });

  it('reports the same cycle whatever order the jobs are declared in', () => {
    const nodes = [job('c', ['a']), job('b', ['c']), job('a', ['b'])];
    expect(findCycles(nodes)).toStrictEqual([['a', 'b', 'c', 'a']]);
  });

  it('reads the cycle along dependsOn, not against it', () => {
    // a dependsOn c, c dependsOn b, b dependsOn a: along the edges the cycle is a → c → b → a.
    const nodes = [job('a', ['c']), job('b', ['a']), job('c', ['b'])];
    expect(findCycles(nodes)).toStrictEqual([['a', 'c', 'b', 'a']]);
  });

  it('reports a job that depends on itself as ["a", "a"]', () => {
    expect(findCycles([job('a', ['a']), job('b', ['a'])])).toStrictEqual([['a', 'a']]);
  });

  it('reports every separate cycle, ordered by their first job', () => {
    const nodes = [
      job('x', ['y']),
      job('y', ['z']),
      job('z', ['x']),
      job('a', ['b']),
      job('b', ['a']),
      job('m', ['m']),
      job('free', ['a', 'x']),
    ];
    expect(findCycles(nodes)).toStrictEqual([
      ['a', 'b', 'a'],
      ['m', 'm'],
      ['x', 'y', 'z', 'x'],
    ]);
  });

  it('reports one shortest cycle per strongly connected component', () => {
    // a ⇄ b and a → c → d → a form one component; the shortest cycle through a is a → b → a.
    const nodes = [job('a', ['b', 'c']), job('b', ['a']), job('c', ['d']), job('d', ['a'])];
    expect(findCycles(nodes)).toStrictEqual([['a', 'b', 'a']]);
  });

  it('finds no cycle in an acyclic graph, including a diamond', () => {
    const diamond = [job('top'), job('left', ['top']), job('right', ['top']), job('bottom', ['left', 'right'])];
    expect(findCycles(diamond)).toStrictEqual([]);
    expect(findCycles([])).toStrictEqual([]);
  });

  it('ignores edges to jobs that do not exist (they are DEP_001_MISSING_UPSTREAM)', () => {
    expect(findCycles([job('a', ['ghost']), job('b', ['a', 'ghost'])])).toStrictEqual([]);
  });

  it('handles a 10,000-job chain without overflowing the stack', () => {
    // GIVEN j1 dependsOn j0, j2 dependsOn j1, ... j9999 dependsOn j9998
    const chain = Array.from({ length: 10_000 }, (_, i) => job(`j${i}`, i === 0 ? [] : [`j${i - 1}`]));
    // THEN it is acyclic
    expect(findCycles(chain)).toStrictEqual([]);
    // AND closing it into a ring gives one cycle through all 10,000 jobs, read along dependsOn
    const ring = chain.map((n, i) => (i === 0 ? job('j0', ['j9999']) : n));
    const cycles = findCycles(ring);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toHaveLength(10_001);
    expect(cycles[0]?.slice(0, 3)).toStrictEqual(['j0', 'j9999', 'j9998']);
    expect(cycles[0]?.slice(-3)).toStrictEqual(['j2', 'j1', 'j0']);
  });
});

describe('executionLayers', () => {
  it('puts a fan-out/fan-in pipeline in three layers, jobs sorted within a layer', () => {
    const nodes = [
      job('publish', ['transform-clean', 'transform-enrich', 'transform-aggregate']),
      job('transform-enrich', ['ingest']),
      job('transform-clean', ['ingest']),
      job('transform-aggregate', ['ingest']),
      job('ingest'),
    ];
    expect(executionLayers(nodes)).toStrictEqual([['ingest'], ['transform-aggregate', 'transform-clean', 'transform-enrich'], ['publish']]);
    expect(executionLayers(reversed(nodes))).toStrictEqual(executionLayers(nodes));
  });

  it('places a job one layer below its deepest dependency', () => {
    // d depends on a (layer 0) and c (layer 2), so d is in layer 3, not 1.
    const nodes = [job('a'), job('b', ['a']), job('c', ['b']), job('d', ['a', 'c'])];
    expect(executionLayers(nodes)).toStrictEqual([['a'], ['b'], ['c'], ['d']]);
  });

  it('puts every independent job in layer 0', () => {
    expect(executionLayers([job('z'), job('m'), job('a')])).toStrictEqual([['a', 'm', 'z']]);
  });

  it('ignores dependencies on jobs outside the graph', () => {
    expect(executionLayers([job('a', ['disabled-job']), job('b', ['a'])])).toStrictEqual([['a'], ['b']]);
  });

  it('has no layers for no jobs', () => {
    expect(executionLayers([])).toStrictEqual([]);
  });
});

describe('criticalPath', () => {
  it('follows the heaviest chain: weights decide, not the number of jobs', () => {
    // Short but slow: root → slow (100). Long but quick: root → q1 → q2 → q3 (1 each).
    const nodes = [job('root', [], 10), job('slow', ['root'], 100), job('q1', ['root']), job('q2', ['q1']), job('q3', ['q2'])];
    expect(criticalPath(nodes)).toStrictEqual({ path: ['root', 'slow'], weight: 110 });
  });

  it('follows the slowest branch of a fan-out/fan-in and sums its weights', () => {
    const nodes = [
      job('ingest', [], 60),
      job('transform-aggregate', ['ingest'], 60),
      job('transform-clean', ['ingest'], 300),
      job('transform-enrich', ['ingest'], 120),
      job('publish', ['transform-aggregate', 'transform-clean', 'transform-enrich'], 30),
    ];
    expect(criticalPath(nodes)).toStrictEqual({ path: ['ingest', 'transform-clean', 'publish'], weight: 390 });
  });

  it('breaks a tie between equally heavy branches the same way whatever the declaration order', () => {
    const nodes = [
      job('ingest', [], 60),
      job('transform-enrich', ['ingest'], 60),
      job('transform-clean', ['ingest'], 60),
      job('transform-aggregate', ['ingest'], 60),
      job('publish', ['transform-enrich', 'transform-clean', 'transform-aggregate'], 60),
    ];
    const expected = { path: ['ingest', 'transform-aggregate', 'publish'], weight: 180 };
    expect(criticalPath(nodes)).toStrictEqual(expected);
    expect(criticalPath(reversed(nodes))).toStrictEqual(expected);
  });

  it('breaks a tie between independent chains deterministically', () => {
    const nodes = [job('b'), job('b2', ['b']), job('a'), job('a2', ['a'])];
    expect(criticalPath(nodes)).toStrictEqual({ path: ['a', 'a2'], weight: 2 });
    expect(criticalPath(reversed(nodes))).toStrictEqual({ path: ['a', 'a2'], weight: 2 });
  });

  it('gives a tie to the chain ending at the smallest job id, as documented', () => {
    const nodes = [job('b'), job('z', ['b']), job('c'), job('a', ['c'])];
    expect(criticalPath(nodes).path).toStrictEqual(['c', 'a']);
  });

  it('handles a 100,000-job chain without deep recursion', () => {
    const chain = Array.from({ length: 100_000 }, (_, i) => job(`n${i}`, i > 0 ? [`n${i - 1}`] : []));
    expect(executionLayers(chain)).toHaveLength(100_000);
    expect(criticalPath(chain).path).toHaveLength(100_000);
  });

  it('is a single job when nothing depends on anything', () => {
    expect(criticalPath([job('a', [], 5), job('b', [], 7)])).toStrictEqual({ path: ['b'], weight: 7 });
  });

  it('is empty for no jobs', () => {
    expect(criticalPath([])).toStrictEqual({ path: [], weight: 0 });
  });
});
