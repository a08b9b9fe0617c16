// SPDX-License-Identifier: MIT
/**
 * @packageDocumentation
 * twin-state/lit (`dist/lit.js`): Lit, its signals integration and the twin-state API in one
 * module, so a page without a build step can write reactive elements over its stores:
 *
 * ```html
 * <script type="module">
 *   import { LitElement, SignalWatcher, html, store } from '/_twin/lit.js';
 *   const game = store('game_state');
 *   customElements.define('score-board', class extends SignalWatcher(LitElement) {
 *     render() { return html`Score: ${game.score}`; }   // re-renders when score changes, only then
 *   });
 * </script>
 * ```
 *
 * A `SignalWatcher(LitElement)` tracks what its `render()` reads from stores; `watch(signalOf(
 * store, 'path'))` updates one binding without re-rendering. In `dist/lit.js` the twin-state
 * part is imported from `./twin.js`, so a page loading both holds one copy of the stores and
 * of the signal polyfill.
 */
export { html, signal, SignalWatcher, svg, watch, WatchDirective, withWatch } from '@lit-labs/signals';
export { css, CSSResult, LitElement, noChange, nothing, ReactiveElement, render, unsafeCSS } from 'lit';
export type { CSSResultGroup, PropertyDeclaration, PropertyValues, ReactiveController, ReactiveControllerHost, TemplateResult } from 'lit';
export * from './twin.js';
