/**
 * `phi pause|resume <pipeline> | --all [--reason TEXT]`, `phi paused <pipeline>` and `phi audit
 * [--pipeline P] [--limit N]`: pausing a deployment's schedules and triggers without a deploy, and its
 * audit log (operator actions, and each deploy that changed a definition), through the control API.
 * Parsing is pure (`parseOperate`), the calls go through the client (`runOperate`).
 */
import { DefinitionChangeKind, MAX_AUDIT_PAGE, MAX_REASON_LENGTH, type AuditRecord, type AuditResponse, type DefinitionChange, type ListedChanges, type PauseFlag, type PauseState } from '../model/contract/index.ts';
import type { PhiClient } from '../client/client.ts';

export type OperateCommand =
  | { readonly verb: 'pause' | 'resume'; readonly pipeline?: string; readonly reason?: string }
  | { readonly verb: 'paused'; readonly pipeline: string }
  | { readonly verb: 'audit'; readonly pipeline?: string; readonly limit?: number };

/** The commands `parseOperate` takes. */
export const OPERATE_VERBS = ['pause', 'resume', 'paused', 'audit'] as const;

export interface OperateFlags {
  readonly all?: boolean | undefined;
  readonly reason?: string | undefined;
  readonly pipeline?: string | undefined;
  readonly limit?: string | undefined;
}

/** The command `phi <verb> …` asks for, or why it is not one (a usage error). */
export function parseOperate(verb: string, positionals: readonly string[], flags: OperateFlags): { command: OperateCommand } | { usage: string } {
  const [id, ...extra] = positionals;
  if (extra.length > 0) return { usage: `phi ${verb} takes one pipeline id at most, got ${positionals.length}` };
  switch (verb) {
    case 'pause':
    case 'resume': {
      if (flags.all && id !== undefined) return { usage: `phi ${verb} takes a pipeline id or --all, not both` };
      if (!flags.all && id === undefined) return { usage: `phi ${verb} needs a pipeline id, or --all (every pipeline)` };
      if (flags.pipeline !== undefined || flags.limit !== undefined) return { usage: `phi ${verb} takes a pipeline id or --all, and --reason` };
      if (flags.reason !== undefined && flags.reason.length > MAX_REASON_LENGTH) return { usage: `--reason is at most ${MAX_REASON_LENGTH} characters` };
      return { command: { verb, ...(id !== undefined ? { pipeline: id } : {}), ...(flags.reason !== undefined ? { reason: flags.reason } : {}) } };
    }
    case 'paused':
      if (id === undefined) return { usage: 'phi paused needs a pipeline id' };
      if (flags.all || flags.reason !== undefined || flags.pipeline !== undefined || flags.limit !== undefined) return { usage: 'phi paused takes a pipeline id only' };
      return { command: { verb, pipeline: id } };
    case 'audit': {
      if (id !== undefined) return { usage: 'phi audit takes no id (--pipeline P filters)' };
      if (flags.all || flags.reason !== undefined) return { usage: 'phi audit takes --pipeline P and --limit N' };
      const limit = flags.limit === undefined ? undefined : Number(flags.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE)) return { usage: `--limit is a whole number from 1 to ${MAX_AUDIT_PAGE}` };
      return { command: { verb, ...(flags.pipeline !== undefined ? { pipeline: flags.pipeline } : {}), ...(limit !== undefined ? { limit } : {}) } };
    }
    default:
      return { usage: `unknown command "${verb}"` };
  }
}

const byWhom = (flag: PauseFlag): string => `by ${flag.by} at ${flag.at}${flag.reason ? `: ${flag.reason}` : ''}`;

/** A pause state, for people. */
export function formatPauseState(state: PauseState): string {
  const what = state.pipelineId === '*' ? 'every pipeline' : state.pipelineId;
  if (!state.paused) return `${what}: not paused (its schedules and triggers start runs)`;
  const lines = [`${what}: PAUSED (its schedules and triggers are recorded SKIPPED, reason PAUSED; starts through the API go on)`];
  if (state.pipeline) lines.push(`  paused ${byWhom(state.pipeline)} (phi resume ${state.pipelineId})`);
  if (state.all) lines.push(`  every pipeline paused ${byWhom(state.all)} (phi resume --all)`);
  return lines.join('\n');
}

/** A definition hash as people compare them: its first 8 digits. */
const shortHash = (hash: string): string => hash.slice(0, 8);

/** `+2 -0 ~1 (+load, +check, ~transform)`: the counts, and the names listed (`…` when more changed than are listed). */
function listedText(changes: ListedChanges): string {
  if (changes.unlisted) return 'changed (too many to list)';
  const { counts } = changes;
  const names = [...changes.added.map((n) => `+${n}`), ...changes.removed.map((n) => `-${n}`), ...changes.changed.map((n) => `~${n}`)];
  const more = counts.added + counts.removed + counts.changed > names.length ? ', …' : '';
  return `+${counts.added} -${counts.removed} ~${counts.changed} (${names.join(', ')}${more})`;
}

/**
 * A `DEPLOY` record's definition change on one line: `5e6f7a8b -> 1a2b3c4d; jobs +1 -0 ~1 (+load, ~transform);
 * schedules default: cron: 0 3 * * * (UTC) -> default: cron: 0 4 * * * (UTC); commit 0f664df1a2b3 (dirty) by Alice <alice@example.com>`.
 */
export function definitionText(d: DefinitionChange): string {
  const version = (v: string | undefined): string => (v === undefined ? '' : ` (version ${v})`);
  const head = d.change === DefinitionChangeKind.CREATED ? `created ${shortHash(d.hash)}${version(d.version)}, ${d.jobCount} job${d.jobCount === 1 ? '' : 's'}`
    : `${shortHash(d.previousHash ?? '?')}${version(d.previousVersion)} -> ${shortHash(d.hash)}${version(d.version)}`;
  const parts = [
    head,
    ...(d.change === DefinitionChangeKind.CHANGED && d.jobs ? [`jobs ${listedText(d.jobs)}`] : []),
    ...(d.change === DefinitionChangeKind.CHANGED && d.triggers ? [`triggers ${listedText(d.triggers)}`] : []),
    ...(d.change === DefinitionChangeKind.CHANGED && d.code ? [`code ${listedText(d.code)}`] : []),
    ...(d.schedules && d.change === DefinitionChangeKind.CREATED ? [`schedules ${d.schedules.after.join(' | ')}`] : []),
    ...(d.schedules && d.change === DefinitionChangeKind.CHANGED ? [`schedules ${d.schedules.before.join(' | ') || 'none'} -> ${d.schedules.after.join(' | ') || 'none'}`] : []),
    ...(d.settings ? ['other settings changed'] : []),
    ...(d.commit !== undefined || d.author !== undefined ? [`${d.commit !== undefined ? `commit ${d.commit.slice(0, 12)}` : 'commit unknown'}${d.dirty ? ' (dirty)' : ''}${d.author !== undefined ? ` by ${d.author}` : ''}`] : []),
  ];
  return parts.join('; ');
}

/** One line an audit record: when, what, which pipeline, who, and what it concerned. */
function auditLine(r: AuditRecord): string {
  const about = [r.runId, r.messageId ? `letter ${r.messageId}` : undefined, r.reason ? `reason: ${r.reason}` : undefined, r.detail, r.definition ? definitionText(r.definition) : undefined].filter((x) => x !== undefined).join('; ');
  return `${r.at}  ${r.action.padEnd(6)}  ${r.pipeline.padEnd(20)}  ${r.by}${about ? `  ${about}` : ''}`;
}

export function formatAudit(answer: AuditResponse): string {
  if (answer.records.length === 0) return 'no audit records';
  return [...answer.records.map(auditLine), ...(answer.complete ? [] : ['(the read stopped at its bound: older records may match; narrow with --pipeline)'])].join('\n');
}

/** Runs the command through the client; answers the exit code (0, or 1 for nothing). */
export async function runOperate(command: OperateCommand, client: Pick<PhiClient, 'setPaused' | 'pauseState' | 'audit'>, out: (text: string) => void, json: boolean): Promise<number> {
  switch (command.verb) {
    case 'pause':
    case 'resume': {
      const state = await client.setPaused(command.pipeline, command.verb === 'pause', command.reason);
      if (json) out(JSON.stringify(state, null, 2));
      else {
        const what = command.pipeline ?? 'every pipeline';
        out(command.verb === 'pause' ? `paused ${what}` : `resumed ${what}${command.pipeline === undefined ? ' (a pipeline paused on its own stays paused)' : ''}`);
        out(formatPauseState(state));
      }
      return 0;
    }
    case 'paused': {
      const state = await client.pauseState(command.pipeline);
      out(json ? JSON.stringify(state, null, 2) : formatPauseState(state));
      return 0;
    }
    case 'audit': {
      const answer = await client.audit({ ...(command.pipeline !== undefined ? { pipeline: command.pipeline } : {}), ...(command.limit !== undefined ? { limit: command.limit } : {}) });
      out(json ? JSON.stringify(answer, null, 2) : formatAudit(answer));
      return 0;
    }
  }
}
