// SPDX-License-Identifier: MIT
/**
 * Where a client connects when it is not told: the page's `<meta name="twin-url">` if it has
 * one (a page whose twin server is elsewhere), else the server the script came from.
 */
import { expect } from '@open-wc/testing';
import { createClient } from '../../src/index.js';
import type { WebSocketClass } from '../../src/index.js';

/** A WebSocket class that records the URL it is opened with, and never connects. */
function recorder(): { urls: string[]; WebSocket: WebSocketClass } {
  const urls: string[] = [];
  class Recorded {
    readyState = 0;
    constructor(url: string) {
      urls.push(url);
    }
    close(): void {}
    send(): void {}
  }
  return { urls, WebSocket: Recorded as unknown as WebSocketClass };
}

describe('the default server URL', () => {
  it('is the page’s <meta name="twin-url">, resolved and made ws:, when it has one', () => {
    const meta = Object.assign(document.createElement('meta'), { name: 'twin-url', content: '//sync.example.test/_twin/ws' });
    document.head.append(meta);
    try {
      const { urls, WebSocket } = recorder();
      const client = createClient({ WebSocket });
      client.wake();
      client.close();
      expect(urls).to.deep.equal([`${location.protocol === 'https:' ? 'wss' : 'ws'}://sync.example.test/_twin/ws`]);
    } finally {
      meta.remove();
    }
  });

  it('is /_twin/ws on the page’s own origin without one (the script is served from there)', () => {
    const { urls, WebSocket } = recorder();
    const client = createClient({ WebSocket });
    client.wake();
    client.close();
    expect(urls).to.deep.equal([`${location.origin.replace(/^http/, 'ws')}/_twin/ws`]);
  });
});
