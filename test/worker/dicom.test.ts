/**
 * DICOM through the Worker (SELF.fetch in workerd): the same real X-ray as JPEG and as DICOM in each
 * transfer syntax gives the same answer; header refusals, unsupported syntaxes and bombs are problem+json;
 * pydicom's test files never cause a 5xx; no header text ever leaves the Worker.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { api, classify, fromBase64, xray, type ClassifyBody, type ProblemBody } from './helpers';

const fixtures = () => {
  const all = inject('dicomFixtures');
  if (!all) throw new Error('the DICOM tests need a real chest X-ray: ../shared/data/cxr5 (or CXR5_DIR) was not found');
  return all;
};
const dicom = (name: string) => fromBase64(fixtures().files[name]);

interface DicomClassifyBody extends ClassifyBody {
  image: ClassifyBody['image'] & {
    format: string;
    dicom?: { transferSyntax: { uid: string; name: string }; bitsStored: number; photometricInterpretation: string; window: unknown; frames: number };
  };
}

async function classifyDicom(name: string): Promise<{ res: Response; body: DicomClassifyBody }> {
  const res = await classify(dicom(name), 'application/dicom');
  return { res, body: (await res.json()) as DicomClassifyBody };
}

const maxDifference = (a: Record<string, number>, b: Record<string, number>) => Math.max(...Object.keys(a).map((k) => Math.abs(a[k] - b[k])));

// Skipped only where dcmtk or gdcm is missing (global-setup says so); CI installs them.
const HAVE_DICOM = inject('dicomFixtures') !== null;

describe.skipIf(!HAVE_DICOM)('POST /v1/classify with application/dicom', () => {
  let reference: Record<string, number>;
  const jpegReference = async () => {
    if (!reference) {
      const res = await classify(xray('gray-baseline'));
      expect(res.status).toBe(200);
      reference = ((await res.json()) as ClassifyBody).probabilities;
    }
    return reference;
  };

  it.each([
    ['img2dcm', '1.2.840.10008.1.2.4.50'],
    ['native8', '1.2.840.10008.1.2.1'],
    ['implicit8', '1.2.840.10008.1.2'],
    ['bigEndian8', '1.2.840.10008.1.2.2'],
    ['deflated8', '1.2.840.10008.1.2.1.99'],
    ['rle8', '1.2.840.10008.1.2.5'],
    ['lossless8', '1.2.840.10008.1.2.4.70'],
    ['monochrome1', '1.2.840.10008.1.2.1'],
  ])('%s: the same probabilities as the JPEG (within 0.01)', async (name, uid) => {
    const expected = await jpegReference();
    const { res, body } = await classifyDicom(name);
    expect(res.status).toBe(200);
    expect(body.image.format).toBe('dicom');
    expect(body.image.dicom?.transferSyntax.uid).toBe(uid);
    expect(body.image.dicom?.bitsStored).toBe(8);
    expect(body.image.dicom?.frames).toBe(1);
    expect([body.image.width, body.image.height, body.image.components]).toEqual([300, 400, 1]);
    expect(maxDifference(body.probabilities, expected)).toBeLessThan(0.01);
  });

  it.each(['windowed12', 'lossless12', 'rle12'])('%s: a windowed 12-bit film matches its 8-bit rendering (within 0.02)', async (name) => {
    const expected = await jpegReference();
    const { res, body } = await classifyDicom(name);
    expect(res.status).toBe(200);
    expect(body.image.dicom).toMatchObject({ bitsStored: 12, photometricInterpretation: 'MONOCHROME2', window: { source: 'window', center: 2048, width: 4096, function: 'LINEAR' } });
    expect(maxDifference(body.probabilities, expected)).toBeLessThan(0.02);
  });

  it('reads the first frame of a multi-frame file and says so in a header', async () => {
    const expected = await jpegReference();
    const { res, body } = await classifyDicom('multiframe');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-dicom-frame')).toBe('1; of=2');
    expect(body.image.dicom?.frames).toBe(2);
    expect(maxDifference(body.probabilities, expected)).toBeLessThan(0.01);
  });

  it('accepts DICOM as a multipart part, typed application/dicom or left to the bytes (application/octet-stream)', async () => {
    for (const type of ['application/dicom', 'application/octet-stream']) {
      const form = new FormData();
      form.append('image', new Blob([dicom('native8')], { type }), 'film.dcm');
      const res = await api('/v1/classify', { method: 'POST', body: form });
      expect(res.status).toBe(200);
      expect(((await res.json()) as DicomClassifyBody).image.format).toBe('dicom');
    }
  });

  it('explains a DICOM upload too', async () => {
    const res = await api('/v1/explain', { method: 'POST', body: dicom('rle12'), headers: { 'content-type': 'application/dicom' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { image: { format: string } };
    expect(body.image.format).toBe('dicom');
  });

  it.each([
    ['ct', 422, 'not_a_chest_xray', /CT images are not chest X-rays/],
    ['lateral', 422, 'not_a_chest_xray', /lateral view/],
    ['jpegLs', 422, 'unsupported_image', /JPEG-LS Lossless \(1\.2\.840\.10008\.1\.2\.4\.80\)/],
    ['jpeg2000', 422, 'unsupported_image', /JPEG 2000/],
    ['noPixelData', 422, 'unsupported_image', /no Pixel Data/],
    ['deflateBomb', 413, 'image_too_large', /inflates to more than/],
    ['truncated', 400, 'invalid_image', /truncated/],
  ])('%s -> %i %s', async (name, status, code, detail) => {
    const started = Date.now();
    const res = await classify(dicom(name), 'application/dicom');
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = (await res.json()) as ProblemBody & { reason?: string };
    expect(body.code).toBe(code);
    expect(body.detail).toMatch(detail);
    if (code === 'not_a_chest_xray') expect(body.reason).toMatch(/^dicom_/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses bytes that contradict the declared type with 400 invalid_image', async () => {
    const asJpeg = await classify(dicom('native8'), 'image/jpeg');
    expect(asJpeg.status).toBe(400);
    expect(((await asJpeg.json()) as ProblemBody).detail).toMatch(/declared image\/jpeg, but the bytes are application\/dicom/);
    const asDicom = await classify(xray('gray-baseline'), 'application/dicom');
    expect(asDicom.status).toBe(400);
    expect(((await asDicom.json()) as ProblemBody).code).toBe('invalid_image');
  });
});

describe.skipIf(!HAVE_DICOM)("pydicom's test files through the Worker", () => {
  it('are answered 200 or a problem+json 4xx, never a 5xx', async () => {
    const statuses: Record<string, number> = {};
    for (const [name, encoded] of Object.entries(fixtures().pydicom)) {
      const res = await classify(fromBase64(encoded), 'application/dicom');
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status !== 200) {
        expect(res.status, name).toBeGreaterThanOrEqual(400);
        expect(res.status, name).toBeLessThan(500);
        expect(res.headers.get('content-type'), name).toBe('application/problem+json');
      }
      await res.arrayBuffer();
    }
    expect(Object.keys(fixtures().pydicom).length).toBeGreaterThan(50);
    expect(statuses['422']).toBeGreaterThan(10);
  });
});

describe.skipIf(!HAVE_DICOM)('DICOM privacy', () => {
  afterEach(() => vi.restoreAllMocks());

  it('never echoes or logs a header text element: every one holds a unique marker', async () => {
    const logs: string[] = [];
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(' ')));
    }
    const { markers } = fixtures();
    expect(markers.length).toBeGreaterThan(50);
    const seen: string[] = [];
    const expectations: [string, number][] = [
      ['privacyAccepted', 200],
      ['privacyRefused', 422],
      ['privacyLateral', 422],
      ['privacyTruncated', 400],
    ];
    for (const [name, status] of expectations) {
      for (const path of ['/v1/classify', '/v1/explain']) {
        const res = await api(path, { method: 'POST', body: dicom(name), headers: { 'content-type': 'application/dicom' } });
        expect(res.status, `${name} ${path}`).toBe(status);
        seen.push(await res.text(), JSON.stringify([...res.headers]));
      }
    }
    const everything = [...seen, ...logs].join('\n');
    expect(logs.length).toBeGreaterThan(0); // the access log ran and was captured
    for (const marker of markers) expect(everything).not.toContain(marker);
  });
});
