/**
 * decodeDicomLuma (src/image/dicom/decode.ts), the step between a parsed DICOM header and the codecs, on files built
 * element by element around frames written by hand: the pixel and decode-byte limits at their edges, the size and
 * attributes it returns, native frames in each layout it reads (8 and 16 bits, aligned, at an odd address, big endian,
 * 4:2:2, planar, YBR and RGB), which fragments make the first frame of an encapsulated file (Basic Offset Table, one
 * fragment a frame, up to an EOI), the JPEG frame header it holds to the DICOM header before a codec allocates, and
 * where the 8-bit result is written. dicom.test.ts decodes whole files written by dcmtk and gdcm; this file pins the
 * rules between the codecs, each refusal with the exact error a client reads.
 */
import { describe, expect, it, vi } from 'vitest';
import type { DecodeLimits } from '../../src/image/decode';
import { decodeDicomLuma } from '../../src/image/dicom/decode';
import { readDicomFile } from '../../src/image/dicom/file';
import { Tag } from '../../src/image/dicom/tags';
import type { ImageErrorKind } from '../../src/image/errors';
import { concat, encapsulated, encodeElements, EXPLICIT_BE, EXPLICIT_LE, nativeRadiograph, offsetTable, rleFrame, rleLiteral, type RadiographSpec, type TestElement } from '../helpers/dicom';
import { expectImageError } from '../helpers/image-errors';
import { BitWriter, canonicalCodes, dht, dqt, frameHeader, jpegFile, segment, sos, type HuffmanSpec } from '../helpers/jpeg-writer';
import { LOSSLESS_DIFFERENCES, losslessJpeg, writeDifference } from '../helpers/lossless-jpeg';

// The 8-bit JPEG path's own result, to see where the DICOM decode writes its output (the decoder is the real one).
const jpegPlanes = vi.hoisted(() => [] as Uint8Array[]);
vi.mock('../../src/image/decode', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/image/decode')>();
  return {
    ...actual,
    decodeJpegLuma: (...args: Parameters<typeof actual.decodeJpegLuma>) => {
      const decoded = actual.decodeJpegLuma(...args);
      jpegPlanes.push(decoded.luma.data);
      return decoded;
    },
  };
});

const RLE = '1.2.840.10008.1.2.5';
const LOSSLESS = '1.2.840.10008.1.2.4.70';
const BASELINE = '1.2.840.10008.1.2.4.50';
const EXTENDED = '1.2.840.10008.1.2.4.51';
const MiB = 2 ** 20;
const LIMITS: DecodeLimits = { maxPixels: 1 << 22, maxDecodeBytes: 64 * MiB };

const decode = (bytes: Uint8Array, limits = LIMITS, minSide?: number) => decodeDicomLuma(bytes, limits, minSide);
const lumaOf = (bytes: Uint8Array, limits = LIMITS) => Array.from(decode(bytes, limits).luma.data);
const refused = (bytes: Uint8Array, kind: ImageErrorKind, message: string, limits = LIMITS) => expectImageError(() => decode(bytes, limits), kind, message);

type Spec = Partial<RadiographSpec> & Pick<RadiographSpec, 'width' | 'height'>;
/** A radiograph, 8-bit monochrome unless told otherwise; its pixels in `samples`, or `pixelData` already encoded. */
const dicom = (spec: Spec) => nativeRadiograph({ bitsAllocated: 8, bitsStored: 8, samples: new Uint8Array(0), ...spec });
/** The same with its pixels as encapsulated fragments after an offset table (empty unless given). */
const fragmented = (spec: Spec, fragments: Uint8Array[], table?: Uint8Array, padToEven?: boolean) => dicom({ ...spec, pixelData: encapsulated(fragments, table, padToEven) });

const windowOf = (center: number, width: number): TestElement[] => [
  { tag: 0x00281050, vr: 'DS', value: String(center) },
  { tag: 0x00281051, vr: 'DS', value: String(width) },
];
const highBit = (bit: number): TestElement => ({ tag: 0x00280102, vr: 'US', value: bit });
const planar: TestElement = { tag: 0x00280006, vr: 'US', value: 1 };

/** Without any VOI in the header, the values from the 0.5th to the 99.5th percentile span black to white (LINEAR_EXACT). */
const percentileWindow = (low: number, high: number) => ({ source: 'percentile', center: (low + high) / 2, width: high - low, function: 'LINEAR_EXACT' });
/** ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B, in 16.16 fixed point and rounded. */
const bt601 = (r: number, g: number, b: number) => (19595 * r + 38470 * g + 7471 * b + 32768) >>> 16;
/** Colour samples, distinct and unremarkable. */
const colourSamples = (count: number) => Array.from({ length: count }, (_, i) => (i * 37 + 11) % 251);
const interleavedToPlanes = (samples: number[]) => [0, 1, 2].map((c) => samples.filter((_, i) => i % 3 === c));

/** T.81 H.1.2.1, predictor 1, 8 bits: the first sample from 128, each row's first from the one above, the rest from the left. */
function predictorOne(width: number, components: number, differences: number[]): number[] {
  const out: number[] = [];
  differences.forEach((d, i) => {
    const x = Math.floor(i / components) % width;
    out.push((i < components ? 128 : x === 0 ? out[i - width * components] : out[i - components]) + d);
  });
  return out;
}
const entropyCoded = (differences: number[]) => differences.reduce((w, d) => writeDifference(w, d), new BitWriter()).finish();

/** A frame header segment (SOFn) for one component or three (ids 1 2 3). */
const sofOf = (marker: number, precision: number, width: number, height: number, components = 1) =>
  frameHeader(marker, precision, width, height, [1, 2, 3].slice(0, components).map((id) => ({ id })));

// Sequential JPEG of flat 8x8 blocks: each block its DC alone (end of block as the only AC code), the DC differences
// coded with the lossless tables' categories (F.1.2.1 codes both alike).
const EOB_ONLY: HuffmanSpec = { counts: [1], symbols: [0x00] };
const eobCodes = canonicalCodes(EOB_ONLY);

/** `mcus`: each MCU's sample values, one per component (1 or 3, ids 1 2 3: YCbCr), each a whole flat block. */
function flatJpeg(marker: 0xc0 | 0xc1, precision: 8 | 12, width: number, height: number, mcus: number[][], quant = 1): Uint8Array {
  const components = mcus[0].length;
  const previous = new Array(components).fill(0);
  const w = new BitWriter();
  for (const mcu of mcus) {
    mcu.forEach((value, c) => {
      // A flat block's samples are its dequantised DC / 8, level-shifted by 2^(P-1) (A.3.1).
      const dc = ((value - 2 ** (precision - 1)) * 8) / quant;
      writeDifference(w, dc - previous[c]).symbol(eobCodes, 0x00);
      previous[c] = dc;
    });
  }
  const ids = [1, 2, 3].slice(0, components).map((id) => ({ id }));
  return jpegFile(dqt(0, new Array(64).fill(quant)), dht(0, 0, LOSSLESS_DIFFERENCES), dht(1, 0, EOB_ONLY), sofOf(marker, precision, width, height, components), sos(ids), w.finish());
}

describe('limits, checked from the header before any pixel is decoded', () => {
  const [width, height] = [3, 2];
  const file = dicom({ width, height, samples: Uint8Array.from([1, 2, 3, 4, 5, 6]) });

  it('accepts exactly maxPixels and refuses one pixel more, saying both', () => {
    expect(lumaOf(file, { maxPixels: width * height })).toEqual([1, 2, 3, 4, 5, 6]);
    const limit = width * height - 1;
    refused(file, 'too_large', `The image is ${width}x${height} (${width * height} pixels); the limit is ${limit} pixels.`, { maxPixels: limit });
  });

  it('holds an RLE frame to the decode budget at the bytes its samples take: 1 a sample, 2 above 8 bits, 3 samples a colour pixel', () => {
    const pixels = width * height;
    const values = Array.from({ length: pixels }, (_, i) => i);
    const cases: [string, Uint8Array, number][] = [
      ['8-bit monochrome', fragmented({ width, height, transferSyntax: RLE }, [rleFrame([rleLiteral(...values)])]), pixels],
      ['16-bit monochrome', fragmented({ width, height, bitsAllocated: 16, bitsStored: 12, transferSyntax: RLE }, [rleFrame([rleLiteral(...values), rleLiteral(...values)])]), 2 * pixels],
      ['8-bit RGB', fragmented({ width, height, samplesPerPixel: 3, photometric: 'RGB', transferSyntax: RLE }, [rleFrame([values, values, values].map((p) => rleLiteral(...p)))]), 3 * pixels],
    ];
    for (const [name, bytes, needed] of cases) {
      expect(decode(bytes, { maxPixels: pixels, maxDecodeBytes: needed }).luma.data, name).toHaveLength(pixels);
      // A few bytes are 1 MiB rounded up; a budget under 1 MiB is 0 rounded down.
      const message = `This ${width}x${height} RLE Lossless frame needs 1 MiB to decode; the limit is 0 MiB (send it uncompressed, or smaller).`;
      refused(bytes, 'too_large', message, { maxPixels: pixels, maxDecodeBytes: needed - 1 });
    }
  });

  it('says the MiB a frame needs rounded up and the budget rounded down, before reading the pixel data', () => {
    // 1025 x 1024 RGB: 3 MiB and 3 KiB, so 4 MiB; a budget of 3 MiB less one byte is 2 whole MiB. The frame is never read.
    const large = fragmented({ width: 1025, height: 1024, samplesPerPixel: 3, photometric: 'RGB', transferSyntax: RLE }, [new Uint8Array(2)]);
    const message = 'This 1025x1024 RLE Lossless frame needs 4 MiB to decode; the limit is 2 MiB (send it uncompressed, or smaller).';
    refused(large, 'too_large', message, { maxPixels: LIMITS.maxPixels, maxDecodeBytes: 3 * MiB - 1 });
  });

  it('holds native and baseline JPEG frames to no decode budget (read in place, or decoded block by block)', () => {
    const none = { maxPixels: LIMITS.maxPixels, maxDecodeBytes: 0 };
    expect(lumaOf(file, none)).toEqual([1, 2, 3, 4, 5, 6]);
    const baseline = dicom({ width: 8, height: 8, transferSyntax: BASELINE, samples: flatJpeg(0xc0, 8, 8, 8, [[77]]) });
    expect(lumaOf(baseline, none)).toEqual(new Array(64).fill(77));
  });

  it('holds a lossless JPEG frame to 2 bytes a sample of its own size, whatever Bits Allocated says', () => {
    // 4 x 2 x 1 component x 2 bytes: 16, where the 8 bits allocated would count 8 (the codec decodes into 16-bit samples).
    const bytes = dicom({ width: 4, height: 2, transferSyntax: LOSSLESS, samples: losslessJpeg({ width: 4, height: 2, differences: new Array(8).fill(0) }) });
    expect(lumaOf(bytes, { maxPixels: 8, maxDecodeBytes: 16 })).toEqual(new Array(8).fill(128));
    refused(bytes, 'too_large', 'This 4x2 frame needs 1 MiB to decode; the limit is 0 MiB.', { maxPixels: 8, maxDecodeBytes: 15 });
    // Three components: 6 bytes a pixel.
    const rgb = dicom({ width: 2, height: 1, samplesPerPixel: 3, photometric: 'RGB', transferSyntax: LOSSLESS, samples: losslessJpeg({ width: 2, height: 1, components: [[1], [2], [3]], differences: new Array(6).fill(0) }) });
    expect(lumaOf(rgb, { maxPixels: 2, maxDecodeBytes: 12 })).toEqual([128, 128]);
    refused(rgb, 'too_large', 'This 2x1 frame needs 1 MiB to decode; the limit is 0 MiB.', { maxPixels: 2, maxDecodeBytes: 11 });
  });
});

describe('native frames', () => {
  it('8-bit: the first frame as stored, with the size, components and technical attributes read', () => {
    const first = [10, 20, 30, 40, 50, 60];
    const result = decode(dicom({ width: 3, height: 2, frames: 2, samples: Uint8Array.from([...first, 1, 2, 3, 4, 5, 6]) }));
    expect(result).toMatchObject({ width: 3, height: 2, components: 1, luma: { width: 3, height: 2 } });
    expect(Array.from(result.luma.data)).toEqual(first);
    expect(result.info).toEqual({
      transferSyntax: { uid: EXPLICIT_LE, name: 'Explicit VR Little Endian' },
      bitsStored: 8,
      photometricInterpretation: 'MONOCHROME2',
      window: { source: 'as-stored' },
      frames: 2,
    });
  });

  describe('16-bit, read where the words lie', () => {
    // 20 x 20: one pixel at 0 (0.25 %, below the 0.5th percentile), 199 at 100, 200 at 4095 (the top of 12 bits).
    const values = Array.from({ length: 400 }, (_, i) => (i === 0 ? 0 : i < 200 ? 100 : 4095));
    const expected = values.map((v) => (v === 4095 ? 255 : 0));
    const bitLayouts: [string, (v: number) => number, TestElement][] = [
      ['bits 0-11, bits above them set', (v) => v | 0xf000, highBit(11)],
      ['bits 4-15, bits below them set', (v) => (v << 4) | 0xf, highBit(15)],
    ];
    const atOddAddress = (bytes: Uint8Array) => {
      const shifted = new Uint8Array(bytes.length + 1);
      shifted.set(bytes, 1);
      return shifted.subarray(1);
    };
    const pixelDataOf = (bytes: Uint8Array) => readDicomFile(bytes, Infinity).dataset.elements.get(Tag.PixelData)!.value;

    for (const [name, store, high] of bitLayouts) {
      const spec = { width: 20, height: 20, bitsAllocated: 16 as const, bitsStored: 12, samples: Uint16Array.from(values, store), extra: [high] };

      it(`${name}: little endian, aligned`, () => {
        const result = decode(dicom(spec));
        expect(Array.from(result.luma.data)).toEqual(expected);
        expect(result.info.window).toEqual(percentileWindow(100, 4095));
      });

      it(`${name}: little endian at an odd address`, () => {
        const bytes = atOddAddress(dicom(spec));
        expect(pixelDataOf(bytes).byteOffset % 2).toBe(1);
        const result = decode(bytes);
        expect(Array.from(result.luma.data)).toEqual(expected);
        expect(result.info.window).toEqual(percentileWindow(100, 4095));
      });

      it(`${name}: big endian`, () => {
        const result = decode(dicom({ ...spec, transferSyntax: EXPLICIT_BE }));
        expect(Array.from(result.luma.data)).toEqual(expected);
        expect(result.info).toMatchObject({ transferSyntax: { uid: EXPLICIT_BE, name: 'Explicit VR Big Endian' }, window: percentileWindow(100, 4095) });
      });
    }
  });

  it('refuses pixel data shorter than one frame, with both byte counts', () => {
    const [width, height] = [3, 2];
    const pixels = width * height;
    const short8 = dicom({ width, height, samples: new Uint8Array(pixels - 1) });
    refused(short8, 'invalid', `The DICOM pixel data is truncated: ${pixels - 1} bytes where one frame needs ${pixels}.`);
    const short16 = dicom({ width, height, bitsAllocated: 16, bitsStored: 16, samples: new Uint16Array(pixels - 1) });
    refused(short16, 'invalid', `The DICOM pixel data is truncated: ${2 * (pixels - 1)} bytes where one frame needs ${2 * pixels}.`);
    // YBR_FULL_422: two samples a pixel.
    const short422 = dicom({ width: 4, height: 2, samplesPerPixel: 3, photometric: 'YBR_FULL_422', samples: new Uint8Array(2 * 8 - 1) });
    refused(short422, 'invalid', `The DICOM pixel data is truncated: ${2 * 8 - 1} bytes where one frame needs ${2 * 8}.`);
  });

  describe('colour, to luminance', () => {
    const [width, height] = [3, 2];
    const pixels = width * height;
    const samples = colourSamples(3 * pixels);
    const planes = interleavedToPlanes(samples);
    const colour = (photometric: string, stored: number[], extra: TestElement[] = []) =>
      decode(dicom({ width, height, samplesPerPixel: 3, photometric, samples: Uint8Array.from(stored), extra }));

    it('RGB, interleaved or planar: BT.601', () => {
      const expected = Array.from({ length: pixels }, (_, i) => bt601(planes[0][i], planes[1][i], planes[2][i]));
      for (const result of [colour('RGB', samples), colour('RGB', planes.flat(), [planar])]) {
        expect(Array.from(result.luma.data)).toEqual(expected);
        expect(result).toMatchObject({ width, height, components: 3, info: { photometricInterpretation: 'RGB', window: null } });
      }
    });

    it('YBR_FULL, interleaved or planar: its Y samples', () => {
      expect(Array.from(colour('YBR_FULL', samples).luma.data)).toEqual(planes[0]);
      expect(Array.from(colour('YBR_FULL', planes.flat(), [planar]).luma.data)).toEqual(planes[0]);
    });

    it('YBR_FULL_422: Y Y Cb Cr for each pair of pixels, two samples a pixel', () => {
      const y = [5, 250, 17, 90, 33, 160, 71, 2];
      const pairs = [0, 2, 4, 6].flatMap((i) => [y[i], y[i + 1], 128 + i, 100 - i]);
      const result = decode(dicom({ width: 4, height: 2, samplesPerPixel: 3, photometric: 'YBR_FULL_422', samples: Uint8Array.from(pairs) }));
      expect(Array.from(result.luma.data)).toEqual(y);
    });
  });
});

describe('compressed frames', () => {
  it('RLE: monochrome samples as stored, 16-bit ones rendered over their own memory', () => {
    const eight = decode(fragmented({ width: 3, height: 1, transferSyntax: RLE }, [rleFrame([rleLiteral(7, 70, 170)])]));
    expect(Array.from(eight.luma.data)).toEqual([7, 70, 170]);
    expect(eight.info).toEqual({ transferSyntax: { uid: RLE, name: 'RLE Lossless' }, bitsStored: 8, photometricInterpretation: 'MONOCHROME2', window: { source: 'as-stored' }, frames: 1 });
    // 16-bit: 0x0123 and 0x0ABC, their high bytes in the first segment, their low bytes in the second.
    const words = [0x0123, 0x0123, 0x0abc, 0x0abc];
    const sixteen = decode(fragmented({ width: 2, height: 2, bitsAllocated: 16, bitsStored: 12, transferSyntax: RLE }, [rleFrame([rleLiteral(...words.map((w) => w >> 8)), rleLiteral(...words.map((w) => w & 0xff))])]));
    expect(Array.from(sixteen.luma.data)).toEqual([0, 0, 255, 255]);
    expect(sixteen.info.window).toEqual(percentileWindow(0x0123, 0x0abc));
    // The 8-bit result lies in the 16-bit samples' buffer: no second full-size buffer is held.
    expect(sixteen.luma.data.buffer.byteLength).toBe(2 * words.length);
  });

  it('RLE colour: RGB planes to BT.601, YBR_FULL planes to their Y plane', () => {
    const planes = interleavedToPlanes(colourSamples(12));
    const rle = (photometric: string) => fragmented({ width: 2, height: 2, samplesPerPixel: 3, photometric, transferSyntax: RLE }, [rleFrame(planes.map((p) => rleLiteral(...p)))]);
    expect(lumaOf(rle('RGB'))).toEqual(planes[0].map((r, i) => bt601(r, planes[1][i], planes[2][i])));
    expect(lumaOf(rle('YBR_FULL'))).toEqual(planes[0]);
    expect(decode(rle('RGB')).info.window).toBeNull();
  });

  it('lossless JPEG: monochrome through the grayscale pipeline, over the decoded samples\' memory', () => {
    const differences = [2, 0, 0, 0, 0, -1, 0, 3];
    const result = decode(dicom({ width: 4, height: 2, transferSyntax: LOSSLESS, photometric: 'MONOCHROME1', samples: losslessJpeg({ width: 4, height: 2, differences }) }));
    // MONOCHROME1: as stored, inverted.
    expect(Array.from(result.luma.data)).toEqual(predictorOne(4, 1, differences).map((v) => 255 - v));
    expect(result.info.window).toEqual({ source: 'as-stored' });
    expect(result.luma.data.buffer.byteLength).toBe(2 * differences.length);
  });

  it('lossless JPEG colour: RGB to BT.601; YBR_FULL_422 (decoded whole, 3 samples a pixel) to its first component', () => {
    const differences = [10, -20, 30, 5, 5, -5, -7, 9, 1, 2, 2, -2];
    const [r, g, b] = interleavedToPlanes(predictorOne(2, 3, differences));
    const stream = losslessJpeg({ width: 2, height: 2, components: [[1], [2], [3]], differences });
    const colour = (photometric: string) => decode(dicom({ width: 2, height: 2, samplesPerPixel: 3, photometric, transferSyntax: LOSSLESS, samples: stream }));
    const rgb = colour('RGB');
    expect(Array.from(rgb.luma.data)).toEqual(r.map((_, i) => bt601(r[i], g[i], b[i])));
    expect(rgb.info.window).toBeNull();
    expect(Array.from(colour('YBR_FULL_422').luma.data)).toEqual(r);
  });

  describe('8-bit JPEG (baseline, or extended at 8 bits): the project decoder, reduced in the DCT domain when asked', () => {
    // 16 x 16, four flat blocks; at 1/8 scale, one value each.
    const blocks = [60, 200, 120, 30];
    const grey = flatJpeg(0xc0, 8, 16, 16, blocks.map((v) => [v]));
    const monochrome1 = (transferSyntax: string) => dicom({ width: 16, height: 16, photometric: 'MONOCHROME1', transferSyntax, samples: grey });

    for (const syntax of [BASELINE, EXTENDED]) {
      it(`${syntax}: monochrome through the grayscale pipeline at the reduced size, over the decoder's own plane`, () => {
        const result = decode(monochrome1(syntax), LIMITS, 2);
        expect(result).toMatchObject({ width: 16, height: 16, components: 1, luma: { width: 2, height: 2 } });
        expect(Array.from(result.luma.data)).toEqual(blocks.map((v) => 255 - v));
        expect(result.info.window).toEqual({ source: 'as-stored' });
        expect(result.luma.data.buffer).toBe(jpegPlanes.at(-1)!.buffer);
      });
    }

    it('colour comes back as the decoder\'s luminance (Y of YCbCr), with no VOI even when the header has a window', () => {
      const ycbcr = flatJpeg(0xc0, 8, 8, 8, [[90, 140, 100]]);
      const result = decode(dicom({ width: 8, height: 8, samplesPerPixel: 3, photometric: 'YBR_FULL_422', transferSyntax: BASELINE, samples: ycbcr, extra: windowOf(40, 20) }));
      expect(Array.from(result.luma.data)).toEqual(new Array(64).fill(90));
      expect(result).toMatchObject({ components: 3, info: { window: null } });
    });

    it('a 12-bit frame under the baseline syntax goes to the 8-bit decoder, which refuses it', () => {
      const twelve = flatJpeg(0xc1, 12, 8, 8, [[2048]]);
      refused(dicom({ width: 8, height: 8, bitsAllocated: 16, bitsStored: 12, transferSyntax: BASELINE, samples: twelve }), 'unsupported', '12-bit JPEG is not supported; send an 8-bit JPEG.');
    });
  });

  it('12-bit JPEG extended: the 12-bit decoder, at full size, over the decoded samples\' memory', () => {
    // Two flat blocks; with every quantiser 16 a DC step is 2 grey levels.
    const [left, right] = [1000, 3000];
    const stream = flatJpeg(0xc1, 12, 16, 8, [[left], [right]], 16);
    const result = decode(dicom({ width: 16, height: 8, bitsAllocated: 16, bitsStored: 12, transferSyntax: EXTENDED, samples: stream }), LIMITS, 2);
    expect(result).toMatchObject({ width: 16, height: 8, luma: { width: 16, height: 8 }, info: { bitsStored: 12, window: percentileWindow(left, right) } });
    expect(Array.from(result.luma.data)).toEqual(Array.from({ length: 128 }, (_, i) => (i % 16 < 8 ? 0 : 255)));
    expect(result.luma.data.buffer.byteLength).toBe(2 * 128);
  });

  it('refuses an encapsulated syntax whose pixel data is not encapsulated, and encapsulated pixel data without fragments', () => {
    const native = encodeElements([{ tag: Tag.PixelData, vr: 'OB', value: new Uint8Array(4) }]);
    refused(dicom({ width: 2, height: 2, transferSyntax: RLE, pixelData: native }), 'invalid', 'Corrupt DICOM: RLE Lossless needs encapsulated pixel data.');
    refused(fragmented({ width: 2, height: 2, transferSyntax: RLE }, []), 'invalid', 'Corrupt DICOM: the encapsulated pixel data has no fragments.');
  });
});

describe('the first frame of encapsulated pixel data', () => {
  const FRAME = { width: 4, height: 2, transferSyntax: LOSSLESS };
  // Lossless 4 x 2, its image data cut into fragments between differences: each of 2 or 3 is category 2 (two code bits
  // and two extra bits), two to a byte. The decoder reads zero bits (differences of 0) past the end of what it is given,
  // so every fragment taken into the first frame shows in its pixels.
  const FIRST = [3, 2];
  const SECOND = [2, 3, -2, 3];
  // The second frame's fragment: image data rather than a whole codestream, so that it would change the first frame's
  // pixels if it were taken into it.
  const OTHER = [2, 2, 2, 2];
  const HEADERS = losslessJpeg({ width: 4, height: 2, data: new Uint8Array(0) }).subarray(0, -2); // no EOI
  const a = concat([HEADERS, entropyCoded(FIRST)]);
  const b = entropyCoded(SECOND);
  const c = entropyCoded(OTHER);
  /** The pixels of a first frame holding these differences (as stored: 8-bit monochrome without VOI). */
  const pixels = (...differences: number[][]) => predictorOne(4, 1, [...differences.flat(), ...new Array(8).fill(0)].slice(0, 8));
  const frames = (fragments: Uint8Array[], table?: Uint8Array, spec: Partial<Spec> = {}) => fragmented({ ...FRAME, frames: 2, ...spec }, fragments, table);

  it('takes the Basic Offset Table\'s first range: fragments (8 bytes of item header and their data each) up to the second offset', () => {
    expect([a.length % 2, b.length % 2]).toEqual([0, 0]); // (written without padding)
    const table = offsetTable([0, 8 + a.length + 8 + b.length]);
    expect(lumaOf(frames([a, b, c], table))).toEqual(pixels(FIRST, SECOND));
  });

  it('takes every fragment when the second offset lies past them', () => {
    expect(lumaOf(frames([a, b, c], offsetTable([0, 1 << 20])))).toEqual(pixels(FIRST, SECOND, OTHER));
  });

  it('ignores an offset table shorter than two offsets (JPEG: fragments up to an EOI, here none, so all of them)', () => {
    expect(lumaOf(frames([a, b, c], offsetTable([0])))).toEqual(pixels(FIRST, SECOND, OTHER));
    expect(lumaOf(frames([a, b, c]))).toEqual(pixels(FIRST, SECOND, OTHER));
  });

  it('without an offset table, takes one fragment when there are as many as frames', () => {
    expect(lumaOf(frames([a, c]))).toEqual(pixels(FIRST));
  });

  it('takes every fragment of a single frame, whatever the offset table says', () => {
    expect(lumaOf(frames([a, b], offsetTable([0]), { frames: 1 }))).toEqual(pixels(FIRST, SECOND));
    expect(lumaOf(frames([a, b], offsetTable([0, 8 + a.length]), { frames: 1 }))).toEqual(pixels(FIRST, SECOND));
  });

  describe('RLE (PS3.5 G: one fragment a frame)', () => {
    const values = [11, 22, 33, 44, 55, 66, 77, 88];
    const first = rleFrame([rleLiteral(...values)]); // 64-byte header, then a literal run of 9 bytes
    const rle = (count: number, fragments: Uint8Array[]) => fragmented({ width: 4, height: 2, frames: count, transferSyntax: RLE }, fragments);

    it('reads a multi-frame file\'s first fragment as its first frame', () => {
      const second = rleFrame([rleLiteral(...values.map((v) => 255 - v))]);
      expect(lumaOf(rle(2, [first, second]))).toEqual(values);
    });

    it('so a multi-frame file whose first frame spans two fragments is refused; a single frame may', () => {
      const [header, run] = [first.subarray(0, 64), first.subarray(64)];
      expect(lumaOf(rle(1, [header, run]))).toEqual(values);
      refused(rle(2, [header, run, first]), 'invalid', 'Corrupt DICOM RLE: a segment ends before its plane is full.');
    });
  });

  describe('JPEG without an offset table, fewer fragments than frames: up to the first fragment that ends in an EOI', () => {
    // The first frame with a comment (APP/COM bodies can hold any bytes) right after SOI, cut so that a fragment ends
    // with the comment's last bytes: the rule reads a fragment's last bytes, not the codestream's structure.
    const DIFFERENCES = [...FIRST, ...SECOND, -3, 2];
    function commentFrame(tail: number[], filler: number[]) {
      const stream = losslessJpeg({ width: 4, height: 2, differences: DIFFERENCES, before: segment(0xfe, [...filler, ...tail]) });
      const tailStart = 2 + 4 + filler.length; // SOI, COM marker and length, filler
      return { head: stream.subarray(0, tailStart), tail: stream.subarray(tailStart, tailStart + tail.length), rest: stream.subarray(tailStart + tail.length) };
    }
    // Taken alone, the fragment with the comment is SOI and the comment, and no EOI after it.
    const TRUNCATED = 'The JPEG is truncated.';
    const ENDINGS: [string, number[], boolean][] = [
      ['FF D9', [0xff, 0xd9], true],
      ['FF D9 and a padding byte', [0xff, 0xd9, 0x00], true],
      ['FF D9 and two more bytes', [0xff, 0xd9, 0x00, 0x00], false],
      ['D9 after 00', [0x00, 0xd9], false],
      ['FF before 00', [0xff, 0x00], false],
      ['D9 after 00, and a byte', [0x00, 0xd9, 0x00], false],
      ['FF before 00, and a byte', [0xff, 0x00, 0x00], false],
    ];

    for (const [name, tail, ends] of ENDINGS) {
      it(`a fragment ending in ${name} ${ends ? 'ends' : 'does not end'} the first frame`, () => {
        const { head, tail: last, rest } = commentFrame(tail, tail.length % 2 ? [0x20] : []); // even fragments
        const bytes = frames([concat([head, last]), rest, c]);
        if (ends) refused(bytes, 'invalid', TRUNCATED);
        else expect(lumaOf(bytes)).toEqual(predictorOne(4, 1, DIFFERENCES));
      });
    }

    it('a fragment of just FF D9, or FF D9 and a padding byte, ends it too', () => {
      const two = commentFrame([0xff, 0xd9], []);
      refused(frames([two.head, two.tail, two.rest, c]), 'invalid', TRUNCATED);
      // Three bytes: an odd fragment, as some writers leave them.
      const three = commentFrame([0xff, 0xd9, 0x00], []);
      refused(fragmented({ ...FRAME, frames: 2 }, [three.head, three.tail, three.rest, c], undefined, false), 'invalid', TRUNCATED);
    });

  });
});

describe('the JPEG frame header, held to the DICOM header before a codec allocates', () => {
  const header = { width: 4, height: 2, transferSyntax: LOSSLESS };
  const NO_FRAME_HEADER = 'Corrupt DICOM: the compressed frame has no JPEG frame header.';
  const withFrame = (stream: Uint8Array) => dicom({ ...header, samples: stream });

  it('is the first SOFn (C0 to CF but C4 DHT, C8 JPG and CC DAC), other segments skipped by their length', () => {
    for (let marker = 0xbf; marker <= 0xd0; marker++) {
      const stream = jpegFile(sofOf(marker, 8, 5, 3));
      const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
      const message = isFrame ? 'Corrupt DICOM: the compressed frame is 5x3 with 1 components, the header says 4x2 with 1.' : NO_FRAME_HEADER;
      refused(withFrame(stream), 'invalid', message);
    }
  });

  it('must differ from the DICOM header in nothing: width, height or component count alone is refused', () => {
    const cases: [number, number, [number][], string][] = [
      [5, 2, [[1]], '5x2 with 1 components'],
      [4, 3, [[1]], '4x3 with 1 components'],
      [4, 2, [[1], [2], [3]], '4x2 with 3 components'],
    ];
    for (const [width, height, components, said] of cases) {
      const stream = losslessJpeg({ width, height, components, differences: new Array(width * height * components.length).fill(0) });
      refused(withFrame(stream), 'invalid', `Corrupt DICOM: the compressed frame is ${said}, the header says 4x2 with 1.`);
    }
  });

  it('is looked for as the codecs look for it: a byte other than FF between segments is skipped, not taken for a marker', () => {
    // The frame header's FF replaced by 00: the walk skips the 00 and the rest of the header, which holds no FF, to EOI.
    refused(withFrame(jpegFile([0x00, ...sofOf(0xc3, 8, 4, 2).slice(1)])), 'invalid', NO_FRAME_HEADER);
    // A stray byte before a frame header of the wrong size: skipped, and the header found and refused.
    refused(withFrame(jpegFile([0x12], sofOf(0xc3, 8, 5, 3))), 'invalid', 'Corrupt DICOM: the compressed frame is 5x3 with 1 components, the header says 4x2 with 1.');
  });

  it('must come before the first scan: a frame header after one is not looked for', () => {
    refused(withFrame(jpegFile(sos([{ id: 1 }]), [0x00], sofOf(0xc3, 8, 4, 2))), 'invalid', NO_FRAME_HEADER);
  });

  it('is read from a frame header segment of at least its six fixed bytes', () => {
    // Precision, height, width, component count: one byte fewer and the segment is no frame header.
    const body = [8, 0, 3, 0, 5, 1];
    refused(withFrame(jpegFile(segment(0xc3, body.slice(0, 5)))), 'invalid', NO_FRAME_HEADER);
    refused(withFrame(jpegFile(segment(0xc3, body))), 'invalid', 'Corrupt DICOM: the compressed frame is 5x3 with 1 components, the header says 4x2 with 1.');
  });

  it('sees the frame header the codec reads, after a fill byte too: no decoy past it is taken for it', () => {
    // A fill byte (T.81 B.1.1.2) before the first marker. A walk that read FF FF as a marker would take the next two
    // bytes (C4 00: the DHT marker and its length's high byte) as a length, and land where this stream has a decoy
    // frame header of the DICOM header's size; the codec would then size its buffers from the real one, unchecked.
    const hidden = (width: number, height: number) => {
      const stream = losslessJpeg({ width, height, differences: new Array(width * height).fill(0), before: [0xff] });
      const landing = 2 + 2 + ((stream[4] << 8) | stream[5]);
      const padded = new Uint8Array(landing);
      padded.set(stream);
      return concat([padded, Uint8Array.from(sofOf(0xc3, 8, 4, 2))]);
    };
    refused(withFrame(hidden(5, 2)), 'invalid', 'Corrupt DICOM: the compressed frame is 5x2 with 1 components, the header says 4x2 with 1.');
    refused(withFrame(hidden(4, 3)), 'invalid', 'Corrupt DICOM: the compressed frame is 4x3 with 1 components, the header says 4x2 with 1.');
    expect(lumaOf(withFrame(hidden(4, 2)))).toEqual(new Array(8).fill(128));
  });
});
