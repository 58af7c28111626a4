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
import { MAX_PADDING_BITS } from '../../src/image/jpeg/huffman';
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

    it(`end the block without refusal when only a run of zeros crosses its end (${name} tables), as libjpeg does`, () => {
      // Four ZRLs from k = 1 reach 65 with no coefficient past 63: the block ends, nothing is refused.
      const zeros = new BitWriter().symbol(dcCodes, 0).symbol(codes, 0xf0).symbol(codes, 0xf0).symbol(codes, 0xf0).symbol(codes, 0xf0).finish();
      const dcOnly = new BitWriter().symbol(dcCodes, 0).symbol(acCodes, 0x00).finish();
      expect(luma(image(false, 1, [[sos(GRAY), zeros]], { ac }), 8, 8)).toEqual(luma(image(false, 1, [[sos(GRAY), dcOnly]]), 8, 8));
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

describe('refinement scans: correction bits (G.1.2.3)', () => {
  /** A coefficient of category 1 or 2 (+-1, +-2, +-3) as an AC symbol (0, size) and its extra bits (F.1.2.1.1). */
  const coefficient = (w: BitWriter, value: number) => {
    const size = Math.abs(value) > 1 ? 2 : 1;
    return w.symbol(acCodes, size, value > 0 ? value : value + (1 << size) - 1, size);
  };
  // One block, DC 2. `first` writes the AC band 1..63 at Al = `al`; `refine` (Ah = 1, Al = 0) corrects it.
  const dcScan: [number[], Uint8Array] = [sos(GRAY, 0, 0), new BitWriter().symbol(dcCodes, 2, 0b10, 2).finish()];
  const progressive = (al: number, first: (w: BitWriter) => BitWriter, refine: (w: BitWriter) => BitWriter) =>
    image(true, 1, [dcScan, [sos(GRAY, 1, 63, 0, al), first(new BitWriter()).finish()], [sos(GRAY, 1, 63, 1, 0), refine(new BitWriter()).finish()]]);
  /** The baseline block: DC 2, then the coefficients k1, k2, ... given. */
  const baseline = (...ac: number[]) => {
    const w = new BitWriter().symbol(dcCodes, 2, 0b10, 2);
    for (const value of ac) coefficient(w, value);
    return image(false, 1, [[sos(GRAY), w.symbol(acCodes, 0x00).finish()]]);
  };
  const scales = [[8, 1], [4, 2], [2, 4]];

  it('move a negative coefficient away from zero in an end-of-band run: -2 with a correction bit is -3', () => {
    // First scan (Al = 1): k1 = -1, stored as -2. Refinement: an EOB run of one, then k1's correction bit 1.
    const bytes = progressive(1, (w) => coefficient(w, -1).symbol(acCodes, 0x00), (w) => w.symbol(acCodes, 0x00).write(1, 1));
    for (const [minWidth, scale] of scales) expect(luma(bytes, minWidth), `1/${scale}`).toEqual(luma(baseline(-3), minWidth));
    expect(luma(bytes, 8)).not.toEqual(luma(baseline(-1), 8)); // -2 moved towards zero would be -1
  });

  // A refinement scan after a first scan at the same Al, 0 (a bogus progression libjpeg only warns about): k1 = +-1
  // already has bit 0, and its correction bit changes nothing (libjpeg's decode_mcu_AC_refine tests (coef & p1) == 0 too).
  for (const k1 of [1, -1]) {
    const first = (w: BitWriter) => coefficient(w, k1).symbol(acCodes, 0x00);

    it(`leave a coefficient that already has the bit (${k1}) as it is, in an end-of-band run`, () => {
      const bytes = progressive(0, first, (w) => w.symbol(acCodes, 0x00).write(1, 1)); // EOB run of one; k1's correction bit 1
      for (const [minWidth, scale] of scales) expect(luma(bytes, minWidth), `1/${scale}`).toEqual(luma(baseline(k1), minWidth));
      expect(luma(bytes, 8)).not.toEqual(luma(baseline(2 * k1), 8)); // the bit added again
    });

    it(`leave a coefficient that already has the bit (${k1}) as it is, when a new coefficient's run passes it`, () => {
      // (0,1) +1: k1 is passed on the way to k2 (its correction bit 1), k2 becomes +1; then an EOB run of one.
      const bytes = progressive(0, first, (w) => w.symbol(acCodes, 0x01, 1, 1).write(1, 1).symbol(acCodes, 0x00));
      for (const [minWidth, scale] of scales) expect(luma(bytes, minWidth), `1/${scale}`).toEqual(luma(baseline(k1, 1), minWidth));
      expect(luma(bytes, 8)).not.toEqual(luma(baseline(2 * k1, 1), 8));
    });
  }
});

describe('subsampled components', () => {
  const RGB = [0x52, 0x47, 0x42]; // R, G, B: without JFIF or Adobe markers, libjpeg reads these ids as RGB
  // Four flat R blocks (2x2 sampling, quantisation 80) with DC 2, 1, -1, -3 (differences +2, -1, -2, -2); G and B one
  // flat block each (1x1), DC 0: 128.
  const R_DC = [2, 1, -1, -3];
  const rgb = (() => {
    const w = new BitWriter();
    w.symbol(dcCodes, 2, 0b10, 2).symbol(acCodes, 0x00).symbol(dcCodes, 1, 0, 1).symbol(acCodes, 0x00);
    w.symbol(dcCodes, 2, 0b01, 2).symbol(acCodes, 0x00).symbol(dcCodes, 2, 0b01, 2).symbol(acCodes, 0x00);
    w.symbol(dcCodes, 0).symbol(acCodes, 0x00).symbol(dcCodes, 0).symbol(acCodes, 0x00);
    const components = [{ id: RGB[0], h: 2, v: 2, tq: 1 }, { id: RGB[1] }, { id: RGB[2] }];
    return jpegFile(dqt(0, Q), dqt(1, new Array(64).fill(80)), sof(false, 16, 16, components), dht(0, 0, DC), dht(1, 0, AC), sos(components), w.finish());
  })();

  it('sample each plane at its own resolution: a 2x2-sampled R beside 1x1 G and B', () => {
    const red = R_DC.map((dc) => 128 + (dc * 80) / 8);
    for (const scale of [1, 2, 4, 8]) {
      const side = 16 / scale;
      const half = side / 2; // R's blocks are 8x8 of the 16x16 image
      const want = Array.from({ length: side * side }, (_, p) => {
        const r = red[2 * Math.floor(Math.floor(p / side) / half) + Math.floor((p % side) / half)];
        return Math.round(0.299 * r + 0.587 * 128 + 0.114 * 128);
      });
      expect(luma(rgb, side), `1/${scale}`).toEqual({ width: side, height: side, data: want });
    }
  });

  it('allocate each plane at 1/scale of its own size (full-resolution planes never exist), and the output', () => {
    // A Proxy for Uint8Array that records every `new Uint8Array(length)` the decode makes: the planes and the output.
    const lengths = (decode: () => void) => {
      const original = globalThis.Uint8Array;
      const seen: number[] = [];
      globalThis.Uint8Array = new Proxy(original, {
        construct(target, args, newTarget) {
          if (typeof args[0] === 'number') seen.push(args[0]);
          return Reflect.construct(target, args, newTarget);
        },
      });
      try {
        decode();
      } finally {
        globalThis.Uint8Array = original;
      }
      return seen;
    };
    // R covers 16x16 samples, G and B 8x8 each; the output is 16x16; all at 1/scale.
    for (const scale of [2, 4, 8]) {
      const side = 16 / scale;
      expect(lengths(() => decodeScaledLuma(rgb, side, side)), `1/${scale}`).toEqual([side * side, (side / 2) ** 2, (side / 2) ** 2, side * side]);
    }
  });

  it('upsample luma sampled 1x1 beside 2x2 chroma (nearest neighbour): each Y sample covers 2x2 pixels', () => {
    // Y: DC 2, k1 = 3, k2 = -2 (not flat either way); Cb: four blocks, Cr: one, all DC 0.
    const yBlock = (w: BitWriter) => w.symbol(dcCodes, 2, 0b10, 2).symbol(acCodes, 0x02, 0b11, 2).symbol(acCodes, 0x02, 0b01, 2).symbol(acCodes, 0x00);
    const w = yBlock(new BitWriter());
    for (let i = 0; i < 5; i++) w.symbol(dcCodes, 0).symbol(acCodes, 0x00);
    const components = [{ id: 1 }, { id: 2, h: 2, v: 2 }, { id: 3 }];
    const bytes = jpegFile(dqt(0, Q), sof(false, 16, 16, components), dht(0, 0, DC), dht(1, 0, AC), sos(components), w.finish());
    const y = image(false, 1, [[sos(GRAY), yBlock(new BitWriter()).finish()]]); // the same Y block alone: its own 8x8 plane
    for (const scale of [1, 2, 4, 8]) {
      const side = 16 / scale;
      const plane = luma(y, side / 2);
      expect(plane.width, `1/${scale}`).toBe(side / 2);
      const want = Array.from({ length: side * side }, (_, p) => plane.data[Math.floor(Math.floor(p / side) / 2) * plane.width + Math.floor((p % side) / 2)]);
      expect(luma(bytes, side), `1/${scale}`).toEqual({ width: side, height: side, data: want });
    }
    expect(new Set(luma(y, 8).data).size).toBeGreaterThan(8); // the Y plane varies, so a wrong sample position shows
  });

  it('never read the quantisation tables of YCbCr chroma, which luminance drops: a missing one is no error, a missing Y one is', () => {
    const file = (tq: number[]) => {
      const components = [1, 2, 3].map((id, i) => ({ id, tq: tq[i] }));
      const w = new BitWriter().symbol(dcCodes, 2, 0b10, 2).symbol(acCodes, 0x00);
      w.symbol(dcCodes, 0).symbol(acCodes, 0x00).symbol(dcCodes, 0).symbol(acCodes, 0x00);
      return jpegFile(dqt(0, Q), sof(false, 8, 8, components), dht(0, 0, DC), dht(1, 0, AC), sos(components), w.finish());
    };
    for (const minWidth of [8, 4, 2, 1]) {
      expect(new Set(luma(file([0, 1, 1]), minWidth).data), `min ${minWidth}`).toEqual(new Set([128 + (2 * 16) / 8]));
      expect(() => decodeScaledLuma(file([1, 0, 0]), minWidth, 1), `min ${minWidth}`).toThrow(corrupt('missing quantisation table.'));
    }
  });
});

describe('data-end and padding limits', () => {
  it('count every block of an interleaved MCU in the minimum data length: 4:2:0 takes 6 blocks, 12 bits', () => {
    // One 16x16 MCU: Y 2x2, Cb and Cr 1x1. From zero bits each block is 00 (DC 0) and 00 (end of block).
    const file = (data: number[]) => {
      const components = [{ id: 1, h: 2, v: 2 }, { id: 2 }, { id: 3 }];
      return jpegFile(dqt(0, Q), sof(false, 16, 16, components), dht(0, 0, DC), dht(1, 0, AC), sos(components), data);
    };
    expect(() => decodeScaledLuma(file([0]), 16, 16)).toThrow(corrupt('the image data ends long before the image does.'));
    expect(luma(file([0, 0]), 16)).toEqual({ width: 16, height: 16, data: new Array(256).fill(128) });
  });

  it(`tolerate exactly ${MAX_PADDING_BITS} zero bits decoded past the end of the data, and refuse 4 more`, () => {
    // Block 0: DC +2, 62 coefficients of 5 bits, end of block (316 bits); then 101 blocks of 4 zero bits: 720 bits,
    // 90 bytes, nothing padded. Past them every block decodes from 4 padding bits (DC 0, end of block). A scan needs
    // 2 bits a block, so up to 360 blocks are not refused as short.
    const w = new BitWriter().symbol(dcCodes, 2, 0b10, 2);
    for (let k = 1; k <= 62; k++) w.symbol(acCodes, 0x02, 0b10, 2);
    w.symbol(acCodes, 0x00);
    for (let i = 0; i < 101; i++) w.symbol(dcCodes, 0).symbol(acCodes, 0x00);
    const data = w.finish();
    expect(data.length).toBe(720 / 8);
    const blocks = 102 + MAX_PADDING_BITS / 4;
    expect(luma(image(false, blocks, [[sos(GRAY), data]]), 1)).toEqual({ width: blocks, height: 1, data: new Array(blocks).fill(128 + (2 * 16) / 8) });
    expect(() => decodeScaledLuma(image(false, blocks + 1, [[sos(GRAY), data]]), 1, 1)).toThrow(
      corrupt('the image data ends before the image does (truncated, or scans without data).'),
    );
  });
});
