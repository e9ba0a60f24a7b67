import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { textFrame } from '../../src/server/realtime/text-frame';

/** Parses frames with ws's own receiver: what a real client would read. */
function parse(bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    // ws exports its Receiver at run time; @types/ws does not declare it.
    const { Receiver } = wsModule as unknown as { Receiver: new (options: object) => NodeJS.WritableStream & NodeJS.EventEmitter };
    const receiver = new Receiver({ isServer: false, maxPayload: 0 });
    receiver.on('message', (data: Buffer, isBinary: boolean) => (isBinary ? reject(new Error('binary')) : resolve(data.toString())));
    receiver.on('error', reject);
    receiver.write(bytes);
  });
}

describe('textFrame', () => {
  it('encodes the three length forms exactly', () => {
    expect(textFrame('hi').toString('hex')).toBe('81026869');
    const medium = textFrame('a'.repeat(126));
    expect(medium.subarray(0, 4).toString('hex')).toBe('817e007e');
    const large = textFrame('b'.repeat(65_536));
    expect(large.subarray(0, 10).toString('hex')).toBe('817f0000000000010000');
    expect(large.length).toBe(10 + 65_536);
  });

  it('counts UTF-8 bytes, not UTF-16 units', () => {
    expect(textFrame('é').toString('hex')).toBe('8102c3a9');
  });

  it('round-trips through ws’s receiver for any text (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string(), fc.string({ minLength: 120, maxLength: 70_000 })), async (text) => (await parse(textFrame(text))) === text), { numRuns: 60 });
  });
});
