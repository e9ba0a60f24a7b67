import fs from 'node:fs';
import { generatedDocuments } from './docs';

fs.mkdirSync('docs', { recursive: true });
for (const [file, content] of await generatedDocuments()) fs.writeFileSync(file, content);
process.stdout.write('wrote docs/errors.md, docs/openapi.json, docs/asyncapi.json, the README settings table and the protocol close codes\n');
