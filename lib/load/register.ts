/**
 * Lets definitions load wherever they live: registers ./hooks.ts (`phi` and `phi/runtime` resolve to
 * this package; `.ts` files are ES modules even outside a `"type": "module"` package) with Node's
 * loader, once, before the first definition is imported (`loadDefinitions` calls it), so the CLI and
 * the CDK app, both running under tsx, share it.
 */
import { register } from 'node:module';

let attempted = false;
let active = false;

/**
 * Registers the definition hooks in this process (once; later calls return the first answer): true
 * when they are active. False when Node's own loader cannot load TypeScript (no tsx registered); then
 * it does not load the definitions either, and whatever does (vitest, which resolves `phi` by its
 * alias and loads `.ts` as ES modules) needs no hooks.
 */
export function registerDefinitionHooks(): boolean {
  if (attempted) return active;
  attempted = true;
  try {
    register(new URL('./hooks.ts', import.meta.url));
    active = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  }
  return active;
}
