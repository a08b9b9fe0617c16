#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The `twin-state` command. Installed from npm it runs the built JavaScript (dist/lib/) with
// plain Node. In a checkout of twin-state, where server/cli.ts sits next to this file, it runs
// the sources through tsx (a devDependency), which also lets an app module be a .ts file.
// A mistake in what the command was given is one sentence and exit code 2, never a stack trace.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** As cli.ts's EXIT_USAGE: this file may have to say it before cli.ts loads. */
const EXIT_USAGE = 2;
const source = new URL('./cli.ts', import.meta.url);
let cli;
try {
  if (existsSync(source)) {
    const { register } = await import('tsx/esm/api');
    // The checkout's tsconfig maps `twin-state` imports (the demo's) to these same sources.
    register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
    cli = await import(source.href);
  } else {
    cli = await import('../dist/lib/server/cli.js');
  }
} catch (err) {
  const where = fileURLToPath(new URL('../dist/lib/server/cli.js', import.meta.url));
  console.error(err?.code === 'ERR_MODULE_NOT_FOUND' && !existsSync(source)
    ? `twin-state is incomplete: ${where} is missing. Reinstall it (npm install twin-state).`
    : `twin-state could not start: ${err instanceof Error ? err.message : err}`);
  process.exit(EXIT_USAGE);
}

try {
  await cli.main(process.argv.slice(2));
} catch (err) {
  // A CliError is the user's to fix and says how; anything else is a failure of its own.
  console.error(err instanceof Error ? err.message : String(err));
  if (process.env.NODE_DEBUG?.includes('twin') && err instanceof Error && err.name !== 'CliError') console.error(err.stack);
  process.exit(err?.name === 'CliError' ? EXIT_USAGE : 1);
}
