/**
 * The bench's clock: CLOCK_MONOTONIC in microseconds (libuv's hrtime). It is one system-wide clock,
 * so a stamp the server takes compares directly with one a client takes on the same machine; for
 * another machine the driver measures the offset (ControlClient.clockOffset).
 */
export function nowMicros(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}
