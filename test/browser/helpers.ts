// SPDX-License-Identifier: MIT
/**
 * @module test/browser/helpers
 * What the browser tests share: unique names, bounded waiting, server commands, and a
 * MutationObserver that counts what a change touched.
 */
import { executeServerCommand } from '@web/test-runner-commands';
// @ts-expect-error -- a virtual module, served by web-test-runner.config.mjs
import * as env from '/__twin-env.js';
import { connect, pageClient, settled, store } from '../../src/index.js';
import type { Json } from '../../src/index.js';
import { box } from './app.js';
import '../../elements/index.js';

/** The test server's WebSocket endpoint (another origin than the test page). */
export const WS_URL: string = (env as { WS_URL: string }).WS_URL;

/** Resolves with the next `type` event fired on `target`. */
export function nextEvent<K extends keyof HTMLElementEventMap>(target: HTMLElement, type: K): Promise<HTMLElementEventMap[K]> {
  return new Promise((resolve) => target.addEventListener(type, resolve, { once: true }));
}

/** Connects the page runtime to the test server (once per page). */
export function connectPage(): void {
  if (pageClient().state === 'offline') connect(WS_URL);
}

let counter = 0;
/** A name no other test uses. */
export function uniq(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${(++counter).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** A fresh `box/<id>` store: its name, and its handle in the page runtime (subscribed and loaded). */
export async function freshBox(): Promise<{ name: string; id: string; handle: ReturnType<typeof box> }> {
  connectPage();
  const id = uniq('b');
  const handle = box(id);
  const name = `box/${id}`;
  // A read subscribes; the snapshot arrives with version 1 or more... or 0 for a new store.
  await until(() => pageClient().state === 'online', 'the page to be online');
  void handle.text;
  await until(async () => (await serverRead(name)) !== null, `store ${name} on the server`);
  await until(() => store<{ text?: string }>(name).text === 'hello', `store ${name} in the page`);
  return { name, id, handle };
}

/** Resolves once `check()` is truthy (polled every 10 ms), or fails after `ms`. */
export async function until(check: () => unknown, what: string, ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits for the microtasks that carry signal updates to the DOM. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/** The server's committed value of a store. */
export function serverRead<T = Record<string, Json>>(name: string): Promise<T | null> {
  return executeServerCommand<T | null, { store: string }>('twin-read', { store: name }) as Promise<T | null>;
}

/** Writes `value` at `key` of a store on the server (as server code would). */
export async function serverWrite(name: string, key: string, value: Json): Promise<void> {
  await executeServerCommand('twin-write', { store: name, key, value });
}

/** Waits until every write to `handle` is confirmed by the server. */
export async function confirmed(handle: object): Promise<void> {
  await settled(handle);
}

/**
 * Records the DOM mutations below `root` until `stop()` (which returns them). Not the `pending`
 * attribute `<twin-bind>` carries while a write waits for the server (pending.test.ts): it
 * comes and goes with every write made here, as it should, and is no re-render.
 */
export function recordMutations(root: Node): { stop(): MutationRecord[] } {
  const records: MutationRecord[] = [];
  const keep = (list: MutationRecord[]) => records.push(...list.filter((r) => r.attributeName !== 'pending'));
  const observer = new MutationObserver(keep);
  observer.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
  return {
    stop() {
      keep(observer.takeRecords());
      observer.disconnect();
      return records;
    },
  };
}

/** The iframes {@link loadFrame} opened, removed by {@link removeFrames}. */
const frames: HTMLIFrameElement[] = [];

/** Loads `url` in an iframe of this (same-origin) page; {@link removeFrames} removes it. */
export async function loadFrame<W extends Window = Window>(url: string): Promise<{ doc: Document; win: W }> {
  const frame = document.createElement('iframe');
  frames.push(frame);
  const loaded = new Promise((resolve) => frame.addEventListener('load', resolve, { once: true }));
  frame.src = url;
  document.body.append(frame);
  await loaded;
  return { doc: frame.contentDocument!, win: frame.contentWindow as unknown as W };
}

/** Removes the iframes {@link loadFrame} opened (call it in `afterEach`). */
export function removeFrames(): void {
  for (const frame of frames.splice(0)) frame.remove();
}

/**
 * Collects what `console[method]` is given (its arguments joined as text) instead of printing
 * it, until `stop()`: for tests of expected warnings and errors, so the output stays readable.
 */
export function captureConsole(method: 'warn' | 'error'): { lines: string[]; stop(): void } {
  const lines: string[] = [];
  const original = console[method];
  console[method] = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  return { lines, stop: () => void (console[method] = original) };
}
