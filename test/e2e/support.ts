/** What the e2e tests share: clients pointed at the emulator the global setup started and deployed to. */
import { inject } from 'vitest';
import { PhiClient } from '../../lib/client/client.ts';
import { emulatorEnv } from '../../lib/local/emulator.ts';
import { platformOutputs as readPlatformOutputs } from '../../lib/client/platform.ts';
import { stateMachineName } from '../../lib/model/names.ts';

export function useEmulator(): string {
  const endpoint = inject('endpoint');
  Object.assign(process.env, emulatorEnv(endpoint));
  return endpoint;
}

let client: Promise<PhiClient> | undefined;
export function phiClient(): Promise<PhiClient> {
  useEmulator();
  client ??= PhiClient.connect();
  return client;
}

export async function platformOutputs(): Promise<Record<string, string>> {
  useEmulator();
  return readPlatformOutputs();
}

export const stateMachineArn = (pipelineId: string): string => `arn:aws:states:${process.env.AWS_REGION ?? 'us-east-1'}:000000000000:stateMachine:${stateMachineName(pipelineId)}`;

/** What `read` answers once it answers something, asking again every `intervalMs`; fails saying `what` after `timeoutMs`. */
export async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await read();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
