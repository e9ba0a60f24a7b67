import { sseData } from './sse-transport';
import { textFrame } from './text-frame';
import type { Payload, SseData } from './transport';

const noFrames: readonly string[] = Object.freeze([]);

/**
 * The payloads of one flush run. Subscribers of a channel queue the very same frame strings and
 * are flushed one after the other, so `of` keeps the encodings of the last frame list and hands
 * them to every following connection with an identical list: a publication fanned out to N
 * WebSockets is framed once, and to M SSE streams turned into `data:` lines once (their replay
 * buffers then share that one string). Each framing is built only when a transport asks for it.
 * Owned by a FlushScheduler and reset at the end of each run, so nothing outlives the run.
 *
 * @example
 *   const encoder = new PayloadEncoder();
 *   encoder.of(['{"t":"pong"}']).websocketFrame(); // framed
 *   encoder.of(['{"t":"pong"}']).websocketFrame(); // the same Buffer, not framed again
 */
export class PayloadEncoder implements Payload {
  #frames: readonly string[] = noFrames;
  #text: string | undefined;
  #frame: Buffer | undefined;
  #sse: SseData | undefined;

  /**
   * The payload of `frames` (not to be changed afterwards): the previous call's, encodings and
   * all, when the frames are the same strings.
   */
  of(frames: readonly string[]): Payload {
    if (!sameFrames(frames, this.#frames)) {
      this.#frames = frames;
      this.#text = undefined;
      this.#frame = undefined;
      this.#sse = undefined;
    }
    return this;
  }

  websocketFrame(): Buffer {
    return (this.#frame ??= textFrame(this.#joined()));
  }

  sseData(): SseData {
    return (this.#sse ??= sseData(this.#joined()));
  }

  /** Forgets the last payload (its frames and encodings), so the run's memory can be collected. */
  reset(): void {
    this.#frames = noFrames;
    this.#text = undefined;
    this.#frame = undefined;
    this.#sse = undefined;
  }

  #joined(): string {
    const frames = this.#frames;
    return (this.#text ??= frames.length === 1 ? frames[0]! : frames.join('\n'));
  }
}

function sameFrames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
