/**
 * FHIR answers through the Worker (their validation against the R4 specification is in
 * test/node/production-bundle.test.ts, where Python's fhir.resources can run).
 */
import { describe, expect, it } from 'vitest';
import { api, xray, type ClassifyBody } from './helpers';

interface Bundle {
  resourceType: string;
  entry: { fullUrl: string; resource: { resourceType: string; subject?: { reference: string }; result?: { reference: string }[]; valueQuantity?: { value: number }; code: { text: string } } }[];
}

const post = (path: string, headers: Record<string, string> = {}) =>
  api(path, { method: 'POST', body: xray('gray-baseline'), headers: { 'content-type': 'image/jpeg', accept: 'application/fhir+json', ...headers } });

describe('Accept: application/fhir+json', () => {
  it('answers a Bundle whose observations carry the same probabilities as the JSON answer', async () => {
    const json = (await (await api('/v1/classify', { method: 'POST', body: xray('gray-baseline'), headers: { 'content-type': 'image/jpeg' } })).json()) as ClassifyBody;
    for (const path of ['/v1/classify', '/v1/explain']) {
      const res = await post(path, { 'x-fhir-subject': 'Patient/42' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/fhir+json');
      const bundle = (await res.json()) as Bundle;
      expect(bundle.resourceType).toBe('Bundle');
      const [report, ...rest] = bundle.entry;
      expect(report.resource.resourceType).toBe('DiagnosticReport');
      expect(report.resource.subject).toEqual({ reference: 'Patient/42' });
      const observations = rest.filter((e) => e.resource.resourceType === 'Observation');
      expect(report.resource.result!.map((r) => r.reference)).toEqual(observations.map((o) => o.fullUrl));
      for (const [name, p] of Object.entries(json.probabilities)) {
        const o = observations.find((e) => e.resource.code.text.endsWith(name))!;
        expect(o.resource.valueQuantity!.value).toBeCloseTo(p, 5);
      }
    }
  });

  it('refuses a subject that is not a relative reference, without echoing it', async () => {
    const res = await post('/v1/classify', { 'x-fhir-subject': 'Jane Doe 1970-01-01' });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toContain('invalid_parameter');
    expect(text).not.toContain('Jane');
  });
});
