/**
 * `phi dlq list|show|retry|purge`: the dead-letter queue through the control API. Parsing is pure
 * (`parseDlq`), the calls go through the client (`runDlq`).
 */
import { MAX_PURGE_AGE_SECONDS, type DeadLetterEntry, type DeadLetterListResponse, type DeadLetterPurgeResponse, type DeadLetterRetryAllResponse, type DeadLetterRetryResponse } from '../model/contract/index.ts';
import type { PhiClient } from '../client/client.ts';

export type DlqCommand =
  | { readonly verb: 'list'; readonly pipeline?: string }
  | { readonly verb: 'show'; readonly messageId: string }
  | { readonly verb: 'retry'; readonly messageId: string }
  | { readonly verb: 'retry-all'; readonly pipeline?: string }
  | { readonly verb: 'purge'; readonly olderThanSeconds: number };

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

/** `7d`, `12h`, `30m`, `45s`, `2w`, or several (`1d12h`) → seconds; `undefined` for anything else. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+[smhdw])+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhdw])/g)) total += Number(n) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
  return Number.isSafeInteger(total) ? total : undefined;
}

export interface DlqFlags {
  readonly pipeline?: string | undefined;
  readonly all?: boolean | undefined;
  readonly 'older-than'?: string | undefined;
}

/** The command `phi dlq <verb> …` asks for, or why it is not one (a usage error). */
export function parseDlq(positionals: readonly string[], flags: DlqFlags): { command: DlqCommand } | { usage: string } {
  const [verb, id, ...extra] = positionals;
  if (extra.length > 0) return { usage: `phi dlq ${verb} takes one id at most, got ${positionals.length - 1}` };
  switch (verb) {
    case 'list':
      if (id !== undefined) return { usage: 'phi dlq list takes no id (--pipeline P filters)' };
      return { command: { verb: 'list', ...(flags.pipeline ? { pipeline: flags.pipeline } : {}) } };
    case 'show':
      if (id === undefined) return { usage: 'phi dlq show needs a message id (phi dlq list shows them)' };
      return { command: { verb: 'show', messageId: id } };
    case 'retry':
      if (flags.all && id !== undefined) return { usage: 'phi dlq retry takes a message id or --all, not both' };
      if (flags.all) return { command: { verb: 'retry-all', ...(flags.pipeline ? { pipeline: flags.pipeline } : {}) } };
      if (id === undefined) return { usage: 'phi dlq retry needs a message id, or --all [--pipeline P]' };
      if (flags.pipeline) return { usage: '--pipeline goes with --all' };
      return { command: { verb: 'retry', messageId: id } };
    case 'purge': {
      const text = flags['older-than'];
      if (text === undefined) return { usage: 'phi dlq purge needs --older-than, e.g. 7d, 12h or 30m' };
      const seconds = parseDuration(text);
      if (seconds === undefined) return { usage: `--older-than takes a duration such as 7d, 12h, 30m or 1d12h; got "${text}"` };
      if (seconds > MAX_PURGE_AGE_SECONDS) return { usage: `--older-than is at most 14d (SQS keeps no message longer); got "${text}"` };
      return { command: { verb: 'purge', olderThanSeconds: seconds } };
    }
    default:
      return { usage: verb === undefined ? 'phi dlq needs a verb: list, show, retry or purge' : `unknown dlq verb "${verb}": list, show, retry or purge` };
  }
}

const letterLine = (e: DeadLetterEntry): string =>
  `${e.messageId}  ${e.letter.pipelineId}  run ${e.letter.runId}  job ${e.letter.jobId}  ${e.letter.errorCode} (${e.letter.errorCategory}, ${e.letter.attempts} attempt(s))  failed ${e.letter.failedAt}`;

export function formatDeadLetters(page: DeadLetterListResponse): string {
  const lines = page.letters.length === 0 ? ['no dead letters waiting'] : page.letters.map(letterLine);
  if (!page.complete) lines.push(`(scanned ${page.scanned} messages, the bound: more may wait)`);
  return lines.join('\n');
}

export function formatDeadLetter(e: DeadLetterEntry): string {
  const l = e.letter;
  return [
    `dead letter ${e.messageId}${e.sentAt ? ` (queued ${e.sentAt}${e.receiveCount !== undefined ? `, received ${e.receiveCount} time(s)` : ''})` : ''}`,
    `  pipeline ${l.pipelineId}, run ${l.runId}, job ${l.jobId} (trigger ${l.trigger}${l.scheduledTime ? `, scheduled ${l.scheduledTime}` : ''})`,
    `  failed ${l.failedAt} after ${l.attempts} attempt(s): ${l.errorCode} (${l.errorCategory})`,
    `  ${l.errorMessage}`,
    `  parameters ${JSON.stringify(l.parameters)}`,
  ].join('\n');
}

const retryLine = (r: DeadLetterRetryResponse): string =>
  `${r.created ? 'retried' : 'already retried'} dead letter ${r.messageId} as run ${r.run.runId} (${r.run.status})${r.deleted ? '; the letter is deleted' : ''}`;

/** Runs the command; answers the exit code (0 done, 1 some letter could not be retried). */
export async function runDlq(command: DlqCommand, client: Pick<PhiClient, 'deadLetters' | 'deadLetter' | 'retryDeadLetter' | 'retryAllDeadLetters' | 'purgeDeadLetters'>, out: (text: string) => void, json: boolean): Promise<0 | 1> {
  switch (command.verb) {
    case 'list': {
      const page = await client.deadLetters(command.pipeline !== undefined ? { pipeline: command.pipeline } : {});
      out(json ? JSON.stringify(page, null, 2) : formatDeadLetters(page));
      return 0;
    }
    case 'show': {
      const entry = await client.deadLetter(command.messageId);
      out(json ? JSON.stringify(entry, null, 2) : formatDeadLetter(entry));
      return 0;
    }
    case 'retry': {
      const answer = await client.retryDeadLetter(command.messageId);
      out(json ? JSON.stringify(answer, null, 2) : retryLine(answer));
      return 0;
    }
    case 'retry-all': {
      // Each call retries a bounded number of letters: called again while letters are left and some went.
      const total: DeadLetterRetryAllResponse = { retried: [], failed: [], scanned: 0, complete: false };
      for (;;) {
        const page = await client.retryAllDeadLetters(command.pipeline);
        total.retried.push(...page.retried);
        total.failed.push(...page.failed);
        total.scanned += page.scanned;
        total.complete = page.complete;
        if (!json) for (const r of page.retried) out(`${r.created ? 'retried' : 'already retried'} dead letter ${r.messageId} as run ${r.runId}`);
        if (page.complete || page.retried.length === 0) break;
      }
      if (json) out(JSON.stringify(total, null, 2));
      else {
        for (const f of total.failed) out(`not retried: dead letter ${f.messageId}: ${f.code}: ${f.message}`);
        out(`${total.retried.length} retried, ${total.failed.length} not${total.complete ? '' : ' (letters are left: run it again)'}`);
      }
      return total.failed.length === 0 ? 0 : 1;
    }
    case 'purge': {
      const answer: DeadLetterPurgeResponse = await client.purgeDeadLetters(command.olderThanSeconds);
      out(json ? JSON.stringify(answer, null, 2) : `purged ${answer.purged} dead letter(s)${answer.complete ? '' : ` (scanned ${answer.scanned}, the bound: run it again for more)`}`);
      return 0;
    }
  }
}
