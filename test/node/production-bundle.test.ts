/**
 * The deployable bundle, as `wrangler deploy --dry-run` writes it, runs in workerd with the bindings
 * wrangler.toml declares (scripts/lib/production-worker.ts, what `npm run bench` measures): it fits the
 * Workers paid plan's size limit, answers a keyed classification and counts it, and refuses a missing key.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createLocalKey } from '../../scripts/lib/local-browser';
import { ensurePythonEnv } from '../../scripts/export/python-env';
import { buildBundle, postImageTimed, startBundle, type Bundle } from '../../scripts/lib/production-worker';
import { buildFixtures, realXrays } from '../helpers/fixtures';

const WORKERS_PAID_PLAN_LIMIT = 10 * 2 ** 20; // compressed bytes

let bundle: Bundle;
let worker: Awaited<ReturnType<typeof startBundle>>;
let key: string;

beforeAll(async () => {
  bundle = buildBundle(mkdtempSync(join(tmpdir(), 'cxr-bundle-')));
  const state = mkdtempSync(join(tmpdir(), 'cxr-bundle-state-'));
  key = createLocalKey(state, 'bundle test', 10).key;
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
    expect(usage).toMatchObject({ used: 1, quota: 10 });

    const anonymous = await post({});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
  });

  it('answers FHIR R4 that a real validator accepts (fhir.resources, R4 4.0.1), with the subject only when sent', async () => {
    const jpeg = realXrays(1)?.[0].bytes ?? buildFixtures()['gray-baseline'];
    const post = (headers: Record<string, string>) =>
      fetch(new URL('/v1/classify', worker.url), {
        method: 'POST',
        body: jpeg as Uint8Array<ArrayBuffer>,
        headers: { 'content-type': 'image/jpeg', accept: 'application/fhir+json', authorization: `Bearer ${key}`, ...headers },
      });
    const withSubject = await post({ 'x-fhir-subject': 'Patient/example-123' });
    expect(withSubject.status).toBe(200);
    expect(withSubject.headers.get('content-type')).toBe('application/fhir+json');
    const bundles = [await withSubject.text(), await (await post({})).text()];
    const invalid = await post({ 'x-fhir-subject': 'javascript:alert(1)' });
    expect(invalid.status).toBe(400);
    expect(await invalid.text()).not.toContain('javascript');

    // Parsed by the R4 models: a wrong type, cardinality, code or reference format fails here.
    const check = `
import json, sys
from fhir.resources import __fhir_version__
from fhir.resources.bundle import Bundle
from fhir.resources.diagnosticreport import DiagnosticReport
from fhir.resources.observation import Observation
from fhir.resources.device import Device
assert __fhir_version__ == "4.0.1", __fhir_version__
kinds = {"DiagnosticReport": DiagnosticReport, "Observation": Observation, "Device": Device}
out = []
for text in json.load(sys.stdin):
    bundle = Bundle.parse_raw(text)
    for entry in json.loads(text)["entry"]:
        kinds[entry["resource"]["resourceType"]].parse_obj(entry["resource"])
    out.append(len(bundle.entry))
print(json.dumps(out))
`;
    const run = spawnSync(ensurePythonEnv(() => {}), ['-c', check], { input: JSON.stringify(bundles), encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([7, 7]); // report, five observations, device

    const [subjectBundle, plainBundle] = bundles.map((b) => JSON.parse(b));
    const report = subjectBundle.entry[0].resource;
    expect(report).toMatchObject({ resourceType: 'DiagnosticReport', status: 'preliminary', subject: { reference: 'Patient/example-123' } });
    expect(report.code.coding[0]).toMatchObject({ system: 'http://loinc.org', code: '36554-4' });
    expect(report.conclusion).toMatch(/not a medical device/);
    for (const entry of subjectBundle.entry) expect(entry.resource.meta.security[0].code).toBe('AIAST');
    const observations = subjectBundle.entry.filter((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Observation');
    for (const o of observations) expect(['POS', 'NEG']).toContain(o.resource.interpretation[0].coding[0].code);
    expect(JSON.stringify(plainBundle)).not.toContain('"subject"');
  });

  it("is measured by the bench's client (node:http) with the body at once and spread over time, which throws on a refusal", async () => {
    const jpeg = realXrays(1)?.[0].bytes ?? buildFixtures()['gray-baseline'];
    const atOnce = await postImageTimed(worker.url, key, jpeg);
    expect(atOnce.ms).toBeGreaterThan(0);
    const spread = await postImageTimed(worker.url, key, jpeg, { uploadMs: 160 });
    expect(spread.ms).toBeGreaterThanOrEqual(150); // 16 chunks 10 ms apart, the last before the answer can start
    await expect(postImageTimed(worker.url, 'cxr_not-a-real-key-000000000000000000000000000000', jpeg)).rejects.toThrow(/answered 401/);
  });
});
