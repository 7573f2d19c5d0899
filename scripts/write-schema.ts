// Writes the eval-file JSON Schema for editors (`# yaml-language-server: $schema=...`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { schema } from '../src/config/schema.ts';

const dir = new URL('../schema/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('batch-evals.schema.json', dir), `${JSON.stringify(schema, null, 2)}\n`);
