/**
 * The marker loops of both sequential JPEG decoders, on files written marker by marker (test/helpers/jpeg-writer.ts):
 * the 8-bit decoder (src/image/jpeg/decoder.ts, decodeScaledLuma), which reads JPEG uploads and 8-bit DICOM JPEGs,
 * and DICOM's 12-bit one (src/image/dicom/codecs/jpeg-extended.ts, decodeJpegExtended). Both walk the markers with
 * src/image/jpeg/segments.ts (nextMarker, readColourMarker, isRgb), so every case runs through both, with each
 * decoder's own messages where they differ: what they skip between segments, which segments decide whether three
 * components are YCbCr or RGB (libjpeg's rules: JFIF, then Adobe's transform, then the component ids R G B), how
 * strictly each reads tables, and each refusal. The 12-bit decoder's frame and scan headers and its scan loop are in
 * jpeg-extended-streams.test.ts. readJpegHeader (src/image/jpeg-header.ts), the separate header check the Worker runs
 * first, has its own tests in image-formats.test.ts; these drive the decoders directly, as a file that passes it
 * reaches them.
 */
import { describe, expect, it } from 'vitest';
import { decodeJpegExtended } from '../../src/image/dicom/codecs/jpeg-extended';
import { ImageError } from '../../src/image/errors';
import { decodeScaledLuma } from '../../src/image/jpeg/decoder';
import { BitWriter, canonicalCodes, dht, dqt, GRAY, jpegFile, segment, SMALL_DC, sof, sos, type HuffmanSpec } from '../helpers/jpeg-writer';

// AC: 0 = end of block (one symbol, one bit).
const AC: HuffmanSpec = { counts: [1], symbols: [0x00] };
const dcCodes = canonicalCodes(SMALL_DC);
const acCodes = canonicalCodes(AC);
const Q = new Array(64).fill(16);
const TABLES = [dqt(0, Q), dht(0, 0, SMALL_DC), dht(1, 0, AC)];

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

const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0));
const jfif = (body = [...ascii('JFIF'), 0, 1, 2, 0, 0, 1, 0, 1, 0, 0]) => segment(0xe0, body);
const adobe = (transform: number, body = [...ascii('Adobe'), 0, 100, 0, 0, 0, 0, transform]) => segment(0xee, body);
const error = (kind: 'invalid' | 'unsupported', message: string) => new ImageError(kind, message);

/** What differs between the two decoders; everything else below holds for both. */
interface Decoder {
  name: string;
  /** The luminance samples of a decode at full size. */
  samples(bytes: Uint8Array): ArrayLike<number>;
  noFrame: string;
  noScan: string;
  /** SOFn markers (DHT aside) refused as processes the decoder does not handle, and the message for each. */
  refused: number[];
  refusal(marker: number): string;
  /** Markers in the SOFn range that the decoder skips as carrying nothing it needs. */
  skipped: number[];
  /** Tables read strictly: a Huffman class above 1 and a DQT cut short are refused. */
  strictTables: boolean;
}

// The 12-bit decoder names the process it refuses by the SOFn marker's bits (T.81 Table B.1).
const PROCESSES: Record<number, string> = {
  0xc2: 'progressive', 0xc3: 'lossless', 0xc5: 'hierarchical sequential', 0xc6: 'hierarchical progressive',
  0xc7: 'hierarchical lossless', 0xc9: 'arithmetic-coded sequential', 0xca: 'arithmetic-coded progressive',
  0xcb: 'arithmetic-coded lossless', 0xcd: 'arithmetic-coded hierarchical sequential',
  0xce: 'arithmetic-coded hierarchical progressive', 0xcf: 'arithmetic-coded hierarchical lossless',
};

const DECODERS: Decoder[] = [
  {
    name: 'the 8-bit decoder',
    samples: (bytes) => decodeScaledLuma(bytes, 8, 8).data,
    noFrame: 'The JPEG has no image data.',
    noScan: 'The JPEG has no image data.',
    refused: [0xc3, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf],
    refusal: () => 'This JPEG process is not supported.',
    skipped: [],
    strictTables: false,
  },
  {
    name: 'the 12-bit decoder',
    samples: (bytes) => decodeJpegExtended(bytes, 64).samples,
    noFrame: 'The JPEG has no frame header.',
    noScan: 'The JPEG has no image data (no scan).',
    refused: Object.keys(PROCESSES).map(Number),
    refusal: (marker) =>
      `This JPEG (SOF${marker - 0xc0}: ${PROCESSES[marker]}) is not supported; only sequential Huffman DCT JPEGs (SOF0, SOF1) are.`,
    // JPG (reserved for extensions) and DAC (arithmetic conditioning, which a Huffman file never needs).
    skipped: [0xc8, 0xcc],
    strictTables: true,
  },
];

describe.each(DECODERS)('the marker loop of $name', (decoder) => {
  const values = (bytes: Uint8Array) => [...new Set(Array.from(decoder.samples(bytes)))];
  const decode = (bytes: Uint8Array) => () => decoder.samples(bytes);

  it('decodes the plain file it is given (the baseline for the cases below)', () => {
    expect(values(jpegFile(...grayParts()))).toEqual([132]);
    expect(AS_RGB).toBe(129);
  });

  it('skips stray bytes, fill bytes, stuffed zeros, TEM, restart markers and a second SOI between segments', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    const noise = [
      [0x12, 0x34], // stray bytes
      [0xff, 0xff, 0xff], // fill bytes before the next marker
      [0xff, 0x00],
      [0xff, 0x01],
      [0xff, 0xd0, 0xff, 0xd7],
      [0xff, 0xd8],
    ];
    for (const extra of noise) {
      expect(values(jpegFile(q, extra, dc, ac, frame, scan, data)), extra.join(' ')).toEqual([132]);
    }
    // Fill bytes right before the frame header, the scan and the end of the image; noise after the scan's data.
    expect(values(jpegFile(q, dc, ac, [0xff, 0xff], frame, [0xff], scan, data, [0xff, 0xff]))).toEqual([132]);
    expect(values(jpegFile(q, dc, ac, frame, scan, data, [0x12, 0xff, 0x00, 0xff, 0xd3, 0xff, 0x01]))).toEqual([132]);
  });

  it('skips APPn, COM and markers outside every defined range (0xbf); refuses the processes it does not decode', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    for (const marker of [0xe1, 0xef, 0xfe, 0xbf, 0xf0, ...decoder.skipped]) {
      expect(values(jpegFile(segment(marker, [1, 2, 3]), q, dc, ac, frame, scan, data)), marker.toString(16)).toEqual([132]);
    }
    for (const marker of decoder.refused) {
      expect(decode(jpegFile(q, dc, ac, segment(marker, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]), scan, data)), marker.toString(16))
        .toThrow(error('unsupported', decoder.refusal(marker)));
    }
  });

  it('refuses a second frame, a scan before the frame, and a file without a frame or a scan', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    expect(decode(jpegFile(q, dc, ac, frame, frame, scan, data))).toThrow(error('invalid', 'Corrupt JPEG: more than one frame.'));
    expect(decode(jpegFile(q, dc, ac, scan, data, frame))).toThrow(error('invalid', 'Corrupt JPEG: scan before frame.'));
    expect(decode(jpegFile(q, dc, ac, frame))).toThrow(error('invalid', decoder.noScan));
    expect(decode(jpegFile(q, dc, ac))).toThrow(error('invalid', decoder.noFrame));
  });

  it('refuses a file that ends without EOI, also when one 0xFF is left', () => {
    const whole = jpegFile(...grayParts());
    const noEoi = whole.subarray(0, whole.length - 2);
    expect(decode(noEoi)).toThrow(error('invalid', 'The JPEG is truncated.'));
    expect(decode(whole.subarray(0, whole.length - 1))).toThrow(error('invalid', 'The JPEG is truncated.'));
    // Between segments too: after the tables, with and without a lone 0xFF.
    const tablesOnly = jpegFile(...TABLES).subarray(0, -2);
    expect(decode(tablesOnly)).toThrow(error('invalid', 'The JPEG is truncated.'));
    expect(decode(Uint8Array.from([...tablesOnly, 0xff]))).toThrow(error('invalid', 'The JPEG is truncated.'));
  });

  it('needs every table it uses defined in the file, table 0 included', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    expect(decode(jpegFile(dc, ac, frame, scan, data))).toThrow(error('invalid', 'Corrupt JPEG: missing quantisation table.'));
    expect(decode(jpegFile(q, ac, frame, scan, data))).toThrow(error('invalid', 'Corrupt JPEG: scan uses an undefined Huffman table.'));
    expect(decode(jpegFile(q, dc, frame, scan, data))).toThrow(error('invalid', 'Corrupt JPEG: scan uses an undefined Huffman table.'));
  });

  it(`reads tables ${decoder.strictTables ? 'strictly' : 'leniently, as it always has'}: a Huffman class above 1, a DQT one entry short`, () => {
    const [q, dc, , frame, scan, data] = grayParts();
    const acAsClass2 = jpegFile(q, dc, segment(0xc4, [0x20, 1, ...new Array(15).fill(0), 0x00]), frame, scan, data);
    // 63 entries: the last (zig-zag 63, never used by this image) is missing.
    const shortQ = jpegFile(segment(0xdb, [0, ...new Array(63).fill(16)]), dc, TABLES[2], frame, scan, data);
    if (decoder.strictTables) {
      expect(decode(acAsClass2)).toThrow(error('invalid', 'Corrupt JPEG: bad Huffman table.'));
      expect(decode(shortQ)).toThrow(error('invalid', 'Corrupt JPEG: bad quantisation table.'));
    } else {
      // The lenient reader takes class 2 as an AC table, and the short table as it is.
      expect(values(acAsClass2)).toEqual([132]);
      expect(values(shortQ)).toEqual([132]);
    }
  });
});

describe('the 8-bit decoder alone', () => {
  it('reads up to 64 scans and refuses 65 before decoding any', () => {
    const [q, dc, ac, frame, scan, data] = grayParts();
    const scans = (n: number) => Array.from({ length: n }, () => [...scan, ...data]);
    expect([...new Set(decodeScaledLuma(jpegFile(q, dc, ac, frame, ...scans(64)), 8, 8).data)]).toEqual([132]);
    expect(() => decodeScaledLuma(jpegFile(q, dc, ac, frame, ...scans(65)), 8, 8)).toThrow(error('unsupported', 'JPEGs with more than 64 scans are not supported.'));
  });
});

describe.each(DECODERS)('three components in $name: YCbCr or RGB', (decoder) => {
  const values = (bytes: Uint8Array) => [...new Set(Array.from(decoder.samples(bytes)))];

  it('takes ids 1 2 3 as YCbCr and R G B as RGB', () => {
    expect(values(threeComponents([1, 2, 3]))).toEqual([AS_YCBCR]);
    expect(values(threeComponents([0x52, 0x47, 0x42]))).toEqual([AS_RGB]);
  });

  it('needs all three ids to be R, G and B', () => {
    for (const ids of [[0x52, 0x47, 3], [0x52, 2, 0x42], [1, 0x47, 0x42], [0x42, 0x47, 0x52]] as [number, number, number][]) {
      expect(values(threeComponents(ids)), ids.join(' ')).toEqual([AS_YCBCR]);
    }
  });

  it('follows a JFIF marker (YCbCr) before the ids, and only a JFIF identifier with its zero', () => {
    const rgbIds: [number, number, number] = [0x52, 0x47, 0x42];
    expect(values(threeComponents(rgbIds, jfif()))).toEqual([AS_YCBCR]);
    for (const bad of ['JFIX', 'XFIF', 'JXIF', 'JFXF']) {
      expect(values(threeComponents(rgbIds, jfif([...ascii(bad), 0, 1, 2]))), bad).toEqual([AS_RGB]);
    }
    expect(values(threeComponents(rgbIds, jfif([...ascii('JFIF'), 1, 1, 2]))), 'no zero').toEqual([AS_RGB]);
    expect(values(threeComponents(rgbIds, jfif(ascii('JFIF')))), 'four bytes').toEqual([AS_RGB]);
    expect(values(threeComponents(rgbIds, jfif([...ascii('JFIF'), 0]))), 'five bytes').toEqual([AS_YCBCR]);
    expect(values(threeComponents(rgbIds, segment(0xe1, [...ascii('JFIF'), 0]))), 'APP1').toEqual([AS_RGB]);
    // JFIF wins over an Adobe transform of 0, before or after it; a later non-JFIF APP0 does not undo it.
    expect(values(threeComponents([1, 2, 3], adobe(0), jfif()))).toEqual([AS_YCBCR]);
    expect(values(threeComponents([1, 2, 3], jfif(), adobe(0)))).toEqual([AS_YCBCR]);
    expect(values(threeComponents(rgbIds, jfif(), segment(0xe0, ascii('JFXX\0'))))).toEqual([AS_YCBCR]);
  });

  it("follows Adobe's transform (0: RGB, else YCbCr) over the ids, from a full 12-byte Adobe segment only", () => {
    expect(values(threeComponents([1, 2, 3], adobe(0)))).toEqual([AS_RGB]);
    expect(values(threeComponents([0x52, 0x47, 0x42], adobe(1)))).toEqual([AS_YCBCR]);
    for (const bad of ['Xdobe', 'AXobe', 'AdXbe', 'AdoXe', 'AdobX']) {
      expect(values(threeComponents([1, 2, 3], adobe(0, [...ascii(bad), 0, 100, 0, 0, 0, 0, 0]))), bad).toEqual([AS_YCBCR]);
    }
    expect(values(threeComponents([1, 2, 3], adobe(0, [...ascii('Adobe'), 0, 100, 0, 0, 0, 0]))), '11 bytes').toEqual([AS_YCBCR]);
    // An 11-byte one is ignored, not read as a transform: R G B ids then decide.
    expect(values(threeComponents([0x52, 0x47, 0x42], adobe(0, [...ascii('Adobe'), 0, 100, 0, 0, 0, 0]))), '11 bytes, R G B').toEqual([AS_RGB]);
    expect(values(threeComponents([1, 2, 3], segment(0xed, [...ascii('Adobe'), 0, 100, 0, 0, 0, 0, 0]))), 'APP13').toEqual([AS_YCBCR]);
    // A later APP14 that is not Adobe's leaves the transform as it was; a later Adobe one replaces it.
    expect(values(threeComponents([1, 2, 3], adobe(0), segment(0xee, ascii('Photoshop 3.0 ....'))))).toEqual([AS_RGB]);
    expect(values(threeComponents([1, 2, 3], adobe(0), adobe(1)))).toEqual([AS_YCBCR]);
  });

  it('takes one component as gray whatever its id or markers say', () => {
    for (const id of [0x52, 0x47, 0x42, 0]) {
      const components = [{ id }];
      expect(values(jpegFile(adobe(0), ...TABLES, sof(false, 8, 8, components), sos(components), [...flatBlock(2).finish()])), String(id)).toEqual([132]);
    }
  });
});
