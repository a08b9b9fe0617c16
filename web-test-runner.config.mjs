// SPDX-License-Identifier: MIT
/**
 * Browser tests (`node_modules/.bin/wtr`): test/browser/**\/*.test.ts in headless Chromium,
 * against a real Koa + twin server (test/browser/server.ts) started and stopped with the run.
 *
 * - `/__twin-env.js` (virtual) gives tests the server's `WS_URL` and `HTTP_URL`.
 * - `executeServerCommand('twin-read' | 'twin-write' | 'twin-reset' | 'twin-connections', payload)`
 *   reads and writes server state.
 * - The server's `/_twin/ws` is also attached to the runner's own http server, and the runner
 *   serves `/twin-pages/*` through twin's middleware (server-side rendered) and `/_twin/twin.js`
 *   and `/_twin/lit.js` from a fresh in-memory build of rollup.config.mjs, so a page in an
 *   iframe runs exactly as a plain page served by a twin server, with the production bundles.
 * Tests of the sources run with Lit's development build (the `development` export condition).
 */
import { existsSync } from 'node:fs';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { chromeLauncher } from '@web/test-runner-chrome';
import { rollup } from 'rollup';
import { tsImport } from 'tsx/esm/api';

const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';
if (!existsSync(CHROME)) {
  throw new Error(`Chromium is needed for the browser tests: apt-get install chromium (looked for ${CHROME}; set CHROME_PATH to use another).`);
}

/** The production bundles, built in memory on first request (not written to dist/). */
let bundles;
function buildBundles() {
  bundles ??= (async () => {
    const { default: configs } = await import('./rollup.config.mjs');
    const files = new Map();
    for (const config of configs) {
      const build = await rollup({ ...config, onwarn: () => {} });
      const { output } = await build.generate(config.output);
      await build.close();
      for (const chunk of output) {
        const name = `/_twin/${chunk.fileName}`;
        files.set(name, chunk.type === 'chunk' ? chunk.code : String(chunk.source));
      }
    }
    return files;
  })();
  return bundles;
}

/** Starts the test server around the run and connects it to the runner. */
function twinServerPlugin() {
  let server;
  return {
    name: 'twin-test-server',
    async serverStart({ server: runnerServer }) {
      const { startTestServer } = await tsImport('./test/browser/server.ts', import.meta.url);
      server = await startTestServer();
      if (runnerServer) server.attach(runnerServer);
    },
    async serverStop() {
      await server?.close();
    },
    serve(ctx) {
      if (ctx.path === '/__twin-env.js') {
        return {
          body: `export const WS_URL = ${JSON.stringify(server.wsUrl)};\nexport const HTTP_URL = ${JSON.stringify(server.httpUrl)};\n`,
          type: 'js',
        };
      }
      return undefined;
    },
    async executeCommand({ command, payload }) {
      return command.startsWith('twin-') ? server.command(command, payload) : undefined;
    },
    /** Koa middleware for the runner's server: twin pages and the bundles. */
    middleware: async (ctx, next) => {
      if (ctx.path === '/_twin/twin.js' || ctx.path === '/_twin/lit.js' || (ctx.path.startsWith('/_twin/') && ctx.path.endsWith('.js.map'))) {
        const body = (await buildBundles()).get(ctx.path);
        if (body === undefined) return next();
        ctx.type = ctx.path.endsWith('.map') ? 'application/json' : 'text/javascript';
        ctx.set('Cache-Control', 'no-store');
        ctx.body = body;
        return undefined;
      }
      if (ctx.path.startsWith('/twin-pages/') && server) return server.pages(ctx, next);
      return next();
    },
  };
}

const twinServer = twinServerPlugin();

export default {
  files: 'test/browser/**/*.test.ts',
  nodeResolve: { exportConditions: ['development'] },
  concurrency: 1,
  browserStartTimeout: 60_000,
  testsFinishTimeout: 180_000,
  middleware: [twinServer.middleware],
  plugins: [
    // target 'es2022', not 'auto': Chromium would get decorators unlowered.
    esbuildPlugin({ ts: true, target: 'es2022', tsconfig: 'tsconfig.json' }),
    twinServer,
  ],
  browsers: [
    chromeLauncher({
      launchOptions: {
        executablePath: CHROME,
        headless: true,
        args: [
          '--no-sandbox', '--disable-setuid-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
          '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync',
        ],
      },
    }),
  ],
  testFramework: { config: { ui: 'bdd', timeout: 10_000 } },
};
