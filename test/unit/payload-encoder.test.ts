import { describe, expect, it } from 'vitest';
import { PayloadEncoder } from '../../src/server/realtime/payload-encoder';
import { payloadOf, textFrame } from '../../src/server/realtime/text-frame';

describe('PayloadEncoder', () => {
  it('encodes identical frame lists once per framing: the same bytes and the same data: block for every connection', () => {
    const encoder = new PayloadEncoder();
    const a = '{"t":"pub","o":1}';
    const b = '{"t":"pub","o":2}';
    // Each connection queues its own array of the same (shared) frame strings.
    const frame = encoder.of([a, b]).websocketFrame();
    const data = encoder.of([a, b]).sseData();
    for (let connection = 0; connection < 100; connection++) {
      expect(encoder.of([a, b]).websocketFrame()).toBe(frame);
      expect(encoder.of([a, b]).sseData()).toBe(data);
    }
  });

  it('encodes anew when the frames differ, and after a reset (nothing outlives a run)', () => {
    const encoder = new PayloadEncoder();
    const first = encoder.of(['x']).websocketFrame();
    const other = encoder.of(['y']).websocketFrame();
    expect(other).not.toBe(first);
    expect(other.toString('hex')).toBe(textFrame('y').toString('hex'));
    expect(encoder.of(['y', 'z']).websocketFrame()).not.toBe(other);
    const kept = encoder.of(['y']).sseData();
    encoder.reset();
    const again = encoder.of(['y']).sseData();
    expect(again).not.toBe(kept);
    expect(again).toEqual(kept);
  });

  it('joins the frames with newlines in one WebSocket text frame, with each of the three length headers', () => {
    const encoder = new PayloadEncoder();
    expect(encoder.of(['h', 'i']).websocketFrame().toString('hex')).toBe('8103680a69');
    const medium = encoder.of(['a'.repeat(63), 'b'.repeat(62)]).websocketFrame();
    expect(medium.subarray(0, 4).toString('hex')).toBe('817e007e');
    const large = encoder.of(['c'.repeat(32_767), 'd'.repeat(32_768)]).websocketFrame();
    expect(large.subarray(0, 10).toString('hex')).toBe('817f0000000000010000');
    expect(payloadOf(large).toString()).toBe(`${'c'.repeat(32_767)}\n${'d'.repeat(32_768)}`);
    expect(encoder.of(['é']).websocketFrame().toString('hex')).toBe('8102c3a9');
  });

  it('makes one data: line per frame, a blank line after, and counts the block in UTF-8 bytes', () => {
    const encoder = new PayloadEncoder();
    expect(encoder.of(['{"a":1}']).sseData()).toEqual({ text: 'data: {"a":1}\n\n', bytes: 15 });
    const data = encoder.of(['{"n":"é"}', '{"b":2}']).sseData();
    expect(data.text).toBe('data: {"n":"é"}\ndata: {"b":2}\n\n');
    expect(data.bytes).toBe(Buffer.byteLength(data.text));
    expect(data.bytes).toBe(data.text.length + 1);
  });

  it('gives both framings of one payload the same text', () => {
    const encoder = new PayloadEncoder();
    const payload = encoder.of(['{"t":"pong"}', '{"t":"ack","id":1}']);
    const fromFrame = payloadOf(payload.websocketFrame()).toString();
    const fromData = payload
      .sseData()
      .text.trimEnd()
      .split('\n')
      .map((line) => line.slice('data: '.length))
      .join('\n');
    expect(fromData).toBe(fromFrame);
  });
});
