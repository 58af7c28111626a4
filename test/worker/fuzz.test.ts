/**
 * Hostile uploads through the Worker: every saved fuzz regression (JPEG, and DICOM saved as .dcm), and seeded
 * batches of fresh mutations of the generated fixtures and of real DICOM files (the same engine as `npm run fuzz`),
 * each answered 200 or with a documented problem, never a 5xx.
 */
import { describe, expect, inject, it } from 'vitest';
import { DICOM_MUTATIONS, EXPECTED_CODES, EXPECTED_STATUSES, MUTATIONS, fuzzCase } from '../helpers/fuzz';
import { classify, fromBase64 } from './helpers';

async function expectDocumentedAnswer(name: string, bytes: Uint8Array, contentType = 'image/jpeg'): Promise<number> {
  const res = await classify(bytes, contentType);
  const text = await res.text();
  expect(EXPECTED_STATUSES.has(res.status), `${name}: status ${res.status} ${text.slice(0, 200)}`).toBe(true);
  if (res.status !== 200) {
    expect(res.headers.get('content-type'), name).toBe('application/problem+json');
    expect(EXPECTED_CODES.has((JSON.parse(text) as { code: string }).code), `${name}: ${text.slice(0, 200)}`).toBe(true);
  }
  return res.status;
}

describe('hostile uploads', () => {
  it('answers every saved fuzz regression with a documented status, refusing the hostile families', async () => {
    const regressions = inject('fuzzRegressions');
    const hostile = regressions.filter(({ name }) => /^(bomb|flood)-/.test(name));
    expect(hostile.length).toBeGreaterThanOrEqual(3); // test/fuzz-regressions holds them: the loop is not empty
    for (const { name, jpeg } of regressions) {
      const status = await expectDocumentedAnswer(name, fromBase64(jpeg), name.endsWith('.dcm') ? 'application/dicom' : 'image/jpeg');
      if (/^(bomb|flood)-/.test(name)) expect(status, name).not.toBe(200);
    }
  });

  it('answers 300 seeded mutations of the fixtures (every mutation kind) with documented statuses', async () => {
    const sources = Object.entries(inject('fixtures')).map(([name, b64]) => ({ name: `fixture:${name}`, bytes: fromBase64(b64) }));
    const statuses: number[] = [];
    const mutations = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const c = fuzzCase(sources, 20261127, i);
      mutations.add(c.mutation);
      statuses.push(await expectDocumentedAnswer(`case ${i} (${c.mutation} of ${c.source})`, c.bytes));
    }
    expect(new Set(statuses).size).toBeGreaterThan(2); // the batch reaches success and several error kinds
    expect([...mutations].sort()).toEqual([...MUTATIONS].sort()); // and every kind of mutation
  });

  it.skipIf(inject('dicomFixtures') === null)('answers 150 seeded mutations of real DICOM files (element tags, VRs, lengths; bytes) with documented statuses', async () => {
    const dicom = inject('dicomFixtures');
    if (!dicom) throw new Error('needs ../shared (dicomFixtures)');
    const names = ['native8', 'implicit8', 'bigEndian8', 'deflated8', 'rle8', 'lossless8', 'windowed12', 'lossless12', 'img2dcm'];
    const sources = names.map((name) => ({ name: `dicom:${name}`, bytes: fromBase64(dicom.files[name]) }));
    const statuses: number[] = [];
    for (let i = 0; i < 150; i++) {
      const c = fuzzCase(sources, 20261130, i, DICOM_MUTATIONS);
      statuses.push(await expectDocumentedAnswer(`DICOM case ${i} (${c.mutation} of ${c.source})`, c.bytes, 'application/dicom'));
    }
    expect(new Set(statuses).size).toBeGreaterThan(2);
  });
});
