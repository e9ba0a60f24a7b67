import fs from 'node:fs';
import { renderErrorsDoc, renderOpenApi } from './docs';

fs.mkdirSync('docs', { recursive: true });
fs.writeFileSync('docs/errors.md', renderErrorsDoc());
fs.writeFileSync('docs/openapi.json', await renderOpenApi());
process.stdout.write('wrote docs/errors.md and docs/openapi.json\n');
