import { vi } from 'vitest';

/**
 * A scripted WebSocket for the RealtimeClient's fake-timer tests (timing, follow): the test
 * plays the server (opens, sends frames, closes) and reads what the client sent. No server.
 */
export class FakeSocket {
  static instances: FakeSocket[] = [];
  readyState = 0;
  readonly url: string;
  readonly protocols: string | string[] | undefined;
  readonly sent: Array<Record<string, unknown>> = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closedWith: { code?: number; reason?: string } | undefined;

  constructor(url: string, protocols?: string | string[]) {
    this.url = url;
    this.protocols = protocols;
    FakeSocket.instances.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code?: number, reason?: string): void {
    this.readyState = 3;
    this.closedWith = { code, reason };
  }

  // Test side: what the server does.
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(...frames: object[]): void {
    this.onmessage?.({ data: frames.map((f) => JSON.stringify(f)).join('\n') });
  }

  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  last(t: string): Record<string, unknown> | undefined {
    return this.sent.filter((f) => f.t === t).at(-1);
  }
}

/** The socket of the latest connection attempt. */
export const latest = () => FakeSocket.instances.at(-1)!;

/** Opens the latest socket and answers its auth. */
export async function accept(socket = latest()): Promise<void> {
  socket.open();
  await vi.advanceTimersByTimeAsync(0);
  const auth = socket.last('auth')!;
  socket.receive({ t: 'ack', id: auth.id, d: { uid: 1, exp: 2_000_000_000 } });
  await vi.advanceTimersByTimeAsync(0);
}
