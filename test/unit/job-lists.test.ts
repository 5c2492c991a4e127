/** A run's job list as the recorder, the control API and the sweeper read it: its graph, read once per container. */
import { describe, expect, it } from 'vitest';
import { cachedJobLists, graphOfRun } from '../../functions/shared/job-lists.ts';

const LIST = JSON.stringify([
  { id: 'extract', f: 0, up: 0, d: [] },
  { id: 'load', f: 1, up: 1, d: ['extract'] },
]);

describe('job lists', () => {
  it('answers the graph of a job list, reading each object once', async () => {
    const reads: string[] = [];
    const lists = cachedJobLists(async (ref) => (reads.push(ref.key), LIST));
    const ref = { bucket: 'assets', key: 'a.json' };
    const [first, second] = await Promise.all([lists.graph(ref), lists.graph(ref)]);
    expect(first).toEqual({ extract: [], load: ['extract'] });
    expect(second).toBe(first);
    expect(await lists.graph(ref)).toBe(first);
    expect(reads).toEqual(['a.json']);
  });

  it('reads again after a read that failed, and refuses an object that is not a job list', async () => {
    let fail = true;
    const lists = cachedJobLists(async () => {
      if (fail) throw Object.assign(new Error('Slow Down'), { name: 'SlowDown' });
      return LIST;
    });
    const ref = { bucket: 'assets', key: 'a.json' };
    await expect(lists.graph(ref)).rejects.toThrow('Slow Down');
    fail = false;
    expect(await lists.graph(ref)).toEqual({ extract: [], load: ['extract'] });
    const bad = cachedJobLists(async () => JSON.stringify({ extract: [] }));
    await expect(bad.graph(ref)).rejects.toThrow();
  });

  it('keeps at most the lists it was told to, dropping the oldest', async () => {
    const reads: string[] = [];
    const lists = cachedJobLists(async (ref) => (reads.push(ref.key), LIST), 2);
    for (const key of ['a', 'b', 'c', 'a']) await lists.graph({ bucket: 'assets', key });
    expect(reads).toEqual(['a', 'b', 'c', 'a']);
  });

  it('answers, for a run whose start was never recorded, the jobs its records name, without upstreams', async () => {
    const lists = cachedJobLists(async () => LIST);
    expect(await graphOfRun({}, lists, ['load', 'extract'])).toEqual({ load: [], extract: [] });
    expect(await graphOfRun({ jobList: { bucket: 'assets', key: 'a.json' } }, lists, ['ghost'])).toEqual({ extract: [], load: ['extract'] });
  });
});
