/**
 * The image parsers' every branch on hand-built byte sequences, with the exact error each refusal gives (what a
 * client reads in the problem's `detail`): the JPEG header scan (src/image/jpeg-header.ts), the decode entry
 * (src/image/decode.ts), the shared segment readers (src/image/jpeg/segments.ts). The decoders' pixel output is
 * checked against jpeg-js and djpeg in jpeg-decoder.test.ts; this file pins the structure around it.
 */
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/image/bytes';
import { decodeJpegLuma, rgbToLuma } from '../../src/image/decode';
import { ImageError } from '../../src/image/errors';
import { readJpegHeader } from '../../src/image/jpeg-header';
import { readHuffmanTables, readQuantisationTables, readSegment, tableCounter } from '../../src/image/jpeg/segments';
import { buildFixtures } from '../helpers/fixtures';
import { expectImageError } from '../helpers/image-errors';

const bytes = (...parts: (number[] | Uint8Array)[]) => concatBytes(parts.map((p) => Uint8Array.from(p)));
/** A marker segment: FF, the marker, a big-endian length (payload + 2), the payload. */
const segment = (marker: number, payload: number[] | Uint8Array) => bytes([0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 255], payload);
/** A frame header payload: precision, height, width, components (id, sampling, table). */
const frame = (width: number, height: number, components = 1, { precision = 8, sampling = 0x11 } = {}) => [
  precision, height >> 8, height & 255, width >> 8, width & 255, components,
  ...Array.from({ length: components }, (_, i) => [i + 1, sampling, 0]).flat(),
];
const SOI = [0xff, 0xd8];
const EOI = [0xff, 0xd9];
const SOS = segment(0xda, [1, 1, 0, 0, 63, 0]);
/** A JPEG up to its scan (no entropy data needed by the header scan), ended by EOI. */
const jpeg = (...segments: Uint8Array[]) => bytes(SOI, ...segments, SOS, EOI);

/** An APP1 Exif segment with one IFD entry for `tag` = `value` (SHORT), in either byte order. */
function exif(value: number, { little = false, tag = 0x0112, entries = 1, ifd = 8, header = 'Exif\0\0', before = [] as number[] } = {}) {
  const u16 = (v: number) => (little ? [v & 255, v >> 8] : [v >> 8, v & 255]);
  const u32 = (v: number) => (little ? [v & 255, (v >> 8) & 255, (v >> 16) & 255, v >>> 24] : [v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255]);
  const entry = (t: number, v: number) => [...u16(t), ...u16(3), ...u32(1), ...u16(v), 0, 0];
  const tiff = [...(little ? [0x49, 0x49] : [0x4d, 0x4d]), ...u16(42), ...u32(ifd), ...u16(entries), ...before.flatMap((t) => entry(t, 1)), ...entry(tag, value)];
  return segment(0xe1, [...Array.from(header, (c) => c.charCodeAt(0)), ...tiff]);
}
const adobe = (transform: number, text = 'Adobe') => segment(0xee, [...Array.from(text, (c) => c.charCodeAt(0)), 0, 100, 0, 0, 0, 0, transform]);

describe('readJpegHeader', () => {
  it('reads size, components and process from the frame header', () => {
    expect(readJpegHeader(jpeg(segment(0xc0, frame(300, 200))))).toEqual({ width: 300, height: 200, components: 1, progressive: false, orientation: 1, adobeTransform: null });
    expect(readJpegHeader(jpeg(segment(0xc1, frame(0x1234, 0x0567, 3))))).toMatchObject({ width: 0x1234, height: 0x0567, components: 3, progressive: false });
    expect(readJpegHeader(jpeg(segment(0xc2, frame(8, 9, 4))))).toMatchObject({ width: 8, height: 9, components: 4, progressive: true });
  });

  it('refuses what does not start with SOI, or is shorter than 4 bytes', () => {
    const msg = 'The body is not a JPEG (no start-of-image marker).';
    for (const b of [[], [0xff, 0xd8, 0xff], [0x00, 0xd8, 0xff, 0xd9], [0xff, 0x00, 0xff, 0xd9], [0xd8, 0xff, 0xd8, 0xff]]) {
      expectImageError(() => readJpegHeader(Uint8Array.from(b)), 'invalid', msg);
    }
    // Four bytes are enough to be looked at.
    expectImageError(() => readJpegHeader(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9])), 'invalid', 'Corrupt JPEG: end of image before any scan.');
  });

  it('needs a marker where one must be, skips fill bytes and markers without a length', () => {
    expectImageError(() => readJpegHeader(bytes(SOI, [0x00], segment(0xc0, frame(8, 8)), SOS, EOI)), 'invalid', 'Corrupt JPEG: expected a marker at byte 2.');
    expectImageError(() => readJpegHeader(bytes(SOI, segment(0xe0, [1, 2]), [0x12], SOS, EOI)), 'invalid', 'Corrupt JPEG: expected a marker at byte 8.');
    const filled = bytes(SOI, [0xff, 0xff, 0xff], segment(0xc0, frame(8, 8)), [0xff, 0x01, 0xff, 0xd0, 0xff, 0xd7, 0xff, 0xd8], SOS, EOI);
    expect(readJpegHeader(filled)).toMatchObject({ width: 8, height: 8 });
  });

  it('calls a file with no scan truncated, however it ends', () => {
    const msg = 'The JPEG is truncated or corrupt (no image data).';
    const frameSegment = segment(0xc0, frame(8, 8));
    for (const b of [
      bytes(SOI, [0xff, 0xff]), // only fill bytes left
      bytes(SOI, frameSegment), // segments, then nothing
      bytes(SOI, frameSegment, [0xff, 0xe0, 0x00]), // a length cut in half
      bytes(SOI, frameSegment, [0xff, 0xe0, 0x00, 0x01, 0xff, 0xd9]), // a length below 2
      bytes(SOI, frameSegment, [0xff, 0xe0, 0x00, 0x09, 1, 2, 3]), // a segment longer than the file
    ]) {
      expectImageError(() => readJpegHeader(b), 'invalid', msg);
    }
    // A frame header or scan header whose length field is the file's last two bytes is still read.
    expectImageError(() => readJpegHeader(bytes(SOI, [0xff, 0xc0, 0x00, 0x02])), 'invalid', 'Corrupt JPEG: short frame header.');
    expectImageError(() => readJpegHeader(bytes(SOI, frameSegment, [0xff, 0xda, 0x00, 0x02])), 'invalid', 'The JPEG is truncated (no end-of-image marker).');
    // A scan header longer than the file is not looked into.
    expectImageError(() => readJpegHeader(bytes(SOI, frameSegment, [0xff, 0xda, 0x00, 0x20, 1, 0xff, 0xd9])), 'invalid', msg);
    // A segment that ends exactly at the end of the file is read (then nothing follows).
    expectImageError(() => readJpegHeader(bytes(SOI, frameSegment, segment(0xe0, [1, 2, 3]))), 'invalid', msg);
  });

  it('names the JPEG processes it does not decode', () => {
    const cases: [number, string][] = [
      [0xc3, 'lossless JPEG'],
      [0xc5, 'hierarchical JPEG'],
      [0xc6, 'hierarchical progressive JPEG'],
      [0xc7, 'hierarchical lossless JPEG'],
      [0xc9, 'arithmetic-coded JPEG'],
      [0xca, 'arithmetic-coded progressive JPEG'],
      [0xcb, 'arithmetic-coded lossless JPEG'],
      [0xcd, 'hierarchical arithmetic-coded JPEG'],
      [0xce, 'hierarchical arithmetic-coded progressive JPEG'],
      [0xcf, 'hierarchical arithmetic-coded lossless JPEG'],
    ];
    for (const [marker, name] of cases) {
      expectImageError(() => readJpegHeader(jpeg(segment(marker, frame(8, 8)))), 'unsupported', `${name} is not supported; send a baseline or progressive JPEG.`);
    }
    // DHT (0xc4), JPG (0xc8) and DAC (0xcc) share the SOF range but are not frames: skipped.
    expect(readJpegHeader(jpeg(segment(0xc4, []), segment(0xc8, []), segment(0xcc, []), segment(0xc0, frame(8, 8))))).toMatchObject({ width: 8 });
  });

  it('refuses a second frame, and a scan before any frame', () => {
    expectImageError(() => readJpegHeader(jpeg(segment(0xc0, frame(8, 8)), segment(0xc2, frame(8, 8)))), 'invalid', 'Corrupt JPEG: more than one frame header.');
    expectImageError(() => readJpegHeader(bytes(SOI, SOS, EOI)), 'invalid', 'Corrupt JPEG: scan before frame header.');
  });

  it('needs an EOI after the scan header, right after it at the earliest', () => {
    const head = bytes(SOI, segment(0xc0, frame(8, 8)), SOS);
    expectImageError(() => readJpegHeader(bytes(head, [0x12, 0x34])), 'invalid', 'The JPEG is truncated (no end-of-image marker).');
    expectImageError(() => readJpegHeader(head), 'invalid', 'The JPEG is truncated (no end-of-image marker).');
    expectImageError(() => readJpegHeader(bytes(head, [0xff])), 'invalid', 'The JPEG is truncated (no end-of-image marker).');
    expect(readJpegHeader(bytes(head, EOI))).toMatchObject({ width: 8 });
    expect(readJpegHeader(bytes(head, [1, 2, 3], EOI, [0, 0]))).toMatchObject({ width: 8 });
    // Only FF D9 together is an EOI.
    expectImageError(() => readJpegHeader(bytes(head, [0x00, 0xd9, 0x00])), 'invalid', 'The JPEG is truncated (no end-of-image marker).');
    expectImageError(() => readJpegHeader(bytes(head, [0xff, 0x00, 0x00])), 'invalid', 'The JPEG is truncated (no end-of-image marker).');
    // Nor does one just before the scan header.
    expectImageError(() => readJpegHeader(bytes(SOI, segment(0xc0, frame(8, 8)), segment(0xfe, [0xff, 0xd9]), SOS, [1])), 'invalid', 'The JPEG is truncated (no end-of-image marker).');
    // An EOI inside the headers does not count for the data after the scan.
    expectImageError(() => readJpegHeader(bytes(SOI, segment(0xe0, [0xff, 0xd9]), segment(0xc0, frame(8, 8)), SOS, [1])), 'invalid', 'The JPEG is truncated (no end-of-image marker).');
  });

  it('validates the frame header: length, precision, size, components, sampling', () => {
    const sof = (payload: number[]) => () => readJpegHeader(jpeg(segment(0xc0, payload)));
    expectImageError(sof([8, 0, 8, 0, 8]), 'invalid', 'Corrupt JPEG: short frame header.');
    expectImageError(sof(frame(8, 8, 3).slice(0, 14)), 'invalid', 'Corrupt JPEG: short frame header.');
    expect(sof(frame(8, 8, 3))()).toMatchObject({ components: 3 });
    expectImageError(sof(frame(8, 8, 1, { precision: 12 })), 'unsupported', '12-bit JPEG is not supported; send an 8-bit JPEG.');
    expectImageError(sof(frame(0, 8)), 'unsupported', 'JPEGs without dimensions in the frame header are not supported.');
    expectImageError(sof(frame(8, 0)), 'unsupported', 'JPEGs without dimensions in the frame header are not supported.');
    expect(sof(frame(1, 1))()).toMatchObject({ width: 1, height: 1 });
    for (const n of [0, 2, 5]) expectImageError(sof(frame(8, 8, n)), 'unsupported', `JPEGs with ${n} colour components are not supported.`);
    for (const sampling of [0x01, 0x10, 0x51, 0x15, 0x00]) {
      expectImageError(sof(frame(8, 8, 1, { sampling })), 'invalid', 'Corrupt JPEG: invalid sampling factors.');
    }
    for (const sampling of [0x11, 0x44, 0x14, 0x41, 0x22]) expect(sof(frame(8, 8, 1, { sampling }))()).toMatchObject({ width: 8 });
  });

  it('reads the EXIF orientation in either byte order, and ignores what is malformed', () => {
    const orientationOf = (...segments: Uint8Array[]) => readJpegHeader(jpeg(...segments, segment(0xc0, frame(8, 8)))).orientation;
    for (const value of [1, 2, 5, 6, 8]) {
      expect(orientationOf(exif(value)), `MM ${value}`).toBe(value);
      expect(orientationOf(exif(value, { little: true })), `II ${value}`).toBe(value);
    }
    expect(orientationOf()).toBe(1);
    expect(orientationOf(exif(0))).toBe(1);
    expect(orientationOf(exif(9))).toBe(1);
    expect(orientationOf(exif(6, { tag: 0x0110 }))).toBe(1); // another tag
    expect(orientationOf(exif(6, { header: 'Exif\0\x01' }))).toBe(1);
    expect(orientationOf(exif(6, { ifd: 200 }))).toBe(1); // IFD past the segment
    expect(orientationOf(exif(6, { entries: 2 }))).toBe(6); // the tag is found before the missing second entry
    expect(orientationOf(exif(6, { tag: 0x0110, entries: 2 }))).toBe(1); // the second entry runs past the end
    expect(orientationOf(segment(0xe1, Array.from('Exif\0\0MM\0*', (c) => c.charCodeAt(0))))).toBe(1); // shorter than 14
    const badOrder = exif(6);
    badOrder.set([0x4d, 0x49], 10);
    expect(orientationOf(badOrder)).toBe(1);
    // A later APP1 without an orientation keeps the one already read.
    expect(orientationOf(exif(6), segment(0xe1, Array.from('http://ns.adobe.com/xap/1.0/\0', (c) => c.charCodeAt(0))))).toBe(6);
    expect(orientationOf(exif(6), exif(3))).toBe(3);
    expect(orientationOf(exif(6), exif(1))).toBe(1); // 1 is a value, not "none"
    // The second of two entries; an IFD offset one byte short of the end (no room for the count) reads nothing.
    expect(orientationOf(exif(8, { entries: 2, before: [0x010f] }))).toBe(8);
    expect(orientationOf(exif(6, { ifd: 21 }))).toBe(1);
    // An entry cut by the block's end (its value inside, its last two bytes not) is not read on into the file.
    const whole = exif(6);
    expect(orientationOf(segment(0xe1, whole.subarray(4, whole.length - 2)))).toBe(1);
  });

  it('reads the Adobe APP14 transform only from a long enough "Adobe" segment', () => {
    const transformOf = (...segments: Uint8Array[]) => readJpegHeader(jpeg(...segments, segment(0xc0, frame(8, 8, 4)))).adobeTransform;
    expect(transformOf(adobe(2))).toBe(2);
    expect(transformOf(adobe(0))).toBe(0);
    expect(transformOf()).toBeNull();
    expect(transformOf(adobe(1, 'Adobf'))).toBeNull();
    expect(transformOf(segment(0xed, [...Array.from('Adobe', (c) => c.charCodeAt(0)), 0, 100, 0, 0, 0, 0, 2]))).toBeNull(); // APP13, not APP14
    expect(transformOf(segment(0xee, Array.from('Adobe\0\x64\0\0\0\0', (c) => c.charCodeAt(0))))).toBeNull(); // 11 bytes
  });
});

describe('decodeJpegLuma (limits and colour spaces, before any pixel)', () => {
  const fixtures = buildFixtures();

  it('refuses more pixels than the limit, naming both, and accepts exactly the limit', () => {
    const gray = fixtures['gray-baseline']; // 300x400
    expectImageError(() => decodeJpegLuma(gray, { maxPixels: 119_999 }), 'too_large', 'The image is 300x400 (120000 pixels); the limit is 119999 pixels.');
    expect(decodeJpegLuma(gray, { maxPixels: 120_000 }).luma).toMatchObject({ width: 300, height: 400 });
  });

  it('sizes a progressive JPEG\'s coefficient store from the components luminance needs and the scale', () => {
    const progressive = fixtures['gray-progressive']; // 300x400, 1 component: 240,000 bytes at full scale
    expectImageError(
      () => decodeJpegLuma(progressive, { maxPixels: 1e8, maxDecodeBytes: 239_999 }),
      'too_large',
      'This progressive 300x400 JPEG needs 1 MiB to decode; the limit is 0 MiB (baseline JPEGs of this size are accepted).',
    );
    expect(decodeJpegLuma(progressive, { maxPixels: 1e8, maxDecodeBytes: 240_000 }).scale).toBe(1);
    // At 1/8 scale (both sides >= 37) only DC is kept: 1/64 of that.
    expect(decodeJpegLuma(progressive, { maxPixels: 1e8, maxDecodeBytes: 3_750 }, 37).scale).toBe(8);
    expectImageError(() => decodeJpegLuma(progressive, { maxPixels: 1e8, maxDecodeBytes: 3_749 }, 37), 'too_large', /needs 1 MiB/);
    // RGB stored with an Adobe transform of 0 needs all three components; YCbCr only Y.
    const rgb444 = fixtures['rgb-444-progressive']; // 300x400 YCbCr
    expect(decodeJpegLuma(rgb444, { maxPixels: 1e8, maxDecodeBytes: 240_000 }).scale).toBe(1);
    const asRgb = concatBytes([rgb444.subarray(0, 2), adobe(0), rgb444.subarray(2)]);
    expectImageError(() => decodeJpegLuma(asRgb, { maxPixels: 1e8, maxDecodeBytes: 240_000 }), 'too_large', /needs 1 MiB/);
    expect(() => decodeJpegLuma(asRgb, { maxPixels: 1e8, maxDecodeBytes: 720_000 })).not.toThrow();
    // Baseline files need no store: no limit applies.
    expect(decodeJpegLuma(fixtures['gray-baseline'], { maxPixels: 1e8, maxDecodeBytes: 1 }).scale).toBe(1);
    expect(decodeJpegLuma(progressive, { maxPixels: 1e8 }).scale).toBe(1);
  });

  it('picks the reduction from the long side too: minLongSide applies to the longer axis only', () => {
    const tall = fixtures['gray-baseline']; // 300 wide, 400 high
    expect(decodeJpegLuma(tall, { maxPixels: 1e8 }, 0, 100).scale).toBe(4); // 400/4 = 100 >= 100; 1/8 would give 50
    expect(decodeJpegLuma(tall, { maxPixels: 1e8 }, 0, 101).scale).toBe(2);
    const wide = fixtures['gray-exif-6']; // 400 wide, 300 high
    expect(decodeJpegLuma(wide, { maxPixels: 1e8 }, 0, 100).scale).toBe(4);
    expect(decodeJpegLuma(wide, { maxPixels: 1e8 }, 39, 0).scale).toBe(4); // ceil(300 / 8) = 38 < 39
    expect(decodeJpegLuma(wide, { maxPixels: 1e8 }, 38, 0).scale).toBe(8);
  });

  it('needs all four components\' coefficients for a progressive CMYK or YCCK JPEG', () => {
    // The Adobe fixtures relabelled progressive: the memory check comes from the header, before any scan is read.
    for (const name of ['ycck-adobe', 'cmyk-adobe']) {
      const relabelled = fixtures[name].slice();
      relabelled[relabelled.findIndex((b, i) => b === 0xff && relabelled[i + 1] === 0xc0) + 1] = 0xc2;
      expectImageError(() => decodeJpegLuma(relabelled, { maxPixels: 1e8, maxDecodeBytes: 959_999 }), 'too_large', /^This progressive 300x400 JPEG needs 1 MiB/);
    }
  });

  it('refuses four components without an Adobe marker, and reports undecodable data as invalid', () => {
    const cmyk = fixtures['cmyk-adobe'];
    const app14 = cmyk.findIndex((b, i) => b === 0xff && cmyk[i + 1] === 0xee);
    const length = (cmyk[app14 + 2] << 8) | cmyk[app14 + 3];
    const bare = concatBytes([cmyk.subarray(0, app14), cmyk.subarray(app14 + 2 + length)]);
    expectImageError(() => decodeJpegLuma(bare, { maxPixels: 1e8 }), 'unsupported', 'Four-component JPEGs without an Adobe marker (unknown colour space) are not supported.');
    expect(() => decodeJpegLuma(cmyk, { maxPixels: 1e8 })).not.toThrow();
  });
});

describe('ImageError', () => {
  it('names itself, and carries kind and reason', () => {
    const error = new ImageError('not_a_chest_xray', 'No.', 'dicom_modality');
    expect([error.name, error.kind, error.reason, error.message]).toEqual(['ImageError', 'not_a_chest_xray', 'dicom_modality', 'No.']);
    expect(error).toBeInstanceOf(Error);
  });
});

describe('rgbToLuma', () => {
  it('uses BT.601 weights with rounding, and leaves grey alone', () => {
    expect([...rgbToLuma(Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 7, 7, 7]), 6)]).toEqual([76, 150, 29, 255, 0, 7]);
    expect([...rgbToLuma(Uint8Array.from([10, 20, 30]), 1)]).toEqual([18]); // 2.99 + 11.74 + 3.42 = 18.15
  });
});

describe('JPEG segment readers', () => {
  it('reads a segment\'s payload, refusing cut-off lengths and lengths out of bounds', () => {
    expect([...readSegment(Uint8Array.from([0, 4, 7, 8, 9]), 0)]).toEqual([7, 8]);
    expect([...readSegment(Uint8Array.from([0, 2]), 0)]).toEqual([]);
    expect([...readSegment(Uint8Array.from([9, 0, 3, 5]), 1)]).toEqual([5]);
    expectImageError(() => readSegment(Uint8Array.from([0]), 0), 'invalid', 'The JPEG is truncated.');
    expectImageError(() => readSegment(Uint8Array.from([0, 4]), 1, 'lossless JPEG'), 'invalid', 'The lossless JPEG is truncated.');
    expectImageError(() => readSegment(Uint8Array.from([0, 1, 0]), 0), 'invalid', 'Corrupt JPEG: bad segment length.');
    expectImageError(() => readSegment(Uint8Array.from([0, 5, 1, 2]), 0, 'lossless JPEG'), 'invalid', 'Corrupt lossless JPEG: bad segment length.');
  });

  it('counts tables and throws on the one past the limit', () => {
    const count = tableCounter(2);
    count();
    count();
    expect(count).toThrow(new ImageError('unsupported', 'JPEGs with more than 2 quantisation and Huffman tables are not supported.'));
    const custom = tableCounter(0, () => new ImageError('invalid', 'custom'));
    expect(custom).toThrow('custom');
  });

  it('reads DC and AC Huffman tables by id, checking class, id and length', () => {
    const table = (cls: number, id: number, symbols = [0]) => [(cls << 4) | id, 1, ...new Array(15).fill(0), ...symbols];
    const dc: unknown[] = [];
    const ac: unknown[] = [];
    let counted = 0;
    readHuffmanTables(Uint8Array.from([...table(0, 0), ...table(1, 3, [0x11])]), dc as never, ac as never, () => counted++);
    expect(counted).toBe(2);
    expect(dc[0]).toBeDefined();
    expect(ac[3]).toBeDefined();
    expect(ac[0]).toBeUndefined();
    // Without AC tables to fill, an AC table is counted and skipped.
    const dc2: unknown[] = [];
    readHuffmanTables(Uint8Array.from([...table(1, 0), ...table(0, 1)]), dc2 as never, null, () => counted++);
    expect(dc2[1]).toBeDefined();
    expect(counted).toBe(4);
    const bad = (data: number[], strict = true, name?: string) => () => readHuffmanTables(Uint8Array.from(data), [], [], () => undefined, strict, name);
    expectImageError(bad(table(2, 0)), 'invalid', 'Corrupt JPEG: bad Huffman table.');
    // Strict unless told otherwise.
    expectImageError(() => readHuffmanTables(Uint8Array.from(table(2, 0)), [], [], () => undefined), 'invalid', 'Corrupt JPEG: bad Huffman table.');
    expect(bad(table(2, 0), false)).not.toThrow(); // the 8-bit decoder takes any nonzero class as AC
    expectImageError(bad(table(0, 4), true, 'lossless JPEG'), 'invalid', 'Corrupt lossless JPEG: bad Huffman table.');
    expectImageError(bad(table(0, 0).slice(0, 16)), 'invalid', 'Corrupt JPEG: bad Huffman table.'); // counts cut off
    expectImageError(bad(table(0, 0, [])), 'invalid', 'Corrupt JPEG: bad Huffman table.'); // symbols cut off
    expect(bad(table(0, 3))).not.toThrow();
  });

  it('reads 8- and 16-bit quantisation tables into natural order', () => {
    const zigzagged = Array.from({ length: 64 }, (_, k) => k + 1);
    const quant: (Uint16Array | undefined)[] = [];
    let counted = 0;
    readQuantisationTables(Uint8Array.from([0x02, ...zigzagged, 0x13, ...zigzagged.flatMap((v) => [v, 1])]), quant, Uint16Array, () => counted++);
    expect(counted).toBe(2);
    // Natural order: row 0 is zig-zag positions 0, 1, 5, 6, 14, 15, 27, 28.
    expect([...quant[2]!.subarray(0, 8)]).toEqual([1, 2, 6, 7, 15, 16, 28, 29]);
    expect(quant[2]![8]).toBe(3);
    expect([...quant[3]!.subarray(0, 3)]).toEqual([257, 513, 1537]);
    expectImageError(() => readQuantisationTables(Uint8Array.from([0x04, ...zigzagged]), [], Uint16Array, () => undefined), 'invalid', 'Corrupt JPEG: bad quantisation table.');
    expectImageError(() => readQuantisationTables(Uint8Array.from([0x20, ...zigzagged, ...zigzagged]), [], Uint16Array, () => undefined), 'invalid', 'Corrupt JPEG: bad quantisation table.');
    expectImageError(() => readQuantisationTables(Uint8Array.from([0x00, ...zigzagged.slice(1)]), [], Uint16Array, () => undefined), 'invalid', 'Corrupt JPEG: bad quantisation table.');
    expectImageError(() => readQuantisationTables(Uint8Array.from([0x10, ...zigzagged]), [], Uint16Array, () => undefined), 'invalid', 'Corrupt JPEG: bad quantisation table.');
    // Not strict (the 8-bit decoder): a short table is read as far as it goes.
    const lax: (Float32Array | undefined)[] = [];
    readQuantisationTables(Uint8Array.from([0x00, ...zigzagged.slice(0, 10)]), lax, Float32Array, () => undefined, false);
    expect(lax[0]![0]).toBe(1);
    expect(Number.isNaN(lax[0]![63])).toBe(true);
  });
});
