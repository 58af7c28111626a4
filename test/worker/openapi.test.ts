/**
 * The contract through the Worker: GET /openapi.json and /docs without a key. (Every response the other
 * Worker tests receive through api() is checked against this document: helpers.ts checkContract.)
 */
import { describe, expect, it } from 'vitest';
import { BASE, checkContract, workerFetch } from './helpers';

describe('GET /openapi.json and /docs', () => {
  it('serves the OpenAPI 3.1 document without a key', async () => {
    const res = await workerFetch(`${BASE}/openapi.json`);
    expect(res.status).toBe(200);
    await checkContract('GET', '/openapi.json', res);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/classify');
  });

  it('serves a readable page of it, with no external resources', async () => {
    const res = await workerFetch(`${BASE}/docs`);
    expect(res.status).toBe(200);
    await checkContract('GET', '/docs', res);
    const html = await res.text();
    for (const path of ['/v1/classify', '/v1/explain', '/v1/model', '/v1/usage', 'application/dicom', 'not_a_chest_xray']) expect(html).toContain(path);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('checkContract refuses a response the document does not declare', async () => {
    const undeclared = new Response(JSON.stringify({ prediction: 'Normal' }), { status: 200, headers: { 'content-type': 'application/json', 'x-request-id': 'x' } });
    await expect(checkContract('POST', '/v1/classify', undeclared)).rejects.toThrow(/does not match the OpenAPI schema/);
    const teapot = new Response('{}', { status: 418, headers: { 'content-type': 'application/json', 'x-request-id': 'x' } });
    await expect(checkContract('GET', '/v1/model', teapot)).rejects.toThrow(/does not declare/);
  });
});
