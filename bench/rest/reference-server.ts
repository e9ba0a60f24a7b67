import type { FastifyInstance } from 'fastify';

/** The reference servers' common tail: stop on SIGTERM/SIGINT, listen, print `<name> listening on <port>`. */
export function serveReference(app: FastifyInstance, name: string, port: number): void {
  const stop = () => void app.close().then(() => process.exit(0), () => process.exit(1));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  app.listen({ port, host: '127.0.0.1' }).then(
    () => {
      const address = app.server.address();
      const actual = typeof address === 'object' && address !== null ? address.port : port;
      process.stdout.write(`${name} listening on ${actual}\n`);
    },
    (error: unknown) => {
      process.stderr.write(`${name}-server failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}

/** An environment variable the server cannot start without (exit 2 naming it). */
export function required(server: string, name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`${server}-server: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}
