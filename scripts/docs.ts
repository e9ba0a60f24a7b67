import { buildSocialApp } from '../src/apps/social/app';
import { socialAsyncApi } from '../src/apps/social/asyncapi';
import { errorCatalog } from '../src/server/errors';
import { loadConfig } from '../src/server/ops/config';

/** docs/errors.md, rendered from the error catalog. */
export function renderErrorsDoc(): string {
  const rows = Object.entries(errorCatalog).map(([code, e]) => `| \`${code}\` | ${e.status} | ${'close' in e ? e.close : ''} | ${e.title} |`);
  return [
    '# Error codes',
    '',
    '<!-- Generated from src/server/errors.ts by `npm run docs:generate`; a test fails when this file is stale. -->',
    '',
    'Every error Tandem answers over REST is `application/problem+json` (RFC 9457):',
    '',
    '```json',
    '{ "type": "urn:tandem:error:validation_failed", "title": "The request is not valid", "status": 400,',
    '  "code": "validation_failed", "detail": "Some fields are not valid", "instance": "/api/posts",',
    '  "errors": [{ "field": "body.body", "message": "must NOT have fewer than 1 characters" }] }',
    '```',
    '',
    '`code` is stable: clients branch on it, never on `title` or `detail`. Codes are never reused or',
    'renamed. `errors` appears on validation failures and names each offending field',
    '(`body.x`, `querystring.x`, `params.x`, `headers.x`). 429 and some 503 answers carry `Retry-After`;',
    '412 answers carry the current `ETag`. Error answers are `Cache-Control: no-store`.',
    '',
    'Over the realtime socket the same codes arrive in error frames (`{"t":"err","id":3,"c":"unknown_channel","m":"…"}`);',
    'those with a close code end the connection with it (see docs/protocol.md for the close code ranges).',
    '',
    '| code | HTTP status | close code | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** The OpenAPI 3.1 document the running app serves at /api/openapi.json. */
export async function renderOpenApi(): Promise<string> {
  const config = loadConfig({ TANDEM_SEED: 'false', LOG_LEVEL: 'silent' });
  const social = await buildSocialApp({ config, logger: false, sqlitePath: ':memory:' });
  try {
    return `${JSON.stringify(social.app.swagger(), null, 2)}\n`;
  } finally {
    await social.app.close();
  }
}

/** The AsyncAPI 3 document the running app serves at /api/asyncapi.json. */
export function renderAsyncApi(): string {
  return `${JSON.stringify(socialAsyncApi(), null, 2)}\n`;
}
