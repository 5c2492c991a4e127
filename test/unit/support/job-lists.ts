/** Job lists kept in memory, as the deploy would have written them to S3, read through the real cache. */
import { createHash } from 'node:crypto';
import type { JobItem, JobListRef } from '../../../lib/model/contract/index.ts';
import { cachedJobLists, type JobLists } from '../../../functions/shared/job-lists.ts';

export class MemoryJobLists implements JobLists {
  private readonly objects = new Map<string, string>();
  /** Reads that reached the "bucket" (the cache answers the others). */
  reads = 0;
  private readonly cached = cachedJobLists(async (ref) => {
    this.reads++;
    const text = this.objects.get(ref.key);
    if (text === undefined) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    return text;
  });

  /** Stores the job list of `graph` (job → its upstreams), as a deploy would, and answers where. */
  put(graph: Readonly<Record<string, readonly string[]>>): JobListRef {
    const items: JobItem[] = Object.entries(graph).map(([id, d]) => ({ id, f: 0, up: d.length, d: [...d] }));
    const text = JSON.stringify(items);
    const key = `${createHash('sha256').update(text).digest('hex')}.json`;
    this.objects.set(key, text);
    return { bucket: 'cdk-assets', key };
  }

  graph(ref: JobListRef): ReturnType<JobLists['graph']> {
    return this.cached.graph(ref);
  }
}
