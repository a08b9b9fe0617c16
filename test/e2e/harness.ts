// SPDX-License-Identifier: MIT
/**
 * @module e2e-harness
 * What the end-to-end tests share: the demo server (in this process through `serve()`, or as a
 * child process `node server/bin.js serve` where a test kills and restarts it), headless
 * Chromium through playwright-core, and bounded waits. Each browser context is one user (its
 * own cookies and localStorage). Everything started here is stopped by the returned handles.
 */
import { spawn } from 'node:child_process';
import { after, before } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { serve } from '../../server/cli.js';
import type { Serving } from '../../server/cli.js';

/** The repository's root folder. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Chromium to drive; `CHROME_PATH` overrides it. */
export const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';
/** Flags for a root user in a container on a closed network: no sandbox, no GPU, no QUIC, no background fetches. */
const CHROME_ARGS = [
  '--no-sandbox', '--disable-setuid-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
/** The longest a single wait for something on screen takes before the test fails. */
export const TIMEOUT_MS = 5000;
/** Console errors that are expected: failed reconnects while the server is down. */
const EXPECTED_CONSOLE_ERRORS = /^WebSocket connection to .* failed/;
/** Whether a page's console error is one of the expected ones (a failed reconnect while the server is down). */
export function isExpectedConsoleError(text: string): boolean {
  return EXPECTED_CONSOLE_ERRORS.test(text);
}
/** How long a server (a child process) may take to start. */
const START_TIMEOUT_MS = 20_000;
/** How long a child server gets to exit after a signal. */
const STOP_TIMEOUT_MS = 5000;

const DEMO_ARGS = ['--app', join(ROOT, 'demo/app.ts'), '--pages', join(ROOT, 'demo')];

/** Fails early, and clearly, when what the tests drive is missing. */
export function checkPrerequisites(): void {
  if (!existsSync(CHROME_PATH)) {
    throw new Error(`Chromium is not at ${CHROME_PATH}: apt-get install -y chromium fonts-liberation (or set CHROME_PATH).`);
  }
  if (!existsSync(join(ROOT, 'dist/twin.js'))) {
    throw new Error('dist/twin.js is missing: run "npm run build" first (npm test does).');
  }
}

/** Launches headless Chromium. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROME_PATH, headless: true, args: CHROME_ARGS });
}

/** A new user: a browser context of its own (JavaScript on unless `options` says otherwise). */
export function newUser(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 1000, height: 720 }, ...options });
}

/**
 * Opens `path` of `base` in a new page of `user` and waits until the page is connected (its
 * `<twin-status>` says online). Console errors and uncaught exceptions fail loudly in the log.
 */
export async function openPage(user: BrowserContext, base: string, path: string, { online = true } = {}): Promise<Page> {
  const page = await user.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${path}: ${err.message}`));
  page.on('console', (message) => {
    // A refused WebSocket connection is expected while a test has the server down.
    if (message.type() === 'error' && !EXPECTED_CONSOLE_ERRORS.test(message.text())) console.error(`[console] ${path}: ${message.text()}`);
  });
  await page.goto(new URL(path, base).href);
  if (online) await waitOnline(page);
  return page;
}

/** Waits until the page's connection is up. */
export async function waitOnline(page: Page, timeout = TIMEOUT_MS): Promise<void> {
  await page.locator('twin-status[state="online"]').first().waitFor({ timeout });
}

/**
 * Waits until the text of the first element matching `selector` (CSS locators reach into open
 * shadow roots) is exactly `text`, leading and trailing whitespace aside.
 */
export async function waitText(page: Page, selector: string, text: string, timeout = TIMEOUT_MS): Promise<void> {
  const exact = new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  try {
    await page.locator(selector).filter({ hasText: exact }).first().waitFor({ timeout });
  } catch (err) {
    const actual = await page.locator(selector).first().textContent({ timeout: 100 }).catch(() => '(no element)');
    throw new Error(`${selector} should read ${JSON.stringify(text)} but reads ${JSON.stringify(actual?.trim())}`, { cause: err });
  }
}

/** Waits until the value of the form control `selector` is exactly `value`. */
export async function waitValue(page: Page, selector: string, value: string, timeout = TIMEOUT_MS): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, want]) => (document.querySelector(sel!) as HTMLInputElement | null)?.value === want,
      [selector, value] as const,
      { timeout, polling: 50 },
    );
  } catch (err) {
    const actual = await page.locator(selector).first().inputValue().catch(() => '(no element)');
    throw new Error(`${selector} should hold ${JSON.stringify(value)} but holds ${JSON.stringify(actual)}`, { cause: err });
  }
}

/** Posts a chat message through the page's form, as its user would. */
export async function sendMessage(page: Page, text: string): Promise<void> {
  const form = page.locator('form[twin-action]');
  await form.locator('input[name="text"]').fill(text);
  await form.locator('button').click();
}

//#region servers

/** The demo served in this process (`serve()` from server/cli.ts). */
export function serveDemo(storage = 'memory', ...args: string[]): Promise<Serving> {
  return serve(['--port', '0', '--storage', storage, ...args, ...DEMO_ARGS], {});
}

/** A demo server in a child process (`node server/bin.js serve`), which a test may kill. */
export interface DemoProcess {
  readonly url: string;
  readonly port: number;
  /** Everything the child printed, stdout and stderr. */
  readonly output: () => string;
  /** Kills it with `signal` (default SIGKILL: no chance to shut down cleanly) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `node server/bin.js serve` for the demo on `port` with `storage`, resolving once it serves. */
export async function spawnDemo(port: number, storage: string): Promise<DemoProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'server/bin.js'), 'serve', '--port', String(port), '--storage', storage, ...DEMO_ARGS], {
    cwd: ROOT,
    env: { ...process.env, PORT: '', TWIN_STORAGE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`The demo server did not start within ${START_TIMEOUT_MS} ms. Output:\n${output}`)), START_TIMEOUT_MS);
      const onData = () => {
        if (/twin-state serving /.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`The demo server exited (${code ?? signal}) before serving. Output:\n${output}`));
      });
    });
  } catch (err) {
    await stopChild(child, exited, 'SIGKILL');
    throw err;
  }
  return {
    url: `http://localhost:${port}`,
    port,
    output: () => output,
    kill: (signal = 'SIGKILL') => stopChild(child, exited, signal),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** A fresh temporary folder and a function that removes it. */
export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'twin-e2e-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

//#endregion servers

/** A Chromium for one `describe` of end-to-end tests, each user a browser context of its own. */
export interface BrowserSession {
  /** A new user, closed after the suite. */
  user(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A new user's page at `path` of the server at `base`. */
  openAt(base: string, path: string, options?: { online: boolean }): Promise<Page>;
}

/** Registers the suite's `before`/`after`: launch Chromium; close it and every user after. */
export function useBrowser(): BrowserSession {
  let browser: Browser | undefined;
  const users: BrowserContext[] = [];
  before(async () => {
    checkPrerequisites();
    browser = await launchBrowser();
  });
  after(async () => {
    for (const user of users) await user.close().catch(() => undefined);
    await browser?.close();
  });
  const session: BrowserSession = {
    async user(options) {
      const context = await newUser(browser!, options);
      users.push(context);
      return context;
    },
    async openAt(base, path, options) {
      return openPage(await session.user(), base, path, options);
    },
  };
  return session;
}

/** The demo served in-process, and {@link useBrowser}'s Chromium. */
export interface DemoSession {
  /** The running demo (set once the suite's `before` ran). */
  readonly serving: Serving;
  /** A new user, closed after the suite. */
  user(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A new user's page at `path` of the demo. */
  open(path: string, options?: { online: boolean }): Promise<Page>;
}

/** Registers the suite's `before`/`after`: serve the demo and launch Chromium; close both after. */
export function useDemo(): DemoSession {
  let serving: Serving | undefined;
  const browser = useBrowser();
  before(async () => {
    serving = await serveDemo();
  });
  after(async () => {
    await serving?.close();
  });
  return {
    get serving() {
      return serving!;
    },
    user: browser.user,
    open: (path, options) => browser.openAt(serving!.url, path, options),
  };
}
