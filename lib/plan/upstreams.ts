/**
 * Cross-pipeline dependencies (issue #9): each pipeline's `after` and `requires`, resolved against the
 * whole deployment into the upstream pipelines it depends on (`DeployedUpstream`, defaults filled in).
 * A required dataset names its one provider (none or two are refused); one upstream named twice must
 * say the same thing; the pipelines together must not depend on each other in a cycle. Pure.
 */
import { DEFAULT_UPSTREAM_TIMEOUT_SECONDS, type DeployedUpstream } from '../model/contract/start.ts';
import { UpstreamCondition, UpstreamMode, type Pipeline } from '../model/pipeline.ts';
import { ProblemCode, type Problem } from '../model/problems.ts';
import { findCycles } from './graph.ts';

export interface UpstreamsPlan {
  /** Pipeline id → the upstream pipelines it depends on, sorted by id (pipelines with none are absent). */
  readonly upstreams: ReadonlyMap<string, readonly DeployedUpstream[]>;
  readonly problems: Problem[];
}

type Settings = Pick<DeployedUpstream, 'on' | 'mode' | 'maxAgeHours' | 'timeoutSeconds'>;

/** A dependency's mode when it names none: a pipeline that nothing else starts is started by its upstreams; one with schedules or triggers of its own is gated. */
export const defaultUpstreamMode = (pipeline: Pick<Pipeline, 'schedule' | 'schedules' | 'triggers'>): UpstreamMode =>
  pipeline.schedule !== undefined || (pipeline.schedules ?? []).length > 0 || (pipeline.triggers ?? []).some((t) => t.enabled !== false) ? UpstreamMode.GATE : UpstreamMode.TRIGGER;

const sameSettings = (a: Settings, b: Settings): boolean => a.on === b.on && a.mode === b.mode && a.maxAgeHours === b.maxAgeHours && a.timeoutSeconds === b.timeoutSeconds;
const describe = (s: Settings): string => `on ${s.on}, mode ${s.mode}, maxAgeHours ${s.maxAgeHours ?? 'any'}, timeoutSeconds ${s.timeoutSeconds}`;

/** The datasets a pipeline provides: its own `provides` and its enabled jobs', each once. */
export function providedBy(pipeline: Pipeline): string[] {
  const jobs = Object.values(pipeline.jobs).filter((j) => j.enabled !== false);
  return [...new Set([...(pipeline.provides ?? []), ...jobs.flatMap((j) => j.provides ?? [])])];
}

/** The datasets a pipeline requires, each with where it is written: its own `requires`, then its enabled jobs' (by job id). */
function requirementsOf(pipeline: Pipeline): { entry: NonNullable<Pipeline['requires']>[number]; path: string }[] {
  const own = (pipeline.requires ?? []).map((entry, i) => ({ entry, path: `requires[${i}]` }));
  const jobs = Object.entries(pipeline.jobs)
    .filter(([, j]) => j.enabled !== false)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([id, j]) => (j.requires ?? []).map((entry, i) => ({ entry, path: `jobs.${id}.requires[${i}]` })));
  return [...own, ...jobs];
}

/** Every pipeline's upstreams, from the deployment's pipelines (each with the file it came from). */
export function compileUpstreams(loaded: readonly { readonly file: string; readonly pipeline: Pipeline }[]): UpstreamsPlan {
  const problems: Problem[] = [];
  const ids = new Set(loaded.map((l) => l.pipeline.id));
  const providers = new Map<string, string[]>();
  for (const { pipeline } of loaded) {
    for (const dataset of providedBy(pipeline)) (providers.get(dataset) ?? providers.set(dataset, []).get(dataset)!).push(pipeline.id);
  }
  const upstreams = new Map<string, DeployedUpstream[]>();
  for (const { file, pipeline } of loaded) {
    const problem = (code: ProblemCode, path: string, message: string, hint: string): void => void problems.push({ code, pipeline: pipeline.id, file, path, message, hint });
    const mode = defaultUpstreamMode(pipeline);
    const edges = new Map<string, { settings: Settings; datasets: Set<string>; explicit: boolean; path: string }>();
    const add = (upstream: string, settings: Settings, path: string, dataset?: string): void => {
      const known = edges.get(upstream);
      if (known === undefined) {
        edges.set(upstream, { settings, datasets: new Set(dataset === undefined ? [] : [dataset]), explicit: dataset === undefined, path });
        return;
      }
      if (dataset !== undefined) known.datasets.add(dataset);
      if (dataset === undefined && known.explicit) {
        problem(ProblemCode.DEP_010_UPSTREAM_CONFLICT, path, `pipeline "${pipeline.id}" lists "${upstream}" in after twice`, 'keep one entry per upstream pipeline');
      } else if (!sameSettings(known.settings, settings)) {
        problem(ProblemCode.DEP_010_UPSTREAM_CONFLICT, path, `pipeline "${pipeline.id}" depends on "${upstream}" twice with different settings (${describe(known.settings)} at ${known.path}; ${describe(settings)} here)`, 'give the dependency one set of settings: on its after entry, or the same on every dataset it provides');
      }
      if (dataset === undefined) Object.assign(known, { explicit: true });
    };
    (pipeline.after ?? []).forEach((entry, i) => {
      const path = `after[${i}]`;
      if (!ids.has(entry.pipeline)) {
        problem(ProblemCode.DEP_006_UNKNOWN_PIPELINE, `${path}.pipeline`, `pipeline "${pipeline.id}" runs after "${entry.pipeline}", which the deployment does not have`, `deploy "${entry.pipeline}" with it, or remove the entry; pipelines: ${[...ids].sort().join(', ')}`);
        return;
      }
      add(entry.pipeline, { on: entry.on ?? UpstreamCondition.SUCCESS, mode: entry.mode ?? mode, ...(entry.maxAgeHours !== undefined ? { maxAgeHours: entry.maxAgeHours } : {}), timeoutSeconds: entry.timeoutSeconds ?? DEFAULT_UPSTREAM_TIMEOUT_SECONDS }, path);
    });
    requirementsOf(pipeline).forEach(({ entry, path }) => {
      const requirement = typeof entry === 'string' ? { dataset: entry } : entry;
      const found = providers.get(requirement.dataset) ?? [];
      if (found.length === 0) {
        problem(ProblemCode.DEP_007_NO_PROVIDER, path, `pipeline "${pipeline.id}" requires dataset "${requirement.dataset}", which no pipeline of the deployment provides`, `add "${requirement.dataset}" to the provides of the pipeline that makes it${providers.size > 0 ? `; provided: ${[...providers.keys()].sort().join(', ')}` : ''}`);
        return;
      }
      if (found.length > 1) {
        problem(ProblemCode.DEP_008_AMBIGUOUS_PROVIDER, path, `pipeline "${pipeline.id}" requires dataset "${requirement.dataset}", which ${found.length} pipelines provide (${found.sort().join(', ')})`, 'let one pipeline provide each dataset (name the others\' differently), or depend on the one you mean with after');
        return;
      }
      const upstream = found[0]!;
      // Made and needed inside one pipeline (one job provides what another requires): its jobs' dependsOn orders them.
      if (upstream === pipeline.id) return;
      const explicit = edges.get(upstream);
      // A plain dataset name takes the settings of an after entry for its provider; one with settings must agree with it.
      const settings: Settings =
        typeof entry === 'string' && explicit?.explicit
          ? explicit.settings
          : { on: UpstreamCondition.SUCCESS, mode: requirement.mode ?? mode, ...(requirement.maxAgeHours !== undefined ? { maxAgeHours: requirement.maxAgeHours } : {}), timeoutSeconds: requirement.timeoutSeconds ?? DEFAULT_UPSTREAM_TIMEOUT_SECONDS };
      if (explicit?.explicit && explicit.settings.on !== UpstreamCondition.SUCCESS) {
        problem(ProblemCode.DEP_010_UPSTREAM_CONFLICT, path, `pipeline "${pipeline.id}" requires dataset "${requirement.dataset}" of "${upstream}", which its after entry waits for on ${explicit.settings.on}: a dataset is provided by a successful run only`, `leave out on (SUCCESS) on the after entry for "${upstream}", or the requirement`);
        return;
      }
      add(upstream, settings, path, requirement.dataset);
    });
    if (edges.size > 0) {
      upstreams.set(
        pipeline.id,
        [...edges.entries()]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([upstream, e]) => ({ pipeline: upstream, ...e.settings, ...(e.datasets.size > 0 ? { datasets: [...e.datasets].sort() } : {}) })),
      );
    }
  }
  const nodes = loaded.map(({ pipeline }) => ({ id: pipeline.id, dependsOn: (upstreams.get(pipeline.id) ?? []).map((u) => u.pipeline), weight: 0 }));
  for (const cycle of findCycles(nodes)) {
    const first = loaded.find((l) => l.pipeline.id === cycle[0]);
    problems.push({
      code: ProblemCode.DEP_009_PIPELINE_CYCLE,
      pipeline: cycle[0]!,
      ...(first ? { file: first.file } : {}),
      path: first?.pipeline.after !== undefined ? 'after' : 'requires',
      message: `pipelines depend on each other in a cycle: ${cycle.join(' → ')}`,
      hint: 'pipelines depend on each other as a DAG: remove one after entry or requirement of the cycle',
      cyclePath: cycle,
    });
  }
  return { upstreams, problems };
}

/** `after market-data (SUCCESS, gate, ≤ 26 h, waits 3600 s) [market_data]; …`: one line for `phi plan`. */
export function describeUpstreams(upstreams: readonly DeployedUpstream[] | undefined): string | undefined {
  if (upstreams === undefined || upstreams.length === 0) return undefined;
  return upstreams
    .map((u) => `${u.pipeline} (${u.on}, ${u.mode === 'trigger' ? 'starts a run when it ends' : 'gates every start'}${u.maxAgeHours !== undefined ? `, at most ${u.maxAgeHours} h old` : ''}, waits ${u.timeoutSeconds} s)${u.datasets ? ` [${u.datasets.join(', ')}]` : ''}`)
    .join('; ');
}
