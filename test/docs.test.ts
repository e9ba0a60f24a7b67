import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCatalog, errorCodes, type ErrorCode } from '../src/server/errors';
import { renderAsyncApi, renderErrorsDoc, renderOpenApi } from '../scripts/docs';

describe('generated documents are current (run `npm run docs:generate` when this fails)', () => {
  it('docs/errors.md lists exactly the catalog', () => {
    const doc = fs.readFileSync('docs/errors.md', 'utf8');
    expect(doc).toBe(renderErrorsDoc());
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...errorCodes].sort());
  });

  it('docs/asyncapi.json is what the app serves, built from the frame schemas', () => {
    const doc = fs.readFileSync('docs/asyncapi.json', 'utf8');
    expect(doc).toBe(renderAsyncApi());
    const parsed = JSON.parse(doc) as { asyncapi: string; components: { messages: Record<string, { payload: { properties?: Record<string, unknown> } }> } };
    expect(parsed.asyncapi).toBe('3.0.0');
    for (const frame of ['auth', 'refresh', 'sub', 'unsub', 'pub', 'ping']) expect(parsed.components.messages[`client.${frame}`]).toBeDefined();
    expect(parsed.components.messages['event.comment.created']?.payload.properties?.d).toMatchObject({ title: 'Comment' });
  });

  it('docs/openapi.json is what the app serves', async () => {
    expect(fs.readFileSync('docs/openapi.json', 'utf8')).toBe(await renderOpenApi());
  });
});

describe('error catalog', () => {
  it('codes are snake_case, statuses are 4xx/5xx and the union matches the keys', () => {
    const typed: ErrorCode[] = errorCodes;
    expect(typed.length).toBe(Object.keys(errorCatalog).length);
    for (const [code, entry] of Object.entries(errorCatalog)) {
      expect(code).toMatch(/^[a-z][a-z_]*[a-z]$/);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
      expect(entry.title.length).toBeGreaterThan(3);
    }
  });
});
