/**
 * The 8-bit decoder's own marker loop (src/image/jpeg/decoder.ts, decodeScaledLuma up to the first scan), on files
 * written marker by marker (test/helpers/jpeg-writer.ts): what it skips between segments, which segments decide
 * whether three components are YCbCr or RGB (libjpeg's rules: JFIF, then Adobe's transform, then the component
 * ids R G B), the lenient table parsing it has always had, the scan limit, and each refusal with its message.
 * readJpegHeader (src/image/jpeg-header.ts), the separate header check the Worker runs first, has its own tests in
 * image-formats.test.ts; these drive the decoder directly, as a file that passes that check reaches it.
 */
import { describe, expect, it } from 'vitest';
import { ImageError } from '../../src/image/errors';
import { decodeScaledLuma } from '../../src/image/jpeg/decoder';
import { BitWriter, canonicalCodes, dht, dqt, jpegFile, segment, sof, sos, type HuffmanSpec } from '../helpers/jpeg-writer';

// DC: 00 = no difference, 01 = category 1, 10 = category 2. AC: 0 = end of block (one symbol, one bit).
const DC: HuffmanSpec = { counts: [0, 3], symbols: [0x00, 0x01, 0x02] };
const AC: HuffmanSpec = { counts: [1], symbols: [0x00] };
const dcCodes = canonicalCodes(DC);
const acCodes = canonicalCodes(AC);
const Q = new Array(64).fill(16);
const GRAY = [{ id: 1 }];
const TABLES = [dqt(0, Q), dht(0, 0, DC), dht(1, 0, AC)];

/** One flat 8x8 block of 128 + 2 x `dc` (DC category 2 when dc is +-2, else 0). */
function flatBlock(dc: 0 | 2 | -2, w = new BitWriter()): BitWriter {
  if (dc === 0) w.symbol(dcCodes, 0);
  else w.symbol(dcCodes, 2, dc > 0 ? 0b10 : 0b01, 2);
  return w.symbol(acCodes, 0x00);
}

/** A gray 8x8 image of value 132: the tables, the frame, one scan. */
const grayParts = (): number[][] => [...TABLES, sof(false, 8, 8, GRAY), sos(GRAY), [...flatBlock(2).finish()]];

/**
 * Three components of one flat block each: 132, 128 and 124 (DC differences +2, 0, -2), with the given ids and
 * segments before the frame. As YCbCr the luminance is the first component, 132; as RGB it is BT.601's
 * 0.299 R + 0.587 G + 0.114 B, 128.6 -> 129.
 */
function threeComponents(ids: [number, number, number], ...before: number[][]): Uint8Array {
  const components = ids.map((id) => ({ id }));
  const data = flatBlock(-2, flatBlock(0, flatBlock(2))).finish();
  return jpegFile(...before, ...TABLES, sof(false, 8, 8, components), sos(components), data);
}
const AS_YCBCR = 132;
const AS_RGB = Math.round(0.299 * 132 + 0.587 * 128 + 0.114 * 124);

const lumaValues = (bytes: Uint8Array) => [...new Set(decodeScaledLuma(bytes, 8, 8).data)];
const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0));
const jfif = (body = [...ascii('JFIF'), 0, 1, 2, 0, 0, 1, 0, 1, 0, 0]) => segment(0xe0, body);
const adobe = (transform: number, body = [...ascii('Adobe'), 0, 100, 0, 0, 0, 0, transform]) => segment(0xee, body);
const error = (kind: 'invalid' | 'unsupported', message: string) => new ImageError(kind, message);

describe('the marker loop', () => {
  it('decodes the plain file it is given (the baseline for the cases below)', () => {
    expect(lumaValues(jpegFile(...grayParts()))).toEqual([132]);
    expect(AS_RGB).toBe(129);
  });

  it('skips stray bytes, fill bytes, stuffed zeros, restart markers and a second SOI between segments', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    const noise = [
      [0x12, 0x34], // stray bytes
      [0xff, 0xff, 0xff], // fill bytes before the next marker
      [0xff, 0x00],
      [0xff, 0xd0, 0xff, 0xd7],
      [0xff, 0xd8],
    ];
    for (const extra of noise) {
      expect(lumaValues(jpegFile(q, extra, dc, ac, frame, scan, data)), extra.join(' ')).toEqual([132]);
    }
    // Fill bytes right before the frame header, the scan and the end of the image.
    expect(lumaValues(jpegFile(q, dc, ac, [0xff, 0xff], frame, [0xff], scan, data, [0xff, 0xff]))).toEqual([132]);
  });

  it('skips APPn, COM and markers outside every defined range (0xbf), but refuses SOF3 and SOF5 to SOF15', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    for (const marker of [0xe1, 0xef, 0xfe, 0xbf, 0xf0]) {
      expect(lumaValues(jpegFile(segment(marker, [1, 2, 3]), q, dc, ac, frame, scan, data)), marker.toString(16)).toEqual([132]);
    }
    for (const marker of [0xc3, 0xc5, 0xc9, 0xcc, 0xcf]) {
      expect(() => decodeScaledLuma(jpegFile(q, dc, ac, segment(marker, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]), scan, data), 8, 8), marker.toString(16))
        .toThrow(error('unsupported', 'This JPEG process is not supported.'));
    }
  });

  it('refuses a second frame, a scan before the frame, and a file without a frame or a scan', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    expect(() => decodeScaledLuma(jpegFile(q, dc, ac, frame, frame, scan, data), 8, 8)).toThrow(error('invalid', 'Corrupt JPEG: more than one frame.'));
    expect(() => decodeScaledLuma(jpegFile(q, dc, ac, scan, data, frame), 8, 8)).toThrow(error('invalid', 'Corrupt JPEG: scan before frame.'));
    expect(() => decodeScaledLuma(jpegFile(q, dc, ac, frame), 8, 8)).toThrow(error('invalid', 'The JPEG has no image data.'));
    expect(() => decodeScaledLuma(jpegFile(q, dc, ac), 8, 8)).toThrow(error('invalid', 'The JPEG has no image data.'));
  });

  it('refuses a file that ends without EOI, also when one 0xFF is left', () => {
    const whole = jpegFile(...grayParts());
    const noEoi = whole.subarray(0, whole.length - 2);
    expect(() => decodeScaledLuma(noEoi, 8, 8)).toThrow(error('invalid', 'The JPEG is truncated.'));
    expect(() => decodeScaledLuma(whole.subarray(0, whole.length - 1), 8, 8)).toThrow(error('invalid', 'The JPEG is truncated.'));
    // Between segments too: after the tables, with and without a lone 0xFF.
    const tablesOnly = jpegFile(...TABLES).subarray(0, -2);
    expect(() => decodeScaledLuma(tablesOnly, 8, 8)).toThrow(error('invalid', 'The JPEG is truncated.'));
    expect(() => decodeScaledLuma(Uint8Array.from([...tablesOnly, 0xff]), 8, 8)).toThrow(error('invalid', 'The JPEG is truncated.'));
  });

  it('needs every table it uses defined in the file, table 0 included', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    expect(() => decodeScaledLuma(jpegFile(dc, ac, frame, scan, data), 8, 8)).toThrow(error('invalid', 'Corrupt JPEG: missing quantisation table.'));
    expect(() => decodeScaledLuma(jpegFile(q, ac, frame, scan, data), 8, 8)).toThrow(error('invalid', 'Corrupt JPEG: scan uses an undefined Huffman table.'));
    expect(() => decodeScaledLuma(jpegFile(q, dc, frame, scan, data), 8, 8)).toThrow(error('invalid', 'Corrupt JPEG: scan uses an undefined Huffman table.'));
  });

  it('reads tables leniently, as it always has: a Huffman class above 1 is an AC table, a short DQT is not refused', () => {
    const [q, dc, , frame, scan, data] = grayParts();
    const acAsClass2 = segment(0xc4, [0x20, 1, ...new Array(15).fill(0), 0x00]);
    expect(lumaValues(jpegFile(q, dc, acAsClass2, frame, scan, data))).toEqual([132]);
    // 63 entries: the last (zig-zag 63, never used by this image) is missing. A strict reader refuses the table.
    const shortQ = segment(0xdb, [0, ...new Array(63).fill(16)]);
    expect(lumaValues(jpegFile(shortQ, dc, TABLES[2], frame, scan, data))).toEqual([132]);
  });

  it('reads up to 64 scans and refuses 65 before decoding any', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    const scans = (n: number) => Array.from({ length: n }, () => [...scan, ...data]);
    expect(lumaValues(jpegFile(q, dc, ac, frame, ...scans(64)))).toEqual([132]);
    expect(() => decodeScaledLuma(jpegFile(q, dc, ac, frame, ...scans(65)), 8, 8)).toThrow(error('unsupported', 'JPEGs with more than 64 scans are not supported.'));
  });
});

describe('three components: YCbCr or RGB', () => {
  it('takes ids 1 2 3 as YCbCr and R G B as RGB', () => {
    expect(lumaValues(threeComponents([1, 2, 3]))).toEqual([AS_YCBCR]);
    expect(lumaValues(threeComponents([0x52, 0x47, 0x42]))).toEqual([AS_RGB]);
  });

  it('needs all three ids to be R, G and B', () => {
    for (const ids of [[0x52, 0x47, 3], [0x52, 2, 0x42], [1, 0x47, 0x42], [0x42, 0x47, 0x52]] as [number, number, number][]) {
      expect(lumaValues(threeComponents(ids)), ids.join(' ')).toEqual([AS_YCBCR]);
    }
  });

  it('follows a JFIF marker (YCbCr) before the ids, and only a JFIF identifier with its zero', () => {
    const rgbIds: [number, number, number] = [0x52, 0x47, 0x42];
    expect(lumaValues(threeComponents(rgbIds, jfif()))).toEqual([AS_YCBCR]);
    for (const bad of ['JFIX', 'XFIF', 'JXIF', 'JFXF']) {
      expect(lumaValues(threeComponents(rgbIds, jfif([...ascii(bad), 0, 1, 2]))), bad).toEqual([AS_RGB]);
    }
    expect(lumaValues(threeComponents(rgbIds, jfif([...ascii('JFIF'), 1, 1, 2]))), 'no zero').toEqual([AS_RGB]);
    expect(lumaValues(threeComponents(rgbIds, jfif(ascii('JFIF')))), 'four bytes').toEqual([AS_RGB]);
    expect(lumaValues(threeComponents(rgbIds, jfif([...ascii('JFIF'), 0]))), 'five bytes').toEqual([AS_YCBCR]);
    expect(lumaValues(threeComponents(rgbIds, segment(0xe1, [...ascii('JFIF'), 0]))), 'APP1').toEqual([AS_RGB]);
    // JFIF wins over an Adobe transform of 0.
    expect(lumaValues(threeComponents([1, 2, 3], adobe(0), jfif()))).toEqual([AS_YCBCR]);
  });

  it("follows Adobe's transform (0: RGB, else YCbCr) over the ids, from a full 12-byte Adobe segment only", () => {
    expect(lumaValues(threeComponents([1, 2, 3], adobe(0)))).toEqual([AS_RGB]);
    expect(lumaValues(threeComponents([0x52, 0x47, 0x42], adobe(1)))).toEqual([AS_YCBCR]);
    for (const bad of ['Xdobe', 'AXobe', 'AdXbe', 'AdoXe', 'AdobX']) {
      expect(lumaValues(threeComponents([1, 2, 3], adobe(0, [...ascii(bad), 0, 100, 0, 0, 0, 0, 0]))), bad).toEqual([AS_YCBCR]);
    }
    expect(lumaValues(threeComponents([1, 2, 3], adobe(0, [...ascii('Adobe'), 0, 100, 0, 0, 0, 0]))), '11 bytes').toEqual([AS_YCBCR]);
    // An 11-byte one is ignored, not read as a transform: R G B ids then decide.
    expect(lumaValues(threeComponents([0x52, 0x47, 0x42], adobe(0, [...ascii('Adobe'), 0, 100, 0, 0, 0, 0]))), '11 bytes, R G B').toEqual([AS_RGB]);
    expect(lumaValues(threeComponents([1, 2, 3], segment(0xed, [...ascii('Adobe'), 0, 100, 0, 0, 0, 0, 0]))), 'APP13').toEqual([AS_YCBCR]);
  });

  it('takes one component as gray whatever its id or markers say', () => {
    for (const id of [0x52, 0x47, 0x42, 0]) {
      const components = [{ id }];
      expect(lumaValues(jpegFile(adobe(0), ...TABLES, sof(false, 8, 8, components), sos(components), [...flatBlock(2).finish()])), String(id)).toEqual([132]);
    }
  });
});
