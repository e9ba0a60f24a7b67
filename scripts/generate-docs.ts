import fs from 'node:fs';
import { renderAsyncApi, renderErrorsDoc, renderOpenApi } from './docs';

fs.mkdirSync('docs', { recursive: true });
fs.writeFileSync('docs/errors.md', renderErrorsDoc());
fs.writeFileSync('docs/openapi.json', await renderOpenApi());
fs.writeFileSync('docs/asyncapi.json', renderAsyncApi());
process.stdout.write('wrote docs/errors.md, docs/openapi.json and docs/asyncapi.json\n');
