import {
  AckFrame, AuthFrame, ErrorFrame, ExpiringFrame, PingFrame, PongFrame, PresenceFrame, Publication, PublishFrame,
  RefreshFrame, SubscribeFrame, SubscribeResult, SUBPROTOCOL, UnsubscribeFrame,
} from '../../protocol/frames';

export interface AsyncApiChannel {
  /** Channel name pattern, e.g. `post:{id}`. */
  address: string;
  description: string;
  /** Application events published on it, with their data schema (the REST representation). */
  events: Record<string, { description: string; data: object }>;
}

/** Plain JSON Schema of a TypeBox schema (drops TypeBox's non-enumerable markers). */
function json(schema: object): object {
  return JSON.parse(JSON.stringify(schema)) as object;
}

/**
 * An AsyncAPI 3.0 document of the tandem.v1 protocol, built from the same TypeBox schemas that
 * validate the frames, plus the app's channels and their events.
 */
export function buildAsyncApi(info: { title: string; version: string; description: string }, channels: AsyncApiChannel[]): object {
  const clientFrames = { auth: AuthFrame, refresh: RefreshFrame, sub: SubscribeFrame, unsub: UnsubscribeFrame, pub: PublishFrame, ping: PingFrame };
  const serverFrames = { ack: AckFrame, err: ErrorFrame, pub: Publication, presence: PresenceFrame, exp: ExpiringFrame, pong: PongFrame };
  const messages: Record<string, object> = {};
  for (const [name, schema] of Object.entries(clientFrames)) messages[`client.${name}`] = { name: `client.${name}`, payload: json(schema) };
  for (const [name, schema] of Object.entries(serverFrames)) messages[`server.${name}`] = { name: `server.${name}`, payload: json(schema) };
  for (const channel of channels) {
    for (const [event, spec] of Object.entries(channel.events)) {
      messages[`event.${event}`] = { name: event, summary: spec.description, payload: json({ ...Publication, properties: { ...Publication.properties, d: spec.data } }) };
    }
  }
  const ref = (name: string) => ({ $ref: `#/components/messages/${name}` });
  return {
    asyncapi: '3.0.0',
    info,
    defaultContentType: 'application/json',
    servers: {
      realtime: { host: 'localhost:3000', pathname: '/realtime', protocol: 'ws', description: `WebSocket with subprotocol ${SUBPROTOCOL}; see docs/protocol.md` },
      realtimeSse: {
        host: 'localhost:3000',
        pathname: '/realtime/sse',
        protocol: 'http',
        description: 'The SSE fallback, same frames: server frames down a text/event-stream (GET /realtime/sse, resumable with Last-Event-ID), client frames up in POST /realtime/sse/frames (application/x-ndjson, header Tandem-Stream); see docs/protocol.md, "SSE fallback"',
      },
    },
    channels: {
      socket: {
        address: '/realtime',
        description: 'The one connection: control frames in both directions; server messages may carry several frames separated by newlines.',
        messages: Object.fromEntries(Object.keys(messages).filter((m) => !m.startsWith('event.')).map((m) => [m.replace('.', '_'), ref(m)])),
      },
      ...Object.fromEntries(channels.map((c) => [c.address.replace(/[^a-z]/gi, '_'), {
        address: c.address,
        description: c.description,
        messages: Object.fromEntries(Object.keys(c.events).map((e) => [e.replace(/\./g, '_'), ref(`event.${e}`)])),
      }])),
    },
    operations: {
      sendControl: { action: 'send', channel: { $ref: '#/channels/socket' }, messages: Object.keys(clientFrames).map((n) => ({ $ref: `#/channels/socket/messages/client_${n}` })) },
      receiveControl: { action: 'receive', channel: { $ref: '#/channels/socket' }, messages: Object.keys(serverFrames).map((n) => ({ $ref: `#/channels/socket/messages/server_${n}` })) },
    },
    components: { messages, schemas: { SubscribeResult: json(SubscribeResult) } },
  };
}
