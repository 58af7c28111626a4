/**
 * Huffman tables and the entropy-coded bit stream of a JPEG (ITU T.81, Annex C and F.2.2).
 */
import { ImageError } from '../errors';

// 11 bits: on real films 98 % of symbols (code and extra bits) fit, against 92-95 % with 9 (a 2,048-entry table).
const LOOKUP_BITS = 11;

/**
 * Zero bits a scan may decode past the end of its data (128 bytes' worth) before it is refused as truncated or
 * corrupt: a valid scan needs none, and decoding a large image from zeros would cost its full CPU. Every JPEG
 * decoder here (8-bit, 12-bit, lossless) checks `paddingConsumed()` against it.
 */
export const MAX_PADDING_BITS = 1024;

export interface HuffmanTable {
  /** For the next LOOKUP_BITS bits: (code length << 8) | symbol, or 0 when the code is longer. */
  lookup: Uint16Array;
  /** Largest code of each length 1..16 (-1 when none), and where that length's symbols start. */
  maxCode: Int32Array;
  valOffset: Int32Array;
  symbols: Uint8Array;
  /**
   * The next LOOKUP_BITS bits decoded all at once, when the code and its extra bits both fit (0 otherwise:
   * longer codes, and for AC tables ZRL). Most symbols of real images take this path.
   * DC tables: (difference << 16) | bits used. AC tables: (value << 16) | (run << 8) | bits used, or
   * END_OF_BLOCK | bits used for an end of block (EOB0).
   */
  fast: Int32Array;
}

/** Flag in an AC table's `fast` entry: the code is an end of block. */
export const END_OF_BLOCK = 1 << 12;

/** Builds a table from a DHT segment's 16 code counts and its symbols; `ac` for an AC table, else DC. */
export function buildHuffmanTable(counts: Uint8Array, symbols: Uint8Array, ac: boolean): HuffmanTable {
  const lookup = new Uint16Array(1 << LOOKUP_BITS);
  const maxCode = new Int32Array(18).fill(-1);
  const valOffset = new Int32Array(18);
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    const n = counts[length - 1];
    valOffset[length] = k - code;
    for (let i = 0; i < n; i++, k++, code++) {
      if (length <= LOOKUP_BITS) {
        const shift = LOOKUP_BITS - length;
        for (let fill = code << shift, end = (code + 1) << shift; fill < end; fill++) lookup[fill] = (length << 8) | symbols[k];
      }
    }
    // Stryker disable next-line ConditionalExpression,EqualityOperator: an empty length L would get code_L - 1 instead of -1, and every L-bit prefix below code_L extends a shorter code, which the lookup or an earlier step of decode's loop has already taken
    if (n > 0) maxCode[length] = code - 1;
    if (code > 1 << length) throw new ImageError('invalid', 'Corrupt JPEG: invalid Huffman table.');
    code <<= 1;
  }
  maxCode[17] = 0x7fffffff; // sentinel: no code is longer than 16 bits
  const fast = new Int32Array(1 << LOOKUP_BITS);
  for (let peek = 0; peek < fast.length; peek++) {
    const entry = lookup[peek];
    if (entry === 0) continue;
    const length = entry >> 8;
    const symbol = entry & 0xff;
    if (ac && symbol === 0) {
      fast[peek] = END_OF_BLOCK | length;
      continue;
    }
    const size = ac ? symbol & 15 : symbol;
    const run = ac ? symbol >> 4 : 0;
    if ((ac && size === 0) || length + size > LOOKUP_BITS) continue; // ZRL, and (for DC) invalid categories past 15 too
    const extra = (peek >> (LOOKUP_BITS - length - size)) & ((1 << size) - 1);
    // Stryker disable next-line ConditionalExpression: at size 0, extra is 0 and 1 << -1 is negative, so the other branch gives 0 too
    const value = size === 0 ? 0 : extra < 1 << (size - 1) ? extra - (1 << size) + 1 : extra;
    fast[peek] = (value << 16) | (run << 8) | (length + size);
  }
  return { lookup, maxCode, valOffset, symbols, fast };
}

/**
 * Reads the entropy-coded segment bit by bit, removing 0xFF00 stuffing. At a marker it stops and
 * feeds zero bits (as libjpeg does), leaving `marker` set so the caller can handle RSTn or the end.
 */
export class BitReader {
  private bits = 0;
  private count = 0;
  /** Zero bits fed since the last reset because the data had ended (at a marker or the end of the file). */
  padded = 0;
  /** Of those, the ones consumed before earlier resets. */
  private paddingUsed = 0;
  /** Marker code hit in the data (0 when none yet). */
  marker = 0;

  constructor(
    private readonly data: Uint8Array,
    public pos: number,
  ) {}

  /**
   * Where the next 0xFF byte at or after `pos` is (`data.length` when none; -1 until first looked for). Bytes
   * before it need no stuffing or marker check, so a refill from them takes two at once (most refills).
   */
  private nextFF = -1;

  /** Adds at least 8 bits to a buffer holding fewer than 16 (every caller's case), leaving at most 32. */
  private fill(): void {
    if (this.pos + 2 <= this.nextFF) {
      this.bits = (this.bits << 16) | (this.data[this.pos] << 8) | this.data[this.pos + 1];
      this.pos += 2;
      this.count += 16;
      return;
    }
    this.fillSlow();
  }

  private fillSlow(): void {
    // Stryker disable next-line EqualityOperator: stopping at 24 bits instead of 25 to 32 still leaves the 16 any read needs
    while (this.count <= 24) {
      let byte = 0;
      // Past a marker `pos` stays on it, so this finds the marker again and feeds a zero byte, as the end of the data does.
      if (this.pos < this.data.length) {
        byte = this.data[this.pos];
        if (byte === 0xff) {
          const next = this.data[this.pos + 1];
          if (next === 0x00) this.pos += 2;
          else if (next === 0xff) {
            this.pos++; // fill byte before a marker
            continue;
          } else {
            this.marker = next;
            byte = 0;
            this.padded += 8;
          }
        } else this.pos++;
      } else this.padded += 8;
      this.bits = (this.bits << 8) | byte;
      this.count += 8;
    }
    // Stryker disable next-line ConditionalExpression: looking again from `pos` finds the same 0xFF when the last one is still ahead
    if (this.nextFF < this.pos) {
      const next = this.data.indexOf(0xff, this.pos);
      this.nextFF = next < 0 ? this.data.length : next;
    }
  }

  /**
   * Zero bits consumed past the end of the data. A valid scan consumes none (the encoder pads its last byte
   * with ones; only look-ahead reads past it); a truncated file needs some; an entropy bomb (scans with no
   * data whose tables turn zero bits into coefficients) needs them for every block.
   */
  paddingConsumed(): number {
    // Padding comes after every real bit, so the `count` unconsumed bits are padding first.
    return this.paddingUsed + Math.max(0, this.padded - this.count);
  }

  readBit(): number {
    // Stryker disable next-line ConditionalExpression: filling with bits still buffered only tops the buffer up
    if (this.count === 0) this.fill();
    this.count--;
    return (this.bits >>> this.count) & 1;
  }

  /** Reads n (0..16) bits as an unsigned number (none, and 0, for n = 0: the mask is then 0). */
  readBits(n: number): number {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: filling with bits still buffered only tops the buffer up
    if (this.count < n) this.fill();
    this.count -= n;
    return (this.bits >>> this.count) & ((1 << n) - 1);
  }

  /** Reads n bits and sign-extends them as JPEG's magnitude categories do (F.2.2.1). */
  receiveExtend(n: number): number {
    // Stryker disable next-line ConditionalExpression: a shortcut; readBits(0) is 0, and 0 < 1 << -1 (negative) is false, so 0 comes back either way
    if (n === 0) return 0;
    if (n > 16) throw new ImageError('invalid', 'Corrupt JPEG: coefficient out of range.');
    const value = this.readBits(n);
    return value < 1 << (n - 1) ? value - (1 << n) + 1 : value;
  }

  /** One symbol through `table.fast`: its packed entry (bits consumed), or 0 to take the slow path. */
  decodeFast(table: HuffmanTable): number {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: filling with bits still buffered only tops the buffer up
    if (this.count < 16) this.fill();
    const entry = table.fast[(this.bits >>> (this.count - LOOKUP_BITS)) & ((1 << LOOKUP_BITS) - 1)];
    this.count -= entry & 0xff; // 0 for the slow path: nothing consumed
    return entry;
  }

  decode(table: HuffmanTable | undefined): number {
    if (!table) throw new ImageError('invalid', 'Corrupt JPEG: scan uses an undefined Huffman table.');
    // Stryker disable next-line ConditionalExpression,EqualityOperator: filling with bits still buffered only tops the buffer up
    if (this.count < 16) this.fill();
    const peek = (this.bits >>> (this.count - LOOKUP_BITS)) & ((1 << LOOKUP_BITS) - 1);
    const entry = table.lookup[peek];
    if (entry !== 0) {
      this.count -= entry >> 8;
      return entry & 0xff;
    }
    let code = peek;
    let length = LOOKUP_BITS;
    this.count -= LOOKUP_BITS;
    while (code > table.maxCode[length]) {
      code = (code << 1) | this.readBit();
      length++;
      if (length > 16) throw new ImageError('invalid', 'Corrupt JPEG: invalid Huffman code.');
    }
    return table.symbols[code + table.valOffset[length]];
  }

  /**
   * Decodes one baseline block's AC coefficients (k = 1..63, F.2.2.2), keeping those whose zig-zag position k has
   * `place[k] < 64` (the ones a reduced-size IDCT uses): each is dequantised into out[place[k]] (times quant[place[k]]),
   * and place[k] is appended to `places`. Returns how many were kept; the last one is the latest in zig-zag order.
   * Most of a decode's time is spent here: the common steps run in an inner loop with the bit buffer in locals
   * (the fast refill is fill()'s, inlined), the rare ones (long codes, ZRL, refills that meet a 0xFF byte) outside it.
   * That loop has no branch on whether a coefficient is kept, nor on its index: `place` (at least 79 long) sends a
   * dropped one, and one past 63, to out[64] (with quant[64] = 0), and an index past 63 is refused once the loop
   * ends. In workerd that saved 8-14 % of a film's decode (`npx tsx scripts/bench/ab-decode.ts --workerd`).
   */
  decodeAc(table: HuffmanTable, place: Uint8Array, quant: Float32Array, out: Float32Array, places: Uint8Array): number {
    const data = this.data;
    const fast = table.fast;
    let kept = 0;
    let k = 1;
    for (;;) {
      // The common steps, in a loop with no calls, so V8 keeps the bit buffer and the arrays in registers; it
      // stops at the end of the block or at a step that needs one (a refill that meets a 0xFF byte, a long
      // code, ZRL), which the code after it takes before going round again.
      let bits = this.bits;
      let count = this.count;
      let pos = this.pos;
      const nextFF = this.nextFF;
      let slow = false;
      for (; k < 64; k++) {
        // Stryker disable next-line ConditionalExpression,EqualityOperator: filling with bits still buffered only tops the buffer up
        if (count < 16) {
          if (pos + 2 > nextFF) {
            slow = true;
            break;
          }
          bits = (bits << 16) | (data[pos] << 8) | data[pos + 1];
          pos += 2;
          count += 16;
        }
        const entry = fast[(bits >>> (count - LOOKUP_BITS)) & ((1 << LOOKUP_BITS) - 1)];
        if (entry === 0) {
          slow = true;
          break;
        }
        count -= entry & 0xff;
        if (entry & END_OF_BLOCK) break;
        k += (entry >> 8) & 15;
        const at = place[k];
        out[at] = (entry >> 16) * quant[at];
        places[kept] = at;
        kept += (at >> 6) ^ 1;
      }
      this.bits = bits;
      this.count = count;
      this.pos = pos;
      if (k > 64) throw new ImageError('invalid', 'Corrupt JPEG: coefficient index out of range.');
      if (!slow) return kept;
      if (count < 16) {
        this.fillSlow();
        continue;
      }
      const rs = this.decode(table);
      const size = rs & 15;
      if (size === 0) {
        if (rs >> 4 < 15) return kept; // end of block
        // A run of 16 zeros; one that runs past the block ends it, as it always has (no coefficient lands there), and
        // is kept at 64 so that the check above refuses only coefficients past 63.
        k = Math.min(k + 16, 64);
        continue;
      }
      const value = this.receiveExtend(size);
      k += rs >> 4;
      // As in the loop above: past 63 it goes to the sink, and the check above refuses it on the way round.
      const at = place[k];
      out[at] = value * quant[at];
      places[kept] = at;
      kept += (at >> 6) ^ 1;
      k++;
    }
  }

  /** Discards buffered bits (at a restart interval or the end of a scan). */
  reset(): void {
    this.paddingUsed = this.paddingConsumed();
    this.padded = 0;
    this.bits = 0;
    this.count = 0;
  }

  /** Consumes an expected RSTn marker; tolerates its absence (corrupt data then decodes as zeros). */
  restart(): void {
    this.reset();
    if (this.marker === 0) {
      // The marker may follow directly without having been reached by a refill. (Reads past the end give undefined,
      // which equals no byte.)
      while (this.data[this.pos] === 0xff && this.data[this.pos + 1] === 0xff) this.pos++;
      const code = this.data[this.pos + 1];
      if (this.data[this.pos] === 0xff && code >= 0xd0 && code <= 0xd7) this.pos += 2;
      return;
    }
    if (this.marker >= 0xd0 && this.marker <= 0xd7) {
      this.pos += 2;
      this.marker = 0;
    }
  }
}
