import decodeJpeg from 'jpeg-js/lib/decoder.js';
import { describe, expect, inject, it } from 'vitest';
import { api, fixture, fromBase64, xray, type ClassifyBody, type ProblemBody } from './helpers';

interface ExplainBody extends ClassifyBody {
  explanation: { method: string; class: string; shape: [number, number]; map: number[][] };
}

function explain(body: Uint8Array, query = '', accept = 'application/json'): Promise<Response> {
  return api(`/v1/explain${query}`, { method: 'POST', body, headers: { 'content-type': 'image/jpeg', accept } });
}

function pearson(a: number[], b: number[]): number {
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(a);
  const mb = mean(b);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - ma) * (b[i] - mb);
    da += (a[i] - ma) ** 2;
    db += (b[i] - mb) ** 2;
  }
  if (da === 0 && db === 0) return 1; // both maps flat: identical explanations
  return num / Math.sqrt(da * db);
}

describe('POST /v1/explain', () => {
  it('returns the classification and a Grad-CAM grid in [0, 1] for the predicted class', async () => {
    const jpeg = xray('gray-baseline');
    const res = await explain(jpeg);
    expect(res.status).toBe(200);
    const body = (await res.json()) as ExplainBody;
    const classified = (await (await api(`/v1/classify`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } })).json()) as ClassifyBody;
    expect(body.probabilities).toEqual(classified.probabilities);
    expect(body.explanation.method).toBe('grad-cam');
    expect(body.explanation.class).toBe(classified.prediction.label);
    const [h, w] = body.explanation.shape;
    expect([h, w]).toEqual([8, 8]); // 256 / 32 for MobileNet
    expect(body.explanation.map.length).toBe(h);
    const values = body.explanation.map.flat();
    expect(values.length).toBe(h * w);
    for (const v of values) expect(v >= 0 && v <= 1).toBe(true);
    // Normalised to its maximum, and not flat: an all-zero (or constant) map explains nothing.
    expect(Math.max(...values)).toBe(1);
    expect(Math.min(...values)).toBeLessThan(0.9);
  });

  it('explains the class named by ?class=, and refuses an unknown one', async () => {
    const { classes } = (await (await api(`/v1/model`)).json()) as { classes: string[] };
    const target = classes[classes.length - 1];
    const body = (await (await explain(xray('rgb-420'), `?class=${encodeURIComponent(target)}`)).json()) as ExplainBody;
    expect(body.explanation.class).toBe(target);
    const res = await explain(xray('rgb-420'), '?class=Sarcoidosis');
    expect(res.status).toBe(400);
    expect(((await res.json()) as ProblemBody).code).toBe('invalid_parameter');
  });

  it('renders the overlay as PNG at 512 px on the long side, plus a colour bar', async () => {
    const res = await explain(xray('rgb-large'), '', 'image/png');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-explained-class')).toBeTruthy();
    const png = new Uint8Array(await res.arrayBuffer());
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const view = new DataView(png.buffer);
    // 1600 x 1400 -> 512 x 448, and 24 px of gap and bar on the right.
    expect([view.getUint32(16), view.getUint32(20)]).toEqual([512 + 24, 448]);
  });

  it('renders the overlay as JPEG on Accept: image/jpeg, upright for EXIF-rotated uploads', async () => {
    const res = await explain(xray('gray-exif-6'), '', 'image/jpeg');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const jpeg = new Uint8Array(await res.arrayBuffer());
    expect([jpeg[0], jpeg[1]]).toEqual([0xff, 0xd8]);
    const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
    const view = new DataView(jpeg.buffer);
    expect([view.getUint16(sof + 7), view.getUint16(sof + 5)]).toEqual([300 + 24, 400]); // width, height
    // Upright: the overlay of the EXIF-rotated upload looks like the overlay of the same X-ray stored upright,
    // and far less like it turned half-way round (each pixel's RGB, the colour bar included).
    const turned = decodeJpeg(jpeg, { useTArray: true });
    const upright = decodeJpeg(new Uint8Array(await (await explain(xray('gray-baseline'), '', 'image/jpeg')).arrayBuffer()), { useTArray: true });
    expect([upright.width, upright.height]).toEqual([turned.width, turned.height]);
    const pixels = turned.width * turned.height;
    const meanDiff = (pixelOf: (i: number) => number) => {
      let total = 0;
      for (let i = 0; i < pixels; i++) for (let k = 0; k < 3; k++) total += Math.abs(upright.data[i * 4 + k] - turned.data[pixelOf(i) * 4 + k]);
      return total / (pixels * 3);
    };
    const same = meanDiff((i) => i);
    const halfTurn = meanDiff((i) => pixels - 1 - i);
    expect(same).toBeLessThan(8);
    expect(halfTurn).toBeGreaterThan(3 * same);
  });

  it('answers bad uploads with the same problems as /v1/classify', async () => {
    const res = await explain(fixture('truncated'));
    expect(res.status).toBe(400);
    expect(((await res.json()) as ProblemBody).code).toBe('invalid_image');
  });
});

const real = inject('realXrays');

describe.skipIf(real === null)('Grad-CAM matches PyTorch autograd on real X-rays', () => {
  it('correlates with Pearson r >= 0.99 on at least 50 real X-rays', async () => {
    // Those the model refuses get no map (parity.test.ts checks that the Worker refuses exactly those).
    const accepted = real!.filter((x) => !x.refused);
    expect(accepted.length).toBeGreaterThanOrEqual(50);
    const { classes } = (await (await api(`/v1/model`)).json()) as { classes: string[] };
    let worst = 1;
    for (const xray of accepted) {
      const target = classes[xray.gradcam.classIndex];
      const res = await explain(fromBase64(xray.jpeg), `?class=${encodeURIComponent(target)}`);
      expect(res.status, xray.file).toBe(200);
      const body = (await res.json()) as ExplainBody;
      worst = Math.min(worst, pearson(body.explanation.map.flat(), xray.gradcam.map.flat()));
    }
    expect(worst).toBeGreaterThanOrEqual(0.99);
  });
});
