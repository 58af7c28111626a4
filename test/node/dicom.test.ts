/**
 * DICOM decoding in Node: the data set parser in every encoding, each transfer syntax dcmtk and gdcm write,
 * the grayscale pipeline checked against formulas written out here from PS3.3 C.11, header refusals,
 * limits, and pydicom's own test files (DICOM written by other software).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeDicomLuma } from '../../src/image/dicom/decode';
import { ImageError } from '../../src/image/errors';
import { preprocessImage } from '../../src/preprocess';
import { ensurePythonEnv } from '../../scripts/export/python-env';
import { seededRandom } from '../../scripts/export/split';
import { IN_CI, timeLimit, unlessMutating } from '../helpers/ci';
import { concat, convert, encodeElements, EXPLICIT_LE, haveDicomTools, jpegToDicom, nativeRadiograph, part10, type TestElement } from '../helpers/dicom';
import { encodeJpeg, syntheticXray } from '../helpers/synthetic';

const LIMITS = { maxPixels: 50_000_000, maxDecodeBytes: 48 * 2 ** 20 };
const W = 200;
const H = 160;

/** A smooth 12-bit radiograph-like image with fine detail, stored in 16 bits. */
function radiograph12(width = W, height = H): Uint16Array {
  const samples = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      samples[y * width + x] = Math.round(2048 + 1700 * Math.sin(x / 23) * Math.cos(y / 19) + ((x * 7 + y * 13) % 29));
    }
  }
  return samples;
}

const window = (center: number, width: number): TestElement[] => [
  { tag: 0x00281050, vr: 'DS', value: String(center) },
  { tag: 0x00281051, vr: 'DS', value: String(width) },
];

/** PS3.3 C.11.2.1.2.1, LINEAR, to 0..255. */
function linear(x: number, c: number, w: number): number {
  if (x <= c - 0.5 - (w - 1) / 2) return 0;
  if (x > c - 0.5 + (w - 1) / 2) return 255;
  return Math.round(((x - (c - 0.5)) / (w - 1) + 0.5) * 255);
}

function decode(bytes: Uint8Array) {
  return decodeDicomLuma(bytes, LIMITS);
}

function refusal(run: () => unknown): ImageError {
  try {
    run();
  } catch (error) {
    if (error instanceof ImageError) return error;
    throw error;
  }
  throw new Error('expected an ImageError');
}

const maxDifference = (a: Uint8Array, b: Uint8Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('grayscale pipeline (stored bits -> modality LUT -> VOI -> MONOCHROME1 -> 8 bits)', () => {
  const samples = radiograph12();

  it('applies the first window centre/width with the LINEAR function exactly as PS3.3 defines it', () => {
    const { luma, info } = decode(nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, extra: window(1900, 2500) }));
    expect(info.window).toEqual({ source: 'window', center: 1900, width: 2500, function: 'LINEAR' });
    expect([luma.width, luma.height]).toEqual([W, H]);
    expect(Array.from(luma.data)).toEqual(Array.from(samples, (s) => linear(s, 1900, 2500)));
  });

  it("gives the same pixels whatever the frame's size and where it lies in memory (four pixels a step, and the edges)", () => {
    // Sizes with 0-3 pixels left over after steps of four; the file at a byte offset 0 or 2 (mod 4) in its buffer, so
    // the samples start on and off a 4-byte boundary; RLE decodes into a new frame, mapped in place.
    for (const [w, h] of [[1, 1], [2, 1], [3, 1], [5, 3], [6, 3], [7, 1], [8, 4], [W, H]]) {
      const frame = Uint16Array.from({ length: w * h }, (_, i) => (i * 797 + 13) % 4096);
      const file = nativeRadiograph({ width: w, height: h, samples: frame, bitsAllocated: 16, bitsStored: 12, extra: window(1900, 2500) });
      const expected = Array.from(frame, (v) => linear(v, 1900, 2500));
      for (const offset of [0, 1, 2, 3]) {
        const placed = new Uint8Array(file.length + offset);
        placed.set(file, offset);
        expect(Array.from(decode(placed.subarray(offset)).luma.data), `${w}x${h} at ${offset}`).toEqual(expected);
      }
      expect(Array.from(decode(convert('dcmcrle', [], file)).luma.data), `${w}x${h} RLE`).toEqual(expected);
    }
  });

  it('uses only the first of several windows', () => {
    const extra = [
      { tag: 0x00281050, vr: 'DS', value: '1900\\400' },
      { tag: 0x00281051, vr: 'DS', value: '2500\\100' },
    ];
    const { luma } = decode(nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, extra }));
    expect(Array.from(luma.data)).toEqual(Array.from(samples, (s) => linear(s, 1900, 2500)));
  });

  it('inverts MONOCHROME1 after the window', () => {
    const mono2 = decode(nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, extra: window(2048, 3000) }));
    const mono1 = decode(nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, photometric: 'MONOCHROME1', extra: window(2048, 3000) }));
    expect(mono1.info.photometricInterpretation).toBe('MONOCHROME1');
    expect(Array.from(mono1.luma.data)).toEqual(Array.from(mono2.luma.data, (v) => 255 - v));
  });

  it('rescales stored values (slope/intercept) before a window given in modality units', () => {
    const extra = [...window(-200, 3000), { tag: 0x00281052, vr: 'DS', value: '-4096' }, { tag: 0x00281053, vr: 'DS', value: '2' }];
    const { luma } = decode(nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, extra }));
    expect(Array.from(luma.data)).toEqual(Array.from(samples, (s) => linear(s * 2 - 4096, -200, 3000)));
  });

  it('reads signed stored values, including bits above BitsStored that are not sign-extended', () => {
    const signed = new Int16Array(samples.length);
    samples.forEach((s, i) => (signed[i] = s - 2048));
    // The same bit patterns masked to 12 bits: what a writer that does not sign-extend stores.
    const masked = new Uint16Array(signed.length);
    signed.forEach((s, i) => (masked[i] = s & 0xfff));
    const expected = Array.from(signed, (s) => linear(s, 0, 3000));
    for (const data of [signed, masked]) {
      const { luma } = decode(nativeRadiograph({ width: W, height: H, samples: data, bitsAllocated: 16, bitsStored: 12, signed: true, extra: window(0, 3000) }));
      expect(Array.from(luma.data)).toEqual(expected);
    }
  });

  it('applies SIGMOID and LINEAR_EXACT windows', () => {
    const sigmoid = decode(
      nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, extra: [...window(2048, 1500), { tag: 0x00281056, vr: 'CS', value: 'SIGMOID' }] }),
    );
    expect(sigmoid.info.window?.function).toBe('SIGMOID');
    expect(Array.from(sigmoid.luma.data)).toEqual(Array.from(samples, (s) => Math.round(255 / (1 + Math.exp((-4 * (s - 2048)) / 1500)))));
    const exact = decode(
      nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, extra: [...window(2048, 1500), { tag: 0x00281056, vr: 'CS', value: 'LINEAR_EXACT' }] }),
    );
    expect(Array.from(exact.luma.data)).toEqual(Array.from(samples, (s) => Math.round(Math.min(1, Math.max(0, (s - 2048) / 1500 + 0.5)) * 255)));
  });

  it('applies a VOI LUT Sequence when there is no window, and a Modality LUT Sequence before it', () => {
    // VOI LUT: 4096 entries from stored value 0, 10 bits, a gamma curve.
    const voiData = new Uint16Array(4096).map((_, i) => Math.round(1023 * (i / 4095) ** 0.6));
    const voi: TestElement = {
      tag: 0x00283010,
      vr: 'SQ',
      value: [[{ tag: 0x00283002, vr: 'US', value: [4096, 0, 10] }, { tag: 0x00283006, vr: 'OW', value: voiData }]],
    };
    const { luma, info } = decode(nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, extra: [voi] }));
    expect(info.window).toEqual({ source: 'voi-lut-sequence' });
    expect(Array.from(luma.data)).toEqual(Array.from(samples, (s) => Math.round((voiData[s] / 1023) * 255)));

    // Modality LUT: reverses the stored values (from first mapped value 0); the VOI LUT then reads its output.
    const modalityData = new Uint16Array(4096).map((_, i) => 4095 - i);
    const modality: TestElement = {
      tag: 0x00283000,
      vr: 'SQ',
      value: [[{ tag: 0x00283002, vr: 'US', value: [4096, 0, 12] }, { tag: 0x00283006, vr: 'OW', value: modalityData }]],
    };
    const both = decode(nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, extra: [voi, modality] }));
    expect(Array.from(both.luma.data)).toEqual(Array.from(samples, (s) => Math.round((voiData[4095 - s] / 1023) * 255)));
  });

  it('without any VOI: 8-bit data as stored, deeper data by a 0.5-99.5 percentile window', () => {
    const eight = new Uint8Array(W * H).map((_, i) => (i * 7) % 256);
    const asStored = decode(nativeRadiograph({ width: W, height: H, samples: eight, bitsAllocated: 8, bitsStored: 8 }));
    expect(asStored.info.window).toEqual({ source: 'as-stored' });
    expect(Array.from(asStored.luma.data)).toEqual(Array.from(eight));

    const { luma, info } = decode(nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12 }));
    expect(info.window?.source).toBe('percentile');
    const sorted = Array.from(samples).sort((a, b) => a - b);
    const low = sorted[Math.floor(0.005 * sorted.length)];
    const high = sorted[Math.ceil(0.995 * sorted.length) - 1];
    expect(info.window!.center! - info.window!.width! / 2).toBeCloseTo(low, 0);
    expect(info.window!.center! + info.window!.width! / 2).toBeCloseTo(high, 0);
    // About 0.5 % of pixels at each end saturate; the rest spans the range.
    const black = luma.data.filter((v) => v === 0).length / luma.data.length;
    const white = luma.data.filter((v) => v === 255).length / luma.data.length;
    expect(black).toBeGreaterThan(0.004);
    expect(black).toBeLessThan(0.02);
    expect(white).toBeGreaterThan(0.004);
    expect(white).toBeLessThan(0.02);
  });

  it('honours HighBit when the stored bits do not start at bit 0', () => {
    const shifted = samples.map((s) => (s << 4) | 0x5);
    const extra: TestElement[] = [...window(1900, 2500), { tag: 0x00280102, vr: 'US', value: 15 }];
    const { luma } = decode(nativeRadiograph({ width: W, height: H, samples: shifted, bitsAllocated: 16, bitsStored: 12, extra }));
    expect(Array.from(luma.data)).toEqual(Array.from(samples, (s) => linear(s, 1900, 2500)));
  });

  it('turns RGB secondary captures into BT.601 luminance, interleaved or planar', () => {
    const pixels = W * H;
    const rgb = new Uint8Array(pixels * 3).map((_, i) => (i * 37) % 251);
    const expected = Array.from({ length: pixels }, (_, i) => (19595 * rgb[i * 3] + 38470 * rgb[i * 3 + 1] + 7471 * rgb[i * 3 + 2] + 32768) >>> 16);
    const interleaved = decode(nativeRadiograph({ width: W, height: H, samples: rgb, bitsAllocated: 8, bitsStored: 8, samplesPerPixel: 3, photometric: 'RGB' }));
    expect(Array.from(interleaved.luma.data)).toEqual(expected);
    const planarSamples = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) for (let c = 0; c < 3; c++) planarSamples[c * pixels + i] = rgb[i * 3 + c];
    const planar = decode(
      nativeRadiograph({
        width: W,
        height: H,
        samples: planarSamples,
        bitsAllocated: 8,
        bitsStored: 8,
        samplesPerPixel: 3,
        photometric: 'RGB',
        extra: [{ tag: 0x00280006, vr: 'US', value: 1 }],
      }),
    );
    expect(Array.from(planar.luma.data)).toEqual(expected);
  });
});

// dcmtk and gdcm write the fixtures: skipped where they are missing, a failure in CI (which installs them).
const TOOLS = haveDicomTools();
if (IN_CI && !TOOLS) throw new Error('CI needs dcmtk and gdcm (apt-get install dcmtk libgdcm-tools)');

describe.skipIf(!TOOLS)('transfer syntaxes (files written by dcmtk and gdcm)', () => {
  const reference12 = nativeRadiograph({ width: W, height: H, samples: radiograph12(), bitsAllocated: 16, bitsStored: 12, extra: window(2048, 3200) });
  const expected = decode(reference12).luma.data;
  const eightBit = new Uint8Array(W * H).map((_, i) => Math.round(128 + 100 * Math.sin(i / 50)));
  const reference8 = nativeRadiograph({ width: W, height: H, samples: eightBit, bitsAllocated: 8, bitsStored: 8 });

  const lossless: [string, string, string[], string][] = [
    ['implicit VR little endian', 'dcmconv', ['+ti'], '1.2.840.10008.1.2'],
    ['explicit VR big endian', 'dcmconv', ['+tb'], '1.2.840.10008.1.2.2'],
    ['deflated explicit VR little endian', 'dcmconv', ['+td'], '1.2.840.10008.1.2.1.99'],
    ['RLE lossless', 'dcmcrle', [], '1.2.840.10008.1.2.5'],
    ['JPEG lossless SV1', 'dcmcjpeg', ['+e1'], '1.2.840.10008.1.2.4.70'],
    ...[2, 3, 4, 5, 6, 7].map((sv): [string, string, string[], string] => [`JPEG lossless, predictor ${sv}`, 'dcmcjpeg', ['+el', '+sv', String(sv)], '1.2.840.10008.1.2.4.57']),
  ];
  for (const [name, tool, args, uid] of lossless) {
    it(`${name}: the same pixels as the uncompressed file, 12-bit and 8-bit`, () => {
      const converted = decode(convert(tool, args, reference12));
      expect(converted.info.transferSyntax.uid).toBe(uid);
      expect(converted.info.window).toEqual({ source: 'window', center: 2048, width: 3200, function: 'LINEAR' });
      expect(maxDifference(converted.luma.data, expected)).toBe(0);
      expect(Array.from(decode(convert(tool, args, reference8)).luma.data)).toEqual(Array.from(eightBit));
    });
  }

  it('JPEG extended 12-bit (lossy) stays within 3 grey levels of the uncompressed file', () => {
    const converted = decode(convert('dcmcjpeg', ['+ee'], reference12));
    expect(converted.info.transferSyntax.uid).toBe('1.2.840.10008.1.2.4.51');
    const full = converted.luma.data;
    const mean = full.reduce((n, v, i) => n + Math.abs(v - expected[i]), 0) / full.length;
    expect(maxDifference(full, expected)).toBeLessThanOrEqual(3);
    expect(mean).toBeLessThan(0.5);
  });

  it('JPEG baseline 8-bit goes through the project decoder (reduced in the DCT domain when asked)', () => {
    // +sr: keep the stored range (dcmtk otherwise stretches min..max to 0..255 before lossy compression).
    const converted = decodeDicomLuma(convert('dcmcjpeg', ['+eb', '+sr'], reference8), LIMITS);
    expect(converted.info.transferSyntax.uid).toBe('1.2.840.10008.1.2.4.50');
    const mean = converted.luma.data.reduce((n, v, i) => n + Math.abs(v - eightBit[i]), 0) / eightBit.length;
    expect(mean).toBeLessThan(1.5);
    const reduced = decodeDicomLuma(convert('dcmcjpeg', ['+eb'], nativeRadiograph({ width: 1024, height: 1024, samples: new Uint8Array(1024 * 1024).fill(90), bitsAllocated: 8, bitsStored: 8 })), LIMITS, 256);
    expect([reduced.luma.width, reduced.width]).toEqual([256, 1024]);
  });

  it('a JPEG wrapped by img2dcm decodes to the same pixels as the JPEG itself', () => {
    const jpeg = encodeJpeg(320, 256, syntheticXray(256, 1, 5, seededRandom(5)));
    const fromJpeg = preprocessImage(jpeg, 256, LIMITS);
    const fromDicom = preprocessImage(jpegToDicom(jpeg), 256, LIMITS);
    expect(fromDicom.source.format).toBe('dicom');
    expect(Buffer.from(fromDicom.pixels).equals(Buffer.from(fromJpeg.pixels))).toBe(true);
  });

  it('JPEG-LS and JPEG 2000 are refused with 422 naming the transfer syntax; so is an unknown one', () => {
    const jls = refusal(() => decode(convert('dcmcjpls', [], reference12)));
    expect(jls.kind).toBe('unsupported');
    expect(jls.message).toContain('JPEG-LS Lossless (1.2.840.10008.1.2.4.80)');
    const j2k = refusal(() => decode(convert('gdcmconv', ['--j2k'], reference12)));
    expect(j2k.kind).toBe('unsupported');
    expect(j2k.message).toContain('JPEG 2000');
    const unknown = refusal(() => decode(part10(new Uint8Array(0), '1.2.3.4.5.6')));
    expect(unknown.message).toContain('1.2.3.4.5.6');
    const notUid = refusal(() => decode(part10(new Uint8Array(0), 'SECRET-NAME')));
    expect(notUid.message).not.toContain('SECRET');
  });

  it('reads a bare data set without preamble or file meta group (implicit and explicit VR)', () => {
    // dcmconv -F writes the data set alone, with neither preamble nor file meta group.
    const bare = decode(convert('dcmconv', ['+ti', '-F'], reference12));
    expect(bare.info.transferSyntax.uid).toBe('1.2.840.10008.1.2');
    expect(maxDifference(bare.luma.data, expected)).toBe(0);
    const explicit = decode(reference12.subarray(findGroup8(reference12)));
    expect(explicit.info.transferSyntax.uid).toBe(EXPLICIT_LE);
    expect(maxDifference(explicit.luma.data, expected)).toBe(0);
  });

  it('reads the first frame of a multi-frame file (native, RLE, JPEG lossless) and says how many there are', () => {
    const first = radiograph12();
    const two = new Uint16Array(first.length * 2);
    two.set(first);
    two.fill(4095, first.length);
    const multi = nativeRadiograph({ width: W, height: H, samples: two, bitsAllocated: 16, bitsStored: 12, frames: 2, extra: window(2048, 3200) });
    for (const bytes of [multi, convert('dcmcrle', [], multi), convert('dcmcjpeg', ['+e1'], multi)]) {
      const decoded = decode(bytes);
      expect(decoded.info.frames).toBe(2);
      expect(maxDifference(decoded.luma.data, expected)).toBe(0);
    }
  });

  it('tolerates odd value lengths and trailing padding elements', () => {
    const body = encodeElements([{ tag: 0x00091001, vr: 'OB', value: new Uint8Array([1, 2, 3]) }]);
    // The writer pads values to even length; cut the pad byte and fix the length to 3.
    const odd = body.subarray(0, body.length - 1);
    new DataView(odd.buffer, odd.byteOffset).setUint32(8, 3, true);
    const start = findGroup8(reference12);
    const withOdd = concat([reference12.subarray(0, start), odd, reference12.subarray(start)]);
    // Elements must ascend; an odd-length private element before group 0008 is still read past.
    expect(maxDifference(decode(withOdd).luma.data, expected)).toBe(0);
  });
});

describe('refusals before any pixel is decoded', () => {
  const samples = radiograph12();
  const file = (extra: TestElement[]) => nativeRadiograph({ width: W, height: H, samples, bitsAllocated: 16, bitsStored: 12, extra });

  it('refuses other modalities, lateral views and other body parts as not_a_chest_xray with a reason', () => {
    const cases: [TestElement, string, RegExp][] = [
      [{ tag: 0x00080060, vr: 'CS', value: 'CT' }, 'dicom_modality', /CT images are not chest X-rays/],
      [{ tag: 0x00080060, vr: 'CS', value: 'US' }, 'dicom_modality', /US images/],
      [{ tag: 0x00185101, vr: 'CS', value: 'LL' }, 'dicom_view_position', /lateral view \(LL\)/],
      [{ tag: 0x00180015, vr: 'CS', value: 'KNEE' }, 'dicom_body_part', /not the chest/],
    ];
    for (const [element, reason, message] of cases) {
      const error = refusal(() => decode(file([element])));
      expect([error.kind, error.reason]).toEqual(['not_a_chest_xray', reason]);
      expect(error.message).toMatch(message);
    }
    for (const ok of [{ tag: 0x00180015, vr: 'CS', value: 'CHEST' }, { tag: 0x00185101, vr: 'CS', value: 'PA' }, { tag: 0x00080060, vr: 'CS', value: 'CR' }]) {
      expect(() => decode(file([ok]))).not.toThrow();
    }
  });

  it('never echoes a header value that is not a standard term', () => {
    for (const tag of [0x00080060, 0x00180015]) {
      const error = refusal(() => decode(file([{ tag, vr: 'CS', value: 'PATIENTNAME42' }])));
      expect(error.kind).toBe('not_a_chest_xray');
      expect(error.message).not.toContain('PATIENTNAME42');
    }
    const photometric = refusal(() => decode(file([{ tag: 0x00280004, vr: 'CS', value: 'PATIENTNAME42' }])));
    expect(photometric.kind).toBe('unsupported');
    expect(photometric.message).not.toContain('PATIENTNAME42');
  });

  it('refuses a file without pixel data, an image over the pixel limit, and truncated pixel data', () => {
    const noPixels = part10(encodeElements([{ tag: 0x00080060, vr: 'CS', value: 'DX' }, { tag: 0x00280010, vr: 'US', value: 10 }]));
    expect(refusal(() => decode(noPixels)).kind).toBe('unsupported');
    const huge = file([{ tag: 0x00280010, vr: 'US', value: 60000 }, { tag: 0x00280011, vr: 'US', value: 60000 }]);
    const started = performance.now();
    expect(refusal(() => decode(huge)).kind).toBe('too_large');
    expect(performance.now() - started).toBeLessThan(timeLimit(100));
    const whole = file([]);
    expect(refusal(() => decode(whole.subarray(0, whole.length - 1000))).kind).toBe('invalid');
  });

  it('refuses sizes that are not whole numbers 1..65535, whatever VR carries them', () => {
    for (const [vr, value] of [['SS', -1], ['FD', 2.5], ['FD', 1e6], ['US', 0]] as const) {
      const error = refusal(() => decode(file([{ tag: 0x00280010, vr, value }])));
      expect([error.kind, error.message]).toEqual(['invalid', expect.stringMatching(/no valid image size/)]);
    }
  });

  it('reads a LUT Descriptor stored as SS (entries above 32767 stay unsigned)', () => {
    const entries = 40000;
    const data = new Uint16Array(entries).map((_, i) => Math.min(4095, Math.round(i / 9)));
    const voi: TestElement = {
      tag: 0x00283010,
      vr: 'SQ',
      value: [[{ tag: 0x00283002, vr: 'SS', value: [entries - 65536, 0, 12] }, { tag: 0x00283006, vr: 'OW', value: data }]],
    };
    const { luma, info } = decode(file([voi]));
    expect(info.window).toEqual({ source: 'voi-lut-sequence' });
    expect(Array.from(luma.data)).toEqual(Array.from(samples, (v) => Math.round((data[v] / 4095) * 255)));
  });

  it.skipIf(!TOOLS)('holds a JPEG-coded frame to the header before allocating (a 1x1 header on a large JPEG)', () => {
    const lossless = convert('dcmcjpeg', ['+e1'], file([]));
    // Rewrite Rows/Columns (US, value at +8 after the tag) to 1x1: the codestream still says 200x160.
    const view = new DataView(lossless.buffer, lossless.byteOffset, lossless.byteLength);
    for (const tag of [[0x28, 0x00, 0x10, 0x00], [0x28, 0x00, 0x11, 0x00]]) {
      const at = lossless.findIndex((_, i) => tag.every((b, k) => lossless[i + k] === b) && lossless[i + 4] === 0x55 && lossless[i + 5] === 0x53);
      view.setUint16(at + 8, 1, true);
    }
    const error = refusal(() => decode(lossless));
    expect([error.kind, error.message]).toEqual(['invalid', expect.stringMatching(/compressed frame is 200x160/)]);
  });

  it('inflates a deflated data set without a limit when none is given (the training pipeline)', () => {
    const deflated = part10(new Uint8Array(deflateRawSync(encodeElements([]))), '1.2.840.10008.1.2.1.99');
    expect(refusal(() => decodeDicomLuma(deflated, { maxPixels: 1e8 })).message).toMatch(/no Pixel Data/);
  });

  it('stops inflating a deflated data set at the limit (a deflate bomb costs nothing)', () => {
    const body = encodeElements([{ tag: 0x00091010, vr: 'OB', value: new Uint8Array(64 * 2 ** 20) }]);
    const bomb = part10(new Uint8Array(deflateRawSync(body, { level: 9 })), '1.2.840.10008.1.2.1.99');
    expect(bomb.length).toBeLessThan(200_000);
    const started = performance.now();
    expect(refusal(() => decodeDicomLuma(bomb, { maxPixels: 1e8, maxDecodeBytes: 16 * 2 ** 20 })).kind).toBe('too_large');
    expect(performance.now() - started).toBeLessThan(timeLimit(1000));
  });

  it('refuses bytes that contradict the declared type', () => {
    const jpeg = encodeJpeg(64, 64, () => 100);
    expect(refusal(() => preprocessImage(jpeg, 256, { ...LIMITS, declaredFormat: 'dicom' })).message).toMatch(/declared application\/dicom, but the bytes are image\/jpeg/);
    expect(refusal(() => preprocessImage(file([]), 256, { ...LIMITS, declaredFormat: 'jpeg' })).kind).toBe('invalid');
    expect(refusal(() => preprocessImage(new Uint8Array(300).fill(7), 256, { ...LIMITS, declaredFormat: 'dicom' })).kind).toBe('invalid');
  });

  it.skipIf(!TOOLS)('answers every mutation of every transfer syntax with an image or an ImageError, quickly', () => {
    const base = file([]);
    const sources = [base, convert('dcmconv', ['+ti'], base), convert('dcmconv', ['+tb'], base), convert('dcmconv', ['+td'], base), convert('dcmcrle', [], base), convert('dcmcjpeg', ['+e1'], base), convert('dcmcjpeg', ['+ee'], base)];
    const random = seededRandom(2024);
    let slowest = 0;
    for (let i = 0; i < unlessMutating(700, 140); i++) {
      const bytes = Uint8Array.from(sources[i % sources.length]);
      const edits = 1 + Math.floor(random() * 8);
      for (let e = 0; e < edits; e++) bytes[Math.floor(random() * Math.min(bytes.length, random() < 0.7 ? 1200 : bytes.length))] = Math.floor(random() * 256);
      const cut = random() < 0.2 ? Math.floor(random() * bytes.length) : bytes.length;
      const started = performance.now();
      try {
        preprocessImage(bytes.subarray(0, cut), 256, { maxPixels: 20_000_000, maxDecodeBytes: 16 * 2 ** 20 });
      } catch (error) {
        if (!(error instanceof ImageError)) throw new Error(`mutation ${i}: ${(error as Error).stack}`);
      }
      slowest = Math.max(slowest, performance.now() - started);
    }
    expect(slowest).toBeLessThan(timeLimit(1500));
  });
});

describe("pydicom's test files (DICOM written by other software)", () => {
  it('are decoded or refused with an ImageError, never another exception', () => {
    const python = ensurePythonEnv(() => {});
    const dir = spawnSync(python, ['-c', 'import os, pydicom.data; print(os.path.join(os.path.dirname(pydicom.data.__file__), "test_files"))'], { encoding: 'utf8' }).stdout.trim();
    expect(existsSync(dir)).toBe(true);
    // Under Stryker only the files under 512 KB: the large ones cost minutes through the instrumented pixel loops.
    const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile() && statSync(join(dir, f)).size < unlessMutating(8 * 2 ** 20, 2 ** 19));
    expect(files.length).toBeGreaterThan(50);
    const outcomes: Record<string, number> = {};
    for (const name of files) {
      const bytes = new Uint8Array(readFileSync(join(dir, name)));
      let outcome: string;
      try {
        preprocessImage(bytes, 256, { maxPixels: 50_000_000, maxDecodeBytes: 48 * 2 ** 20, declaredFormat: 'dicom' });
        outcome = 'decoded';
      } catch (error) {
        if (!(error instanceof ImageError)) throw new Error(`${name}: ${(error as Error).stack}`);
        outcome = error.kind;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    // CT, MR, RT and SR files are refused by their headers; some secondary captures decode.
    expect(outcomes.not_a_chest_xray).toBeGreaterThan(10);
    expect(outcomes.decoded).toBeGreaterThan(3);
    console.log('pydicom test files:', JSON.stringify(outcomes));
  });
});

function findGroup8(file: Uint8Array): number {
  for (let i = 132; i < file.length - 4; i += 1) if (file[i] === 0x08 && file[i + 1] === 0x00 && file[i + 2] === 0x16 && file[i + 3] === 0x00) return i;
  throw new Error('no (0008,0016)');
}
