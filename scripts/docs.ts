import fs from 'node:fs';
import { pollsApp } from '../examples/polls/app';
import { socialApp } from '../src/apps/social/app';
import { closeCodeGuide, CloseCode } from '../src/protocol/close-codes';
import { asyncApiDocument } from '../src/server/assembly/channels';
import { createServer } from '../src/server/assembly/create-server';
import type { AppDefinition } from '../src/server/assembly/define-app';
import { librarySettings, loadConfig } from '../src/server/config/config';
import { settingsRows } from '../src/server/config/settings';
import { libraryErrors, type ErrorSpec } from '../src/server/errors';

/**
 * The generated documents and the generated parts of hand-written ones. Each comes from the code
 * that the server runs (the error catalogs, the settings declarations, the close codes, the route
 * and channel schemas); `npm run docs:generate` writes them and test/docs.test.ts fails when one is stale.
 */

// The apps of this repository whose codes and settings the documents list.
const APPS = [socialApp, pollsApp] as unknown as Array<AppDefinition<never, never>>;

const errorRow = ([code, e]: [string, ErrorSpec]) => `| \`${code}\` | ${e.status} | ${e.close ?? ''} | ${e.title} |`;

/** docs/errors.md: the library's catalog, then each app's own codes. */
export function renderErrorsDoc(): string {
  const apps = APPS.flatMap((app) => {
    const entries = Object.entries(app.errors?.entries ?? {}) as Array<[string, ErrorSpec]>;
    return entries.length === 0 ? [] : ['', `### The ${app.name} app`, '', '| code | HTTP status | close code | meaning |', '| --- | --- | --- | --- |', ...entries.map(errorRow)];
  });
  return [
    '# Error codes',
    '',
    '<!-- Generated from the error catalogs (src/protocol/errors.ts and each app\'s defineErrors) by `npm run docs:generate`; a test fails when this file is stale. -->',
    '',
    'Every error Tandem answers over REST is `application/problem+json` (RFC 9457):',
    '',
    '```json',
    '{ "type": "urn:tandem:error:validation_failed", "title": "The request is not valid", "status": 400,',
    '  "code": "validation_failed", "detail": "Some fields are not valid", "instance": "/api/posts",',
    '  "errors": [{ "field": "body.body", "message": "must NOT have fewer than 1 characters", "keyword": "minLength", "limit": 1 }] }',
    '```',
    '',
    '`code` is stable: clients branch on it, never on `title` or `detail`. Codes are never reused or',
    'renamed. `errors` appears on validation failures and names each offending field',
    '(`body.x`, `querystring.x`, `params.x`, `headers.x`), with the JSON Schema `keyword` that failed and its',
    '`limit` where it has one, so a client words its own sentence (the web UI: "Write something first.").',
    '429 and some 503 answers carry `Retry-After`;',
    '412 answers carry the current `ETag`. Error answers are `Cache-Control: no-store`.',
    '',
    'Over the realtime socket the same codes arrive in error frames (`{"t":"err","id":3,"c":"unknown_channel","m":"…"}`);',
    'those with a close code end the connection with it (see docs/protocol.md for the close code ranges).',
    '',
    '## The library\'s codes',
    '',
    '| code | HTTP status | close code | meaning |',
    '| --- | --- | --- | --- |',
    ...Object.entries(libraryErrors as Record<string, ErrorSpec>).map(errorRow),
    '',
    '## Apps\' codes',
    '',
    'An app declares its own codes with `defineErrors` (docs/toolkit.md); they are answered exactly like',
    'the library\'s, and its OpenAPI document lists them in the Problem schema\'s `code`. A code the library',
    'has cannot be declared again.',
    ...apps,
    '',
  ].join('\n');
}

/** The OpenAPI 3.1 document the social app serves at /api/openapi.json. */
export async function renderOpenApi(): Promise<string> {
  const config = loadConfig({ TANDEM_SEED: 'false', LOG_LEVEL: 'silent' }, socialApp.settings);
  config.store.sqlitePath = ':memory:';
  const server = await createServer({ app: socialApp, config, logger: false });
  try {
    return `${JSON.stringify(server.fastify.swagger(), null, 2)}\n`;
  } finally {
    await server.close();
  }
}

/** The AsyncAPI 3 document the social app serves at /api/asyncapi.json. */
export function renderAsyncApi(): string {
  return `${JSON.stringify(asyncApiDocument(socialApp.api, socialApp.channels ?? {}), null, 2)}\n`;
}

/** Replaces what stands between `<!-- name:start -->` and `<!-- name:end -->` in a document. */
export function withSection(document: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from === -1 || to < from) throw new Error(`the document has no ${start} … ${end} section`);
  return `${document.slice(0, from + start.length)}\n${content}\n${document.slice(to)}`;
}

/** The README's settings table: the library's settings, then each app's. */
export function renderSettingsTable(): string {
  const header = ['| variable | default | meaning |', '| --- | --- | --- |'];
  const apps = APPS.flatMap((app) => (app.settings === undefined ? [] : settingsRows(app.settings).map((row) => row.replace(/ \|$/, ` (${app.name} app) |`))));
  return [...header, ...settingsRows(librarySettings), ...apps].join('\n');
}

/** docs/protocol.md's close code table. */
export function renderCloseCodes(): string {
  const rows = Object.values(CloseCode).map((code) => `| ${code} | ${closeCodeGuide[code].meaning} | ${closeCodeGuide[code].reconnect} |`);
  return ['| code | meaning | reconnect? |', '| --- | --- | --- |', ...rows].join('\n');
}

/** Every generated file and section: [path, expected content]. */
export async function generatedDocuments(): Promise<Array<[string, string]>> {
  return [
    ['docs/errors.md', renderErrorsDoc()],
    ['docs/openapi.json', await renderOpenApi()],
    ['docs/asyncapi.json', renderAsyncApi()],
    ['README.md', withSection(fs.readFileSync('README.md', 'utf8'), 'settings', renderSettingsTable())],
    ['docs/protocol.md', withSection(fs.readFileSync('docs/protocol.md', 'utf8'), 'close-codes', renderCloseCodes())],
  ];
}
