import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { libraryErrors, type ErrorSpec, type LibraryErrorCode } from '../src/server/errors';

const errorCodes = Object.keys(libraryErrors) as LibraryErrorCode[];
import { pollsApp } from '../examples/polls/app';
import { socialApp } from '../src/apps/social/app';
import { generatedDocuments, renderAsyncApi, renderErrorsDoc } from '../scripts/docs';

describe('generated documents are current (run `npm run docs:generate` when this fails)', () => {
  it('docs/errors.md lists exactly the catalog', () => {
    const doc = fs.readFileSync('docs/errors.md', 'utf8');
    expect(doc).toBe(renderErrorsDoc());
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    const appCodes = [...Object.keys(socialApp.errors?.entries ?? {}), ...Object.keys(pollsApp.errors?.entries ?? {})];
    expect(documented.sort()).toEqual([...errorCodes, ...appCodes].sort());
  });

  it('docs/asyncapi.json is what the app serves, built from the frame schemas', () => {
    const doc = fs.readFileSync('docs/asyncapi.json', 'utf8');
    expect(doc).toBe(renderAsyncApi());
    const parsed = JSON.parse(doc) as { asyncapi: string; components: { messages: Record<string, { payload: { properties?: Record<string, unknown> } }> } };
    expect(parsed.asyncapi).toBe('3.0.0');
    for (const frame of ['auth', 'refresh', 'sub', 'unsub', 'pub', 'ping']) expect(parsed.components.messages[`client.${frame}`]).toBeDefined();
    expect(parsed.components.messages['event.comment.created']?.payload.properties?.d).toMatchObject({ title: 'Comment' });
  });

  it('docs/openapi.json, the README settings table and the protocol close codes are current', async () => {
    for (const [file, content] of await generatedDocuments()) expect(fs.readFileSync(file, 'utf8'), file).toBe(content);
  });
});

describe('error catalog', () => {
  it('codes are snake_case, statuses are 4xx/5xx and the union matches the keys', () => {
    const typed: LibraryErrorCode[] = errorCodes;
    expect(typed.length).toBe(Object.keys(libraryErrors).length);
    for (const [code, entry] of Object.entries(libraryErrors as Record<string, ErrorSpec>)) {
      expect(code).toMatch(/^[a-z][a-z_]*[a-z]$/);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
      expect(entry.title.length).toBeGreaterThan(3);
    }
  });
});
