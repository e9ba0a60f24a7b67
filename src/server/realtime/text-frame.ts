/**
 * Builds one complete, unmasked WebSocket text frame (RFC 6455 §5.2: FIN, opcode 1) around a
 * UTF-8 payload, header and payload in a single buffer. A publication fanned out to N sockets is
 * framed once and the same bytes are written N times, instead of N encodes and N framings.
 */
export function textFrame(payload: string): Buffer {
  const length = Buffer.byteLength(payload);
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81; // FIN + text
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(payload, headerLength, 'utf8');
  return frame;
}

/** The payload of a frame built by textFrame (for writers that frame on their own). */
export function payloadOf(frame: Buffer): Buffer {
  const marker = frame[1]!;
  return frame.subarray(marker === 127 ? 10 : marker === 126 ? 4 : 2);
}
