/**
 * Definition-change records on the emulator (issue #10, Audit): the global setup deployed the audit
 * drill (`.phi/audit-drill/`, revision 1); this test rewrites its definition (a job added, another
 * changed, the schedule moved, the version label raised), redeploys that pipeline's stack only, and
 * reads the audit log through the control API and `phi audit`: one `DEPLOY` record of the change, by
 * CloudFormation for the stack, with the previous hash, what changed and the commit the deploy said;
 * the first deploy's record before it; and no record for a redeploy that leaves the definition as it was.
 *
 * The emulator may have been kept from an earlier run of the suite (its records with it): the first
 * deploy's record is then the change back to revision 1 rather than its creation, so the test looks for
 * the record of revision 1's hash, whichever it is, and counts only the records written after it.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { main } from '../../lib/cli/main.ts';
import { deployLocal } from '../../lib/local/emulator.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import { AuditAction, DefinitionChangeKind, type AuditRecord } from '../../lib/model/contract/index.ts';
import { pipelineStackName } from '../../lib/model/names.ts';
import { scheduleText } from '../../lib/plan/definition-summary.ts';
import type { PipelinePlan } from '../../lib/plan/types.ts';
import { AUDIT_DRILL, E2E_DEPLOY_OPTIONS, writeAuditDrill } from './deployment.ts';
import { phiClient, useEmulator } from './support.ts';

const PIPELINE = AUDIT_DRILL.pipelineId;
const STACK = pipelineStackName(PIPELINE);
/** What the redeploys say they came from (`infra/source.ts`), instead of this checkout's git. */
const AUTHOR = 'Phi e2e <e2e@phi.invalid>';

let client: PhiClient;
let endpoint: string;

async function planOfDrill(): Promise<PipelinePlan> {
  const { plan, problems } = await planDefinitions(AUDIT_DRILL.dir);
  expect(problems).toEqual([]);
  return plan.pipelines[0]!;
}

/** The drill's DEPLOY records, newest first. */
async function deployRecords(): Promise<AuditRecord[]> {
  const { records } = await client.audit({ pipeline: PIPELINE, limit: 200 });
  return records.filter((r) => r.action === AuditAction.DEPLOY && r.pipeline === PIPELINE);
}

/** Deploys the drill's stack only (the app synthesized as the global setup did), saying it came from `commit`. */
function redeploy(commit: string): void {
  vi.stubEnv('PHI_DEPLOY_COMMIT', commit);
  vi.stubEnv('PHI_DEPLOY_AUTHOR', AUTHOR);
  try {
    deployLocal(endpoint, { ...E2E_DEPLOY_OPTIONS, stacks: [STACK] });
  } finally {
    vi.unstubAllEnvs();
  }
}

beforeAll(async () => {
  endpoint = useEmulator();
  client = await phiClient();
});

describe('the audit log of deploys', () => {
  it('has an audit record for a changed definition after a redeploy, after the first deploy’s', async () => {
    const first = await planOfDrill();
    expect(first.version).toBe('1');
    const before = await deployRecords();
    const firstRecord = before.find((r) => r.definition?.hash === first.definitionVersion);
    expect(firstRecord, 'the global setup’s deploy of revision 1 is recorded').toBeDefined();
    expect(firstRecord).toMatchObject({ by: `cloudformation:${STACK}`, definition: { change: expect.stringMatching(/^(CREATED|CHANGED)$/), stack: STACK, jobCount: 3 } });

    writeAuditDrill(2);
    const second = await planOfDrill();
    expect(second.definitionVersion).not.toBe(first.definitionVersion);
    const commit = `e2e-${Date.now()}`;
    redeploy(commit);

    const after = await deployRecords();
    const earlier = new Set(before.map((r) => r.id));
    const written = after.filter((r) => !earlier.has(r.id));
    expect(written).toHaveLength(1);
    const [record] = written;
    expect(record).toMatchObject({ action: 'DEPLOY', pipeline: PIPELINE, by: `cloudformation:${STACK}` });
    expect(record!.definition).toEqual({
      change: DefinitionChangeKind.CHANGED,
      hash: second.definitionVersion,
      version: '2',
      previousHash: first.definitionVersion,
      previousVersion: '1',
      stack: STACK,
      jobCount: 4,
      jobs: { added: ['publish'], removed: [], changed: ['transform'], counts: { added: 1, removed: 0, changed: 1 } },
      schedules: { before: [scheduleText(first.schedules[0]!)], after: [scheduleText(second.schedules[0]!)] },
      commit,
      author: AUTHOR,
    });
    // The first deploy's record is still there, older.
    expect(after.indexOf(after.find((r) => r.id === firstRecord!.id)!)).toBeGreaterThan(after.indexOf(record!));

    // `phi audit --pipeline` shows it on one line: the hashes short, what changed, the commit.
    const lines: string[] = [];
    expect(await main(['audit', '--pipeline', PIPELINE], (text) => lines.push(text))).toBe(0);
    const shown = lines.join('\n').split('\n').find((line) => line.includes(second.definitionVersion.slice(0, 8)));
    expect(shown).toContain(`DEPLOY  ${PIPELINE}`);
    expect(shown).toContain(`${first.definitionVersion.slice(0, 8)} (version 1) -> ${second.definitionVersion.slice(0, 8)} (version 2); jobs +1 -0 ~1 (+publish, ~transform)`);
    expect(shown).toContain(`commit ${commit.slice(0, 12)} by ${AUTHOR}`);
  }, 900_000);

  it('writes no record for a redeploy that leaves the definition as it was (only the commit changed)', async () => {
    const deployed = await planOfDrill();
    const before = await deployRecords();
    expect(before[0]!.definition?.hash).toBe(deployed.definitionVersion);
    // The commit is a property of the definition's record, so CloudFormation invokes the recorder again.
    redeploy(`e2e-again-${Date.now()}`);
    const after = await deployRecords();
    expect(after.map((r) => r.id)).toEqual(before.map((r) => r.id));
  }, 900_000);

  it('records a change of handler code alone, naming the file', async () => {
    const before = await deployRecords();
    writeFileSync(path.join(AUDIT_DRILL.dir, 'handlers', 'step.ts'), `export const handler = async () => ({ done: true, at: ${Date.now()} });\n`);
    redeploy(`e2e-code-${Date.now()}`);
    const written = (await deployRecords()).filter((r) => !before.some((b) => b.id === r.id));
    expect(written).toHaveLength(1);
    expect(written[0]!.definition).toMatchObject({ change: DefinitionChangeKind.CHANGED, code: { changed: ['handlers/step.ts'] } });
    expect(written[0]!.definition?.hash).toBe(written[0]!.definition?.previousHash);
  }, 900_000);
});
