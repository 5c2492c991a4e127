/** Renders a pipeline plan's graph for people: Mermaid, Graphviz dot, or plain text. */
import type { JsonSchema } from '../model/run-parameters.ts';
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

type Json = JsonSchema[string];
const isObject = (value: Json | undefined): value is { [key: string]: Json } => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A JSON Schema's type in a few characters: `integer`, `string[]`, `"a"|"b"`, `{[a|b]: integer}`. */
function briefType(schema: Json | undefined): string {
  if (!isObject(schema)) return 'any';
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join('|');
  if ('const' in schema) return JSON.stringify(schema.const);
  const union = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (union) return union.map(briefType).join('|');
  if (typeof schema.$ref === 'string') return 'json';
  if (Array.isArray(schema.type)) return schema.type.join('|');
  switch (schema.type) {
    case 'array':
      if (Array.isArray(schema.prefixItems)) return `[${schema.prefixItems.map(briefType).join(', ')}]`;
      return /[|\s]/.test(briefType(schema.items)) ? `(${briefType(schema.items)})[]` : `${briefType(schema.items)}[]`;
    case 'object': {
      if (isObject(schema.properties) && Object.keys(schema.properties).length > 0) return `{${Object.keys(schema.properties).join(', ')}}`;
      if (isObject(schema.additionalProperties)) {
        const keys = isObject(schema.propertyNames) && Array.isArray(schema.propertyNames.enum) ? schema.propertyNames.enum.join('|') : 'string';
        return `{[${keys}]: ${briefType(schema.additionalProperties)}}`;
      }
      return 'object';
    }
    default:
      return typeof schema.type === 'string' ? schema.type : 'any';
  }
}

/**
 * What a run of the pipeline may set, on one line for people (`phi plan`): each run parameter with its
 * type, `?` when a run may leave it out, and `= default` when the deployment fills it in.
 */
export function describeRunParameters(schema: JsonSchema | undefined): string {
  if (schema === undefined) return 'none (a run sets no parameters)';
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
  const keys = Object.keys(properties).map((key) => {
    const property = properties[key];
    const fallback = isObject(property) && 'default' in property ? ` = ${JSON.stringify(property.default)}` : '';
    return `${key}${required.has(key) || fallback ? '' : '?'}: ${briefType(property)}${fallback}`;
  });
  const open = schema.additionalProperties !== false ? `${keys.length > 0 ? ', ' : ''}…any other key` : '';
  return keys.length === 0 && !open ? 'none (a run sets no parameters)' : `${keys.join(', ')}${open}`;
}
