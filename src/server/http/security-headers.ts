import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

export interface SecurityHeaderOptions {
  /** Strict-Transport-Security and upgrade-insecure-requests: only where TLS is served. */
  hsts: boolean;
}

/**
 * The security headers (helmet's defaults, adjusted), computed ONCE: nothing in them depends on
 * the request, so instead of running helmet's middleware chain on every request (it rebuilt
 * and re-serialized the CSP each time: ~6% of a cached read's CPU) the resulting header list is
 * captured at start and set per response.
 */
export function securityHeaders(options: SecurityHeaderOptions): { set: Array<[string, string]>; remove: string[] } {
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
