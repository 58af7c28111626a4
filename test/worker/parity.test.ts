import { describe, expect, it, inject } from 'vitest';
import { classify, fromBase64, type ClassifyBody } from './helpers';

const real = inject('realXrays');

// Skipped only on machines without ../shared (global-setup refuses to run CI without it).
describe.skipIf(real === null)('parity with onnxruntime-node on real X-rays', () => {
  it('matches onnxruntime-node within 1e-4 on at least 50 real X-rays', async () => {
    expect(real!.length).toBeGreaterThanOrEqual(50);
    let worst = 0;
    for (const xray of real!) {
      const res = await classify(fromBase64(xray.jpeg));
      expect(res.status, xray.file).toBe(200);
      const body = (await res.json()) as ClassifyBody;
      Object.values(body.probabilities).forEach((p, i) => (worst = Math.max(worst, Math.abs(p - xray.expected[i]))));
    }
    expect(worst).toBeLessThan(1e-4);
  });
});
