/**
 * What the clients saw, one row per answer or push: which client, which version of its resource,
 * when (this process's clock, µs) and how (the HTTP status of a poll, or 0 for a push). Kept in
 * typed arrays: a long run records millions of rows and the client process must stay cheap.
 */

/** How a row was observed: a pushed update (SSE or WebSocket), or the status of a poll's answer. */
export const PUSHED = 0;

export class Observations {
  #client = new Int32Array(1024);
  #version = new Int32Array(1024);
  #time = new Float64Array(1024);
  #status = new Uint16Array(1024);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  record(client: number, version: number, time: number, status: number): void {
    if (this.#length === this.#time.length) this.#grow();
    const i = this.#length;
    this.#client[i] = client;
    this.#version[i] = version;
    this.#time[i] = time;
    this.#status[i] = status;
    this.#length = i + 1;
  }

  client(i: number): number {
    return this.#client[i]!;
  }

  version(i: number): number {
    return this.#version[i]!;
  }

  time(i: number): number {
    return this.#time[i]!;
  }

  status(i: number): number {
    return this.#status[i]!;
  }

  #grow(): void {
    const size = this.#time.length * 2;
    const grow = <A extends Int32Array | Float64Array | Uint16Array>(from: A, to: A): A => {
      to.set(from);
      return to;
    };
    this.#client = grow(this.#client, new Int32Array(size));
    this.#version = grow(this.#version, new Int32Array(size));
    this.#time = grow(this.#time, new Float64Array(size));
    this.#status = grow(this.#status, new Uint16Array(size));
  }
}
