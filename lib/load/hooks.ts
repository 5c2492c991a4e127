/**
 * Node module customization hooks for definition and handler files that live anywhere (a folder of
 * the user's own, with or without a package.json), registered by `registerDefinitionHooks` (see
 * ./register.ts) after tsx. They run in Node's hooks thread, before tsx's own:
 *
 * - `phi` and `phi/*` (`phi/runtime`) resolve as if imported from inside this package, through its
 *   package.json "exports", so a folder with no `node_modules/phi` can import them;
 * - a `.ts`/`.tsx` file that Node would treat as CommonJS (no package.json above it, or one without
 *   `"type": "module"`) is loaded as an ES module: definition and handler files are ES modules
 *   wherever they live, as they are inside this project and in the Lambda bundle.
 */
import { readFileSync } from 'node:fs';
import type { ResolveFnOutput, ResolveHook } from 'node:module';

/** This package's package.json: the parent that `phi` specifiers are resolved from (a self-reference). */
const PACKAGE_JSON_URL = new URL('../../package.json', import.meta.url).href;
const PACKAGE_NAME = (JSON.parse(readFileSync(new URL(PACKAGE_JSON_URL), 'utf8')) as { name: string }).name;

/** Whether a specifier names this package or one of its exports (`phi`, `phi/runtime`). */
const isOwnPackage = (specifier: string): boolean => specifier === PACKAGE_NAME || specifier.startsWith(`${PACKAGE_NAME}/`);

/** A TypeScript file of the user's (not a dependency's) that Node would otherwise load as CommonJS. */
function loadsAsCommonJs(resolved: ResolveFnOutput): boolean {
  if (!resolved.url.startsWith('file:')) return false;
  const { pathname } = new URL(resolved.url);
  if (!/\.tsx?$/.test(pathname) || pathname.includes('/node_modules/')) return false;
  // tsx may report CommonJS TypeScript under Node's own name for it, which the typings do not list.
  const format: string | null | undefined = resolved.format;
  return format === undefined || format === null || format === 'commonjs' || format === 'commonjs-typescript';
}

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const resolved = isOwnPackage(specifier) ? await nextResolve(specifier, { ...context, parentURL: PACKAGE_JSON_URL }) : await nextResolve(specifier, context);
  // A `require()` keeps its CommonJS meaning; an import of a .ts file gets an ES module.
  if (!context.conditions.includes('require') && loadsAsCommonJs(resolved)) return { ...resolved, format: 'module' };
  return resolved;
};
