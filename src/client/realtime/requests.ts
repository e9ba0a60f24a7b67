import { MAX_REQUEST_ID } from '../../protocol/wire';
import { RealtimeError } from './realtime-error';
import type { Timers } from './platform';

/** An `ack`, `err` or `pong` that answers a request. */
export interface AnswerFrame {
  t: 'ack' | 'err' | 'pong';
  id: number;
  d?: unknown;
  c?: string;
  m?: string;
}

export interface RequestCallbacks {
  answer(answer: AnswerFrame): void;
  fail(error: RealtimeError): void;
}

interface Pending extends RequestCallbacks {
  timer: unknown;
}

/**
 * Requests in flight, matched to their answers by id. An answer (an `err` too: the caller
 * decides what it means) goes to `answer`; a timeout or the end of the connection to `fail`.
 */
export class RequestTracker {
  readonly #timers: Timers;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(timers: Timers) {
    this.#timers = timers;
  }

  /**
   * Reserves an id; `callbacks.answer` runs synchronously when its answer is read (so a caller
   * can act before the frames that follow it in the same message), `fail` on timeout or loss.
   */
  start(timeoutMs: number, callbacks: RequestCallbacks): number {
    const id = this.#allocateId();
    const timer = this.#timers.setTimeout(() => {
      this.#pending.delete(id);
      callbacks.fail(new RealtimeError('request_timeout', `No answer to request ${id} within ${timeoutMs} ms`));
    }, timeoutMs);
    this.#pending.set(id, { ...callbacks, timer });
    return id;
  }

  /** Fails one request (e.g. it could not be sent). */
  cancel(id: number, error: RealtimeError): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    this.#timers.clearTimeout(pending.timer);
    pending.fail(error);
  }

  /** Settles the request a frame answers; false when no request in flight has its id. */
  settle(frame: AnswerFrame): boolean {
    const pending = this.#pending.get(frame.id);
    if (pending === undefined) return false;
    this.#pending.delete(frame.id);
    this.#timers.clearTimeout(pending.timer);
    pending.answer(frame);
    return true;
  }

  /** Rejects everything in flight (the connection ended: no answer will come). */
  failAll(error: RealtimeError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) {
      this.#timers.clearTimeout(entry.timer);
      entry.fail(error);
    }
  }

  get size(): number {
    return this.#pending.size;
  }

  #allocateId(): number {
    // Wraps within 1 … 2³¹−1 and skips ids still in flight, so ids stay unique among them.
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id >= MAX_REQUEST_ID ? 1 : id + 1;
      if (!this.#pending.has(id)) return id;
    }
  }
}
