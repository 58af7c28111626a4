import { describe, expect, it } from 'vitest';
import { BASE, api, classify, fixture, xray, type ClassifyBody, type ProblemBody, workerFetch } from './helpers';

async function modelClasses(): Promise<string[]> {
  const res = await api(`/v1/model`);
  return ((await res.json()) as { classes: string[] }).classes;
}

function expectValidClassification(body: ClassifyBody, classes: string[]) {
  expect(Object.keys(body.probabilities)).toEqual(classes);
  const values = Object.values(body.probabilities);
  expect(Math.abs(values.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
  for (const p of values) expect(p).toBeGreaterThanOrEqual(0);
  const best = classes[values.indexOf(Math.max(...values))];
  expect(body.prediction).toEqual({ label: best, probability: body.probabilities[best] });
  expect(body.model.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(body.model.name).toBeTruthy();
  expect(body.model.version).toBeTruthy();
}

describe('POST /v1/classify', () => {
  const cases: [string, { width: number; height: number; components: number }][] = [
    ['gray-baseline', { width: 300, height: 400, components: 1 }],
    ['gray-progressive', { width: 300, height: 400, components: 1 }],
    ['rgb-420', { width: 300, height: 400, components: 3 }],
    ['rgb-444-progressive', { width: 300, height: 400, components: 3 }],
    ['rgb-jpegjs', { width: 320, height: 256, components: 3 }],
    ['cmyk-adobe', { width: 300, height: 400, components: 4 }],
    ['rgb-large', { width: 1600, height: 1400, components: 3 }],
    // Stored rotated; EXIF orientation turns them upright, so the reported size is the upright one.
    ['gray-exif-3', { width: 300, height: 400, components: 1 }],
    ['gray-exif-6', { width: 300, height: 400, components: 1 }],
    ['gray-exif-8', { width: 300, height: 400, components: 1 }],
  ];

  // A real X-ray in each flavour (test/worker/xray-variants.ts): the model refuses synthetic patterns.
  it.each(cases)('classifies %s', async (name, image) => {
    const classes = await modelClasses();
    const res = await classify(xray(name));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as ClassifyBody;
    expectValidClassification(body, classes);
    expect(body.image).toEqual({ format: 'jpeg', ...image });
  });

  it('gives an EXIF-rotated upload the same answer as the upright image', async () => {
    const upright = (await (await classify(xray('gray-baseline'))).json()) as ClassifyBody;
    for (const name of ['gray-exif-3', 'gray-exif-6', 'gray-exif-8']) {
      const rotated = (await (await classify(xray(name))).json()) as ClassifyBody;
      for (const [label, p] of Object.entries(upright.probabilities)) {
        // Not bit-identical: the rotated file went through its own JPEG quantisation.
        expect(Math.abs(rotated.probabilities[label] - p)).toBeLessThan(0.02);
      }
    }
  });

  it('accepts multipart/form-data with the file in the field "image"', async () => {
    const bytes = xray('gray-baseline');
    const form = new FormData();
    form.append('image', new Blob([bytes], { type: 'image/jpeg' }), 'xray.jpg');
    const multipart = await api(`/v1/classify`, { method: 'POST', body: form });
    expect(multipart.status).toBe(200);
    const raw = (await (await classify(bytes)).json()) as ClassifyBody;
    expect(((await multipart.json()) as ClassifyBody).probabilities).toEqual(raw.probabilities);
  });

  it('answers 8 concurrent requests exactly as it answers them one by one', async () => {
    const names = ['gray-baseline', 'rgb-420', 'gray-progressive', 'cmyk-adobe', 'rgb-jpegjs', 'gray-exif-6', 'rgb-444-progressive', 'rgb-large'];
    const sequential: unknown[] = [];
    for (const name of names) sequential.push(await (await classify(xray(name))).json());
    const responses = await Promise.all(names.map((name) => classify(xray(name))));
    expect(responses.map((r) => r.status)).toEqual(names.map(() => 200));
    const concurrent = await Promise.all(responses.map((r) => r.json()));
    expect(concurrent).toEqual(sequential);
  });
});

describe('synthetic patterns', () => {
  // Every flavour the decoder reads, YCCK included (no real X-ray is made in that one): decoded, then
  // refused by the model's gate, never a decoding error.
  it.each(['gray-baseline', 'gray-progressive', 'rgb-420', 'rgb-444-progressive', 'rgb-jpegjs', 'cmyk-adobe', 'ycck-adobe', 'rgb-large', 'gray-exif-6'])(
    'decodes the synthetic %s and refuses it as not a chest X-ray',
    async (name) => {
      const res = await classify(fixture(name));
      expect(res.status).toBe(422);
      expect(((await res.json()) as ProblemBody).code).toBe('not_a_chest_xray');
    },
  );
});

describe('GET /v1/model, /healthz, /readyz', () => {
  it('serves the model card from the ONNX metadata', async () => {
    const res = await api(`/v1/model`);
    expect(res.status).toBe(200);
    const card = (await res.json()) as Record<string, any>;
    expect(card.classes.length).toBeGreaterThanOrEqual(2);
    expect(card.input.shape).toEqual([1, 1, 256, 256]);
    expect(card.input.preprocessing).toBe('cxr-luma-dct-stretch-tent-v2');
    expect(card.calibration.temperature).toBeGreaterThan(0);
    expect(card.metrics.per_class).toBeTypeOf('object');
    expect(Object.keys(card.metrics.per_class)).toEqual(card.classes);
    expect(card.intendedUse).toMatch(/not a medical device/i);
    expect(card.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports liveness and readiness', async () => {
    expect((await workerFetch(`${BASE}/healthz`)).status).toBe(200);
    const ready = await workerFetch(`${BASE}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe('ready');
  });
});
