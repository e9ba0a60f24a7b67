import type { IncomingMessage } from 'node:http';

/** The client address of an upgrade request, honouring X-Forwarded-For like Fastify's trustProxy. */
export function clientIp(request: IncomingMessage, trustProxy: boolean | number): string {
  const direct = request.socket.remoteAddress ?? 'unknown';
  if (trustProxy === false || trustProxy === 0) return direct;
  const header = request.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((h) => h.trim()).filter(Boolean);
  if (hops.length === 0) return direct;
  if (trustProxy === true) return hops[0]!;
  // With n trusted hops, the client is the n-th address from the right (the socket is the last hop).
  return hops[Math.max(0, hops.length - trustProxy)] ?? direct;
}
