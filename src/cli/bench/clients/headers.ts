/**
 * The request headers a bench client sends besides what its request needs (Host, Connection,
 * Authorization, If-None-Match, the WebSocket handshake's own). `browser` is what Chrome 131 on
 * Linux adds to a same-origin `fetch()` over HTTP/1.1 (no cookie: Tandem's refresh cookie is
 * scoped to /api/auth), so the bytes a poll costs are a browser's, not a bare Node client's;
 * `minimal` adds nothing (node:http's own Host and Connection only).
 */
export type HeaderProfile = 'browser' | 'minimal';

const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

const browserCommon = {
  'user-agent': USER_AGENT,
  'accept-language': 'en-US,en;q=0.9',
  'sec-ch-ua': '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
  'sec-ch-ua-mobile': '?0',
  'sec-ch-ua-platform': '"Linux"',
} as const;

/** Headers of an XHR/fetch request (polls, the SSE stream and its POSTs). */
export function fetchHeaders(profile: HeaderProfile, origin: string, page: string): Record<string, string> {
  if (profile === 'minimal') return {};
  return {
    ...browserCommon,
    'accept-encoding': 'gzip, deflate, br, zstd',
    'sec-fetch-dest': 'empty',
    'sec-fetch-mode': 'cors',
    'sec-fetch-site': 'same-origin',
    referer: `${origin}${page}`,
  };
}

/** Headers of a WebSocket handshake, besides the ones the `ws` client adds itself. */
export function handshakeHeaders(profile: HeaderProfile, origin: string): Record<string, string> {
  if (profile === 'minimal') return {};
  return {
    ...browserCommon,
    'accept-encoding': 'gzip, deflate, br, zstd',
    'cache-control': 'no-cache',
    pragma: 'no-cache',
    origin,
  };
}

/** The page a browser client would be on (its Referer). */
export const PAGE = '/items/watch';
