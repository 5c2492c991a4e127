/**
 * Fault injection for Phi's own end-to-end tests, compiled in only when a deployment is synthesized with
 * the context `phi:faultInjection=true` (the bundler defines `PHI_FAULT_INJECTION`; every other build
 * leaves this module's switch off). A run whose parameters hold `__phiFaults: { <store method>: n }`
 * sees the first `n` calls of that method fail, in each worker, as a throttled DynamoDB call does.
 */
import { z } from 'zod';
import { PhiError } from '../../lib/model/errors.ts';
import type { RuntimeStore } from './core.ts';

const FaultsSchema = z.record(z.string(), z.number().int().min(0).max(100));

/** An injected fault, named as the AWS SDK names a throttled DynamoDB call. */
class InjectedFault extends PhiError {
  constructor(message: string) {
    super('TEST_001_INJECTED_FAULT', message);
    this.name = 'ProvisionedThroughputExceededException';
  }
}

/** Calls failed so far, by run and method, in this worker. */
const failed = new Map<string, number>();

export function withStoreFaults(store: RuntimeStore, runId: string, spec: unknown): RuntimeStore {
  const faults = FaultsSchema.safeParse(spec);
  if (!faults.success) return store;
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      const budget = faults.data[String(prop)];
      if (typeof value !== 'function' || budget === undefined) return value;
      return (...args: unknown[]) => {
        const key = `${runId}:${String(prop)}`;
        const count = failed.get(key) ?? 0;
        if (count < budget) {
          failed.set(key, count + 1);
          return Promise.reject(new InjectedFault(`injected fault: ${String(prop)} throttled (${count + 1} of ${budget})`));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
