const kTandem = Symbol.for('tandem.upgrade-listener');

/**
 * Marks an `upgrade` listener as Tandem's own (the realtime gateway, the HTTP layer's bookkeeping),
 * so the gateway can tell whether the app has WebSocket endpoints of its own on the same server.
 */
export function tandemListener<F extends (...args: never[]) => void>(listener: F): F {
  return Object.assign(listener, { [kTandem]: true });
}

export function isTandemListener(listener: unknown): boolean {
  return (listener as { [kTandem]?: boolean })[kTandem] === true;
}
