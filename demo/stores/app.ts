// SPDX-License-Identifier: MIT
/**
 * The demo's app: the one place its stores and actions are defined. Every store module
 * imports it; `demo/app.ts` serves it.
 */
import { defineApp } from 'twin-state';

export const app = defineApp();

/**
 * An error whose message is meant for the user: the hub sends the message of an error marked
 * `expose` to the client that called the action (any other error's message stays on the server).
 */
export class UserError extends Error {
  readonly expose = true;
}
