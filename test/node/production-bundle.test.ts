/**
 * The deployable bundle, as `wrangler deploy --dry-run` writes it, runs in workerd with the bindings
 * wrangler.toml declares (scripts/lib/production-worker.ts, what `npm run bench` measures): it fits the
 * Workers paid plan's size limit, answers a keyed classification and counts it, and refuses a missing key.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalKey } from '../../scripts/lib/local-browser';
import { buildBundle, startBundle, type Bundle } from '../../scripts/lib/production-worker';
import { buildFixtures, realXrays } from '../helpers/fixtures';

const WORKERS_PAID_PLAN_LIMIT = 10 * 2 ** 20; // compressed bytes

let bundle: Bundle;
let worker: Awaited<ReturnType<typeof startBundle>>;
let key: string;

beforeAll(async () => {
  bundle = buildBundle(mkdtempSync(join(tmpdir(), 'cxr-bundle-')));
  const state = mkdtempSync(join(tmpdir(), 'cxr-bundle-state-'));
  key = createLocalKey(state, 'bundle test', 5).key;
  worker = await startBundle(bundle, state);
});
afterAll(async () => worker?.stop());

describe('the deployable bundle', () => {
  it('holds the script, the precompiled ORT WebAssembly and the model, within the paid plan limit', () => {
    expect(bundle.files).toContain('index.js');
    expect(bundle.files.some((f) => f.endsWith('.wasm'))).toBe(true);
    expect(bundle.files.some((f) => f.endsWith('model.onnx'))).toBe(true);
    expect(bundle.gzipBytes).toBeLessThan(WORKERS_PAID_PLAN_LIMIT);
  });

  it('classifies with a key made by npm run keys, meters it, and refuses a missing key', async () => {
    // A real X-ray where ../shared has one: a gated model refuses the synthetic fixture (422 not_a_chest_xray).
    const jpeg = realXrays(1)?.[0].bytes ?? buildFixtures()['gray-baseline'];
    const post = (headers: Record<string, string>) =>
      fetch(new URL('/v1/classify', worker.url), { method: 'POST', body: jpeg as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'image/jpeg', ...headers } });

    const res = await post({ authorization: `Bearer ${key}` });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { probabilities: Record<string, number> };
    expect(Object.keys(body.probabilities)).toHaveLength(5);
    expect(Object.values(body.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);

    const usage = (await (await fetch(new URL('/v1/usage', worker.url), { headers: { authorization: `Bearer ${key}` } })).json()) as { used: number; quota: number };
    expect(usage).toMatchObject({ used: 1, quota: 5 });

    const anonymous = await post({});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
  });
});
