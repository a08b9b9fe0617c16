// SPDX-License-Identifier: MIT
/**
 * @module bench/elements-page
 * The page of the elements benchmark (bundled by bench/elements.ts with esbuild, production
 * build): 10,000 `<twin-bind>` elements over one local store, and a SignalWatcher Lit element
 * rendering a 10,000-row list over another. `window.bench` changes one key of either and
 * reports how long the change took to reach the DOM and how many DOM mutations it made.
 */
import { defineApp, html, LitElement, SignalWatcher } from '../elements/lit.js';

/** What one measured update reports. */
export interface UpdateResult {
  /** From the write to the DOM updated, in ms. */
  readonly ms: number;
  /** DOM mutation records the update caused. */
  readonly mutations: number;
  /** Whether the new value shows where it should. */
  readonly shown: boolean;
}

declare global {
  interface Window {
    bench: {
      setup(rows: number): Promise<{ twinMs: number; litMs: number }>;
      twin(index: number, value: number): Promise<UpdateResult>;
      lit(index: number, value: number): Promise<UpdateResult>;
    };
  }
}

type Rows = Record<string, number>;
const app = defineApp();
let rowCount = 0;
const initial = (): Rows => Object.fromEntries(Array.from({ length: rowCount }, (_, i) => [`k${i}`, 0]));
const twinRows = app.local('bench_twin', initial);
const litRows = app.local('bench_lit', initial);

class LitRows extends SignalWatcher(LitElement) {
  override render() {
    const rows = [];
    for (let i = 0; i < rowCount; i++) rows.push(html`<div>${litRows[`k${i}`]}</div>`);
    return rows;
  }
}
customElements.define('lit-rows', LitRows);

const twinHost = document.createElement('section');
let litHost: LitRows;

/** Runs `write`, then resolves once `done()` resolves, with the time and mutations below `root`. */
async function measure(root: Node, write: () => void, done: () => Promise<unknown>, shown: () => boolean): Promise<UpdateResult> {
  let mutations = 0;
  const observer = new MutationObserver((records) => void (mutations += records.length));
  observer.observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
  const start = performance.now();
  write();
  await done();
  const ms = performance.now() - start;
  // Anything a later microtask or task still changes counts too.
  await new Promise((resolve) => setTimeout(resolve, 0));
  mutations += observer.takeRecords().length;
  observer.disconnect();
  return { ms, mutations, shown: shown() };
}

/** Resolves at the first DOM mutation below `root` (delivered right after the microtask that made it). */
function nextMutation(root: Node): Promise<void> {
  return new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      observer.disconnect();
      resolve();
    });
    observer.observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

window.bench = {
  async setup(rows) {
    rowCount = rows;
    void twinRows.k0;
    void litRows.k0;
    let start = performance.now();
    twinHost.innerHTML = Array.from({ length: rows }, (_, i) => `<div><twin-bind store="bench_twin" key="k${i}"></twin-bind></div>`).join('');
    document.body.append(twinHost);
    const twinMs = performance.now() - start;
    start = performance.now();
    litHost = document.createElement('lit-rows') as LitRows;
    document.body.append(litHost);
    await litHost.updateComplete;
    const litMs = performance.now() - start;
    return { twinMs, litMs };
  },
  twin(index, value) {
    const target = twinHost.children[index]!.firstElementChild!;
    const mutated = nextMutation(twinHost);
    return measure(twinHost, () => void (twinRows[`k${index}`] = value), () => mutated, () => target.textContent === String(value));
  },
  lit(index, value) {
    const root = litHost.shadowRoot!;
    return measure(root, () => void (litRows[`k${index}`] = value), () => litHost.updateComplete,
      () => root.querySelectorAll('div')[index]!.textContent === String(value));
  },
};
