#!/usr/bin/env node
// The phi CLI: loads TypeScript (the CLI itself and the user's definitions) through tsx.
import { register } from 'tsx/esm/api';

register();
// The SDK's notice about Node versions it will stop supporting says nothing about Phi: set it to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
