/**
 * The worker's side of worker.ts (the clients and reader processes): answers every command from
 * the runner with its handler's result, one reply per command id.
 */
type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** The worker's side: answers every command with `handle`'s result; exits on `exit` or when the runner goes. */
export function serveCommands<C extends { cmd: string }>(handle: (command: C) => Promise<unknown> | unknown): void {
  process.on('message', (message: C & { id: number }) => {
    if (message.cmd === 'exit') setImmediate(() => process.exit(0));
    Promise.resolve().then(() => handle(message)).then(
      (result) => process.send?.({ id: message.id, ok: true, result: result ?? null } satisfies Reply),
      (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies Reply),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ id: 0, ok: true, result: 'ready' } satisfies Reply);
}
