/** One Server-Sent Event, as the HTML standard's parser dispatches it. */
export interface SseEvent {
  /** The `event:` field; 'message' when absent. */
  event: string;
  /** The `data:` lines joined with '\n'. */
  data: string;
  /** The `id:` field of this event, if it had one. */
  id: string | undefined;
}

/**
 * An incremental `text/event-stream` parser (HTML Living Standard, "Parsing an event stream"):
 * feed it decoded text in chunks of any size; it calls back once per complete event. Lines end
 * in CRLF, LF or CR; comments (`:`) are skipped; an event without data is not dispatched.
 */
export class SseParser {
  readonly #onEvent: (event: SseEvent) => void;
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #id: string | undefined;
  /** A chunk ended in CR: a LF at the start of the next one belongs to the same line end. */
  #afterCr = false;

  constructor(onEvent: (event: SseEvent) => void) {
    this.#onEvent = onEvent;
  }

  push(chunk: string): void {
    if (chunk === '') return;
    let text = chunk;
    if (this.#afterCr && text.startsWith('\n')) text = text.slice(1);
    this.#afterCr = false;
    const buffer = this.#buffer + text;
    let start = 0;
    // Each line end is searched for once (a chunk of many LF lines must not rescan for CR each time).
    let lf = buffer.indexOf('\n');
    let cr = buffer.indexOf('\r');
    while (lf !== -1 || cr !== -1) {
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      this.#line(buffer.slice(start, end));
      if (end === cr) {
        if (end + 1 === buffer.length) this.#afterCr = true;
        start = buffer[end + 1] === '\n' ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
      if (lf !== -1 && lf < start) lf = buffer.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = buffer.indexOf('\r', start);
    }
    this.#buffer = buffer.slice(start);
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        return;
      case 'event':
        this.#event = value;
        return;
      case 'id':
        if (!value.includes('\0')) this.#id = value;
        return;
      default:
        // 'retry' and unknown fields: this client schedules its own reconnects.
        return;
    }
  }

  #dispatch(): void {
    const data = this.#data;
    const event = this.#event;
    const id = this.#id;
    this.#data = [];
    this.#event = '';
    this.#id = undefined;
    if (data.length === 0) return;
    this.#onEvent({ event: event === '' ? 'message' : event, data: data.join('\n'), id });
  }
}
