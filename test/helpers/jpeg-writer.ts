/**
 * JPEG files written marker by marker, for tests that need one exact stream (a run that overshoots the block, a
 * refinement value a valid encoder never writes): segments, canonical Huffman codes (ITU T.81 Annex C) and an
 * entropy-coded bit writer (F.1.2, with B.1.1.5 byte stuffing). Generated; no image content.
 */

/** A marker segment: FF, the marker, the big-endian length (itself included) and the body. */
export const segment = (marker: number, body: number[]): number[] => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];

/** A DHT table: how many codes of each length 1..16, and the symbols in code order. */
export interface HuffmanSpec {
  counts: number[];
  symbols: number[];
}

/** The canonical codes of a table (Annex C: C.1 sizes, C.2 codes): symbol -> [code, length]. */
export function canonicalCodes(table: HuffmanSpec): Map<number, [number, number]> {
  const codes = new Map<number, [number, number]>();
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < (table.counts[length - 1] ?? 0); i++) codes.set(table.symbols[k++], [code++, length]);
    code <<= 1;
  }
  return codes;
}

/** A small DC table for hand-written scans: 00 = no difference, 01 = category 1, 10 = category 2. */
export const SMALL_DC: HuffmanSpec = { counts: [0, 3], symbols: [0x00, 0x01, 0x02] };

/** One grayscale component, id 1, its tables 0. */
export const GRAY = [{ id: 1 }];

/** DHT for one table; `tableClass` 0 for DC, 1 for AC. */
export function dht(tableClass: 0 | 1, id: number, table: HuffmanSpec): number[] {
  const counts = Array.from({ length: 16 }, (_, i) => table.counts[i] ?? 0);
  return segment(0xc4, [(tableClass << 4) | id, ...counts, ...table.symbols]);
}

/** DQT for one 8-bit table (all ones unless given: coefficients then reach the IDCT as coded). */
export const dqt = (id: number, values: number[] = new Array(64).fill(1)): number[] => segment(0xdb, [id, ...values]);

export interface FrameComponent {
  id: number;
  h?: number;
  v?: number;
  tq?: number;
}

/** SOF0 (baseline) or SOF2 (progressive), 8-bit. */
export const sof = (progressive: boolean, width: number, height: number, components: FrameComponent[]): number[] =>
  frameHeader(progressive ? 0xc2 : 0xc0, 8, width, height, components);

/** Any SOFn segment: `marker` (0xC0 to 0xCF), bits per sample, size, components. */
export function frameHeader(marker: number, precision: number, width: number, height: number, components: FrameComponent[]): number[] {
  return segment(marker, [
    precision, height >> 8, height & 0xff, width >> 8, width & 0xff, components.length,
    ...components.flatMap((c) => [c.id, ((c.h ?? 1) << 4) | (c.v ?? 1), c.tq ?? 0]),
  ]);
}

export interface ScanComponent {
  id: number;
  dc?: number;
  ac?: number;
}

/** SOS header (the entropy-coded data follows it, not part of the segment). */
export function sos(components: ScanComponent[], ss = 0, se = 63, ah = 0, al = 0): number[] {
  return segment(0xda, [components.length, ...components.flatMap((c) => [c.id, ((c.dc ?? 0) << 4) | (c.ac ?? 0)]), ss, se, (ah << 4) | al]);
}

/** SOI, the parts in order, EOI. */
export const jpegFile = (...parts: (number[] | Uint8Array)[]): Uint8Array => Uint8Array.from([0xff, 0xd8, ...parts.flatMap((p) => [...p]), 0xff, 0xd9]);

/** Writes entropy-coded data MSB first, stuffing a 0x00 after every 0xFF; `finish` pads the last byte with ones. */
export class BitWriter {
  private readonly bytes: number[] = [];
  private acc = 0;
  private used = 0;

  write(value: number, length: number): this {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >>> i) & 1);
      if (++this.used === 8) {
        this.bytes.push(this.acc);
        if (this.acc === 0xff) this.bytes.push(0);
        this.acc = 0;
        this.used = 0;
      }
    }
    return this;
  }

  /** The code of `symbol` in `codes`, then `size` extra bits holding `extra`. */
  symbol(codes: Map<number, [number, number]>, symbol: number, extra = 0, size = 0): this {
    const code = codes.get(symbol);
    if (!code) throw new Error(`no code for symbol 0x${symbol.toString(16)}`);
    return this.write(code[0], code[1]).write(extra, size);
  }

  finish(): Uint8Array {
    while (this.used !== 0) this.write(1, 1);
    return Uint8Array.from(this.bytes);
  }
}
