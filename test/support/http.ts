import http from 'node:http';

/** POST /api/auth/login to `baseUrl` from a chosen local address (127.0.0.x), without connection reuse. */
export function loginFrom(baseUrl: string, localAddress: string, username: string, password: string): Promise<{ status: number; code: string | undefined; retryAfter: string | undefined }> {
  const url = new URL('/api/auth/login', baseUrl);
  const body = JSON.stringify({ username, password });
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        const code = (JSON.parse(text) as { code?: string }).code;
        const retryAfter = response.headers['retry-after'];
        resolve({ status: response.statusCode ?? 0, code, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Options of a test request: `json` becomes the body (and its Content-Type), `token` a bearer Authorization. */
export type TestRequestInit = RequestInit & { json?: unknown; token?: string };

/** fetch against `base` (path relative to it), with the `json` and `token` shorthands. */
export function requestAt(base: string): (pathname: string, init?: TestRequestInit) => Promise<Response> {
  return (pathname, init = {}) => {
    const { json, token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (json !== undefined) {
      headers.set('content-type', 'application/json');
      rest.body = JSON.stringify(json);
    }
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    return fetch(base + pathname, { ...rest, headers });
  };
}
