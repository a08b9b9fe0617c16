#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The `twin-state` command. The sources are TypeScript, run through tsx (which also lets an
// app module be a .ts file).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
await main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
