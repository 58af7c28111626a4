/** client/src/schema.ts is exactly what openapi-typescript makes of the Worker's OpenAPI document today. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { SCHEMA_FILE, generatedTypes } from '../../scripts/openapi-types';

it('the client types match the OpenAPI document (else: npm run client:types)', async () => {
  expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(await generatedTypes());
});
