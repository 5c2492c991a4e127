/** Renders a pipeline plan's graph for people: Mermaid, Graphviz dot, or plain text. */
import type { PipelinePlan } from './types.ts';

export const GRAPH_FORMATS = ['mermaid', 'dot', 'ascii'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

const edges = (plan: PipelinePlan): [string, string][] =>
  plan.jobs.filter((j) => j.enabled).flatMap((j) => [...j.dependsOn].sort().map((dep) => [dep, j.id] as [string, string]));

export function renderGraph(plan: PipelinePlan, format: GraphFormat): string {
  const enabled = plan.jobs.filter((j) => j.enabled);
  const critical = new Set(plan.criticalPath);
  switch (format) {
    case 'mermaid': {
      const node = new Map(enabled.map((j, i) => [j.id, `j${i}`]));
      const lines = [`%% ${plan.id}`, 'graph LR'];
      for (const j of enabled) lines.push(`  ${node.get(j.id)}["${j.id}"]`);
      for (const [from, to] of edges(plan)) lines.push(`  ${node.get(from)} --> ${node.get(to)}`);
      const crit = plan.criticalPath.map((id) => node.get(id)).join(',');
      if (crit) lines.push('  classDef critical stroke-width:3px', `  class ${crit} critical`);
      return lines.join('\n');
    }
    case 'dot': {
      const lines = [`digraph "${plan.id}" {`, '  rankdir=LR;', '  node [shape=box];'];
      for (const j of enabled) lines.push(`  "${j.id}"${critical.has(j.id) ? ' [penwidth=3]' : ''};`);
      for (const [from, to] of edges(plan)) lines.push(`  "${from}" -> "${to}";`);
      lines.push('}');
      return lines.join('\n');
    }
    case 'ascii': {
      const width = Math.max(...enabled.map((j) => j.id.length));
      const lines = [`${plan.id}  (${enabled.length} jobs, ${plan.layers.length} layers; * critical path)`];
      plan.layers.forEach((layer, i) => {
        lines.push(`layer ${i + 1}`);
        for (const id of layer) {
          const job = enabled.find((j) => j.id === id)!;
          const deps = job.dependsOn.length > 0 ? `  <- ${[...job.dependsOn].sort().join(', ')}` : '';
          lines.push(`  ${critical.has(id) ? '*' : ' '} ${deps ? id.padEnd(width) : id}${deps}`);
        }
      });
      const disabled = plan.jobs.filter((j) => !j.enabled).map((j) => j.id);
      if (disabled.length > 0) lines.push(`disabled: ${disabled.join(', ')}`);
      return lines.join('\n');
    }
  }
}
