// SPDX-License-Identifier: MIT
/**
 * The production bundle carries none of the development warnings' sentences (dev-warnings.test.ts
 * shows them in development). A file of its own: mutation runs of the elements leave it out, since
 * there the bundle is built from instrumented sources, which keep every sentence.
 */
import { expect } from '@open-wc/testing';

describe('the production bundle /_twin/twin.js', () => {
  it('leaves out the development warnings', async function () {
    this.timeout(120_000); // the runner builds the bundles on first request
    const bundle = await (await fetch('/_twin/twin.js')).text();
    for (const sentence of ['The server has no store', 'check the key', 'the server has no action', 'could run script or restyle']) {
      expect(bundle, sentence).not.to.contain(sentence);
    }
  });
});
