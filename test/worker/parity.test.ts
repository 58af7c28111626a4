import { describe, expect, it, inject } from 'vitest';
import { classify, fromBase64, type ClassifyBody, type ProblemBody } from './helpers';

const real = inject('realXrays');

// Skipped only on machines without ../shared (global-setup refuses to run CI without it).
describe.skipIf(real === null)('parity with onnxruntime-node on real X-rays', () => {
  it('matches onnxruntime-node within 1e-4 on at least 50 real X-rays, and refuses exactly those its outputs refuse', async () => {
    expect(real!.filter((x) => !x.refused).length).toBeGreaterThanOrEqual(50);
    let worst = 0;
    for (const xray of real!) {
      const res = await classify(fromBase64(xray.jpeg));
      if (xray.refused) {
        // Same gate and distance outputs through the same assess(): the Worker must refuse it too.
        expect(res.status, xray.file).toBe(422);
        expect(((await res.json()) as ProblemBody).code).toBe('not_a_chest_xray');
        continue;
      }
      expect(res.status, xray.file).toBe(200);
      const body = (await res.json()) as ClassifyBody & { assessment?: { chestXrayScore: number; oodDistance: number } };
      Object.values(body.probabilities).forEach((p, i) => (worst = Math.max(worst, Math.abs(p - xray.expected[i]))));
      if (xray.chestXrayScore !== null) {
        worst = Math.max(worst, Math.abs(body.assessment!.chestXrayScore - xray.chestXrayScore));
        // The distance sums hundreds of squared terms: compared relative to its size, or absolutely below 1 (the
        // scaled distance of today's models is about 1 at the edge of the typical).
        worst = Math.max(worst, Math.abs(body.assessment!.oodDistance - xray.oodDistance!) / Math.max(1, xray.oodDistance!));
      }
    }
    expect(worst).toBeLessThan(1e-4);
  });
});
