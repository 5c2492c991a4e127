/**
 * Reading a run's job list (see `lib/model/contract/job-list.ts`): the graph of the run's enabled jobs,
 * for the recorder, the control API and the sweeper. An object is never rewritten (its key is its
 * content's hash), so what a container has read is kept.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { graphOfJobList, JobListSchema, type JobGraph, type JobListRef, type RunRecord } from '../../lib/model/contract/index.ts';

export interface JobLists {
  /** The graph kept at `ref`. */
  graph(ref: JobListRef): Promise<JobGraph>;
}

/** The job lists of one container, each read once: at most `keep` of them (one per deployed definition version in use). */
export function cachedJobLists(read: (ref: JobListRef) => Promise<string>, keep = 16): JobLists {
  const cache = new Map<string, Promise<JobGraph>>();
  return {
    graph(ref) {
      const key = `${ref.bucket}/${ref.key}`;
      const hit = cache.get(key);
      if (hit) return hit;
      const loading = read(ref).then((text) => graphOfJobList(JobListSchema.parse(JSON.parse(text))));
      // A read that failed is tried again by the next caller.
      loading.catch(() => cache.delete(key));
      cache.set(key, loading);
      while (cache.size > keep) cache.delete(cache.keys().next().value!);
      return loading;
    },
  };
}

export function jobListsFromS3(s3: S3Client = new S3Client({ forcePathStyle: true })): JobLists {
  return cachedJobLists(async (ref) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    return (await out.Body?.transformToString('utf8')) ?? '';
  });
}

/**
 * The graph of `run`: its job list's, or, for a run that never started (no job list recorded), the
 * jobs its records name, each without upstreams.
 */
export async function graphOfRun(run: Pick<RunRecord, 'jobList'>, jobLists: JobLists, recordedJobs: Iterable<string> = []): Promise<JobGraph> {
  if (run.jobList) return jobLists.graph(run.jobList);
  return Object.fromEntries([...recordedJobs].map((id) => [id, []]));
}
