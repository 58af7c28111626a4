/**
 * Scans written bit by bit (test/helpers/jpeg-writer.ts), for what the fixture files never contain: a progressive
 * image (spectral selection, successive approximation, end-of-band runs over several blocks, refinement corrections)
 * against the baseline encoding of the same coefficients, and the corrupt streams a valid encoder never writes (a run
 * past the 64th coefficient, a refinement value other than +-1, bad scan parameters, missing tables).
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageError } from '../../src/image/errors';
import { decodeScaledLuma } from '../../src/image/jpeg/decoder';
import { MUTATED_GROUP } from '../helpers/ci';
import { DJPEG, djpegLuma } from '../helpers/jpeg-oracle';
import { BitWriter, canonicalCodes, dht, dqt, GRAY, jpegFile, segment, SMALL_DC as DC, sof, sos, type HuffmanSpec } from '../helpers/jpeg-writer';

// AC, every code short enough for the decoder's fast table: 00 EOB, 01 (0,1), 100 ZRL, 101 (0,2), 1100 (2,1),
// 1101 EOBRUN of 2-3, 1110 (15,1), 11110 (14,1).
const AC: HuffmanSpec = { counts: [0, 2, 2, 3, 1], symbols: [0x00, 0x01, 0xf0, 0x02, 0x21, 0x10, 0xf1, 0xe1] };
// The same symbols with (15,1) and (14,1) at 12 bits, past the fast table: the decoder's slow path.
const AC_LONG: HuffmanSpec = { counts: [0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 2], symbols: [0x00, 0x01, 0xf0, 0x02, 0x21, 0x10, 0xf1, 0xe1] };
const dcCodes = canonicalCodes(DC);
const acCodes = canonicalCodes(AC);
const acLongCodes = canonicalCodes(AC_LONG);

const Q = new Array(64).fill(16);

/** A one-component image of `blocks` 8x8 blocks in a row, its tables, and the given scans (header + data). */
function image(progressive: boolean, blocks: number, scans: [number[], Uint8Array][], options: { ac?: HuffmanSpec; tq?: number } = {}): Uint8Array {
  return jpegFile(
    dqt(0, Q),
    sof(progressive, 8 * blocks, 8, [{ id: 1, tq: options.tq ?? 0 }]),
    dht(0, 0, DC),
    dht(1, 0, options.ac ?? AC),
    ...scans.flatMap(([header, data]) => [header, data]),
  );
}

const luma = (bytes: Uint8Array, minWidth: number, minHeight = 1) => {
  const { width, height, data } = decodeScaledLuma(bytes, minWidth, minHeight);
  return { width, height, data: Array.from(data) };
};

const corrupt = (message: string) => new ImageError('invalid', `Corrupt JPEG: ${message}`);

/*
 * Four blocks, coefficients in zig-zag order (k), quantised: every block has DC 2;
 *   A: k1 = 3, k2 = -2, k5 = 1     B: nothing else     C: k1 = -1     D: k1 = 3
 */
function baselineBlocks(ac = acCodes): Uint8Array {
  const w = new BitWriter();
  w.symbol(dcCodes, 2, 0b10, 2).symbol(ac, 0x02, 0b11, 2).symbol(ac, 0x02, 0b01, 2).symbol(ac, 0x21, 1, 1).symbol(ac, 0x00); // A
  w.symbol(dcCodes, 0).symbol(ac, 0x00); // B
  w.symbol(dcCodes, 0).symbol(ac, 0x01, 0, 1).symbol(ac, 0x00); // C
  w.symbol(dcCodes, 0).symbol(ac, 0x02, 0b11, 2).symbol(ac, 0x00); // D
  return w.finish();
}

/**
 * The same coefficients progressively: a DC scan; an AC scan of the high bits (Al = 1: A gets k1 = 1, k2 = -1 and
 * ends a run of three blocks with no more coefficients, C's -1 halves to 0, D gets k1 = 1); then the refinement
 * (G.1.2.3): A's k5 appears (+1 after skipping two zero-history coefficients, then the correction bits of k1 = 1 and
 * k2 = 0), C's k1 appears (-1), and a run of two blocks ends C and carries D's correction bit (1).
 */
function progressiveScans(refinement = (w: BitWriter) => w
  .symbol(acCodes, 0x21, 1, 1).write(0b10, 2).symbol(acCodes, 0x00) // A
  .symbol(acCodes, 0x00) // B
  .symbol(acCodes, 0x01, 0, 1).symbol(acCodes, 0x10, 0, 1) // C, then a run of two
  .write(1, 1), // D's correction bit
): [number[], Uint8Array][] {
  const dc = new BitWriter().symbol(dcCodes, 2, 0b10, 2).symbol(dcCodes, 0).symbol(dcCodes, 0).symbol(dcCodes, 0).finish();
  const high = new BitWriter()
    .symbol(acCodes, 0x01, 1, 1).symbol(acCodes, 0x01, 0, 1).symbol(acCodes, 0x10, 1, 1) // A, and a run of three
    .symbol(acCodes, 0x01, 1, 1).symbol(acCodes, 0x00) // D
    .finish();
  return [
    [sos(GRAY, 0, 0, 0, 0), dc],
    [sos(GRAY, 1, 63, 0, 1), high],
    [sos(GRAY, 1, 63, 1, 0), refinement(new BitWriter()).finish()],
  ];
}

describe('progressive scans', () => {
  const baseline = image(false, 4, [[sos(GRAY), baselineBlocks()]]);
  const progressive = image(true, 4, progressiveScans());

  it('decode to exactly the pixels of the baseline encoding of the same coefficients, at every scale', () => {
    for (const [minWidth, scale] of [[32, 1], [16, 2], [8, 4], [1, 8]]) {
      const want = luma(baseline, minWidth);
      expect(want.width).toBe(32 / scale);
      expect(luma(progressive, minWidth), `1/${scale}`).toEqual(want);
    }
  });

  // The hand-written streams are what libjpeg reads too (so the equality above is not two wrongs agreeing).
  it.skipIf(!existsSync(DJPEG) || MUTATED_GROUP === 'jpeg-pixels')('decode as libjpeg (djpeg) decodes them, within one grey level', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jpeg-scans-'));
    for (const [name, bytes] of [['baseline', baseline], ['progressive', progressive]] as const) {
      writeFileSync(join(dir, `${name}.jpg`), bytes);
      const reference = djpegLuma(join(dir, `${name}.jpg`), 1)!;
      const ours = luma(bytes, 32);
      expect(reference.width, name).toBe(ours.width);
      expect(Math.max(...ours.data.map((v, i) => Math.abs(v - reference.data[i]))), name).toBeLessThanOrEqual(1);
    }
  });

  it('are not flat: the AC coefficients reach the pixels (the comparison above can tell blocks apart)', () => {
    const { data } = luma(baseline, 32);
    const block = (i: number) => data.filter((_, p) => Math.floor((p % 32) / 8) === i).join();
    expect(new Set([block(0), block(1), block(2), block(3)]).size).toBe(4);
    expect(new Set(luma(baseline, 8).data).size).toBeGreaterThan(2); // 1/4 scale: 2x2 a block
  });

  it('refuse a refinement value other than +-1', () => {
    const bad = image(true, 4, progressiveScans((w) => w.symbol(acCodes, 0x02, 0b11, 2)));
    expect(() => decodeScaledLuma(bad, 32, 8)).toThrow(corrupt('bad refinement value.'));
  });

  it('are not read at 1/8 scale, where only DC coefficients reach the output: a corrupt AC scan then costs nothing', () => {
    const bad = image(true, 4, progressiveScans((w) => w.symbol(acCodes, 0x02, 0b11, 2)));
    expect(luma(bad, 1)).toEqual(luma(baseline, 1));
  });

  it('refuse bad spectral-selection parameters', () => {
    const dcScan = progressiveScans()[0];
    for (const [ss, se] of [[1, 64], [5, 3], [0, 5]]) {
      const bad = image(true, 4, [dcScan, [sos(GRAY, ss, se, 0, 0), new Uint8Array([0])]]);
      expect(() => decodeScaledLuma(bad, 32, 8), `Ss ${ss}, Se ${se}`).toThrow(corrupt('bad progressive scan parameters.'));
    }
    // An AC scan may hold one component only.
    const two = jpegFile(
      dqt(0, Q), sof(true, 8, 8, [{ id: 1 }, { id: 2 }]), dht(0, 0, DC), dht(1, 0, AC),
      sos([{ id: 1 }, { id: 2 }], 0, 0), new BitWriter().symbol(dcCodes, 0).symbol(dcCodes, 0).finish(),
      sos([{ id: 1 }, { id: 2 }], 1, 63), new Uint8Array([0]),
    );
    expect(() => decodeScaledLuma(two, 8, 8)).toThrow(corrupt('bad progressive scan parameters.'));
  });

  it('refuse a scan with an undefined AC table, first scan or refinement', () => {
    const [dc, high, refine] = progressiveScans();
    expect(() => decodeScaledLuma(image(true, 4, [dc, [sos([{ id: 1, ac: 1 }], 1, 63, 0, 1), high[1]]]), 32, 8)).toThrow(
      corrupt('scan uses an undefined Huffman table.'),
    );
    expect(() => decodeScaledLuma(image(true, 4, [dc, high, [sos([{ id: 1, ac: 1 }], 1, 63, 1, 0), refine[1]]]), 32, 8)).toThrow(
      corrupt('scan uses an undefined Huffman table.'),
    );
  });

  it('refuse a component whose quantisation table was never defined', () => {
    expect(() => decodeScaledLuma(image(true, 4, progressiveScans(), { tq: 1 }), 32, 8)).toThrow(corrupt('missing quantisation table.'));
    expect(() => decodeScaledLuma(image(true, 4, progressiveScans(), { tq: 1 }), 1, 1)).toThrow(corrupt('missing quantisation table.'));
  });
});

describe('runs past the end of a block', () => {
  // After three ZRLs (16 zeros each) the next coefficient is the 49th + run: (14,1) lands on the last one, 63;
  // (15,1) would be the 64th, which no block has.
  const baselineRun = (codes: Map<number, [number, number]>, last: number) =>
    new BitWriter().symbol(dcCodes, 0).symbol(codes, 0xf0).symbol(codes, 0xf0).symbol(codes, 0xf0).symbol(codes, last, 1, 1).symbol(codes, 0x00).finish();
  const firstScanRun = (codes: Map<number, [number, number]>, last: number) =>
    new BitWriter().symbol(codes, 0xf0).symbol(codes, 0xf0).symbol(codes, 0xf0).symbol(codes, last, 1, 1).finish();
  const dcScan: [number[], Uint8Array] = [sos(GRAY, 0, 0), new BitWriter().symbol(dcCodes, 0).finish()];

  for (const [name, ac, codes] of [['fast', AC, acCodes], ['slow', AC_LONG, acLongCodes]] as const) {
    it(`are refused in a baseline scan (${name} path), and the 63rd coefficient is not`, () => {
      const ok = image(false, 1, [[sos(GRAY), baselineRun(codes, 0xe1)]], { ac });
      const { data } = luma(ok, 8, 8);
      expect(new Set(data).size).toBeGreaterThan(1); // the 63rd coefficient reached the pixels
      const bad = image(false, 1, [[sos(GRAY), baselineRun(codes, 0xf1)]], { ac });
      expect(() => decodeScaledLuma(bad, 8, 8)).toThrow(corrupt('coefficient index out of range.'));
    });

    it(`are refused in a progressive first AC scan (${name} path), and the 63rd coefficient is not`, () => {
      const ok = image(true, 1, [dcScan, [sos(GRAY, 1, 63), firstScanRun(codes, 0xe1)]], { ac });
      expect(luma(ok, 8, 8)).toEqual(luma(image(false, 1, [[sos(GRAY), baselineRun(acCodes, 0xe1)]]), 8, 8));
      const bad = image(true, 1, [dcScan, [sos(GRAY, 1, 63), firstScanRun(codes, 0xf1)]], { ac });
      expect(() => decodeScaledLuma(bad, 8, 8)).toThrow(corrupt('coefficient index out of range.'));
    });
  }
});

describe('baseline scans', () => {
  it('read an end of block coded past the fast table (12 bits) as the short one', () => {
    const slowEob: HuffmanSpec = { counts: [0, 2, 2, 3, 0, 0, 0, 0, 0, 0, 0, 1], symbols: [0x01, 0x02, 0x21, 0x10, 0xf0, 0xf1, 0xe1, 0x00] };
    const slow = image(false, 4, [[sos(GRAY), baselineBlocks(canonicalCodes(slowEob))]], { ac: slowEob });
    expect(luma(slow, 32)).toEqual(luma(image(false, 4, [[sos(GRAY), baselineBlocks()]]), 32));
  });

  it('check the data length at the end of the scan, not at a restart marker (RST0 to RST7)', () => {
    // 200 blocks, one a restart interval: each interval is a byte and a 2-byte RSTn, while the scan needs 2 bits a
    // block, 400 bits; at RST7 (after 8 intervals, 192 bits) the scan is not short, only unfinished.
    const data: number[] = [];
    for (let i = 0; i < 200; i++) {
      data.push(...new BitWriter().symbol(dcCodes, 0).symbol(acCodes, 0x00).finish());
      if (i < 199) data.push(0xff, 0xd0 + (i % 8));
    }
    const bytes = jpegFile(dqt(0, Q), sof(false, 8 * 200, 8, GRAY), dht(0, 0, DC), dht(1, 0, AC), segment(0xdd, [0, 1]), sos(GRAY), data);
    expect(new Set(luma(bytes, 1600).data)).toEqual(new Set([128]));
    // The same header on three bytes of data is refused before decoding zeros.
    const short = jpegFile(dqt(0, Q), sof(false, 8 * 200, 8, GRAY), dht(0, 0, DC), dht(1, 0, AC), sos(GRAY), [0, 0, 0]);
    expect(() => decodeScaledLuma(short, 1600, 8)).toThrow(corrupt('the image data ends long before the image does.'));
  });

  it('turn components labelled R, G, B into BT.601 luminance', () => {
    const rgb = [{ id: 0x52 }, { id: 0x47 }, { id: 0x42 }];
    // Flat blocks: R = 128 + 2 x 16 / 8 = 132, G = 128, B = 124.
    const data = new BitWriter()
      .symbol(dcCodes, 2, 0b10, 2).symbol(acCodes, 0x00)
      .symbol(dcCodes, 0).symbol(acCodes, 0x00)
      .symbol(dcCodes, 2, 0b01, 2).symbol(acCodes, 0x00)
      .finish();
    const bytes = jpegFile(dqt(0, Q), sof(false, 8, 8, rgb), dht(0, 0, DC), dht(1, 0, AC), sos(rgb), data);
    const want = Math.round(0.299 * 132 + 0.587 * 128 + 0.114 * 124);
    for (const minWidth of [8, 1]) expect(new Set(luma(bytes, minWidth).data), `min ${minWidth}`).toEqual(new Set([want]));
  });

  it('refuse a component whose tables were never defined, and a scan of an unknown component', () => {
    const data = baselineBlocks();
    expect(() => decodeScaledLuma(image(false, 4, [[sos([{ id: 1, dc: 1 }]), data]]), 32, 8)).toThrow(corrupt('scan uses an undefined Huffman table.'));
    expect(() => decodeScaledLuma(image(false, 4, [[sos([{ id: 1, ac: 2 }]), data]]), 32, 8)).toThrow(corrupt('scan uses an undefined Huffman table.'));
    expect(() => decodeScaledLuma(image(false, 4, [[sos(GRAY), data]], { tq: 2 }), 32, 8)).toThrow(corrupt('missing quantisation table.'));
    expect(() => decodeScaledLuma(image(false, 4, [[sos([{ id: 9 }]), data]]), 32, 8)).toThrow(corrupt('scan names an unknown component.'));
  });

  it('refuse a DC difference category above 16, however short its code (a DC table may list such symbols unused)', () => {
    // DC: 00 = no difference, 01 = category 1, 10 = category 17 (0x11), which no difference can have.
    const dc: HuffmanSpec = { counts: [0, 3], symbols: [0x00, 0x01, 0x11] };
    const file = (symbol: number) => jpegFile(dqt(0, Q), sof(false, 8, 8, GRAY), dht(0, 0, dc), dht(1, 0, AC), sos(GRAY), new BitWriter().symbol(canonicalCodes(dc), symbol, 1, 1).symbol(acCodes, 0x00).finish());
    expect(new Set(luma(file(0x01), 8).data)).toEqual(new Set([130])); // category 1, value +1: 128 + 16 / 8
    expect(() => decodeScaledLuma(file(0x11), 8, 8)).toThrow(corrupt('coefficient out of range.'));
  });

  it('give a block with only a DC coefficient one flat value: DC 2 x 16 / 8 + 128', () => {
    const flat = image(false, 1, [[sos(GRAY), new BitWriter().symbol(dcCodes, 2, 0b10, 2).symbol(acCodes, 0x00).finish()]]);
    for (const minWidth of [8, 4, 2, 1]) expect(new Set(luma(flat, minWidth).data), `min ${minWidth}`).toEqual(new Set([132]));
  });
});
