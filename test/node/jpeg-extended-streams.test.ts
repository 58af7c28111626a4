/**
 * DICOM's 12-bit sequential JPEG decoder (src/image/dicom/codecs/jpeg-extended.ts) on streams written bit by bit
 * (test/helpers/jpeg-writer.ts), for what encoders never write: each frame and scan header it refuses, with its
 * message; the layouts it does not handle; and the edges of its scan loop (restart intervals, the two checks that
 * stop data which ends early from costing a whole image's decoding, clamping, Huffman codes too long for the fast
 * table, a run past the 64th coefficient). jpeg-extended.test.ts checks its pixels against dcmtk and the exact IDCT;
 * jpeg-markers.test.ts its marker loop, shared with the 8-bit decoder.
 */
import { describe, expect, it } from 'vitest';
import { decodeJpegExtended } from '../../src/image/dicom/codecs/jpeg-extended';
import { ImageError } from '../../src/image/errors';
import { MAX_PADDING_BITS } from '../../src/image/jpeg/huffman';
import { BitWriter, canonicalCodes, dht, dqt, frameHeader, GRAY, jpegFile, segment, SMALL_DC, sos, type FrameComponent, type HuffmanSpec, type ScanComponent } from '../helpers/jpeg-writer';

// AC: 0 = end of block, 1 + one extra bit = a coefficient of magnitude 1 after 15 zeros (15,1).
const AC: HuffmanSpec = { counts: [2], symbols: [0x00, 0xf1] };
// DC with a one-bit code for "no difference", so that a flat block takes two bits, the least any block can.
const DC_SHORT: HuffmanSpec = { counts: [1, 2], symbols: [0x00, 0x01, 0x02] };
const dcCodes = canonicalCodes(SMALL_DC);
const dcShortCodes = canonicalCodes(DC_SHORT);
const acCodes = canonicalCodes(AC);
const Q = new Array(64).fill(16);
const TABLES = [dqt(0, Q), dht(0, 0, SMALL_DC), dht(1, 0, AC)];
const SOF1 = 0xc1;

/** `count` flat blocks of DC difference `dc` each (category 0 or 2), then end of block. */
function flatBlocks(count: number, dc: 0 | 2 | -2 = 0, w = new BitWriter()): BitWriter {
  for (let i = 0; i < count; i++) {
    if (dc === 0) w.symbol(dcCodes, 0);
    else w.symbol(dcCodes, 2, dc > 0 ? 0b10 : 0b01, 2);
    w.symbol(acCodes, 0x00);
  }
  return w;
}

/** A gray image: the tables, a SOF1 frame, one scan of `data`, plus `extra` segments before the frame. */
function gray(width: number, height: number, data: Uint8Array | number[], options: { precision?: number; before?: number[][]; tables?: number[][] } = {}): Uint8Array {
  return jpegFile(...(options.before ?? []), ...(options.tables ?? TABLES), frameHeader(SOF1, options.precision ?? 12, width, height, GRAY), sos(GRAY), data);
}

/** A three-component image: tables, the frame, then each scan with its data. */
function threeComponents(components: FrameComponent[], scans: [ScanComponent[], Uint8Array][], before: number[][] = []): Uint8Array {
  return jpegFile(...before, ...TABLES, frameHeader(SOF1, 8, 8, 8, components), ...scans.flatMap(([c, data]) => [sos(c), data]));
}

const decode = (bytes: Uint8Array, maxPixels = 1 << 20) => decodeJpegExtended(bytes, maxPixels);
const values = (bytes: Uint8Array) => [...new Set(decode(bytes).samples)];
const invalid = (message: string) => new ImageError('invalid', message);
const unsupported = (message: string) => new ImageError('unsupported', message);

const YCBCR = [{ id: 1 }, { id: 2 }, { id: 3 }];
const RGB = [{ id: 0x52 }, { id: 0x47 }, { id: 0x42 }];

describe('the frame header', () => {
  it('needs SOI first, and a frame before EOI', () => {
    for (const bytes of [[0xff, 0xd8, 0xff], [0x00, 0xd8, 0xff, 0xd9], [0xff, 0x00, 0xff, 0xd9]]) {
      expect(() => decode(Uint8Array.from(bytes)), bytes.join(' ')).toThrow(invalid('Not a JPEG codestream (no SOI marker).'));
    }
    expect(() => decode(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]))).toThrow(invalid('The JPEG has no frame header.'));
  });

  it('decodes 12-bit samples around 2048 and 8-bit ones around 128, from SOF1 and SOF0', () => {
    const block = flatBlocks(1, 2).finish(); // DC difference 2 x Q 16 = 32: the IDCT's flat block is 32 / 8 = 4
    expect(values(gray(8, 8, block))).toEqual([2048 + 4]);
    expect(values(gray(8, 8, block, { precision: 8 }))).toEqual([128 + 4]);
    const sof0 = jpegFile(...TABLES, frameHeader(0xc0, 8, 8, 8, GRAY), sos(GRAY), block);
    expect(decode(sof0)).toMatchObject({ width: 8, height: 8, components: 1, precision: 8 });
  });

  it('refuses each malformed field with its message', () => {
    const data = flatBlocks(1).finish();
    const withFrame = (body: number[]) => jpegFile(...TABLES, segment(SOF1, body), sos(GRAY), data);
    const one = [1, 0x11, 0]; // id 1, 1x1, table 0
    const cases: [number[], ImageError][] = [
      [[12, 0, 8, 0, 8], invalid('Corrupt JPEG: bad frame header.')],
      [[16, 0, 8, 0, 8, 1, ...one], unsupported('JPEG DCT images with 16-bit samples are not supported (8 or 12 are).')],
      [[12, 0, 0, 0, 8, 1, ...one], unsupported('JPEGs whose height is given by a DNL marker are not supported.')],
      [[12, 0, 8, 0, 0, 1, ...one], invalid('Corrupt JPEG: bad frame header.')],
      [[12, 0, 8, 0, 8, 0], invalid('Corrupt JPEG: bad frame header.')],
      [[12, 0, 8, 0, 8, 0, ...one], invalid('Corrupt JPEG: bad frame header.')],
      // One component's three bytes cut to two; three components' nine to six.
      [[12, 0, 8, 0, 8, 1, 1, 0x11], invalid('Corrupt JPEG: bad frame header.')],
      [[12, 0, 8, 0, 8, 3, ...one, 2, 0x11, 0, 3, 0x11], invalid('Corrupt JPEG: bad frame header.')],
      [[16, 0, 8, 0, 8, 1, 1, 0x11], invalid('Corrupt JPEG: bad frame header.')],
      [[12, 0, 8, 0, 8, 2, ...one, 2, 0x11, 0], unsupported('JPEGs with 2 components are not supported (1 or 3 are).')],
    ];
    for (const [body, expected] of cases) expect(() => decode(withFrame(body)), body.join(' ')).toThrow(expected);
  });

  it('refuses sampling factors outside 1..4, a table id above 3 and a repeated component id; takes 4x4 and table 3', () => {
    const data = flatBlocks(1, 2).finish();
    const bad = invalid('Corrupt JPEG: bad frame component.');
    for (const [h, v, tq] of [[0, 1, 0], [5, 1, 0], [1, 0, 0], [1, 5, 0], [1, 1, 4]]) {
      expect(() => decode(jpegFile(...TABLES, frameHeader(SOF1, 12, 8, 8, [{ id: 1, h, v, tq }]), sos(GRAY), data)), `${h} ${v} ${tq}`).toThrow(bad);
    }
    expect(() => decode(threeComponents([{ id: 1 }, { id: 2 }, { id: 1 }], [[YCBCR, data]]))).toThrow(bad);
    // One component at 4x4 is still one block per MCU; quantisation table 3 is the last there is.
    const edge = jpegFile(dqt(3, Q), ...TABLES.slice(1), frameHeader(SOF1, 12, 8, 8, [{ id: 1, h: 4, v: 4, tq: 3 }]), sos(GRAY), data);
    expect([...new Set(decode(edge).samples)]).toEqual([2052]);
  });

  it('is held to maxPixels before anything is allocated', () => {
    const bytes = gray(8, 8, flatBlocks(1).finish());
    expect(decode(bytes, 64).samples.length).toBe(64);
    expect(() => decode(bytes, 63)).toThrow(new ImageError('too_large', 'The image is 8x8 (64 pixels); the limit is 63 pixels.'));
    const wide = gray(60000, 2, flatBlocks(1).finish());
    expect(() => decode(wide, 100_000)).toThrow(new ImageError('too_large', 'The image is 60000x2 (120000 pixels); the limit is 100000 pixels.'));
  });
});

describe('layouts', () => {
  const block = flatBlocks(1, 2).finish();

  it('refuses subsampled RGB, in either direction', () => {
    for (const [h, v] of [[2, 1], [1, 2]]) {
      const components = [{ ...RGB[0], h, v }, RGB[1], RGB[2]];
      expect(() => decode(threeComponents(components, [[RGB, block]])), `${h}x${v}`).toThrow(unsupported('Subsampled RGB JPEGs are not supported.'));
    }
  });

  it('refuses luminance sampled below another component, in either direction', () => {
    for (const [h, v] of [[2, 1], [1, 2]]) {
      const components = [YCBCR[0], { ...YCBCR[1], h, v }, YCBCR[2]];
      expect(() => decode(threeComponents(components, [[YCBCR, block]])), `${h}x${v}`)
        .toThrow(unsupported('JPEGs whose luminance is subsampled are not supported.'));
    }
  });

  it('refuses RGB coded one component per scan', () => {
    expect(() => decode(threeComponents(RGB, [[[RGB[0]], block]]))).toThrow(unsupported('RGB JPEGs with a scan per component are not supported.'));
  });

  it('takes YCbCr one component per scan, and chroma without a quantisation table (it is never transformed)', () => {
    const scans: [ScanComponent[], Uint8Array][] = YCBCR.map((c) => [[c], block]);
    expect(values(threeComponents(YCBCR, scans))).toEqual([132]);
    const chromaTable1 = [YCBCR[0], { id: 2, tq: 1 }, { id: 3, tq: 1 }];
    expect(values(threeComponents(chromaTable1, [[YCBCR, flatBlocks(3, 2).finish()]]))).toEqual([132]);
  });

  it('takes a file whose scans code the luminance and not the chroma', () => {
    expect(values(threeComponents(YCBCR, [[[YCBCR[0]], block]]))).toEqual([132]);
  });

  it('reads as many block rows as a component has in a scan of its own (luminance 1x2: two block rows)', () => {
    const components = [{ id: 1, h: 1, v: 2 }, YCBCR[1], YCBCR[2]];
    // The second luminance block predicts from the first: 2 + 0, still 132, in all 16 rows.
    const luma = flatBlocks(1, 0, flatBlocks(1, 2)).finish();
    const bytes = jpegFile(...TABLES, frameHeader(SOF1, 8, 8, 16, components), ...YCBCR.flatMap((c, i) => [sos([c]), i === 0 ? luma : flatBlocks(1).finish()]));
    expect(decode(bytes).samples).toEqual(new Uint16Array(8 * 16).fill(132));
  });

  it('refuses a file whose scans never code the luminance', () => {
    expect(() => decode(threeComponents(YCBCR, [[[YCBCR[1]], block], [[YCBCR[2]], block]]))).toThrow(invalid('The JPEG ends before its luminance was coded.'));
  });
});

describe('the scan header', () => {
  const block = flatBlocks(1, 2).finish();
  const withScan = (scan: number[], components = GRAY) => jpegFile(...TABLES, frameHeader(SOF1, 8, 8, 8, components), scan, block);

  it('refuses a component count outside 1..4 and a header too short for its count', () => {
    const bad = invalid('Corrupt JPEG: bad scan header.');
    expect(() => decode(withScan(segment(0xda, [0, 0, 63, 0])))).toThrow(bad);
    expect(() => decode(withScan(segment(0xda, [5, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 0, 63, 0])))).toThrow(bad);
    expect(() => decode(withScan(segment(0xda, [1, 1, 0, 0, 63])))).toThrow(bad);
    expect(() => decode(withScan(segment(0xda, [2, 1, 0, 2, 0, 0, 63]), YCBCR))).toThrow(bad);
    // Four is a count the header may hold; the fourth component is then unknown to this frame.
    expect(() => decode(withScan(sos([...YCBCR, { id: 4 }]), YCBCR))).toThrow(invalid('Corrupt JPEG: scan names an unknown or repeated component.'));
  });

  it('refuses an unknown or repeated component, and a component coded twice', () => {
    const message = invalid('Corrupt JPEG: scan names an unknown or repeated component.');
    expect(() => decode(withScan(sos([{ id: 9 }])))).toThrow(message);
    expect(() => decode(withScan(sos([{ id: 1 }, { id: 1 }]), YCBCR))).toThrow(message);
    const twice = jpegFile(...TABLES, frameHeader(SOF1, 8, 8, 8, GRAY), sos(GRAY), block, sos(GRAY), block);
    expect(() => decode(twice)).toThrow(invalid('Corrupt JPEG: a component is coded in more than one scan.'));
  });

  it('refuses an MCU of more than 10 blocks and takes one of exactly 10', () => {
    // Y 4x2 (8 blocks) with Cb 1x1 and Cr 1x1 is 10; Cb 2x1 makes it 11.
    const layout = (cbH: number) => [{ id: 1, h: 4, v: 2 }, { id: 2, h: cbH, v: 1 }, { id: 3 }];
    const image = (cbH: number) => jpegFile(...TABLES, frameHeader(SOF1, 8, 32, 16, layout(cbH)), sos(YCBCR), flatBlocks(8 + cbH + 1).finish());
    expect(decode(image(1)).samples.length).toBe(32 * 16);
    expect(() => decode(image(2))).toThrow(invalid('Corrupt JPEG: too many blocks per MCU.'));
  });
});

describe('the scan loop', () => {
  const restart = (n: number) => [0xff, 0xd0 + (n % 8)];
  const dri = (interval: number) => segment(0xdd, [interval >> 8, interval & 0xff]);

  it('resets the DC prediction at each restart marker, and refuses a DRI segment too short to hold an interval', () => {
    const blocks = [...flatBlocks(1, 2).finish(), ...restart(0), ...flatBlocks(1, 2).finish()];
    // Without the reset the second block would predict from the first: 2 + 2 = 4, 136.
    expect(values(gray(16, 8, blocks, { precision: 8, before: [dri(1)] }))).toEqual([132]);
    expect(() => decode(gray(16, 8, blocks, { precision: 8, before: [segment(0xdd, [1])] }))).toThrow(invalid('Corrupt JPEG: bad restart interval.'));
  });

  it('reads an RSTn marker at the very start of the data as its end (zero bits), not as a restart', () => {
    // Two MCUs, a restart interval of 1: RST0, the first block (DC +2), RST1, the second (DC -2). The first MCU decodes
    // from zero bits (128); the restart before the second consumes RST0 and reads the first block's data (132).
    const blocks = [...restart(0), ...flatBlocks(1, 2).finish(), ...restart(1), ...flatBlocks(1, -2).finish()];
    const samples = decode(gray(16, 8, blocks, { precision: 8, before: [dri(1)] })).samples;
    expect([...new Set(samples.filter((_, i) => i % 16 < 8)), ...new Set(samples.filter((_, i) => i % 16 >= 8))]).toEqual([128, 132]);
  });

  it('does not take a restart marker for the end of the data', () => {
    // 256 blocks, one a restart interval: the reader meets RST0..RST7 long before 2 bits a block have passed.
    const data: number[] = [];
    for (let i = 0; i < 256; i++) data.push(...flatBlocks(1, 0).finish(), ...(i < 255 ? restart(i) : []));
    expect(values(gray(128, 128, data, { before: [dri(1)] }))).toEqual([2048]);
  });

  /** `blocks` flat blocks of two bits each (the fewest a block can take): the DC code 0 and the AC end of block. */
  const shortTables = [dqt(0, Q), dht(0, 0, DC_SHORT), dht(1, 0, AC)];
  const twoBitBlocks = (bytes: number) => new Array(bytes).fill(0); // four blocks a byte, all zero bits

  it('refuses data that ends before it could cover every block, and takes data that just does', () => {
    const early = invalid('Corrupt JPEG: the image data ends long before the image does.');
    // 64 blocks need at least 128 bits: 16 bytes.
    expect(values(gray(64, 64, twoBitBlocks(16), { tables: shortTables }))).toEqual([2048]);
    expect(() => decode(gray(64, 64, twoBitBlocks(15), { tables: shortTables }))).toThrow(early);
    // Ended by another segment rather than EOI.
    expect(() => decode(gray(64, 64, [...twoBitBlocks(15), ...dht(0, 1, DC_SHORT)], { tables: shortTables }))).toThrow(early);
    // Three interleaved components: 64 MCUs of 3 blocks need 384 bits, 48 bytes.
    const ycbcr = (bytes: number) => jpegFile(...shortTables, frameHeader(SOF1, 8, 64, 64, YCBCR), sos(YCBCR), twoBitBlocks(bytes));
    expect(values(ycbcr(48))).toEqual([128]);
    expect(() => decode(ycbcr(47))).toThrow(early);
  });

  it(`refuses data that runs out (no EOI) once more than ${MAX_PADDING_BITS} padding bits were decoded, and no sooner`, () => {
    // 1,024 blocks: the first 512 take 4 bits each (DC category 1: 10 and its bit, end of block), 2,048 bits in all,
    // exactly the least 1,024 blocks can take; the other 512 blocks then decode from 1,024 zero bits of padding.
    const w = new BitWriter();
    for (let i = 0; i < 512; i++) w.symbol(dcShortCodes, 1, i & 1, 1).symbol(acCodes, 0x00);
    const full = w.finish();
    expect(decode(gray(256, 256, full, { tables: shortTables })).samples.length).toBe(256 * 256);
    // One byte fewer, and no EOI after it: two more blocks, 8 more bits, decode from padding, past the limit.
    const cut = gray(256, 256, full.subarray(0, full.length - 1), { tables: shortTables }).subarray(0, -2);
    expect(() => decode(cut)).toThrow(invalid('Corrupt JPEG: the image data ends before the image does (truncated?).'));
  });

  it('clamps samples to the range of their precision', () => {
    // A 16-bit table of 16384: a DC difference of +-2 is +-4096 after the IDCT, past either end.
    const bigQ = segment(0xdb, [0x10, ...new Array(64).fill(0).flatMap(() => [0x40, 0x00])]);
    for (const precision of [8, 12]) {
      const tables = [bigQ, ...TABLES.slice(1)];
      expect(values(gray(8, 8, flatBlocks(1, 2).finish(), { precision, tables })), `${precision}-bit +2`).toEqual([(1 << precision) - 1]);
      expect(values(gray(8, 8, flatBlocks(1, -2).finish(), { precision, tables })), `${precision}-bit -2`).toEqual([0]);
    }
  });

  it('refuses a run past the 64th coefficient', () => {
    const w = new BitWriter().symbol(dcCodes, 0);
    for (let i = 0; i < 4; i++) w.symbol(acCodes, 0xf1, 1, 1); // k = 16, 32, 48, 64
    expect(() => decode(gray(8, 8, w.finish()))).toThrow(invalid('Corrupt JPEG: coefficient index out of range.'));
  });

  it('decodes codes too long for the fast lookup table as it decodes short ones', () => {
    // The same symbols with 2-bit and with 12-bit codes: end of block, ZRL, (0,1) and (2,1).
    const symbols = [0x00, 0xf0, 0x01, 0x21];
    const short: HuffmanSpec = { counts: [0, 4], symbols };
    const long: HuffmanSpec = { counts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4], symbols };
    const image = (table: HuffmanSpec) => {
      const codes = canonicalCodes(table);
      // DC 2, a 1 at k = 1, ZRL (k = 17), (2,1): -1 at k = 20, end of block.
      const w = new BitWriter().symbol(dcCodes, 2, 0b10, 2).symbol(codes, 0x01, 1, 1).symbol(codes, 0xf0).symbol(codes, 0x21, 0, 1).symbol(codes, 0x00);
      return Array.from(decode(gray(8, 8, w.finish(), { tables: [dqt(0, Q), dht(0, 0, SMALL_DC), dht(1, 0, table)] })).samples);
    };
    const fast = image(short);
    expect(new Set(fast).size, 'the coefficients make the block vary').toBeGreaterThan(8);
    expect(image(long)).toEqual(fast);
  });
});
