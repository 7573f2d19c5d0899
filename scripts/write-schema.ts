// Writes the eval-file JSON Schema for editors (`# yaml-language-server: $schema=...`).
import { writeFileSync } from 'node:fs';
import { schema } from '../src/config/schema.ts';

writeFileSync(new URL('../schema/batch-evals.schema.json', import.meta.url), `${JSON.stringify(schema, null, 2)}\n`);
