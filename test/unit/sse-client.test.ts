import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../../src/client/realtime/sse-parser';
import { TransportChoice, sseUrlFor } from '../../src/client/realtime/transport-choice';
import type { TransportClose } from '../../src/client/realtime/transport';

function parseAll(chunks: string[]): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const chunk of chunks) parser.push(chunk);
  return events;
}

describe('SseParser', () => {
  it('parses events, joins data lines, keeps ids and names, skips comments and data-less events', () => {
    const text = ': hello\n\nevent: hello\ndata: {"sid":"x"}\n\nid: x.1\ndata: a\ndata: b\n\nevent: nothing\n\ndata:no-space\n\n';
    expect(parseAll([text])).toEqual([
      { event: 'hello', data: '{"sid":"x"}', id: undefined },
      { event: 'message', data: 'a\nb', id: 'x.1' },
      { event: 'message', data: 'no-space', id: undefined },
    ]);
  });

  it('accepts CRLF and CR line ends, also when a CRLF is split across chunks', () => {
    expect(parseAll(['id: 1\r\ndata: one\r', '\n\r\ndata: two\r\r'])).toEqual([
      { event: 'message', data: 'one', id: '1' },
      { event: 'message', data: 'two', id: undefined },
    ]);
  });

  it('an incomplete event is not dispatched until its blank line arrives', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser((e) => events.push(e));
    parser.push('data: par');
    parser.push('tial\n');
    expect(events).toEqual([]);
    parser.push('\n');
    expect(events).toEqual([{ event: 'message', data: 'partial', id: undefined }]);
  });

  it('gives the same events however the stream is cut into chunks (property)', () => {
    const line = fc.stringMatching(/^[a-z{}":,0-9 ]{0,12}$/);
    const event = fc.record({ id: fc.option(fc.stringMatching(/^[a-z0-9.]{1,8}$/), { nil: undefined }), data: fc.array(line, { minLength: 1, maxLength: 3 }) });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }), fc.constantFrom('\n', '\r\n', '\r'), (events, cuts, eol) => {
        const text = events.map((e) => `${e.id === undefined ? '' : `id: ${e.id}${eol}`}${e.data.map((d) => `data: ${d}${eol}`).join('')}${eol}`).join('');
        const chunks: string[] = [];
        let at = 0;
        for (let i = 0; at < text.length; i += 1) {
          const size = cuts[i % cuts.length]!;
          chunks.push(text.slice(at, at + size));
          at += size;
        }
        const expected = events.map((e) => ({ event: 'message', data: e.data.join('\n'), id: e.id }));
        expect(parseAll(chunks)).toEqual(expected);
      }),
    );
  });
});

describe('TransportChoice', () => {
  const lost = (opened: boolean, extra: Partial<TransportClose> = {}): TransportClose => ({ code: 1006, reason: '', opened, pathFailure: true, ...extra });

  function choice(now: { ms: number }, storage?: Map<string, string>) {
    const store = storage === undefined ? undefined : { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v), removeItem: (k: string) => void storage.delete(k) };
    return new TransportChoice({ fallback: { afterFailures: 2, quickDeathMs: 1_000, rememberMs: 10_000 }, transports: ['websocket', 'sse'], sseAvailable: true, storage: store, origin: 'example.com', clock: () => now.ms, random: () => 0.5 });
  }

  it('tries SSE after two WebSocket failures in a row; probes at once; remembers SSE only when the probe fails', () => {
    const now = { ms: 1_000 };
    const storage = new Map<string, string>();
    const c = choice(now, storage);
    expect(c.next()).toBe('websocket');
    c.closed('websocket', lost(false), undefined);
    expect(c.next()).toBe('websocket');
    c.closed('websocket', lost(true), now.ms - 200); // died 200 ms after opening
    expect(c.next()).toBe('sse');
    c.opened('sse');
    expect(storage.size).toBe(0); // not proven yet: a restarting server looks the same
    expect(c.next()).toBe('sse');
    const delay = c.probeDelay()!;
    expect(delay).toBeGreaterThanOrEqual(1_000);
    expect(delay).toBeLessThan(3_000);
    c.probeFailed();
    expect(storage.get('tandem.transport:example.com')).toBe(String(now.ms + 10_000)); // rememberMs × (0.8 + 0.4 × 0.5)
    expect(c.next()).toBe('sse');
    expect(c.probeDelay()).toBe(10_000);
    now.ms += 10_001;
    expect(c.next()).toBe('websocket'); // the memory ran out
  });

  it('a probe that holds right after the fallback moves back and remembers nothing (the server was restarting)', () => {
    const now = { ms: 0 };
    const storage = new Map<string, string>();
    const c = choice(now, storage);
    c.closed('websocket', lost(false), undefined);
    c.closed('websocket', lost(false), undefined);
    c.opened('sse');
    c.probeSucceeded();
    expect(c.next()).toBe('websocket');
    expect(storage.size).toBe(0);
  });

  it('the client\'s own aborts are not path failures (offline, no token, a refused refresh)', () => {
    const now = { ms: 0 };
    const c = choice(now);
    c.closed('websocket', lost(true, { pathFailure: false, reason: 'offline' }), now.ms - 10);
    c.closed('websocket', lost(true, { pathFailure: false, reason: 'token_unavailable' }), now.ms - 10);
    c.closed('websocket', lost(true, { pathFailure: false, reason: 'refresh_refused' }), now.ms - 10);
    expect(c.next()).toBe('websocket');
  });

  it('does not count closes the server explained, or connections that lived', () => {
    const now = { ms: 50_000 };
    const c = choice(now);
    c.closed('websocket', lost(false), undefined);
    c.closed('websocket', lost(false, { retryAfterMs: 2_000 }), undefined); // a refusal with Retry-After
    c.closed('websocket', { code: 1012, reason: '', opened: true }, now.ms - 100);
    c.closed('websocket', { code: 4500, reason: '', opened: true }, now.ms - 100);
    expect(c.next()).toBe('websocket');
    c.closed('websocket', lost(true), now.ms - 60_000); // a long-lived connection: resets the count
    c.closed('websocket', lost(false), undefined);
    expect(c.next()).toBe('websocket');
  });

  it('when SSE fails to open too, the server was down: back to WebSocket, nothing remembered', () => {
    const now = { ms: 0 };
    const storage = new Map<string, string>();
    const c = choice(now, storage);
    c.closed('websocket', lost(false), undefined);
    c.closed('websocket', lost(false), undefined);
    expect(c.next()).toBe('sse');
    c.closed('sse', lost(false), undefined);
    expect(c.next()).toBe('websocket');
    expect(storage.size).toBe(0);
  });

  it('a probe extends or clears the memory; a stored choice is read back, an expired one ignored', () => {
    const now = { ms: 5_000 };
    const storage = new Map([['tandem.transport:example.com', String(8_000)]]);
    const c = choice(now, storage);
    expect(c.next()).toBe('sse');
    c.probeFailed();
    expect(c.sseUntil).toBe(15_000); // 5 000 + 10 000 × (0.8 + 0.4 × 0.5)
    c.probeSucceeded();
    expect(c.next()).toBe('websocket');
    expect(storage.size).toBe(0);
    const stale = choice({ ms: 9_000 }, new Map([['tandem.transport:example.com', '8000']]));
    expect(stale.next()).toBe('websocket');
  });

  it('derives the SSE endpoint from the WebSocket URL', () => {
    expect(sseUrlFor('ws://localhost:3000/realtime')).toBe('http://localhost:3000/realtime/sse');
    expect(sseUrlFor('wss://example.com/realtime/?x=1')).toBe('https://example.com/realtime/sse');
  });
});
