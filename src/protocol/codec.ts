import { Compile } from 'typebox/compile';
import { AuthFrame, MAX_REQUEST_ID, PingFrame, PublishFrame, RefreshFrame, SubscribeFrame, UnsubscribeFrame, type ClientFrame } from './frames';

/** One compiled validator per frame type, so an error names the real problem, not a union branch. */
const validators = {
  auth: Compile(AuthFrame),
  refresh: Compile(RefreshFrame),
  sub: Compile(SubscribeFrame),
  unsub: Compile(UnsubscribeFrame),
  pub: Compile(PublishFrame),
  ping: Compile(PingFrame),
} as const;

export type DecodeResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: 'malformed_frame' | 'invalid_frame'; message: string; id?: number };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_REQUEST_ID;
}

/**
 * Parses and validates one client text frame. Never throws: random bytes get a coded result.
 * When the frame is an object with a numeric `id`, the id is returned so the error can answer it.
 */
export function decodeClientFrame(text: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'malformed_frame', message: 'A frame must be one JSON object' };
  }
  if (!isRecord(value)) return { ok: false, code: 'malformed_frame', message: 'A frame must be one JSON object' };
  // Only a valid request id is echoed: an err frame's id is always 1 … 2³¹−1 (docs/protocol.md).
  const id = isRequestId(value.id) ? { id: value.id } : {};
  const type = value.t;
  const validator = typeof type === 'string' && Object.hasOwn(validators, type) ? validators[type as keyof typeof validators] : undefined;
  if (validator === undefined) return { ok: false, code: 'invalid_frame', message: `Unknown frame type ${JSON.stringify(type)}`.slice(0, 200), ...id };
  if (validator.Check(value)) return { ok: true, frame: value as ClientFrame };
  const first = validator.Errors(value)[0];
  const reason = first?.message === 'schema is false' ? 'is not an allowed field' : first?.message;
  const where = first === undefined ? '' : ` at ${first.instancePath || '/'}: ${reason}`;
  return { ok: false, code: 'invalid_frame', message: `Invalid ${type} frame${where}`, ...id };
}
