/**
 * The entropy-coded layer of a JPEG on its own (src/image/jpeg/huffman.ts): Huffman tables built from DHT counts, the
 * bit reader's byte stuffing, markers, padding and restarts. Streams come from a small canonical encoder
 * (test/helpers/jpeg-writer.ts: Annex C codes, F.1.2 extra bits, B.1.1.5 stuffing), so each check knows the exact answer; the golden
 * decodes (decoder-golden.test.ts) cover the same code through whole files.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom as random } from '../../scripts/export/split';
import { ImageError } from '../../src/image/errors';
import { BitReader, END_OF_BLOCK, buildHuffmanTable } from '../../src/image/jpeg/huffman';
import { BitWriter, canonicalCodes } from '../helpers/jpeg-writer';

/** The bits the decoder looks up at once (huffman.ts LOOKUP_BITS). */
const LOOKUP_BITS = 11;

interface Spec {
  counts: Uint8Array;
  symbols: Uint8Array;
  /** symbol -> [code, length] (Annex C). */
  codes: Map<number, [number, number]>;
}

function spec(counts: number[], symbols: number[]): Spec {
  return { counts: Uint8Array.from(counts), symbols: Uint8Array.from(symbols), codes: canonicalCodes({ counts, symbols }) };
}

/**
 * A random prefix code over `symbols`: a binary tree grown by splitting leaves, the deepest ones often, so that codes
 * of 12 to 16 bits (past the lookup table) appear. `complete` keeps the all-ones code, which encoders avoid.
 */
function randomSpec(next: () => number, symbols: number[], complete: boolean): Spec {
  const depths = [0];
  while (depths.length < symbols.length + (complete ? 0 : 1)) {
    const open = depths.map((d, i) => [d, i]).filter(([d]) => d < 16);
    const [depth, index] = next() < 0.4 ? open.reduce((a, b) => (b[0] > a[0] ? b : a)) : open[Math.floor(next() * open.length)];
    depths.splice(index, 1, depth + 1, depth + 1);
  }
  depths.sort((a, b) => a - b);
  if (!complete) depths.pop(); // the last code of the longest length is the all-ones one
  const counts = new Array<number>(16).fill(0);
  for (const d of depths) counts[d - 1]++;
  return spec(counts, symbols);
}

/** F.1.2.1: the extra bits that represent `value` in magnitude category `size`. */
const extraBits = (value: number, size: number): number => (value < 0 ? value + (1 << size) - 1 : value);
const categoryOf = (value: number): number => (value === 0 ? 0 : 32 - Math.clz32(Math.abs(value)));

const DC_SYMBOLS = Array.from({ length: 12 }, (_, i) => i);
const AC_SYMBOLS = [0x00, 0xf0, ...Array.from({ length: 16 * 10 }, (_, i) => ((i >> 4) << 4) | ((i % 10) + 1))].filter(
  (s, i, all) => all.indexOf(s) === i,
);

function shuffled<T>(next: () => number, items: T[], take: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, take);
}

function tables(seed: number): { name: string; spec: Spec; ac: boolean }[] {
  const next = random(seed);
  const out: { name: string; spec: Spec; ac: boolean }[] = [];
  for (let i = 0; i < 6; i++) {
    out.push({ name: `DC ${i}`, spec: randomSpec(next, shuffled(next, DC_SYMBOLS, 2 + Math.floor(next() * 11)), i % 3 === 0), ac: false });
    out.push({ name: `AC ${i}`, spec: randomSpec(next, [0x00, 0xf0, ...shuffled(next, AC_SYMBOLS.slice(2), 4 + Math.floor(next() * 150))], i % 3 === 0), ac: true });
  }
  return out;
}

/** What the fast table must hold at `peek` (huffman.ts `fast`), from the codes themselves. */
function expectedFast(s: Spec, ac: boolean, peek: number): number {
  for (const [symbol, [code, length]] of s.codes) {
    if (length > LOOKUP_BITS || peek >> (LOOKUP_BITS - length) !== code) continue;
    if (ac && symbol === 0) return END_OF_BLOCK | length;
    const size = ac ? symbol & 15 : symbol;
    if ((ac && size === 0) || length + size > LOOKUP_BITS) return 0;
    const extra = (peek >> (LOOKUP_BITS - length - size)) & ((1 << size) - 1);
    const value = size === 0 ? 0 : extra < 1 << (size - 1) ? extra - (1 << size) + 1 : extra;
    return (value << 16) | ((ac ? symbol >> 4 : 0) << 8) | (length + size);
  }
  return 0;
}

describe('Huffman tables', () => {
  it('give every code of up to 11 bits its symbol and length in one lookup, and nothing for the other entries', () => {
    const lengths = new Set<number>();
    for (const { name, spec: s, ac } of tables(1)) {
      const table = buildHuffmanTable(s.counts, s.symbols, ac);
      const expected = new Uint16Array(1 << LOOKUP_BITS);
      for (const [symbol, [code, length]] of s.codes) {
        if (length > LOOKUP_BITS) continue;
        const shift = LOOKUP_BITS - length;
        expected.fill((length << 8) | symbol, code << shift, (code + 1) << shift);
      }
      expect(table.lookup, name).toEqual(expected);
      for (const [, length] of s.codes.values()) lengths.add(length);
    }
    // The random tables reach past the lookup (and exactly to its edge), where the slow path takes over.
    expect([lengths.has(LOOKUP_BITS), Math.max(...lengths) >= 14]).toEqual([true, true]);
  });

  it('decode symbol, run and extra bits at once whenever code and extra bits fit in 11 bits (most symbols of real images)', () => {
    let fastEntries = 0;
    for (const { name, spec: s, ac } of tables(2)) {
      const table = buildHuffmanTable(s.counts, s.symbols, ac);
      const expected = Int32Array.from({ length: 1 << LOOKUP_BITS }, (_, peek) => expectedFast(s, ac, peek));
      expect(table.fast, name).toEqual(expected);
      fastEntries += expected.filter((e) => e !== 0).length;
    }
    expect(fastEntries).toBeGreaterThan(0); // the check above compared something
  });

  it('mark an end of block as such, and leave ZRL (16 zeros) to the slow path', () => {
    const s = spec([0, 2, 1], [0x00, 0xf0, 0x01]); // 00 = EOB, 01 = ZRL, 100 = (0, 1)
    const table = buildHuffmanTable(s.counts, s.symbols, true);
    expect(table.fast[0b00 << 9]).toBe(END_OF_BLOCK | 2);
    expect(table.fast[0b01 << 9]).toBe(0);
    expect(table.fast[0b1001 << 7]).toBe((1 << 16) | 4); // +1 after code 100
    expect(table.fast[0b1000 << 7]).toBe((-1 << 16) | 4);
    // The same counts as a DC table: symbol 0 is a zero difference, not an end of block.
    const dc = buildHuffmanTable(Uint8Array.from([0, 2, 1, ...new Array(13).fill(0)]), Uint8Array.from([0, 2, 1]), false);
    expect(dc.fast[0]).toBe(2);
    expect(dc.fast[0b0101 << 7]).toBe((-2 << 16) | 4); // code 01, extra bits 01: -2
    expect(dc.fast[0b0110 << 7]).toBe((2 << 16) | 4); // code 01, extra bits 10: +2
  });

  it('refuse more codes than a length has room for, and accept a complete code', () => {
    const counts = (...c: number[]) => Uint8Array.from([...c, ...new Array(16 - c.length).fill(0)]);
    expect(() => buildHuffmanTable(counts(3), Uint8Array.from([1, 2, 3]), false)).toThrow(new ImageError('invalid', 'Corrupt JPEG: invalid Huffman table.'));
    expect(() => buildHuffmanTable(counts(1, 3), Uint8Array.from([1, 2, 3, 4]), false)).toThrow(ImageError);
    // 0 and 1: the all-ones code, which encoders avoid and this decoder (more lenient than libjpeg) accepts.
    const table = buildHuffmanTable(counts(2), Uint8Array.from([7, 9]), false);
    const reader = new BitReader(Uint8Array.from([0b01100000]), 0);
    expect([reader.decode(table), reader.decode(table), reader.decode(table)]).toEqual([7, 9, 9]);
  });
});

describe('BitReader', () => {
  it('decodes what the canonical encoder wrote, through the lookup, the slow path and the fast path alike', () => {
    for (const { name, spec: s, ac } of tables(3)) {
      const table = buildHuffmanTable(s.counts, s.symbols, ac);
      const next = random(s.symbols.length);
      const symbols = [...s.symbols];
      const sent: [number, number][] = []; // symbol, value of its extra bits
      const writer = new BitWriter();
      for (let i = 0; i < 400; i++) {
        const symbol = symbols[Math.floor(next() * symbols.length)];
        const [code, length] = s.codes.get(symbol)!;
        writer.write(code, length);
        const size = ac ? symbol & 15 : symbol;
        const magnitude = size === 0 ? 0 : (1 << (size - 1)) + Math.floor(next() * (1 << (size - 1)));
        const value = size === 0 || next() < 0.5 ? magnitude : -magnitude;
        expect(categoryOf(value)).toBe(size);
        writer.write(extraBits(value, size), size);
        sent.push([symbol, value]);
      }
      const data = Uint8Array.from([...writer.finish(), 0xff, 0xd9]);
      const slow = new BitReader(data, 0);
      const fast = new BitReader(data, 0);
      let fastHits = 0;
      for (const [i, [symbol, value]] of sent.entries()) {
        const where = `${name}, symbol ${i}`;
        const decoded = slow.decode(table);
        expect(decoded, where).toBe(symbol);
        expect(slow.receiveExtend(ac ? decoded & 15 : decoded), where).toBe(value);
        const entry = fast.decodeFast(table);
        if (entry === 0) {
          const again = fast.decode(table);
          expect(fast.receiveExtend(ac ? again & 15 : again), where).toBe(value);
        } else if (entry & END_OF_BLOCK) {
          fastHits++;
          expect(symbol, where).toBe(0);
        } else {
          fastHits++;
          expect([entry >> 16, (entry >> 8) & 0xff], where).toEqual([value, ac ? symbol >> 4 : 0]);
        }
      }
      expect(fastHits, name).toBeGreaterThan(0);
      expect([slow.paddingConsumed(), fast.paddingConsumed()], name).toEqual([0, 0]);
    }
  });

  it("decodes a block's AC coefficients in one call (decodeAc) as symbol-by-symbol decoding does, keeping only the positions asked for", () => {
    const next = random(17);
    for (const { name, spec: s, ac } of tables(5)) {
      if (!ac) continue;
      const table = buildHuffmanTable(s.counts, s.symbols, true);
      const symbols = [...s.symbols];
      const writer = new BitWriter();
      const blocks: [number, number][][] = []; // each block's (zig-zag position, value)
      for (let b = 0; b < 60; b++) {
        const block: [number, number][] = [];
        for (let k = 1; k < 64; ) {
          const fits = symbols.filter((x) => (x === 0xf0 ? k + 16 <= 63 : x === 0 || k + (x >> 4) <= 63));
          const symbol = fits[Math.floor(next() * fits.length)];
          const size = symbol & 15;
          if (symbol === 0) {
            writer.symbol(s.codes, 0);
            break;
          }
          if (symbol === 0xf0) {
            writer.symbol(s.codes, 0xf0);
            k += 16;
            continue;
          }
          const magnitude = (1 << (size - 1)) + Math.floor(next() * (1 << (size - 1)));
          const value = next() < 0.5 ? magnitude : -magnitude;
          writer.symbol(s.codes, symbol, extraBits(value, size), size);
          k += symbol >> 4;
          block.push([k, value]);
          k++;
        }
        blocks.push(block);
      }
      writer.write(0xa5c3, 16); // what follows the blocks, to show each block consumed exactly its bits
      const reader = new BitReader(Uint8Array.from([...writer.finish(), 0xff, 0xd9]), 0);
      const place = Uint8Array.from({ length: 64 }, (_, k) => (k > 0 && next() < 0.5 ? 63 - k : 64));
      const quant = Float32Array.from({ length: 64 }, (_, i) => i + 1);
      const out = new Float32Array(64);
      const places = new Uint8Array(64);
      for (const [b, block] of blocks.entries()) {
        const kept = reader.decodeAc(table, place, quant, out, places);
        const expected = block.filter(([k]) => place[k] < 64);
        const where = `${name}, block ${b}`;
        expect(Array.from(places.subarray(0, kept)), where).toEqual(expected.map(([k]) => place[k]));
        expect(expected.map(([k]) => out[place[k]]), where).toEqual(expected.map(([k, value]) => value * quant[place[k]]));
        out.fill(0);
      }
      expect(reader.readBits(16), name).toBe(0xa5c3);
      expect(reader.paddingConsumed(), name).toBe(0);
    }
  });

  it('feeds zero bits at a marker on every refill, however many bits are read past it', () => {
    const reader = new BitReader(Uint8Array.from([0xff, 0xd9]), 0);
    const read = Array.from({ length: 6 }, () => reader.readBits(16));
    expect([read, reader.marker, reader.pos]).toEqual([[0, 0, 0, 0, 0, 0], 0xd9, 0]);
    expect(reader.paddingConsumed()).toBe(96);
  });

  it('removes byte stuffing and skips fill bytes before a marker', () => {
    expect(new BitReader(Uint8Array.from([0xff, 0x00, 0x12]), 0).readBits(16)).toBe(0xff12);
    const reader = new BitReader(Uint8Array.from([0x12, 0xff, 0xff, 0xff, 0xd0, 0x34]), 0);
    expect(reader.readBits(8)).toBe(0x12);
    expect(reader.readBits(8)).toBe(0);
    expect(reader.marker).toBe(0xd0);
    reader.restart();
    expect([reader.readBits(8), reader.marker]).toEqual([0x34, 0]);
  });

  it('reads single bits and runs of bits alike', () => {
    const data = Uint8Array.from([0b10110010, 0b01111000, 0xff, 0x00, 0x5a]);
    const bits = new BitReader(data, 0);
    const read: number[] = [];
    for (let i = 0; i < 32; i++) read.push(bits.readBit());
    expect(read.join('')).toBe('10110010011110001111111101011010');
    const runs = new BitReader(data, 0);
    expect([runs.readBits(3), runs.readBits(0), runs.readBits(13), runs.readBits(16)]).toEqual([0b101, 0, 0b1001001111000, 0xff5a]);
  });

  it('counts the zero bits consumed past the end of the data, across resets, and none that were only looked ahead', () => {
    const end = new BitReader(Uint8Array.from([0xab]), 0);
    expect(end.readBits(8)).toBe(0xab);
    expect(end.paddingConsumed()).toBe(0);
    expect(end.readBits(8)).toBe(0);
    expect(end.paddingConsumed()).toBe(8);

    const marker = new BitReader(Uint8Array.from([0xab, 0xff, 0xd9]), 0);
    expect(marker.readBits(12)).toBe(0xab0);
    expect([marker.paddingConsumed(), marker.marker, marker.pos]).toEqual([4, 0xd9, 1]);
    marker.reset();
    expect(marker.paddingConsumed()).toBe(4);
    expect(marker.readBits(8)).toBe(0);
    expect(marker.paddingConsumed()).toBe(12);
  });

  it('throws a corrupt-data error for an undefined table, a code longer than 16 bits and a category past 16', () => {
    const oneCode = buildHuffmanTable(Uint8Array.from([1, ...new Array(15).fill(0)]), Uint8Array.from([5]), false); // only "0"
    const ones = new BitReader(Uint8Array.from([0xff, 0x00, 0xff, 0x00, 0xff, 0x00]), 0);
    expect(() => ones.decode(oneCode)).toThrow(new ImageError('invalid', 'Corrupt JPEG: invalid Huffman code.'));
    expect(() => new BitReader(Uint8Array.from([0]), 0).decode(undefined)).toThrow(
      new ImageError('invalid', 'Corrupt JPEG: scan uses an undefined Huffman table.'),
    );
    expect(() => new BitReader(Uint8Array.from([0, 0, 0]), 0).receiveExtend(17)).toThrow(
      new ImageError('invalid', 'Corrupt JPEG: coefficient out of range.'),
    );
    // Category 16 exists (lossless and 12-bit data): 0x8000 is +32768, 0x0001 is 1 - 65535.
    expect(new BitReader(Uint8Array.from([0x80, 0x00, 0x00, 0x01]), 0).receiveExtend(16)).toBe(32768);
    const low = new BitReader(Uint8Array.from([0x00, 0x01]), 0);
    expect([low.receiveExtend(0), low.receiveExtend(16)]).toEqual([0, -65534]);
  });

  it('decodes the longest codes past the lookup table: a table whose codes are all 12 to 16 bits', () => {
    const counts = new Array<number>(16).fill(0);
    counts[11] = 1; // 000000000000
    counts[15] = 3; // 0000000000001000 and on
    const s = spec(counts, [3, 4, 5, 6]);
    const table = buildHuffmanTable(s.counts, s.symbols, false);
    const writer = new BitWriter();
    for (const symbol of [3, 6, 3, 4, 5, 3]) writer.write(...s.codes.get(symbol)!);
    const reader = new BitReader(writer.finish(), 0);
    expect(Array.from({ length: 6 }, () => reader.decode(table))).toEqual([3, 6, 3, 4, 5, 3]);
  });
});

describe('BitReader.restart', () => {
  // Four bytes fill the bit buffer, so a marker right after them has not been reached when the interval ends.
  const cases: { name: string; data: number[]; read: number; after: number; marker: number }[] = [
    { name: 'RST0 reached by a refill', data: [0x01, 0xff, 0xd0, 0x05], read: 8, after: 0x05, marker: 0 },
    { name: 'RST7 reached by a refill', data: [0x01, 0xff, 0xd7, 0x05], read: 8, after: 0x05, marker: 0 },
    { name: 'RST0 not yet reached', data: [1, 2, 3, 4, 0xff, 0xd0, 0x05], read: 8, after: 0x05, marker: 0 },
    { name: 'RST7 not yet reached, after fill bytes', data: [1, 2, 3, 4, 0xff, 0xff, 0xff, 0xd7, 0x05], read: 8, after: 0x05, marker: 0 },
    { name: 'EOI reached by a refill', data: [0x01, 0xff, 0xd9, 0x05], read: 8, after: 0, marker: 0xd9 },
    { name: 'EOI not yet reached', data: [1, 2, 3, 4, 0xff, 0xd9, 0x05], read: 8, after: 0, marker: 0xd9 },
    { name: 'a marker below RST0 reached by a refill', data: [0x01, 0xff, 0xcf, 0x05], read: 8, after: 0, marker: 0xcf },
    { name: 'a marker below RST0 not yet reached', data: [1, 2, 3, 4, 0xff, 0xcf, 0x05], read: 8, after: 0, marker: 0xcf },
    { name: 'no marker where one was due', data: [1, 2, 3, 4, 0x77, 0x88], read: 8, after: 0x77, marker: 0 },
    { name: 'data that looks like an RST code without its 0xFF', data: [1, 2, 3, 4, 0x66, 0xd3, 0x05], read: 8, after: 0x66, marker: 0 },
    { name: 'a fill byte at the very end', data: [1, 2, 3, 4, 0xff], read: 8, after: 0, marker: 0 },
  ];
  for (const c of cases) {
    it(`after ${c.name}, continues where the next interval starts`, () => {
      const reader = new BitReader(Uint8Array.from(c.data), 0);
      expect(reader.readBits(c.read)).toBe(c.data[0]);
      reader.restart();
      expect(reader.readBits(8)).toBe(c.after);
      if (c.marker) expect(reader.marker).toBe(c.marker);
      else expect(reader.marker === 0 || reader.marker === undefined).toBe(true);
    });
  }

  it('does not skip a marker that starts past the current position', () => {
    const reader = new BitReader(Uint8Array.from([1, 2, 3, 4, 0x66, 0xff, 0xd0, 0x05]), 0);
    reader.readBits(8);
    reader.restart();
    expect([reader.readBits(8), reader.readBits(8), reader.marker]).toEqual([0x66, 0, 0xd0]);
  });

  it('starts each interval with an empty bit buffer', () => {
    const reader = new BitReader(Uint8Array.from([0xf0, 0xff, 0xd1, 0x0f]), 0);
    expect(reader.readBits(4)).toBe(0xf);
    reader.restart();
    expect(reader.readBits(8)).toBe(0x0f);
  });
});

