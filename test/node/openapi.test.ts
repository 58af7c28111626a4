/**
 * The OpenAPI document generated from src/api/routes.ts: valid OpenAPI 3.1 by a standard validator, and
 * complete (every route the Worker serves, every problem code, the auth scheme).
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/api/openapi';
import { PROBLEMS } from '../../src/http/problem';

describe('GET /openapi.json document', () => {
  const doc = openApiDocument() as unknown as {
    openapi: string;
    paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, { content?: Record<string, { schema: { properties?: { code?: { enum?: string[] } } } }> }> }>>;
    components: { securitySchemes: Record<string, { type: string; scheme: string }> };
  };

  it('validates as OpenAPI 3.1 (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every route, with bearer auth on /v1 and the problem codes each status can carry', () => {
    expect(Object.keys(doc.paths).sort()).toEqual(['/', '/docs', '/healthz', '/openapi.json', '/readyz', '/v1/classify', '/v1/explain', '/v1/model', '/v1/usage']);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const op of Object.values(item)) expect(Boolean(op.security?.length), path).toBe(path.startsWith('/v1/'));
    }
    const codes = new Set<string>();
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          const problem = response.content?.['application/problem+json'];
          if (!problem) continue;
          const listed = problem.schema.properties?.code?.enum ?? [];
          expect(listed.length, status).toBeGreaterThan(0);
          for (const code of listed) {
            expect(PROBLEMS[code as keyof typeof PROBLEMS].status, code).toBe(Number(status));
            codes.add(code);
          }
        }
      }
    }
    // 404 and 405 answer unknown paths and methods, outside any operation; every other code belongs to one.
    expect([...codes].sort()).toEqual(Object.keys(PROBLEMS).filter((c) => c !== 'not_found' && c !== 'method_not_allowed').sort());
  });

  it('declares both upload types and the DICOM image description', () => {
    const body = (doc.paths['/v1/classify'].post as unknown as { requestBody: { content: Record<string, unknown> } }).requestBody.content;
    expect(Object.keys(body).sort()).toEqual(['application/dicom', 'image/jpeg', 'multipart/form-data']);
    expect(JSON.stringify(doc)).toContain('"DicomImage"');
  });
});
