import { SELF } from 'cloudflare:test';
import { inject } from 'vitest';

export const BASE = 'http://cxr.test';

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
  return SELF.fetch(`${BASE}/v1/classify`, { method: 'POST', body, headers: { 'content-type': contentType } });
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
