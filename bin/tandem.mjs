#!/usr/bin/env node
// `tandem` from a checkout (`npx tandem …`): the command line is TypeScript, run through tsx.
import { register } from 'tsx/esm/api';

register();
const { main, exitWith } = await import('../src/cli/main.ts');
exitWith(await main(process.argv.slice(2)));
