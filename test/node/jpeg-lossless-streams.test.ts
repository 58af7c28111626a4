/**
 * The lossless JPEG decoder (src/image/dicom/codecs/jpeg-lossless.ts) on codestreams written marker by marker
 * (test/helpers/jpeg-writer.ts), for what real encoders never write: each refusal with its exact reason (so a check
 * that stops working cannot hide behind a later one), the edges of what is accepted (precision 2 and 16, predictors
 * 1 and 7, a data length exactly at the minimum, padding exactly at the limit), and the arithmetic of
 * H.1.2: the first sample's prediction, differences that wrap past the precision, category 16.
 */
import { describe, expect, it } from 'vitest';
import { decodeJpegLossless } from '../../src/image/dicom/codecs/jpeg-lossless';
import { MAX_PADDING_BITS } from '../../src/image/jpeg/huffman';
import { expectImageError } from '../helpers/image-errors';
import { BitWriter, canonicalCodes, dht, jpegFile, segment, type HuffmanSpec } from '../helpers/jpeg-writer';
import { LOSSLESS_DIFFERENCES as DIFFERENCES, losslessJpeg as lossless, writeDifference, type LosslessStream as Stream } from '../helpers/lossless-jpeg';

const MAX_PIXELS = 1_000_000;

const decode = (bytes: Uint8Array, maxPixels = MAX_PIXELS) => decodeJpegLossless(bytes, maxPixels);
const samplesOf = (bytes: Uint8Array) => Array.from(decode(bytes).samples);
const invalid = (bytes: Uint8Array, message: string) => expectImageError(() => decode(bytes), 'invalid', message);
const unsupported = (bytes: Uint8Array, message: string) => expectImageError(() => decode(bytes), 'unsupported', message);

// 4 x 2, 8-bit, predictor 1: 128 + 2, then 0 differences, row 1 starts from above; one -1.
const SMALL: Stream = { width: 4, height: 2, differences: [2, 0, 0, 0, 0, -1, 0, 3] };
const SMALL_SAMPLES = [130, 130, 130, 130, 130, 129, 129, 132];

describe('lossless codestreams written by hand', () => {
  it('decode: the first sample from 2^(P-1), the first row from the left, the first column from above', () => {
    expect(samplesOf(lossless(SMALL))).toEqual(SMALL_SAMPLES);
    expect(decode(lossless(SMALL))).toMatchObject({ width: 4, height: 2, components: 1, precision: 8 });
  });

  it('keep the bit stream across rows when there is no restart interval', () => {
    // Differences of odd bit lengths, so that rows do not end on byte boundaries.
    const differences = [5, -3, 1, 0, 7, -1, -2, 2, 1, -6, 0, 3];
    const bytes = lossless({ width: 3, height: 4, differences });
    const rows = [[133, 130, 131], [133, 140, 139], [131, 133, 134], [125, 125, 128]];
    expect(samplesOf(bytes)).toEqual(rows.flat());
  });

  it('skip fill bytes, TEM and stray RSTn markers, and segments they do not need, before the scan', () => {
    const before = [0xff, 0xff, 0xff, 0x01, 0xff, 0xd0, 0xff, 0xd7, ...segment(0xdb, [0, ...new Array(64).fill(1)]), ...segment(0xfe, [1, 2, 3])];
    expect(samplesOf(lossless({ ...SMALL, before }))).toEqual(SMALL_SAMPLES);
    // The reserved markers 02..BF are segments like any other (only C0..CF, the other processes, are refused).
    expect(samplesOf(lossless({ ...SMALL, before: [...segment(0x02, [1]), ...segment(0xbf, [2, 3])] }))).toEqual(SMALL_SAMPLES);
  });

  it('read an RSTn marker at the very start of the scan data as the end of the data (zero bits), not as a restart', () => {
    // y = 0 starts the first interval, with nothing before it to restart from. The bit reader stops at the marker and
    // feeds zero bits (as libjpeg's does): category 0 throughout, so every sample is its prediction, 128.
    const data = Uint8Array.from([0xff, 0xd0, ...writeDifference(new BitWriter(), 2).finish()]);
    expect(samplesOf(lossless({ width: 2, height: 2, data }))).toEqual([128, 128, 128, 128]);
  });

  it('accept precisions 2 to 16, predictors 1 to 7 and point transforms up to P - 1', () => {
    expect(samplesOf(lossless({ width: 2, height: 1, precision: 2, differences: [1, -2] }))).toEqual([3, 1]);
    expect(samplesOf(lossless({ width: 2, height: 1, precision: 16, differences: [1, -2] }))).toEqual([32769, 32767]);
    // Predictor 7 on the second row: (Ra + Rb) / 2.
    expect(samplesOf(lossless({ width: 2, height: 2, predictor: 7, differences: [0, 4, 2, 1] }))).toEqual([128, 132, 130, 132]);
    // Pt = 7 at P = 8: one significant bit, prediction 2^0, samples come back shifted left by 7.
    expect(samplesOf(lossless({ width: 2, height: 1, pointTransform: 7, differences: [0, -1] }))).toEqual([128, 0]);
  });

  it('decode three interleaved components, each through its own table, with a point transform', () => {
    // Table 1 gives the categories in reverse order, so reading a component with the other table goes wrong.
    const reversed: HuffmanSpec = { counts: DIFFERENCES.counts, symbols: [...DIFFERENCES.symbols].reverse() };
    const reversedCodes = canonicalCodes(reversed);
    const w = new BitWriter();
    // 2 x 1, Pt = 1: first pixel 64 + (1, 2, 3), second from the left + (0, -1, 4); component 2 uses table 1.
    for (const [c, d] of [[0, 1], [1, 2], [2, 3], [0, 0], [1, -1], [2, 4]]) {
      if (c === 1) {
        const size = d === 0 ? 0 : 32 - Math.clz32(Math.abs(d));
        w.symbol(reversedCodes, size, d < 0 ? d + (1 << size) - 1 : d, size);
      } else writeDifference(w, d);
    }
    const bytes = jpegFile(
      dht(0, 0, DIFFERENCES), dht(0, 1, reversed), segment(0xc3, [8, 0, 1, 0, 2, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]),
      segment(0xda, [3, 1, 0x00, 2, 0x10, 3, 0x00, 1, 0, 1]), w.finish(),
    );
    expect(decode(bytes)).toMatchObject({ width: 2, height: 1, components: 3 });
    expect(samplesOf(bytes)).toEqual([65, 66, 67, 65, 65, 71].map((v) => v << 1));
  });

  it('keep samples inside the precision when corrupt differences wrap past it, and read category 16 as 32768', () => {
    expect(samplesOf(lossless({ width: 2, height: 1, differences: [200, -200] }))).toEqual([(128 + 200) & 255, 128]);
    // With a point transform the mask is P - Pt bits wide (7 at P = 8, Pt = 1), applied before the shift back.
    expect(samplesOf(lossless({ width: 2, height: 1, pointTransform: 1, differences: [100, -100] }))).toEqual([((64 + 100) & 127) << 1, 64 << 1]);
    expect(samplesOf(lossless({ width: 2, height: 1, precision: 16, differences: [32768, 32768] }))).toEqual([0, 32768]);
  });

  it('refuse what is not a lossless JPEG codestream, naming why', () => {
    for (const bytes of [[0xff, 0xd8, 0xff], [0xfe, 0xd8, 0xff, 0xc3], [0xff, 0xd9, 0xff, 0xc3]]) {
      invalid(Uint8Array.from(bytes), 'Not a JPEG codestream (no SOI marker).');
    }
    // Four bytes pass the SOI check; what follows is then read as markers.
    invalid(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]), 'Corrupt lossless JPEG: unexpected marker before the scan.');
    invalid(Uint8Array.from([0xff, 0xd8, ...segment(0xfe, [1])]), 'The lossless JPEG ends before its image data.');
    // One byte left after a marker is no room for another.
    invalid(Uint8Array.from([0xff, 0xd8, 0xff, 0xd0, 0xff]), 'The lossless JPEG ends before its image data.');
    invalid(Uint8Array.from([0xff, 0xd8, 0x00, 0x00, 0xff, 0xc3]), 'Corrupt lossless JPEG: expected a marker.');
    for (const marker of [0xd8, 0xd9, 0x00]) {
      invalid(lossless({ ...SMALL, before: [0xff, marker] }), 'Corrupt lossless JPEG: unexpected marker before the scan.');
    }
    invalid(lossless({ ...SMALL, before: segment(0xdd, [0, 4, 0]) }), 'Corrupt lossless JPEG: bad DRI segment.');
    invalid(lossless({ ...SMALL, before: segment(0xc3, [8, 0, 2, 0, 4, 1, 1, 0x11, 0]) }), 'Corrupt lossless JPEG: more than one frame.');
    unsupported(lossless({ ...SMALL, before: segment(0xdc, [0, 2]) }), 'Lossless JPEG with a DNL marker is not supported.');
    for (const marker of [0xc0, 0xc1, 0xc2, 0xcb, 0xcc, 0xcf]) {
      unsupported(lossless({ ...SMALL, before: segment(marker, [8, 0, 2, 0, 4, 1, 1, 0x11, 0]) }), 'Only lossless Huffman JPEG (SOF3) is supported here.');
    }
    invalid(Uint8Array.from([0xff, 0xd8, ...dht(0, 0, DIFFERENCES), ...segment(0xda, [1, 1, 0, 1, 0, 0]), 0, 0xff, 0xd9]), 'Corrupt lossless JPEG: scan before frame.');
    invalid(Uint8Array.from([0xff, 0xd8, 0xff, 0xfe, 0, 9, 1]), 'Corrupt lossless JPEG: bad segment length.');
  });

  it('refuse bad or missing Huffman tables, and more of them than a lossless file needs, naming why', () => {
    // Class 2 does not exist (the 8-bit decoder tolerates it, this one is strict).
    const badClass = [...dht(0, 0, DIFFERENCES)];
    badClass[4] = 0x20;
    invalid(lossless({ ...SMALL, before: badClass }), 'Corrupt lossless JPEG: bad Huffman table.');
    // Only table 1 defined, the scan uses table 0.
    const onlyTable1 = jpegFile(dht(0, 1, DIFFERENCES), segment(0xc3, [8, 0, 2, 0, 4, 1, 1, 0x11, 0]), segment(0xda, [1, 1, 0x00, 1, 0, 0]), [0]);
    invalid(onlyTable1, 'Corrupt lossless JPEG: scan uses an undefined Huffman table.');
    const flood = Array.from({ length: 65 }, () => dht(0, 0, DIFFERENCES)).flat();
    invalid(lossless({ ...SMALL, before: flood }), 'Corrupt lossless JPEG: too many Huffman tables.');
    expect(samplesOf(lossless({ ...SMALL, before: flood.slice(0, 63 * dht(0, 0, DIFFERENCES).length) }))).toEqual(SMALL_SAMPLES);
  });

  it('refuse bad frame headers, naming why', () => {
    invalid(lossless({ ...SMALL, frameBody: [8, 0, 2, 0, 4] }), 'Corrupt lossless JPEG: short frame header.');
    invalid(lossless({ ...SMALL, frameBody: [8, 0, 2, 0, 4, 1, 1, 0x11] }), 'Corrupt lossless JPEG: bad frame header.');
    invalid(lossless({ ...SMALL, frameBody: [8, 0, 2, 0, 4, 0] }), 'Corrupt lossless JPEG: bad frame header.');
    for (const precision of [1, 17]) invalid(lossless({ ...SMALL, precision }), 'Corrupt lossless JPEG: sample precision out of range.');
    unsupported(lossless({ ...SMALL, height: 0 }), 'Lossless JPEG with the height in a DNL marker is not supported.');
    invalid(lossless({ ...SMALL, width: 0 }), 'Corrupt lossless JPEG: zero width.');
    expectImageError(() => decode(lossless(SMALL), 7), 'too_large', 'The image is too large (4x2).');
    expect(decode(lossless(SMALL), 8).samples.length).toBe(8); // exactly at the limit
    unsupported(lossless({ ...SMALL, components: [[1], [2]] }), 'Lossless JPEG with 2 components is not supported.');
    invalid(lossless({ ...SMALL, components: [[1], [2], [1]] }), 'Corrupt lossless JPEG: duplicate component.');
    unsupported(lossless({ ...SMALL, components: [[1, 0x21]] }), 'Lossless JPEG with subsampled components is not supported.');
  });

  it('refuse bad scan headers, naming why', () => {
    const rgb: Stream = { ...SMALL, components: [[1], [2], [3]] };
    invalid(lossless({ ...SMALL, scanBody: [1, 1, 0, 1, 0] }), 'Corrupt lossless JPEG: bad scan header.');
    invalid(lossless({ ...SMALL, scanBody: [0, 1, 0, 0] }), 'Corrupt lossless JPEG: bad scan header.');
    invalid(lossless({ ...rgb, scan: [[1], [2], [3], [4], [5]] }), 'Corrupt lossless JPEG: bad scan header.');
    unsupported(lossless({ ...rgb, scan: [[1], [2], [3], [4]] }), 'Non-interleaved lossless JPEG is not supported.');
    unsupported(lossless({ ...rgb, scan: [[1]] }), 'Non-interleaved lossless JPEG is not supported.');
    invalid(lossless({ ...SMALL, scan: [[9]] }), 'Corrupt lossless JPEG: scan names a bad component.');
    invalid(lossless({ ...rgb, scan: [[1], [2], [2]] }), 'Corrupt lossless JPEG: scan names a bad component.');
    invalid(lossless({ ...rgb, scan: [[1], [2], [3, 0x10]] }), 'Corrupt lossless JPEG: scan uses an undefined Huffman table.');
    for (const predictor of [0, 8]) invalid(lossless({ ...SMALL, predictor }), 'Corrupt lossless JPEG: bad predictor.');
    invalid(lossless({ ...SMALL, pointTransform: 8 }), 'Corrupt lossless JPEG: point transform too large.');
    unsupported(lossless({ ...SMALL, before: segment(0xdd, [0, 6]) }), 'Lossless JPEG restart intervals that are not whole rows are not supported.');
    expect(samplesOf(lossless({ ...SMALL, before: segment(0xdd, [0, 4]) }))).toHaveLength(8); // whole rows: fine
  });

  it('refuse data shorter than a bit a sample before decoding, and accept it at exactly that length', () => {
    // 16 x 3: the first row's 16 two-bit codes are 4 bytes; with EOI, 6 bytes = 48 bits = one bit for each sample.
    const exact = lossless({ width: 16, height: 3, differences: new Array(16).fill(0) });
    expect(samplesOf(exact)).toEqual(new Array(48).fill(128));
    const short = lossless({ width: 17, height: 3, differences: new Array(16).fill(0) });
    invalid(short, 'Corrupt lossless JPEG: the image data ends long before the image does.');
  });

  it(`decode a scan that ends up to ${MAX_PADDING_BITS} bits early (from zero bits), and refuse one more row`, () => {
    // 512 two-bit codes fill the first row; each further row decodes 1,024 bits past the data.
    const first = new Array(512).fill(0);
    expect(samplesOf(lossless({ width: 512, height: 2, differences: first }))).toEqual(new Array(1024).fill(128));
    // Three rows would fail the one-bit-a-sample check first; bytes after EOI (DICOM padding) count for it.
    const threeRows = lossless({ width: 512, height: 3, differences: first });
    const padded = Uint8Array.from([...threeRows, ...new Array(64).fill(0)]);
    invalid(padded, 'Corrupt lossless JPEG: the image data ends before the image does.');
  });

  it('refuse a difference category past 16', () => {
    const table: HuffmanSpec = { counts: [0, 2], symbols: [0, 17] };
    const bytes = jpegFile(dht(0, 0, table), segment(0xc3, [8, 0, 1, 0, 2, 1, 1, 0x11, 0]), segment(0xda, [1, 1, 0, 1, 0, 0]), [0b01010101]);
    invalid(bytes, 'Corrupt lossless JPEG: difference category out of range.');
  });
});
