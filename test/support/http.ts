import http from 'node:http';

type AnswerFrom = { status: number; code: string | undefined; retryAfter: string | undefined };

/** POST /api/auth/login to `baseUrl` from a chosen local address (127.0.0.x), without connection reuse. */
export function loginFrom(baseUrl: string, localAddress: string, username: string, password: string): Promise<AnswerFrom> {
  return requestFrom(baseUrl, localAddress, '/api/auth/login', { username, password });
}

/** A GET (or, with a JSON body, a POST) to `baseUrl` from a chosen local address, without connection reuse. */
export function requestFrom(baseUrl: string, localAddress: string, pathname: string, json?: unknown): Promise<AnswerFrom> {
  const url = new URL(pathname, baseUrl);
  const body = json === undefined ? undefined : JSON.stringify(json);
  const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: body === undefined ? 'GET' : 'POST', localAddress, agent: false, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        const code = response.statusCode !== undefined && response.statusCode >= 400 ? (JSON.parse(text) as { code?: string }).code : undefined;
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
