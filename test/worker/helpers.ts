import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import { z } from '@hono/zod-openapi';
type ZodType = z.ZodType;
import { newApiKey, saveApiKey, type ApiKeyRecord } from '../../src/auth/api-keys';
import { ROUTES } from '../../src/api/routes';
import { Problem } from '../../src/api/schemas';

export const BASE = 'http://cxr.test';

/** Creates an API key in the Worker's KV store, as `npm run keys -- create` would. */
export async function createKey(name: string, quota = 1_000_000_000, revoked = false): Promise<{ key: string; record: ApiKeyRecord }> {
  const created = await newApiKey(name, quota);
  created.record.revoked = revoked;
  await saveApiKey(env.API_KEYS, created.record);
  return created;
}

let testKey: Promise<{ key: string; record: ApiKeyRecord }> | null = null;

/** SELF.fetch of `path` with this test file's own API key (created on first use). */
export async function api(path: string, init: RequestInit = {}): Promise<Response> {
  testKey ??= createKey('worker tests');
  const { key, record } = await testKey;
  // Re-saved on each call: harmless, and independent of how the pool isolates storage between tests.
  await saveApiKey(env.API_KEYS, record);
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${key}`);
  return workerFetch(`${BASE}${path}`, { ...init, headers });
}

/**
 * SELF.fetch, with the answer checked against the OpenAPI document (checkContract). The Worker tests send every
 * request through this (or api(), which uses it), so a route that drifts from its declared contract fails them.
 */
export async function workerFetch(input: string | Request, init?: RequestInit): Promise<Response> {
  const res = await SELF.fetch(input, init);
  await checkContract(init?.method ?? (input instanceof Request ? input.method : 'GET'), input instanceof Request ? input.url : input, res);
  return res;
}

/**
 * Checks a response against what GET /openapi.json declares for it (src/api/routes.ts): the status is one the
 * operation lists, the content type one that status lists, and a JSON body parses with the declared schema.
 * Every request the Worker tests send through workerFetch() or api() passes through here: a drift fails them.
 */
export async function checkContract(requestMethod: string, path: string, res: Response): Promise<void> {
  // A CORS preflight is answered by the middleware, outside the operations; HEAD answers as GET without a body.
  if (requestMethod.toUpperCase() === 'OPTIONS') return;
  const head = requestMethod.toUpperCase() === 'HEAD';
  const method = head ? 'GET' : requestMethod;
  const pathname = new URL(path, BASE).pathname;
  const where = `${method} ${pathname} -> ${res.status}`;
  if (!res.headers.get('x-request-id')) throw new Error(`${where}: no X-Request-Id`);
  const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  const route = ROUTES.find((r) => r.method === method.toLowerCase() && r.path === pathname);
  // Unknown paths and methods answer 404/405 outside any operation: still problem+json.
  const declared = route
    ? (route.responses as Record<number, { content?: Record<string, { schema: ZodType }> }>)[res.status]
    : { content: { 'application/problem+json': { schema: Problem as ZodType } } };
  if (!declared) throw new Error(`${where}: a status the OpenAPI document does not declare for this operation`);
  const content = declared.content?.[type];
  if (!content) throw new Error(`${where}: content type "${type}" is not declared (${Object.keys(declared.content ?? {}).join(', ')})`);
  if (head || !type.endsWith('json')) return;
  const result = content.schema.safeParse(await res.clone().json());
  if (!result.success) throw new Error(`${where}: the body does not match the OpenAPI schema:\n${z.prettifyError(result.error)}`);
}

/** Fixture bytes by name (see test/helpers/fixtures.ts). */
export function fixture(name: string): Uint8Array {
  const encoded = inject('fixtures')[name];
  if (!encoded) throw new Error(`no fixture ${name}`);
  return fromBase64(encoded);
}

export function fromBase64(encoded: string): Uint8Array {
  return Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
}

/** POSTs a raw JPEG body to /v1/classify through the Worker. */
export function classify(body: Uint8Array | string, contentType = 'image/jpeg'): Promise<Response> {
  return api('/v1/classify', { method: 'POST', body, headers: { 'content-type': contentType } });
}

export interface ClassifyBody {
  prediction: { label: string; probability: number };
  probabilities: Record<string, number>;
  model: { name: string; version: string; sha256: string };
  image: { width: number; height: number; components: number };
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
}

/**
 * A real chest X-ray in the JPEG flavour `name` (same names and sizes as the synthetic fixtures), for tests
 * that need an image the model accepts: a gated model refuses the synthetic ones as not chest X-rays.
 */
export function xray(name: string): Uint8Array {
  const variants = inject('xrayFixtures');
  if (!variants) throw new Error('this test needs a real chest X-ray: ../shared/data/cxr5 (or CXR5_DIR) was not found');
  const encoded = variants[name];
  if (!encoded) throw new Error(`no X-ray variant ${name}`);
  return fromBase64(encoded);
}
