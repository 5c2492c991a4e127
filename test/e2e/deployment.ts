/**
 * The e2e suite's one deployment (`global-setup.ts` deploys it once), so a test that redeploys a stack of
 * it (`audit.test.ts`) synthesizes the same app: the same definitions directories, the same switches.
 * Also the audit drill: a small pipeline written to `.phi/audit-drill/`, whose definition the audit test
 * rewrites (revision 2) and redeploys.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedPipeline } from '../support/generated-pipeline.ts';
import { SCALE } from './scale.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const AUDIT_DRILL = {
  pipelineId: 'audit-drill',
  dir: path.join(ROOT, '.phi', 'audit-drill'),
} as const;

const SCALE_DIR = path.join(ROOT, '.phi', 'scale');

/** The definitions directories of the deployment: the shipped examples, the scale test's, the e2e suite's own, the audit drill's. */
export const E2E_DEFINITIONS_DIRS: readonly string[] = [path.join(ROOT, 'definitions'), SCALE_DIR, path.join(ROOT, 'test', 'e2e', 'definitions'), AUDIT_DRILL.dir];

/** With Phi's own fault-injection switch compiled into the job functions (never in a real deployment). */
export const E2E_DEPLOY_OPTIONS = { quiet: true, faultInjection: true, definitionsDirs: E2E_DEFINITIONS_DIRS } as const;

/** Writes the generated directories the deployment reads (the scale test's pipeline, the audit drill's first revision). */
export function writeGeneratedDefinitions(): void {
  writeGeneratedPipeline(SCALE.pipelineId, SCALE.jobs(), { dir: SCALE_DIR });
  writeAuditDrill(1);
}

/**
 * The audit drill's definition. Revision 1: `extract → transform → load`, a yearly schedule (disabled:
 * it never starts a run). Revision 2, what the audit test deploys: `publish` added after `load`,
 * `transform` given a parameter (its configuration changes, its function does not), the schedule moved
 * an hour, the version label 2.
 */
export function writeAuditDrill(revision: 1 | 2): string {
  const dir = AUDIT_DRILL.dir;
  mkdirSync(path.join(dir, 'handlers'), { recursive: true });
  writeFileSync(path.join(dir, 'handlers', 'step.ts'), 'export const handler = async () => ({ done: true });\n');
  // Definitions are ES modules, wherever they live.
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  const step = { handler: './handlers/step.ts', timeoutSeconds: 30 };
  const definition = {
    id: AUDIT_DRILL.pipelineId,
    version: String(revision),
    description: 'The audit test\'s pipeline: its definition changes between two deploys',
    schedule: { cron: revision === 1 ? '0 3 1 1 *' : '0 4 1 1 *', enabled: false },
    jobs: {
      extract: step,
      transform: { ...step, dependsOn: ['extract'], ...(revision === 2 ? { parameters: { mode: 'full' } } : {}) },
      load: { ...step, dependsOn: ['transform'] },
      ...(revision === 2 ? { publish: { ...step, dependsOn: ['load'] } } : {}),
    },
  };
  // One file per revision: a module once imported is not read again by this process (the test plans both).
  for (const file of readdirSync(dir)) if (file.startsWith(`${AUDIT_DRILL.pipelineId}.`) && file.endsWith('.ts')) rmSync(path.join(dir, file));
  writeFileSync(path.join(dir, `${AUDIT_DRILL.pipelineId}.r${revision}.ts`), `export default ${JSON.stringify(definition, null, 2)};\n`);
  return dir;
}
