/**
 * Hostile JPEGs built byte by byte (generated, no image content): files whose entropy-coded data is tiny
 * or absent while their tables make every zero bit past the data a coefficient, so a decoder that pads
 * with zero bits (as libjpeg does) spends a full image's CPU on them.
 */
import { segment } from './jpeg-writer';

/** A Huffman table with one 1-bit code ('0') for `symbol`. */
const oneCodeTable = (tableClassAndId: number, symbol: number) => segment(0xc4, [tableClassAndId, 1, ...new Array(15).fill(0), symbol]);

/**
 * A one-component progressive JPEG of `width` x `height`: a DC scan with one bit per block (enough for the
 * decoder's minimum-length check), then `acScans` AC scans (band 1..63) with no data at all, whose AC table's
 * only code is (run 0, size 1): zero bits decode as a coefficient -1 each, 63 to a block.
 */
export function progressiveEntropyBomb(width: number, height: number, acScans: number): Uint8Array {
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const scan = (ss: number, se: number) => segment(0xda, [1, 1, 0x00, ss, se, 0x00]);
  const bytes = [
    0xff, 0xd8,
    ...segment(0xdb, [0x00, ...new Array(64).fill(1)]),
    ...segment(0xc2, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]),
    ...oneCodeTable(0x00, 0x00), // DC: '0' = difference 0
    ...oneCodeTable(0x10, 0x01), // AC: '0' = run 0, size 1
    ...scan(0, 0), ...new Array(Math.ceil(blocks / 8)).fill(0),
  ];
  for (let i = 0; i < acScans; i++) bytes.push(...scan(1, 63));
  bytes.push(0xff, 0xd9);
  return new Uint8Array(bytes);
}

/**
 * SOI to the end of the SOS header of a one-component baseline JPEG of `width` x `height`: flat quantisation, a
 * DC table whose only code ('0') is difference 0, an AC table whose only code is `acSymbol`, and `extra` segments
 * (e.g. DRI) before the tables.
 */
function baselineHead(width: number, height: number, acSymbol: number, extra: number[] = []): number[] {
  return [
    0xff, 0xd8,
    ...segment(0xdb, [0x00, ...new Array(64).fill(1)]),
    ...segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]),
    ...extra,
    ...oneCodeTable(0x00, 0x00),
    ...oneCodeTable(0x10, acSymbol),
    ...segment(0xda, [1, 1, 0x00, 0, 63, 0]),
  ];
}

/**
 * A one-component baseline JPEG of `width` x `height` whose single scan carries `dataBytes` bytes: its DC
 * table's only code is difference 0 and its AC table's only code is (run 0, size 1), so every block past the
 * data decodes 63 coefficients from zero bits. `dataBytes` at two bits a block passes the minimum-length check.
 */
export function baselineEntropyBomb(width: number, height: number, dataBytes: number): Uint8Array {
  return new Uint8Array([...baselineHead(width, height, 0x01), ...new Array(dataBytes).fill(0), 0xff, 0xd9]);
}

/** `jpeg` with `count` copies of a full DHT segment (a valid 162-symbol AC table) inserted after SOI. */
export function tableFlood(jpeg: Uint8Array, count: number): Uint8Array {
  const counts = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
  const symbols = Array.from({ length: 162 }, (_, i) => (i === 0 ? 0x00 : i === 161 ? 0xf0 : ((i % 15) << 4) | (1 + (i % 10))));
  const dht = segment(0xc4, [0x11, ...counts, ...symbols]);
  const out = new Uint8Array(jpeg.length + count * dht.length);
  out.set(jpeg.subarray(0, 2));
  for (let i = 0; i < count; i++) out.set(dht, 2 + i * dht.length);
  out.set(jpeg.subarray(2), 2 + count * dht.length);
  return out;
}

/**
 * A one-component baseline JPEG of `width` x `height` with a restart interval of one MCU and, for every
 * MCU, one byte of data followed by an RSTn marker: the most restart handling a byte can buy.
 */
export function restartFlood(width: number, height: number): Uint8Array {
  const mcus = Math.ceil(width / 8) * Math.ceil(height / 8);
  const data = new Uint8Array(mcus * 3);
  for (let i = 0; i < mcus; i++) data.set([0x00, 0xff, 0xd0 + (i % 8)], i * 3);
  const head = baselineHead(width, height, 0x00 /* AC '0' = end of block */, segment(0xdd, [0, 1]));
  const out = new Uint8Array(head.length + data.length + 2);
  out.set(head);
  out.set(data, head.length);
  out.set([0xff, 0xd9], head.length + data.length);
  return out;
}

/** A header declaring `width` x `height` in front of a few bytes of data. */
export function hugeDeclaredSize(width: number, height: number): Uint8Array {
  return new Uint8Array([...baselineHead(width, height, 0x00), 0x00, 0x00, 0x00, 0x00, 0xff, 0xd9]);
}

/**
 * The hostile families `npm run fuzz` measures (and the tests replay from test/fuzz-regressions): name, bytes, and
 * whether the decoder must refuse it (the others are valid streams whose cost must stay bounded by their bytes).
 */
export function hostileFamilies(base: Uint8Array): { family: string; name: string; bytes: Uint8Array; mustRefuse: boolean }[] {
  return [
    ...[[1024, 1600], [2040, 2040], [2040, 12000]].map(([w, h]) => ({ family: 'progressive entropy bomb', name: `${w}x${h}, 63 empty AC scans`, bytes: progressiveEntropyBomb(w, h, 63), mustRefuse: true })),
    ...[[2040, 2040], [2040, 24500]].map(([w, h]) => ({ family: 'baseline entropy bomb', name: `${w}x${h}, two bits a block`, bytes: baselineEntropyBomb(w, h, Math.ceil((Math.ceil(w / 8) * Math.ceil(h / 8) * 2) / 8)), mustRefuse: true })),
    ...[65, 500].map((n) => ({ family: 'scan flood', name: `${n} empty AC scans`, bytes: progressiveEntropyBomb(2040, 2040, n), mustRefuse: true })),
    ...[300, 80_000].map((n) => ({ family: 'table flood', name: `${n} Huffman tables before a fixture`, bytes: tableFlood(base, n), mustRefuse: true })),
    ...[[2040, 2040], [4000, 4000]].map(([w, h]) => ({ family: 'restart-marker flood', name: `${w}x${h}, RST after every MCU`, bytes: restartFlood(w, h), mustRefuse: false })),
    ...[[7000, 7000], [60000, 60000]].map(([w, h]) => ({ family: 'huge declared size', name: `${w}x${h} on ${hugeDeclaredSize(w, h).length} bytes`, bytes: hugeDeclaredSize(w, h), mustRefuse: true })),
  ];
}
