// SPDX-License-Identifier: MIT
/**
 * @module dev
 * The one switch between dev and prod builds. The browser bundles (rollup.config.mjs) define
 * `__TWIN_DEV__` as `false`, so the minifier deletes every branch behind {@link DEV_MODE}: the
 * full-sentence error messages and the dev-only warnings. Anything that runs the sources as
 * they are — the server, Node tests, an app's own bundler without the define — is in dev mode.
 */

/** Replaced by `false` in the production build (rollup.config.mjs). */
declare const __TWIN_DEV__: boolean | undefined;

/** True in dev mode: long messages and dev-only warnings. False in the production bundles. */
export const DEV_MODE: boolean = typeof __TWIN_DEV__ === 'undefined' || __TWIN_DEV__;
