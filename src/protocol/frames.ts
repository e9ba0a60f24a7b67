/**
 * The tandem.v1 wire protocol: JSON text frames, one object per frame, discriminated by `t`.
 * Control frames (`t`) are namespaced apart from application events (`ev` inside a publication),
 * so an app can name its events anything. Keys are short because bytes on the wire are product.
 */
import { Type, type Static } from 'typebox';
import { MAX_REQUEST_ID } from './wire';

// The constants live in wire.ts (no TypeBox), so the client can import them too.
export { MAX_REQUEST_ID, SUBPROTOCOL } from './wire';

const RequestId = Type.Integer({ minimum: 1, maximum: MAX_REQUEST_ID });
const ChannelName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[a-z]+(:[A-Za-z0-9_.-]{1,64})?$' });
const EventName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9_.-]*$' });
const Token = Type.String({ minLength: 1, maxLength: 4096 });

/** A position in a channel's stream: `e` (epoch) changes when history behind it was lost. */
export const StreamPosition = Type.Object({ e: Type.String({ minLength: 1, maxLength: 64 }), o: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });
export type StreamPosition = Static<typeof StreamPosition>;

export const AuthFrame = Type.Object({ t: Type.Literal('auth'), id: RequestId, tok: Token }, { additionalProperties: false });
export const RefreshFrame = Type.Object({ t: Type.Literal('refresh'), id: RequestId, tok: Token }, { additionalProperties: false });
export const SubscribeFrame = Type.Object(
  { t: Type.Literal('sub'), id: RequestId, ch: ChannelName, since: Type.Optional(StreamPosition) },
  { additionalProperties: false },
);
export const UnsubscribeFrame = Type.Object({ t: Type.Literal('unsub'), id: RequestId, ch: ChannelName }, { additionalProperties: false });
export const PublishFrame = Type.Object(
  { t: Type.Literal('pub'), id: Type.Optional(RequestId), ch: ChannelName, ev: EventName, d: Type.Optional(Type.Unknown()) },
  { additionalProperties: false },
);
export const PingFrame = Type.Object({ t: Type.Literal('ping'), id: Type.Optional(RequestId) }, { additionalProperties: false });

export const ClientFrame = Type.Union([AuthFrame, RefreshFrame, SubscribeFrame, UnsubscribeFrame, PublishFrame, PingFrame]);
export type ClientFrame = Static<typeof ClientFrame>;
export type ClientFrameType = ClientFrame['t'];

/** Why a subscribe with `since` could not replay what was missed. */
export const RecoveryFailure = Type.Union([
  Type.Literal('epoch_changed'),
  Type.Literal('history_trimmed'),
  Type.Literal('too_many_missed'),
  Type.Literal('never_positioned'),
]);
export type RecoveryFailure = Static<typeof RecoveryFailure>;

export const PresenceUser = Type.Object({ id: Type.Integer(), n: Type.String() });
export type PresenceUser = Static<typeof PresenceUser>;

export const Publication = Type.Object({
  t: Type.Literal('pub'),
  ch: Type.String(),
  o: Type.Optional(Type.Integer({ description: 'Offset in the channel; absent on ephemeral messages (typing)' })),
  ev: Type.String(),
  d: Type.Unknown(),
});
export type Publication = Static<typeof Publication>;

export const SubscribeResult = Type.Object({
  e: Type.String({ description: 'Epoch of the channel stream' }),
  o: Type.Integer({ description: 'Current offset: subscribe with since={e,o} later to recover from here' }),
  rec: Type.Optional(Type.Boolean({ description: 'Present when since was given: true when everything missed follows' })),
  why: Type.Optional(RecoveryFailure),
  pubs: Type.Optional(Type.Array(Publication, { description: 'The missed publications, in order' })),
  pres: Type.Optional(Type.Union([Type.Array(PresenceUser), Type.Object({ n: Type.Integer() })])),
});
export type SubscribeResult = Static<typeof SubscribeResult>;

export const AckFrame = Type.Object({ t: Type.Literal('ack'), id: RequestId, d: Type.Optional(Type.Unknown()) });
export const ErrorFrame = Type.Object({ t: Type.Literal('err'), id: Type.Optional(RequestId), c: Type.String(), m: Type.String() });
export const PresenceFrame = Type.Object({ t: Type.Union([Type.Literal('join'), Type.Literal('leave')]), ch: Type.String(), u: PresenceUser });
export const ExpiringFrame = Type.Object({ t: Type.Literal('exp'), in: Type.Integer({ description: 'Seconds until the access token expires' }) });
export const PongFrame = Type.Object({ t: Type.Literal('pong'), id: Type.Optional(RequestId) });

export const ServerFrame = Type.Union([AckFrame, ErrorFrame, Publication, PresenceFrame, ExpiringFrame, PongFrame]);
export type ServerFrame = Static<typeof ServerFrame>;
