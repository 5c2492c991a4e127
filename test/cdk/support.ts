/** What the CDK assertion tests share: plans of definitions written on the spot, and cdk-nag's verdict on a plan's stacks. */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { expect } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { addPhiChecks } from '../../infra/constructs/checks.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import type { Plan } from '../../lib/plan/types.ts';

/**
 * The plan of definition files (name → source) written to a new folder beside `h/x.ts`, a handler
 * they may use; it must have no problems.
 */
export async function planOfFiles(files: Readonly<Record<string, string>>, now: Date): Promise<Plan> {
  const dir = mkdtempSync(path.join(tmpdir(), 'phi-cdk-'));
  mkdirSync(path.join(dir, 'h'));
  writeFileSync(path.join(dir, 'h', 'x.ts'), 'export const handler = async () => ({});\n');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const result = await planDefinitions(dir, now);
  expect(result.problems).toEqual([]);
  return result.plan;
}

interface Report { pluginReports: { pluginName: string; violations: { ruleName: string; violatingConstructs?: { constructPath: string }[] }[] }[] }

/**
 * Synthesizes `plan` with Phi's checks: the findings left (rule and construct), and every
 * acknowledgement made (rule id → `<reason>` per construct, with `at` its path).
 */
export function checked(plan: Plan): { findings: string[]; acknowledged: Map<string, string[]>; at: Map<string, string[]> } {
  const outdir = mkdtempSync(path.join(tmpdir(), 'phi-nag-'));
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  addPhiChecks(app);
  buildApp(app, plan);
  let findings: string[] = [];
  try {
    app.synth();
  } catch {
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as Report;
    findings = report.pluginReports.flatMap((p) => p.violations.flatMap((v) => (v.violatingConstructs ?? []).map((c) => `${v.ruleName} at ${c.constructPath}`)));
    if (findings.length === 0) throw new Error('synthesis failed without a finding in the validation report');
  }
  const acknowledged = new Map<string, string[]>();
  const at = new Map<string, string[]>();
  for (const construct of app.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      // cdk-nag's ids are kept as `Annotation::<id>` (CDK acknowledges rules of its own under other prefixes).
      for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
        const id = /^Annotation::(.*)$/i.exec(key)?.[1];
        if (id === undefined) continue;
        acknowledged.set(id, [...(acknowledged.get(id) ?? []), reason]);
        at.set(id, [...(at.get(id) ?? []), construct.node.path]);
      }
    }
  }
  return { findings, acknowledged, at };
}
