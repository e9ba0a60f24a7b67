import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/protocol/close-codes';
import { PayloadEncoder } from '../../src/server/realtime/payload-encoder';
import { SseTransport } from '../../src/server/realtime/sse-transport';
import type { Transport, TransportSink } from '../../src/server/realtime/transport';
import { WebSocketTransport } from '../../src/server/realtime/websocket-transport';
import { sleep, until } from '../support/wait';

/**
 * The contract every realtime transport keeps with its connection (transport.ts), run against
 * the WebSocket and the SSE transport, each on a real server on port 0 with a raw peer.
 */

/** What a transport reported to its sink. */
interface Reported {
  messages: { text: string; isBinary: boolean }[];
  ended: number | undefined;
}

/** A sink recording what its transport reports. */
function recordingSink(): { record: Reported; sink: TransportSink } {
  const record: Reported = { messages: [], ended: undefined };
  const sink: TransportSink = {
    received: (data, isBinary) => void record.messages.push({ text: data.toString(), isBinary }),
    ended: (code) => void (record.ended = code),
  };
  return { record, sink };
}

interface Setup {
  transport: Transport;
  record: Reported;
  read: string[];
  closeSeen(): { code: number; reason: string } | undefined;
  peerGone(): boolean;
  send(text: string): Promise<void>;
  interval(showLife: boolean): Promise<void>;
  /** The heartbeat that first reports a peer silent since the start dead (the transport's own rule). */
  deadAtBeat: number;
  stop(): Promise<void>;
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function webSocketSetup(): Promise<Setup> {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, WebSocket: WebSocketTransport });
  const accepted = new Promise<WebSocketTransport>((resolve) => {
    server.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket, head, resolve));
  });
  const port = await listen(server);
  // No automatic pong: the test answers pings itself, or lets the peer look dead.
  const peer = new WebSocket(`ws://127.0.0.1:${port}`, { autoPong: false });
  const read: string[] = [];
  let close: { code: number; reason: string } | undefined;
  let gone = false;
  let pinged = 0;
  peer.on('message', (data) => read.push(data.toString()));
  peer.on('ping', () => (pinged += 1));
  peer.on('close', (code, reason) => {
    gone = true;
    if (code !== CloseCode.abnormal) close = { code, reason: reason.toString() };
  });
  const transport = await accepted;
  const { record, sink } = recordingSink();
  transport.bind(sink);
  await new Promise((resolve) => peer.once('open', resolve));
  return {
    // A ping, then no pong before the next heartbeat.
    deadAtBeat: 2,
    transport,
    record,
    read,
    closeSeen: () => close,
    peerGone: () => gone,
    send: async (text) => void peer.send(text),
    interval: async (showLife) => {
      await until(() => pinged > 0, 'the ping');
      pinged = 0;
      if (showLife) {
        peer.pong();
        await sleep(30);
      }
    },
    stop: async () => {
      transport.terminate();
      peer.terminate();
      wss.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function sseSetup(): Promise<Setup> {
  let now = 1_000_000;
  const heartbeatIntervalMs = 1_000;
  const options = { replayBytes: 64 * 1024, resumeGraceMs: 10_000, heartbeatIntervalMs, clock: () => now, epoch: now, onEnded: () => {} };
  const transport = new SseTransport('contract-stream', options);
  const { record, sink } = recordingSink();
  transport.bind(sink);
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    transport.attach(response, { resumed: false });
  });
  const port = await listen(server);
  const read: string[] = [];
  let close: { code: number; reason: string } | undefined;
  let gone = false;
  let text = '';
  let hello = false;
  const request = http.get(`http://127.0.0.1:${port}/`, (response) => {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      text += chunk;
      let end: number;
      while ((end = text.indexOf('\n\n')) !== -1) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const lines = block.split('\n').filter((line) => !line.startsWith(':'));
        const data = lines.filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n');
        const event = lines.find((line) => line.startsWith('event: '))?.slice(7);
        if (event === 'close') close = JSON.parse(data) as { code: number; reason: string };
        else if (event === 'hello') hello = true;
        else if (event === undefined) read.push(data);
      }
    });
    response.on('close', () => (gone = true));
  });
  request.on('error', () => (gone = true));
  await until(() => hello, 'the hello event');
  return {
    // Alive when heard from within two intervals: silent at the 3rd heartbeat, reported at the 4th.
    deadAtBeat: 4,
    transport,
    record,
    read,
    closeSeen: () => close,
    peerGone: () => gone,
    // What the registry does with each line of a POSTed body.
    send: async (line) => transport.receive(Buffer.from(line)),
    interval: async (showLife) => {
      if (showLife) transport.receive(Buffer.from('{"t":"ping"}'));
      now += heartbeatIntervalMs;
    },
    stop: async () => {
      transport.terminate();
      request.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const implementations: [string, () => Promise<Setup>][] = [
  ['WebSocketTransport', webSocketSetup],
  ['SseTransport', sseSetup],
];

describe.each(implementations)('the transport contract: %s', (_name, setup) => {
  let current: Setup | undefined;
  const start = async () => (current = await setup());
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });

  it('writes one coalesced payload as one message the peer reads whole, in order, and reports the bytes', async () => {
    const { transport, read } = await start();
    const encoder = new PayloadEncoder();
    expect(transport.writable).toBe(true);
    expect(transport.write(encoder.of(['{"a":1}', '{"b":2}']))).toBeGreaterThan('{"a":1}\n{"b":2}'.length);
    expect(transport.write(encoder.of(['{"c":"é"}']))).toBeGreaterThan(0);
    expect(transport.backlog).toBeGreaterThanOrEqual(0);
    await until(() => read.length === 2, 'both messages');
    expect(read).toEqual(['{"a":1}\n{"b":2}', '{"c":"é"}']);
  });

  it('hands inbound messages to its sink, as text', async () => {
    const { send, record } = await start();
    await send('{"t":"ping","id":1}');
    await until(() => record.messages.length === 1, 'the message');
    expect(record.messages).toEqual([{ text: '{"t":"ping","id":1}', isBinary: false }]);
  });

  it('closes with a code and reason the peer is told; the sink hears of the end after the call returned', async () => {
    const { transport, record, closeSeen, peerGone } = await start();
    transport.close(CloseCode.sessionRevoked, 'session_revoked');
    expect(record.ended).toBeUndefined();
    expect(transport.writable).toBe(false);
    await until(() => record.ended !== undefined && peerGone(), 'the end');
    expect(closeSeen()).toEqual({ code: CloseCode.sessionRevoked, reason: 'session_revoked' });
  });

  it('terminates without telling the peer: the sink hears 1006 (abnormal)', async () => {
    const { transport, record, closeSeen, peerGone } = await start();
    transport.terminate();
    await until(() => record.ended !== undefined && peerGone(), 'the end');
    expect(record.ended).toBe(CloseCode.abnormal);
    expect(closeSeen()).toBeUndefined();
  });

  it('reports a peer that shows life alive at every heartbeat', async () => {
    const { transport, interval } = await start();
    for (let beat = 0; beat < 4; beat++) {
      expect(transport.heartbeat()).toBe(true);
      await interval(true);
    }
  });

  it('reports a peer that stops showing life dead, and only then', async () => {
    const { transport, interval, deadAtBeat } = await start();
    for (let beat = 1; beat < deadAtBeat; beat++) {
      expect(transport.heartbeat()).toBe(true);
      await interval(false);
    }
    expect(transport.heartbeat()).toBe(false);
  });
});
