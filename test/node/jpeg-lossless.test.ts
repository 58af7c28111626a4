/**
 * The lossless JPEG decoder (src/image/dicom/codecs/jpeg-lossless.ts) against real encoders: dcmtk's dcmcjpeg
 * (every predictor, point transforms, 8/12/16 bits, RGB), gdcmconv, and the ISO reference software (restart
 * intervals, precisions from 2 to 16 bits). PVRG's codec is not used: it departs from T.81 H.1.2.1 (first row
 * and restart predictions). Each fixture is generated here from a known image and must decode to exactly
 * that image. Also: corrupt input only ever fails as ImageError, and quickly.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeJpegLossless } from '../../src/image/dicom/codecs/jpeg-lossless';
import { readDicomFile } from '../../src/image/dicom/file';
import { ImageError } from '../../src/image/errors';
import { seededRandom } from '../../scripts/export/split';
import { IN_CI, timeLimit, unlessMutating } from '../helpers/ci';
import { codestreamOf, concat, convert, nativeRadiograph, SECONDARY_CAPTURE } from '../helpers/dicom';
import { fuzzCase } from '../helpers/fuzz';
import { expectImageError } from '../helpers/image-errors';

const MAX_PIXELS = 50_000_000;
const HAVE_DCMTK = existsSync('/usr/bin/dcmcjpeg');
const HAVE_GDCM = existsSync('/usr/bin/gdcmconv');
const REFERENCE = '/usr/bin/jpeg';
const HAVE_REFERENCE = existsSync(REFERENCE);
if (IN_CI && !(HAVE_DCMTK && HAVE_GDCM && HAVE_REFERENCE)) {
  throw new Error('CI needs dcmcjpeg, gdcmconv and jpeg (apt-get install dcmtk libgdcm-tools libjpeg-tools)');
}

interface TestImage {
  width: number;
  height: number;
  components: number;
  bits: number;
  samples: Uint16Array;
}

/**
 * A smooth image with noise (what a radiograph looks like to a predictor), plus a run of alternating extremes,
 * so that 16-bit images need the difference 32768 (category 16) and every image needs long codes.
 */
function makeImage(width: number, height: number, bits: number, components = 1, seed = 1): TestImage {
  const random = seededRandom(seed);
  const max = 2 ** bits - 1;
  const samples = new Uint16Array(width * height * components);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < components; c++) {
        const smooth = 0.5 + 0.35 * Math.sin(x / 9 + c) * Math.cos(y / 13 - c);
        const noise = (random() - 0.5) * 0.02;
        let v = Math.round((smooth + noise) * max);
        if (y === 2 && x >= 3 && x < 11) v = x % 2 ? 0 : 2 ** (bits - 1); // a jump of half the range
        if (y === 3 && x === 5) v = max;
        samples[(y * width + x) * components + c] = Math.min(max, Math.max(0, v));
      }
    }
  }
  return { width, height, components, bits, samples };
}

/** Encodes `image` with a DICOM tool; returns the codestream and the output's transfer syntax UID. */
function encodeDicom(image: TestImage, tool: string, args: string[]): { jpeg: Uint8Array; transferSyntax: string } {
  const eight = image.bits <= 8;
  const native = nativeRadiograph(
    {
      width: image.width,
      height: image.height,
      samples: eight ? Uint8Array.from(image.samples) : image.samples,
      bitsAllocated: eight ? 8 : 16,
      bitsStored: image.bits,
      samplesPerPixel: image.components,
      photometric: image.components === 3 ? 'RGB' : 'MONOCHROME2',
      padPixelData: true,
    },
    SECONDARY_CAPTURE,
  );
  const dicom = convert(tool, args, native);
  return { jpeg: codestreamOf(dicom), transferSyntax: readDicomFile(dicom, Number.MAX_SAFE_INTEGER).transferSyntax.uid };
}

/**
 * Encodes with the ISO reference implementation (Thomas Richter's libjpeg, Debian's libjpeg-tools): the one
 * tool here that writes restart intervals into lossless JPEG. Its predictor is fixed at 4 (a 2-D one, so the
 * first-line rule of each restart interval matters); the precision follows the PNM's maxval.
 */
function encodeReference(image: TestImage, args: string[]): Uint8Array {
  const max = 2 ** image.bits - 1;
  const header = new TextEncoder().encode(`${image.components === 3 ? 'P6' : 'P5'}\n${image.width} ${image.height}\n${max}\n`);
  const wide = max > 255;
  const body = new Uint8Array(image.samples.length * (wide ? 2 : 1));
  image.samples.forEach((v, i) => (wide ? body.set([v >> 8, v & 0xff], 2 * i) : (body[i] = v)));
  // The tool reads the PNM by its content, so convert's file names (in.dcm, out.dcm) do not matter to it.
  return convert(REFERENCE, ['-p', '-c', ...args], concat([header, body]));
}

function expectExact(jpeg: Uint8Array, image: TestImage, pt = 0): void {
  const decoded = decodeJpegLossless(jpeg, MAX_PIXELS);
  expect([decoded.width, decoded.height, decoded.components]).toEqual([image.width, image.height, image.components]);
  const expected = image.samples.map((v) => (v >> pt) << pt);
  const mismatch = decoded.samples.findIndex((v, i) => v !== expected[i]);
  expect(mismatch, `first mismatch at sample ${mismatch}`).toBe(-1);
}

/** The SOS header's selection value (predictor) and point transform, and the DRI interval (0 when none). */
function scanParameters(jpeg: Uint8Array): { predictor: number; pt: number; restart: number; hasCategory16: boolean } {
  let restart = 0;
  let hasCategory16 = false;
  for (let i = 2; i + 4 < jpeg.length; ) {
    const marker = jpeg[i + 1];
    const length = (jpeg[i + 2] << 8) | jpeg[i + 3];
    if (marker === 0xdd) restart = (jpeg[i + 4] << 8) | jpeg[i + 5];
    if (marker === 0xc4) hasCategory16 ||= jpeg.subarray(i + 4 + 17, i + 2 + length).includes(16);
    if (marker === 0xda) {
      const n = jpeg[i + 4];
      return { predictor: jpeg[i + 5 + 2 * n], pt: jpeg[i + 7 + 2 * n] & 15, restart, hasCategory16 };
    }
    i += 2 + length;
  }
  throw new Error('no scan');
}


describe.skipIf(!HAVE_DCMTK)('dcmcjpeg fixtures decode exactly', () => {
  for (const bits of [16, 12, 8]) {
    const image = makeImage(67, 53, bits, 1, bits);
    it(`${bits}-bit, SV1 (transfer syntax .70)`, () => {
      const { jpeg, transferSyntax } = encodeDicom(image, '/usr/bin/dcmcjpeg', ['+e1']);
      expect(transferSyntax).toBe('1.2.840.10008.1.2.4.70');
      expect(scanParameters(jpeg).predictor).toBe(1);
      // The half-range jumps can only be coded as the difference 32768 at 16 bits.
      if (bits === 16) expect(scanParameters(jpeg).hasCategory16).toBe(true);
      expectExact(jpeg, image);
    });
    for (let sv = 1; sv <= 7; sv++) {
      it(`${bits}-bit, predictor ${sv} (transfer syntax .57)`, () => {
        const { jpeg, transferSyntax } = encodeDicom(image, '/usr/bin/dcmcjpeg', ['+el', '+sv', String(sv)]);
        expect(transferSyntax).toBe('1.2.840.10008.1.2.4.57');
        expect(scanParameters(jpeg).predictor).toBe(sv);
        expectExact(jpeg, image);
      });
    }
  }

  for (const [bits, sv, pt] of [[12, 1, 2], [12, 7, 4], [16, 6, 3], [8, 4, 1]]) {
    it(`${bits}-bit, predictor ${sv}, point transform ${pt}`, () => {
      const image = makeImage(41, 29, bits, 1, 100 + pt);
      const { jpeg } = encodeDicom(image, '/usr/bin/dcmcjpeg', ['+el', '+sv', String(sv), '+pt', String(pt)]);
      expect(scanParameters(jpeg).pt).toBe(pt);
      expectExact(jpeg, image, pt);
    });
  }

  it('8-bit RGB (three interleaved components), predictor 5', () => {
    const image = makeImage(35, 27, 8, 3, 7);
    const { jpeg } = encodeDicom(image, '/usr/bin/dcmcjpeg', ['+el', '+sv', '5']);
    expectExact(jpeg, image);
  });

  it('a radiograph-sized 16-bit image, SV1', () => {
    const image = makeImage(1024, 768, 16, 1, 3);
    expectExact(encodeDicom(image, '/usr/bin/dcmcjpeg', ['+e1']).jpeg, image);
  });
});

describe.skipIf(!HAVE_GDCM)('gdcmconv fixtures decode exactly', () => {
  for (const bits of [16, 12]) {
    it(`${bits}-bit, gdcmconv --jpeg`, () => {
      const image = makeImage(73, 31, bits, 1, 20 + bits);
      const { jpeg, transferSyntax } = encodeDicom(image, '/usr/bin/gdcmconv', ['--jpeg']);
      expect(transferSyntax).toMatch(/^1\.2\.840\.10008\.1\.2\.4\.(57|70)$/);
      expectExact(jpeg, image);
    });
  }
});

describe.skipIf(!HAVE_REFERENCE)('reference encoder fixtures: restart intervals, other precisions', () => {
  it.each([
    [16, 1, 1],
    [12, 2, 1],
    [10, 1, 1],
    [5, 3, 1],
    [2, 1, 1],
    [8, 1, 3],
    [16, 2, 3],
  ])('%i-bit, restart every %i row(s), %i component(s)', (bits, rows, components) => {
    const image = makeImage(37, 23, bits, components, bits * 10 + rows);
    const jpeg = encodeReference(image, ['-z', String(37 * rows), ...(rows > 1 ? ['-h'] : [])]);
    expect(scanParameters(jpeg)).toMatchObject({ predictor: 4, restart: 37 * rows });
    expectExact(jpeg, image);
  });

  it('no restart interval, 12-bit RGB', () => {
    const image = makeImage(37, 23, 12, 3, 11);
    expectExact(encodeReference(image, []), image);
  });

  it('refuses valid JPEG it does not support: restarts mid-row, DNL, arithmetic coding, subsampling', () => {
    const image = makeImage(37, 23, 8, 3, 9);
    for (const args of [['-z', '10'], ['-n'], ['-a'], ['-s', '1x1,2x2,2x2']]) {
      expectImageError(() => decodeJpegLossless(encodeReference(image, args), MAX_PIXELS), 'unsupported');
    }
  });
});

describe.skipIf(!HAVE_DCMTK)('hostile input', () => {
  let corpus: { name: string; bytes: Uint8Array }[] | undefined;
  const sources = () =>
    (corpus ??= [
      { name: '16-bit sv1', image: makeImage(64, 48, 16, 1, 1), args: ['+e1'] },
      { name: '12-bit sv7', image: makeImage(64, 48, 12, 1, 2), args: ['+el', '+sv', '7'] },
      { name: '8-bit rgb sv4', image: makeImage(32, 24, 8, 3, 3), args: ['+el', '+sv', '4'] },
    ]
      .map(({ name, image, args }) => ({ name, bytes: encodeDicom(image, '/usr/bin/dcmcjpeg', args).jpeg }))
      .concat(HAVE_REFERENCE ? [{ name: '12-bit restarts', bytes: encodeReference(makeImage(64, 48, 12, 1, 5), ['-z', '64']) }] : []));

  it('a truncated codestream is refused as invalid, quickly', () => {
    // Under Stryker a smaller image: the instrumented pixel loop is far slower than the 25x that timeLimit allows.
    const image = unlessMutating(makeImage(1024, 768, 16, 1, 4), makeImage(256, 192, 16, 1, 4));
    const jpeg = encodeDicom(image, '/usr/bin/dcmcjpeg', ['+e1']).jpeg;
    for (const keep of unlessMutating([0.1, 0.5, 0.9, 0.999], [0.1, 0.5, 0.9, 0.99])) {
      const start = performance.now();
      expectImageError(() => decodeJpegLossless(jpeg.subarray(0, Math.floor(jpeg.length * keep)), MAX_PIXELS), 'invalid');
      expect(performance.now() - start, `kept ${keep}`).toBeLessThan(timeLimit(200));
    }
  });

  it('a huge declared size is too_large before anything is allocated', () => {
    const jpeg = sources()[0].bytes.slice();
    const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc3);
    jpeg.set([60000 >> 8, 60000 & 0xff, 60000 >> 8, 60000 & 0xff], sof + 5);
    expectImageError(() => decodeJpegLossless(jpeg, MAX_PIXELS), 'too_large');
  });

  it('garbage and other JPEG processes are refused', () => {
    const random = seededRandom(42);
    expectImageError(() => decodeJpegLossless(new Uint8Array(0), MAX_PIXELS), 'invalid');
    expectImageError(() => decodeJpegLossless(Uint8Array.from({ length: 5000 }, () => Math.floor(random() * 256)), MAX_PIXELS), 'invalid');
    const noise = Uint8Array.from({ length: 5000 }, () => Math.floor(random() * 256));
    noise.set([0xff, 0xd8, 0xff]);
    expectImageError(() => decodeJpegLossless(noise, MAX_PIXELS));
    const baseline = sources()[0].bytes.slice();
    baseline[baseline.findIndex((b, i) => b === 0xff && baseline[i + 1] === 0xc3) + 1] = 0xc0;
    expectImageError(() => decodeJpegLossless(baseline, MAX_PIXELS), 'unsupported');
  });

  it('300 seeded mutations only ever decode or throw ImageError, each quickly', () => {
    let refused = 0;
    for (let index = 0; index < 300; index++) {
      const { bytes, mutation, source } = fuzzCase(sources(), 7, index);
      const start = performance.now();
      try {
        const image = decodeJpegLossless(bytes, MAX_PIXELS);
        expect(image.samples.length).toBe(image.width * image.height * image.components);
      } catch (e) {
        if (!(e instanceof ImageError)) throw new Error(`case ${index} (${mutation} of ${source}) threw ${String(e)}`);
        refused++;
      }
      expect(performance.now() - start, `case ${index} (${mutation} of ${source})`).toBeLessThan(timeLimit(500));
    }
    expect(refused).toBeGreaterThan(100);
  });
});
