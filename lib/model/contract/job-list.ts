/**
 * The run's job list: one object per definition version, written by the deploy (a file asset in S3),
 * never passed between states. The jobs' Distributed Map reads its items from it (`ItemReader`), and
 * the recorder, the control API and the sweeper read the graph from it, so neither the state payload
 * (256 KiB) nor the run record (400 KB) grows with the number of jobs.
 */
import { z } from 'zod';

/** One job as its iteration sees it: `id`, its function's index in the run's function list, how many upstreams it waits for, which. */
export const JobItemSchema = z.object({
  id: z.string(),
  f: z.number().int().min(0),
  up: z.number().int().min(0),
  d: z.array(z.string()),
});
export type JobItem = z.infer<typeof JobItemSchema>;

/** The enabled jobs of a definition version, in the plan's order. */
export const JobListSchema = z.array(JobItemSchema);

/** Where a definition version's job list is kept. */
export const JobListRefSchema = z.object({ bucket: z.string().min(1), key: z.string().min(1) });
export type JobListRef = z.infer<typeof JobListRefSchema>;

/** A run's graph: each enabled job → its upstream ids. */
export type JobGraph = Readonly<Record<string, readonly string[]>>;

export const graphOfJobList = (items: readonly JobItem[]): JobGraph => Object.fromEntries(items.map((item) => [item.id, item.d]));
