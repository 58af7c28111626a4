import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import { newApiKey, saveApiKey, type ApiKeyRecord } from '../../src/auth/api-keys';

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
  return SELF.fetch(`${BASE}${path}`, { ...init, headers });
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
