/**
 * The 12-bit (and 8-bit) sequential JPEG decoder of DICOM's JPEG transfer syntaxes (.4.50, .4.51), against
 * two oracles:
 * - dcmtk (libjpeg 8/12-bit inside): a synthetic radiograph written as uncompressed DICOM, compressed with
 *   dcmcjpeg, our decode of the codestream against dcmdjpeg's decode of the same file;
 * - a small encoder here, which writes what dcmcjpeg cannot (restart intervals, 16-bit tables at any quality,
 *   subsampled and non-interleaved 3-component frames, RGB) and knows the exact quantised coefficients, so the
 *   reference decode is the textbook IDCT of them; its streams also go through dcmdjpeg when dcmtk is there.
 * And hostile input: truncation, huge headers, other JPEG processes, seeded mutations: only ImageError, quickly.
 * Every fixture is generated here, in a temporary directory; nothing is committed.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeJpegExtended, type ExtendedImage } from '../../src/image/dicom/codecs/jpeg-extended';
import { readDicomFile } from '../../src/image/dicom/file';
import { ImageError } from '../../src/image/errors';
import { seededRandom } from '../../scripts/export/split';
import { IN_CI, timeLimit, unlessMutating } from '../helpers/ci';
import { codestreamOf, concat, convert, nativeRadiograph, SECONDARY_CAPTURE, type RadiographSpec } from '../helpers/dicom';
import { fuzzCase } from '../helpers/fuzz';
import { expectImageError } from '../helpers/image-errors';

const HAVE_DCMTK = ['dcmcjpeg', 'dcmdjpeg'].every((tool) => spawnSync(tool, ['--version']).status === 0);
// Skipped only without dcmtk (Debian's dcmtk package); .ci/run installs it and CI refuses to go without.
if (IN_CI && !HAVE_DCMTK) throw new Error('CI needs dcmtk (apt-get install dcmtk) for the JPEG extended tests');
const MAX_PIXELS = 20_000_000;

// ---------------------------------------------------------------------------------------------------------
// DICOM files through dcmtk (test/helpers/dicom.ts writes and converts them).

/** A secondary capture (odd-length pixel data padded): native, or with `transferSyntax` one encapsulated codestream. */
const writeDicom = (spec: RadiographSpec) => nativeRadiograph({ ...spec, padPixelData: true }, SECONDARY_CAPTURE);

/** dcmdjpeg's decode of an encapsulated file: `count` samples (interleaved when 3 per pixel). */
function dcmdjpeg(file: Uint8Array, bitsStored: number, count: number, extra: string[] = []): Uint16Array {
  const pixelData = readDicomFile(convert('dcmdjpeg', extra, file), Number.MAX_SAFE_INTEGER).dataset.elements.get(0x7fe00010);
  expect(pixelData?.fragments, 'native pixel data').toBeUndefined();
  const bytes = pixelData!.value;
  const samples = bitsStored > 8 ? new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 2 * count)) : Uint16Array.from(bytes.subarray(0, count));
  expect(samples.length).toBe(count); // (8-bit data of odd length carries a padding byte)
  return samples;
}

// ---------------------------------------------------------------------------------------------------------
// Test images.

/** A smooth radiograph-like image: gradients, soft blobs (lungs, heart, bones) and mild noise, seeded. */
function radiograph(width: number, height: number, bits: number, seed: number): Uint16Array {
  const random = seededRandom(seed);
  const max = (1 << bits) - 1;
  const blobs = Array.from({ length: 10 }, () => [random() * width, random() * height, 0.03 + random() * 0.2, (random() - 0.35) * 0.5]);
  const out = new Uint16Array(width * height);
  const scale = Math.max(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0.2 + 0.45 * (x / width) * (1 - y / height) + 0.12 * Math.sin((x / scale) * 17) * Math.cos((y / scale) * 11);
      for (const [bx, by, r, a] of blobs) v += a * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * (r * scale) ** 2));
      v += (random() - 0.5) * 0.01;
      out[y * width + x] = Math.max(0, Math.min(max, Math.round(v * max)));
    }
  }
  return out;
}

function compare(ours: Uint16Array, reference: ArrayLike<number>, bits: number): { maxDiff: number; psnr: number } {
  expect(ours.length).toBe(reference.length);
  let maxDiff = 0;
  let squared = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i] - reference[i]);
    if (d > maxDiff) maxDiff = d;
    squared += d * d;
  }
  const peak = (1 << bits) - 1;
  return { maxDiff, psnr: squared === 0 ? Infinity : 10 * Math.log10((peak * peak * ours.length) / squared) };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let [sa, sb, saa, sbb, sab] = [0, 0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    sa += a[i];
    sb += b[i];
    saa += a[i] * a[i];
    sbb += b[i] * b[i];
    sab += a[i] * b[i];
  }
  return (n * sab - sa * sb) / Math.sqrt((n * saa - sa * sa) * (n * sbb - sb * sb));
}

/** Every `step`-th sample of an interleaved buffer, from `first`. */
function channel(samples: ArrayLike<number>, first: number, step: number): Uint16Array {
  const out = new Uint16Array(Math.floor(samples.length / step));
  for (let i = 0; i < out.length; i++) out[i] = samples[i * step + first];
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// A small sequential JPEG encoder (SOF1, 8 or 12 bits) whose exact quantised coefficients give the reference.

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35,
  42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];
/** BASIS[u * 8 + x] = c(u) cos((2x + 1) u pi / 16) / 2: F = B s B^T and s = B^T F B. */
const BASIS = Float64Array.from({ length: 64 }, (_, i) => ((i >> 3 === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * (i & 7) + 1) * (i >> 3) * Math.PI) / 16)) / 2);

interface EncoderComponent {
  id: number;
  h: number;
  v: number;
  /** Sample at (x, y) of this component's own grid (ceil(width * h / maxH) wide). */
  sample: (x: number, y: number) => number;
}

interface Encoded {
  bytes: Uint8Array;
  /** Per component: the exact decode of its visible samples, on its own grid. */
  reference: Uint16Array[];
}

function encodeJpeg(options: {
  width: number; height: number; precision: 8 | 12; components: EncoderComponent[];
  restartInterval?: number; separateScans?: boolean; adobeTransform?: number; quantScale?: number;
}): Encoded {
  const { width, height, precision, components } = options;
  const offset = 1 << (precision - 1);
  const max = (1 << precision) - 1;
  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, data: number[]) => out.push(0xff, marker, (data.length + 2) >> 8, (data.length + 2) & 0xff, ...data);
  if (options.adobeTransform !== undefined) segment(0xee, [0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, options.adobeTransform]);
  // Two tables (luminance, chroma), 16-bit for 12-bit images with entries past 255, 8-bit for 8-bit ones.
  const scale = options.quantScale ?? 1;
  const quant = [0, 1].map((t) => Array.from({ length: 64 }, (_, i) => Math.min(precision === 8 ? 255 : 65535, Math.round(scale * (4 + t * 6 + 3 * ((i >> 3) + (i & 7)) * (precision === 8 ? 1 : 8))))));
  for (const [t, table] of quant.entries()) {
    const zz = ZIGZAG.map((natural) => table[natural]);
    segment(0xdb, precision === 8 ? [t, ...zz] : [0x10 | t, ...zz.flatMap((q) => [q >> 8, q & 0xff])]);
  }
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  segment(0xc1, [precision, height >> 8, height & 0xff, width >> 8, width & 0xff, components.length, ...components.flatMap((c, i) => [c.id, (c.h << 4) | c.v, i === 0 ? 0 : 1])]);
  // One table pair for everything: DC sizes 0..15 with 5-bit codes, every AC run/size (sizes to 14) with 8-bit codes.
  const acSymbols = [0x00, 0xf0];
  for (let r = 0; r < 16; r++) for (let s = 1; s <= 14; s++) acSymbols.push((r << 4) | s);
  const counts = (length: number, n: number) => Array.from({ length: 16 }, (_, i) => (i === length - 1 ? n : 0));
  segment(0xc4, [0x00, ...counts(5, 16), ...Array.from({ length: 16 }, (_, s) => s)]);
  segment(0xc4, [0x10, ...counts(8, acSymbols.length), ...acSymbols]);
  const restartInterval = options.restartInterval ?? 0;
  if (restartInterval) segment(0xdd, [restartInterval >> 8, restartInterval & 0xff]);

  let bits = 0;
  let count = 0;
  const put = (value: number, n: number) => {
    for (let i = n - 1; i >= 0; i--) {
      bits = (bits << 1) | ((value >> i) & 1);
      if (++count === 8) {
        out.push(bits);
        if (bits === 0xff) out.push(0);
        bits = 0;
        count = 0;
      }
    }
  };
  const flush = () => {
    if (count > 0) put(0x7f, 8 - count); // pad with ones
  };
  const magnitude = (value: number) => (value === 0 ? 0 : 32 - Math.clz32(Math.abs(value)));
  const putValue = (value: number, size: number) => put(value >= 0 ? value : value + (1 << size) - 1, size);

  const reference = components.map((c) => new Uint16Array(Math.ceil((width * c.h) / maxH) * Math.ceil((height * c.v) / maxV)));
  const block = new Float64Array(64);
  const temp = new Float64Array(64);
  const encodeBlock = (ci: number, row: number, col: number, pred: number[]) => {
    const c = components[ci];
    const compWidth = Math.ceil((width * c.h) / maxH);
    const compHeight = Math.ceil((height * c.v) / maxV);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) block[y * 8 + x] = c.sample(Math.min(compWidth - 1, col * 8 + x), Math.min(compHeight - 1, row * 8 + y)) - offset;
    }
    // Forward DCT, F = B s B^T, quantised.
    const q = quant[ci === 0 ? 0 : 1];
    const coef = new Int32Array(64);
    for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) {
      let sum = 0;
      for (let y = 0; y < 8; y++) sum += BASIS[u * 8 + y] * block[y * 8 + x]; // vertical frequency u
      temp[u * 8 + x] = sum;
    }
    for (let u = 0; u < 8; u++) for (let v = 0; v < 8; v++) {
      let sum = 0;
      for (let x = 0; x < 8; x++) sum += BASIS[v * 8 + x] * temp[u * 8 + x];
      coef[u * 8 + v] = Math.round(sum / q[u * 8 + v]);
    }
    // Huffman: DC difference, then run/size pairs in zig-zag order.
    const diff = coef[0] - pred[ci];
    pred[ci] = coef[0];
    const dcSize = magnitude(diff);
    put(dcSize, 5);
    putValue(diff, dcSize);
    let run = 0;
    for (let k = 1; k < 64; k++) {
      const value = coef[ZIGZAG[k]];
      if (value === 0) {
        run++;
        continue;
      }
      for (; run > 15; run -= 16) put(acSymbols.indexOf(0xf0), 8);
      const size = magnitude(value);
      put(acSymbols.indexOf((run << 4) | size), 8);
      putValue(value, size);
      run = 0;
    }
    if (run > 0) put(0, 8); // EOB
    // Reference: the textbook IDCT of the dequantised coefficients, s = B^T F B.
    if (row * 8 >= compHeight || col * 8 >= compWidth) return;
    for (let y = 0; y < 8; y++) for (let v = 0; v < 8; v++) {
      let sum = 0;
      for (let u = 0; u < 8; u++) sum += BASIS[u * 8 + y] * coef[u * 8 + v] * q[u * 8 + v];
      temp[y * 8 + v] = sum;
    }
    for (let y = 0; y < 8 && row * 8 + y < compHeight; y++) for (let x = 0; x < 8 && col * 8 + x < compWidth; x++) {
      let sum = 0;
      for (let v = 0; v < 8; v++) sum += BASIS[v * 8 + x] * temp[y * 8 + v];
      reference[ci][(row * 8 + y) * compWidth + col * 8 + x] = Math.max(0, Math.min(max, Math.round(sum + offset)));
    }
  };

  const scans = options.separateScans ? components.map((_, i) => [i]) : [components.map((_, i) => i)];
  for (const scan of scans) {
    segment(0xda, [scan.length, ...scan.flatMap((i) => [components[i].id, 0x00]), 0, 63, 0]);
    const single = scan.length === 1;
    const c0 = components[scan[0]];
    const mcusPerLine = single ? Math.ceil((width * c0.h) / maxH / 8) : Math.ceil(width / (8 * maxH));
    const mcusPerColumn = single ? Math.ceil((height * c0.v) / maxV / 8) : Math.ceil(height / (8 * maxV));
    const pred = components.map(() => 0);
    for (let mcu = 0; mcu < mcusPerLine * mcusPerColumn; mcu++) {
      if (restartInterval && mcu > 0 && mcu % restartInterval === 0) {
        flush();
        out.push(0xff, 0xd0 + ((mcu / restartInterval - 1) & 7));
        pred.fill(0);
      }
      const row = Math.floor(mcu / mcusPerLine);
      const col = mcu % mcusPerLine;
      if (single) encodeBlock(scan[0], row, col, pred);
      else for (const i of scan) for (let v = 0; v < components[i].v; v++) for (let h = 0; h < components[i].h; h++) encodeBlock(i, row * components[i].v + v, col * components[i].h + h, pred);
    }
    flush();
  }
  out.push(0xff, 0xd9);
  return { bytes: Uint8Array.from(out), reference };
}

const gray12 = (width: number, height: number, seed: number, restartInterval?: number) => {
  const image = radiograph(width, height, 12, seed);
  return encodeJpeg({ width, height, precision: 12, restartInterval, components: [{ id: 1, h: 1, v: 1, sample: (x, y) => image[y * width + x] }] });
};

/** Y at full resolution (2x2 or given), Cb and Cr at their own resolution from smooth functions. */
const ycbcr = (width: number, height: number, precision: 8 | 12, h: number, v: number, extra: { restartInterval?: number; separateScans?: boolean }) => {
  const image = radiograph(width, height, precision, 7);
  const mid = 1 << (precision - 1);
  return encodeJpeg({
    width, height, precision, ...extra,
    components: [
      { id: 1, h, v, sample: (x, y) => image[y * width + x] },
      { id: 2, h: 1, v: 1, sample: (x, y) => mid + Math.round(mid * 0.3 * Math.sin(x / 9 + y / 17)) },
      { id: 3, h: 1, v: 1, sample: (x, y) => mid + Math.round(mid * 0.3 * Math.cos(x / 13 - y / 7)) },
    ],
  });
};

/** The segments of a JPEG up to its first scan header: marker code and the offset of its 0xFF. */
function segments(bytes: Uint8Array): { marker: number; at: number }[] {
  const out: { marker: number; at: number }[] = [];
  for (let at = 2; at + 3 < bytes.length && bytes[at] === 0xff; at += 2 + ((bytes[at + 2] << 8) | bytes[at + 3])) {
    out.push({ marker: bytes[at + 1], at });
    if (bytes[at + 1] === 0xda) break;
  }
  return out;
}
const segmentAt = (bytes: Uint8Array, marker: number) => segments(bytes).find((s) => s.marker === marker)!.at;


// ---------------------------------------------------------------------------------------------------------

describe('against the exact IDCT of the encoded coefficients', () => {
  it.each([
    ['12-bit gray, odd size', () => gray12(203, 141, 1)],
    ['12-bit gray, restart interval 7', () => gray12(203, 141, 2, 7)],
    ['12-bit gray, restart interval 1, 1x1 pixel', () => gray12(1, 1, 3, 1)],
    ['12-bit YCbCr, Y 2x2, restart interval 5', () => ycbcr(157, 99, 12, 2, 2, { restartInterval: 5 })],
    ['12-bit YCbCr, Y 2x1, one scan per component, restart interval 3', () => ycbcr(157, 99, 12, 2, 1, { separateScans: true, restartInterval: 3 })],
    ['8-bit YCbCr 4:4:4 (SOF1, precision 8)', () => ycbcr(64, 40, 8, 1, 1, {})],
  ])('%s', (_, make) => {
    const { bytes, reference } = make();
    const image = decodeJpegExtended(bytes, MAX_PIXELS);
    expect(image.samples.length).toBe(image.width * image.height);
    const { maxDiff } = compare(image.samples, reference[0], image.precision);
    expect(maxDiff).toBeLessThanOrEqual(1); // float IDCT vs the textbook one: only rounding ties may differ
  });

  it('RGB (Adobe transform 0): BT.601 luma of the three components', () => {
    const [w, h] = [61, 37];
    const { bytes, reference } = encodeJpeg({
      width: w, height: h, precision: 12, adobeTransform: 0, restartInterval: 4,
      components: [0, 1, 2].map((k) => ({ id: k + 1, h: 1, v: 1, sample: (x: number, y: number) => 2048 + Math.round(1500 * Math.sin(x / (5 + k) + y / (7 + 2 * k))) })),
    });
    const image = decodeJpegExtended(bytes, MAX_PIXELS);
    const luma = reference[0].map((r, i) => Math.round(0.299 * r + 0.587 * reference[1][i] + 0.114 * reference[2][i]));
    expect(compare(image.samples, luma, 12).maxDiff).toBeLessThanOrEqual(1);
  });
});

describe.skipIf(!HAVE_DCMTK)('against dcmtk: dcmcjpeg encodes, dcmdjpeg is the reference', () => {
  const cases: [string, number, number, number, string[]][] = [
    ['12-bit extended, q90, odd size', 517, 389, 12, ['+ee', '+q', '90']],
    ['12-bit extended, q10 (16-bit quantisation tables)', 640, 480, 12, ['+ee', '+q', '10']],
    ['12-bit extended, q100', 256, 256, 12, ['+ee', '+q', '100']],
    ['12-bit extended, standard-ish tables, fragments of 16 KB', 300, 500, 12, ['+ee', '+q', '75', '+fs', '16']],
    ['8-bit baseline, q90', 517, 389, 8, ['+eb', '+q', '90']],
    ['8-bit baseline, q50, standard Huffman tables', 400, 300, 8, ['+eb', '+q', '50', '-ho']],
  ];
  it.each(cases)('%s', (_, width, height, bits, options) => {
    const pixels = radiograph(width, height, bits, width * height);
    const raw = bits > 8 ? new Uint8Array(pixels.buffer) : Uint8Array.from(pixels);
    const compressed = convert('dcmcjpeg', options, writeDicom({ width, height, bitsAllocated: bits > 8 ? 16 : 8, bitsStored: bits, samples: raw }));
    const bytes = codestreamOf(compressed); // (throws unless the pixel data is encapsulated)
    expect(segments(bytes).map((x) => x.marker)).toContain(bits > 8 ? 0xc1 : 0xc0); // SOF1 for 12-bit, SOF0 for baseline
    // IJG writes 16-bit quantisation tables (Pq = 1) only when an entry exceeds 255: at low quality.
    if (options.includes('10')) expect(bytes[segmentAt(bytes, 0xdb) + 4] >> 4).toBe(1);
    const image = decodeJpegExtended(bytes, MAX_PIXELS);
    expect([image.width, image.height, image.components, image.precision]).toEqual([width, height, 1, bits]);
    const { maxDiff, psnr } = compare(image.samples, dcmdjpeg(compressed, bits, width * height), bits);
    expect(maxDiff).toBeLessThanOrEqual(2);
    expect(psnr).toBeGreaterThan(bits > 8 ? 80 : 60);
    // The compression itself is faithful too (the reference is not garbage).
    console.log(`${_}: max difference ${maxDiff}, PSNR ${psnr.toFixed(1)} dB against dcmdjpeg`);
    // And the reference is the image (dcmcjpeg maps the pixel range linearly before it compresses, so the samples
    // are not the original values; they correlate with them).
    expect(correlation(image.samples, pixels)).toBeGreaterThan(0.995);
  });

  it('8-bit RGB, dcmcjpeg YCbCr 4:2:2: our Y against dcmdjpeg\'s unconverted Y', () => {
    const [width, height] = [203, 117];
    const gray = radiograph(width, height, 8, 5);
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) rgb.set([gray[i], 255 - gray[i], (gray[i] * 3) & 255], i * 3);
    const native = writeDicom({ width, height, bitsAllocated: 8, bitsStored: 8, samplesPerPixel: 3, photometric: 'RGB', samples: rgb });
    const compressed = convert('dcmcjpeg', ['+eb', '+q', '90'], native);
    const image = decodeJpegExtended(codestreamOf(compressed), MAX_PIXELS);
    expect([image.components, image.precision]).toEqual([3, 8]);
    const y = channel(dcmdjpeg(compressed, 8, width * height * 3, ['+cn', '+px']), 0, 3);
    expect(compare(image.samples, y, 8).maxDiff).toBeLessThanOrEqual(2);
  });

  // Our encoder's streams through libjpeg too: restart intervals, subsampling, separate scans, RGB, at 12 bits.
  it.each([
    ['12-bit gray, restart interval 7', () => gray12(203, 141, 2, 7), 'MONOCHROME2', 1],
    ['12-bit YCbCr, Y 2x2, restart interval 5', () => ycbcr(157, 99, 12, 2, 2, { restartInterval: 5 }), 'YBR_FULL_422', 3],
    ['12-bit YCbCr, one scan per component', () => ycbcr(157, 99, 12, 2, 1, { separateScans: true, restartInterval: 3 }), 'YBR_FULL_422', 3],
  ] as const)('%s', (_, make, photometric, samplesPerPixel) => {
    const { bytes } = make();
    const image = decodeJpegExtended(bytes, MAX_PIXELS);
    const file = writeDicom({ width: image.width, height: image.height, bitsAllocated: 16, bitsStored: 12, samplesPerPixel, photometric, samples: bytes, transferSyntax: '1.2.840.10008.1.2.4.51' });
    const reference = channel(dcmdjpeg(file, 12, image.width * image.height * samplesPerPixel, ['+cn', '+px']), 0, samplesPerPixel);
    expect(compare(image.samples, reference, 12).maxDiff).toBeLessThanOrEqual(2);
  });
});

describe('hostile input: only ImageError, and quickly', () => {
  const valid = gray12(203, 141, 11, 6).bytes;

  it('truncated streams fail fast (under 200 ms), however they are cut', () => {
    const big = unlessMutating(() => gray12(1200, 1000, 12), () => gray12(300, 250, 12))().bytes;
    for (const source of [valid, big]) {
      for (const cut of [3, 100, 0.1, 0.5, 0.9, source.length - 3, source.length - 2, source.length - 1]) {
        const bytes = source.subarray(0, cut < 1 ? Math.floor(source.length * cut) : cut);
        const start = performance.now();
        expectImageError(() => decodeJpegExtended(bytes, MAX_PIXELS), 'invalid');
        expect(performance.now() - start, `cut at ${bytes.length}`).toBeLessThan(timeLimit(200));
      }
    }
  });

  it('a 60000x60000 header is too_large before anything is allocated; so is anything over maxPixels', () => {
    const huge = valid.slice();
    huge.set([60000 >> 8, 60000 & 0xff, 60000 >> 8, 60000 & 0xff], segmentAt(huge, 0xc1) + 5); // height, width
    expectImageError(() => decodeJpegExtended(huge, MAX_PIXELS), 'too_large');
    // Under the limit but with a body for 203x141: refused as soon as the data runs out, not decoded from zeros.
    const large = valid.slice();
    large.set([3000 >> 8, 3000 & 0xff, 4000 >> 8, 4000 & 0xff], segmentAt(large, 0xc1) + 5);
    const start = performance.now();
    expectImageError(() => decodeJpegExtended(large, MAX_PIXELS), 'invalid');
    expect(performance.now() - start).toBeLessThan(timeLimit(200));
    expectImageError(() => decodeJpegExtended(valid, 203 * 141 - 1), 'too_large');
    expect(decodeJpegExtended(valid, 203 * 141).width).toBe(203);
  });

  it('other JPEG processes and precisions are unsupported', () => {
    const sof = segmentAt(valid, 0xc1) + 1;
    for (const marker of [0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]) {
      const bytes = valid.slice();
      bytes[sof] = marker;
      expect(expectImageError(() => decodeJpegExtended(bytes, MAX_PIXELS), 'unsupported').message).toMatch(/SOF/);
    }
    const height = valid.slice();
    height.set([0, 0], sof + 4); // height 0: defined later by a DNL marker
    expectImageError(() => decodeJpegExtended(height, MAX_PIXELS), 'unsupported');
    for (const precision of [16, 2]) {
      const bytes = valid.slice();
      bytes[sof + 3] = precision;
      expectImageError(() => decodeJpegExtended(bytes, MAX_PIXELS), 'unsupported');
    }
  });

  it('layouts whose luminance cannot be written block by block are unsupported', () => {
    const flat = (x: number, y: number) => (x * 7 + y * 3) & 255;
    const subsampledLuma = encodeJpeg({ width: 32, height: 32, precision: 8, components: [{ id: 1, h: 1, v: 1, sample: flat }, { id: 2, h: 2, v: 2, sample: flat }, { id: 3, h: 1, v: 1, sample: flat }] });
    expectImageError(() => decodeJpegExtended(subsampledLuma.bytes, MAX_PIXELS), 'unsupported');
    const rgb = [1, 2, 3].map((id) => ({ id, h: 1, v: 1, sample: flat }));
    const rgbSeparateScans = encodeJpeg({ width: 32, height: 32, precision: 8, adobeTransform: 0, separateScans: true, components: rgb });
    expectImageError(() => decodeJpegExtended(rgbSeparateScans.bytes, MAX_PIXELS), 'unsupported');
    const fourComponents = encodeJpeg({ width: 32, height: 32, precision: 8, components: [...rgb, { id: 4, h: 1, v: 1, sample: flat }] });
    expectImageError(() => decodeJpegExtended(fourComponents.bytes, MAX_PIXELS), 'unsupported');
  });

  it('table floods and repeated scans are refused', () => {
    const sof = segmentAt(valid, 0xc1);
    const dqt = [0xff, 0xdb, 0, 67, 0, ...new Array(64).fill(1)];
    const flood = concat([valid.subarray(0, sof), Uint8Array.from({ length: 300 * dqt.length }, (_, i) => dqt[i % dqt.length]), valid.subarray(sof)]);
    expectImageError(() => decodeJpegExtended(flood, MAX_PIXELS), 'unsupported');
    // The scan twice: sequential JPEG codes each component once.
    const sos = segmentAt(valid, 0xda);
    const twice = concat([valid.subarray(0, valid.length - 2), valid.subarray(sos)]);
    expectImageError(() => decodeJpegExtended(twice, MAX_PIXELS), 'invalid');
  });

  it('300 seeded mutations: a result or an ImageError, each within 500 ms', () => {
    const sources = [
      { name: '12-bit gray restart', bytes: valid },
      { name: '12-bit YCbCr 2x2', bytes: ycbcr(96, 80, 12, 2, 2, { restartInterval: 3 }).bytes },
      { name: '8-bit YCbCr separate scans', bytes: ycbcr(80, 64, 8, 1, 1, { separateScans: true }).bytes },
    ];
    const outcomes: Record<string, number> = {};
    let slowest = 0;
    for (let index = 0; index < 300; index++) {
      const { bytes, mutation } = fuzzCase(sources, 20250, index);
      const start = performance.now();
      let outcome = 'decoded';
      try {
        const image: ExtendedImage = decodeJpegExtended(bytes, MAX_PIXELS);
        expect(image.samples.length).toBe(image.width * image.height);
      } catch (e) {
        if (!(e instanceof ImageError)) throw new Error(`case ${index} (${mutation}) threw ${String(e)}`);
        outcome = e.kind;
      }
      const elapsed = performance.now() - start;
      slowest = Math.max(slowest, elapsed);
      expect(elapsed, `case ${index} (${mutation})`).toBeLessThan(timeLimit(500));
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.log(`mutations: ${JSON.stringify(outcomes)}, slowest ${slowest.toFixed(0)} ms`);
    expect(outcomes.invalid).toBeGreaterThan(0);
  });
});

describe('a frame without a scan', () => {
  it('is refused as invalid, not decoded to black', () => {
    // SOI, SOF1 (12-bit, 16x16, one component), EOI: a frame header and no image data.
    const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xc1, 0, 11, 12, 0, 16, 0, 16, 1, 1, 0x11, 0, 0xff, 0xd9]);
    expect(() => decodeJpegExtended(bytes, 1e6)).toThrow(new ImageError('invalid', 'The JPEG has no image data (no scan).'));
  });
});
