#!/usr/bin/env node
// The phi CLI: loads TypeScript (the CLI itself and the user's definitions) through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
