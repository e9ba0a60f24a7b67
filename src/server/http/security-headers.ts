import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

export interface SecurityHeaderOptions {
  /** Strict-Transport-Security and upgrade-insecure-requests: only where TLS is served. */
  hsts: boolean;
}

export interface SecurityHeaders {
  /** On every answer (an API's JSON, a script, a stylesheet): OWASP's REST set. */
  api: Array<[string, string]>;
  /** Added on an HTML page, over `api`: helmet's set for documents (its CSP replaces the API one). */
  document: Array<[string, string]>;
  /** Headers nobody should send (helmet removes X-Powered-By). */
  remove: string[];
  /** What a 304 leaves out: the cached 200 it revalidates keeps its own (RFC 9110 15.4.5). */
  notOn304: string[];
}

/**
 * The security headers, computed ONCE (nothing in them depends on the request).
 *
 * An API answer carries what OWASP's REST Security Cheat Sheet asks of one: a CSP that allows
 * nothing and no framing, nosniff, X-Frame-Options DENY, plus Cross-Origin-Resource-Policy (no
 * cross-site page can embed the JSON) and HSTS behind TLS. Helmet's full set is for documents:
 * a script and font policy, COOP, Origin-Agent-Cluster, Referrer-Policy and the legacy IE and Flash
 * headers mean nothing on JSON, and cost a polling client ~550 B on every answer. An HTML page gets
 * helmet's set (framing by the same origin, as before).
 *
 * A 304 carries neither: the browser or cache keeps the stored 200's headers and updates only what
 * the 304 sends (Date, ETag, Cache-Control, Vary and the like).
 */
export function securityHeaders(options: SecurityHeaderOptions): SecurityHeaders {
  const hsts: Array<[string, string]> = options.hsts ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains']] : [];
  const api: Array<[string, string]> = [
    ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
    ['Cross-Origin-Resource-Policy', 'same-site'],
    ...hsts,
  ];
  const { set: document, remove } = helmetHeaders(options);
  return { api, document, remove, notOn304: api.map(([name]) => name).filter((name) => name !== 'Strict-Transport-Security') };
}

function helmetHeaders(options: SecurityHeaderOptions): { set: Array<[string, string]>; remove: string[] } {
  const middleware = helmet({
    crossOriginResourcePolicy: { policy: 'same-site' },
    // HSTS and upgrade-insecure-requests only make sense behind TLS; on plain-HTTP localhost
    // they would break the app, so they follow TANDEM_HSTS (set it where TLS terminates here).
    hsts: options.hsts ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: options.hsts ? [] : null } },
  });
  const set: Array<[string, string]> = [];
  const remove: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | string[]) => set.push([name, String(value)]),
    removeHeader: (name: string) => remove.push(name),
  } as unknown as ServerResponse;
  let failure: unknown;
  middleware({} as IncomingMessage, recorder, (error?: unknown) => (failure = error));
  if (failure !== undefined) throw failure;
  return { set, remove };
}
