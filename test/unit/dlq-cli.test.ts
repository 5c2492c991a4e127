/** `phi dlq`: its parsing (durations, verbs, flags), usage errors through `main`, and its calls through a fake client. */
import { describe, expect, it } from 'vitest';
import { parseDlq, parseDuration, runDlq } from '../../lib/cli/dlq.ts';
import { ExitCode, main } from '../../lib/cli/main.ts';
import type { PhiClient } from '../../lib/client/client.ts';
import type { DeadLetterRetryAllResponse } from '../../lib/model/contract/index.ts';

async function phi(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (t) => out.push(t), (t) => err.push(t));
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('parseDuration', () => {
  it('reads 7d, 12h, 30m, 45s, 2w and sums several', () => {
    expect(parseDuration('7d')).toBe(604_800);
    expect(parseDuration('12h')).toBe(43_200);
    expect(parseDuration('30m')).toBe(1_800);
    expect(parseDuration('45s')).toBe(45);
    expect(parseDuration('2w')).toBe(1_209_600);
    expect(parseDuration('1d12h')).toBe(129_600);
    expect(parseDuration('0m')).toBe(0);
  });

  it('refuses anything else', () => {
    for (const text of ['', '7', 'd', '7x', '-1d', '1.5h', '7 d', '7D', 'd7', '1d-']) expect(parseDuration(text)).toBeUndefined();
  });
});

describe('parseDlq', () => {
  it('parses each verb', () => {
    expect(parseDlq(['list'], {})).toEqual({ command: { verb: 'list' } });
    expect(parseDlq(['list'], { pipeline: 'daily' })).toEqual({ command: { verb: 'list', pipeline: 'daily' } });
    expect(parseDlq(['show', 'm-1'], {})).toEqual({ command: { verb: 'show', messageId: 'm-1' } });
    expect(parseDlq(['retry', 'm-1'], {})).toEqual({ command: { verb: 'retry', messageId: 'm-1' } });
    expect(parseDlq(['retry'], { all: true })).toEqual({ command: { verb: 'retry-all' } });
    expect(parseDlq(['retry'], { all: true, pipeline: 'daily' })).toEqual({ command: { verb: 'retry-all', pipeline: 'daily' } });
    expect(parseDlq(['purge'], { 'older-than': '7d' })).toEqual({ command: { verb: 'purge', olderThanSeconds: 604_800 } });
  });

  it('says what is wrong with anything else', () => {
    const usage = (positionals: string[], flags: Parameters<typeof parseDlq>[1] = {}): string => {
      const parsed = parseDlq(positionals, flags);
      if (!('usage' in parsed)) throw new Error(`parsed ${JSON.stringify(parsed)}`);
      return parsed.usage;
    };
    expect(usage([])).toMatch(/needs a verb/);
    expect(usage(['drop'])).toMatch(/unknown dlq verb "drop"/);
    expect(usage(['show'])).toMatch(/needs a message id/);
    expect(usage(['retry'])).toMatch(/message id, or --all/);
    expect(usage(['retry', 'm-1'], { all: true })).toMatch(/not both/);
    expect(usage(['retry', 'm-1'], { pipeline: 'daily' })).toMatch(/--pipeline goes with --all/);
    expect(usage(['purge'])).toMatch(/needs --older-than/);
    expect(usage(['purge'], { 'older-than': 'a week' })).toMatch(/takes a duration/);
    expect(usage(['purge'], { 'older-than': '15d' })).toMatch(/at most 14d/);
    expect(usage(['list', 'x'])).toMatch(/takes no id/);
    expect(usage(['show', 'a', 'b'])).toMatch(/one id at most/);
  });

  it('exits 2 with the usage through main, before reaching any deployment', async () => {
    const run = await phi('dlq', 'purge', '--older-than', '7x');
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stderr).toContain('--older-than takes a duration');
    const json = await phi('dlq', 'retry', '--json');
    expect(json.code).toBe(ExitCode.USAGE);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'CLI_000_USAGE' } });
  });
});

describe('runDlq', () => {
  const failing = (): never => {
    throw new Error('not called');
  };
  it('retries all in as many calls as it takes, and exits 1 when a letter could not be retried', async () => {
    const pages: DeadLetterRetryAllResponse[] = [
      { retried: [{ messageId: 'a', runId: 'p_r-a', created: true }], failed: [], scanned: 30, complete: false },
      { retried: [{ messageId: 'b', runId: 'p_r-b', created: true }], failed: [{ messageId: 'c', code: 'API_014_RETRY_REFUSED', message: 'busy' }], scanned: 2, complete: true },
    ];
    const asked: (string | undefined)[] = [];
    const client: Parameters<typeof runDlq>[1] = {
      retryAllDeadLetters: async (pipeline?: string) => {
        asked.push(pipeline);
        return pages.shift()!;
      },
      deadLetters: failing,
      deadLetter: failing,
      retryDeadLetter: failing,
      purgeDeadLetters: failing,
    } satisfies Pick<PhiClient, 'deadLetters' | 'deadLetter' | 'retryDeadLetter' | 'retryAllDeadLetters' | 'purgeDeadLetters'>;
    const lines: string[] = [];
    expect(await runDlq({ verb: 'retry-all', pipeline: 'p' }, client, (t) => lines.push(t), false)).toBe(1);
    expect(asked).toEqual(['p', 'p']);
    expect(lines.join('\n')).toContain('2 retried, 1 not');
    expect(lines.join('\n')).toContain('not retried: dead letter c: API_014_RETRY_REFUSED');
  });

  it('purges through the client with the parsed seconds', async () => {
    const asked: number[] = [];
    const client: Parameters<typeof runDlq>[1] = {
      purgeDeadLetters: async (seconds: number) => {
        asked.push(seconds);
        return { purged: 3, messageIds: ['a', 'b', 'c'], scanned: 5, complete: true };
      },
      deadLetters: failing,
      deadLetter: failing,
      retryDeadLetter: failing,
      retryAllDeadLetters: failing,
    };
    const lines: string[] = [];
    expect(await runDlq({ verb: 'purge', olderThanSeconds: 604_800 }, client, (t) => lines.push(t), false)).toBe(0);
    expect(asked).toEqual([604_800]);
    expect(lines).toEqual(['purged 3 dead letter(s)']);
  });
});
