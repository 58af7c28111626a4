/**
 * The JPEG mutation engine shared by `npm run fuzz` (10,000+ cases through `wrangler dev`), the Worker
 * test that replays a seeded batch and every saved regression through SELF.fetch, and the decoder's unit
 * test. Pure functions of a seed: case N of seed S is the same bytes everywhere, so a failure is
 * reproduced from (seed, index) alone.
 */
import { seededRandom } from '../../scripts/export/split';

export const MUTATIONS = [
  'bit-flips',
  'overwrite',
  'truncate',
  'marker',
  'segment-length',
  'huge-dimensions',
  'zero-dimensions',
  'many-scans',
  'splice',
  'random-bytes',
] as const;
/** DICOM uploads: element-level corruption (tags, VRs, lengths, sequences), plus the generic byte mutations. */
export const DICOM_MUTATIONS = ['dicom-element', 'bit-flips', 'overwrite', 'truncate', 'splice'] as const;
export type Mutation = (typeof MUTATIONS)[number] | (typeof DICOM_MUTATIONS)[number];

export interface FuzzSource {
  name: string;
  bytes: Uint8Array;
}

export interface FuzzCase {
  index: number;
  source: string;
  mutation: Mutation;
  bytes: Uint8Array;
}

/** Segments of a JPEG up to its first scan: [offset of 0xFF, marker code, length field value]. */
function segments(bytes: Uint8Array): [number, number, number][] {
  const out: [number, number, number][] = [];
  let i = 2;
  while (i + 3 < bytes.length && bytes[i] === 0xff) {
    const code = bytes[i + 1];
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    out.push([i, code, length]);
    if (code === 0xda) break;
    i += 2 + length;
  }
  return out;
}

function setDimensions(bytes: Uint8Array, width: number, height: number): void {
  const sof = segments(bytes).find(([, code]) => code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc);
  if (!sof) return;
  bytes.set([height >> 8, height & 0xff, width >> 8, width & 0xff], sof[0] + 5);
}

/** Applies one mutation; `other` is a second source for splicing. */
export function mutate(source: Uint8Array, other: Uint8Array, mutation: Mutation, random: () => number): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  const bytes = source.slice();
  switch (mutation) {
    case 'dicom-element': {
      // An element header of the data set (walked as explicit VR little endian; elsewhere a spot in the header
      // region): its length, VR or tag turned into something hostile, a few times over.
      const headers = elementHeaders(bytes);
      for (let k = 1 + int(3); k > 0; k--) {
        const at = headers.length ? headers[int(headers.length)] : int(Math.min(bytes.length, 2000)) & ~1;
        if (at + 12 > bytes.length) continue;
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const choice = int(5);
        if (choice === 0) view.setUint32(at + 8, [0xffffffff, 0x7fffffff, 0, 1, int(2 ** 31)][int(5)], true); // long length
        else if (choice === 1) view.setUint16(at + 6, [0xffff, 0, 1, int(65536)][int(4)], true); // short length
        else if (choice === 2) bytes.set([...['SQ', 'UN', 'OB', 'OW', 'US', 'DS', 'ZZ'][int(7)]].map((c) => c.charCodeAt(0)), at + 4);
        else if (choice === 3) view.setUint32(at, [0xe000fffe, 0xe0ddfffe, 0xe00dfffe, 0x00107fe0, 0x00100028, 0x30000028][int(6)], true); // tag
        else for (let i = at + 8; i < Math.min(bytes.length, at + 24); i++) bytes[i] = int(256);
      }
      return bytes;
    }
    case 'bit-flips':
      for (let k = 1 + int(32); k > 0; k--) bytes[int(bytes.length)] ^= 1 << int(8);
      return bytes;
    case 'overwrite': {
      const start = int(bytes.length);
      bytes.fill(int(256), start, Math.min(bytes.length, start + 1 + int(64)));
      for (let k = int(8); k > 0; k--) bytes[int(Math.min(bytes.length, 700))] = int(256); // headers too
      return bytes;
    }
    case 'truncate':
      return bytes.slice(0, int(bytes.length));
    case 'marker': {
      const segs = segments(bytes);
      if (segs.length) bytes[segs[int(segs.length)][0] + 1] = [0xc1, 0xc2, 0xc3, 0xc9, 0xcf, 0xd8, 0xd9, 0xda, 0xdb, 0xdd, 0xe1, 0xfe, 0x00, 0xff][int(14)];
      return bytes;
    }
    case 'segment-length': {
      const segs = segments(bytes);
      if (segs.length) {
        const [at, , length] = segs[int(segs.length)];
        const value = [0, 1, 2, 3, length - 1, length + 1, 0xffff, int(0x10000)][int(8)];
        bytes.set([(value >> 8) & 0xff, value & 0xff], at + 2);
      }
      return bytes;
    }
    case 'huge-dimensions': {
      // Large declarations with a tiny body: over, near and under the pixel limit.
      const sides: [number, number][] = [[65535, 65535], [60000, 1000], [7000, 7000], [1, 65535], [12000, 4000], [4000, 3000]];
      const [w, h] = sides[int(sides.length)];
      setDimensions(bytes, w, h);
      return bytes.slice(0, Math.max(200, int(bytes.length)));
    }
    case 'zero-dimensions':
      setDimensions(bytes, int(2) ? 0 : 1 + int(4), int(2) ? 0 : 1 + int(4));
      return bytes;
    case 'many-scans': {
      // Repeat the first scan (SOS header + its data up to the next marker) hundreds of times.
      const sos = segments(bytes).find(([, code]) => code === 0xda);
      if (!sos) return bytes;
      let end = sos[0] + 2 + sos[2];
      while (end + 1 < bytes.length && !(bytes[end] === 0xff && bytes[end + 1] !== 0 && (bytes[end + 1] < 0xd0 || bytes[end + 1] > 0xd7))) end++;
      const scan = bytes.subarray(sos[0], end);
      const copies = 65 + int(400);
      const out = new Uint8Array(sos[0] + scan.length * copies + 2);
      out.set(bytes.subarray(0, sos[0]));
      for (let k = 0; k < copies; k++) out.set(scan, sos[0] + k * scan.length);
      out.set([0xff, 0xd9], out.length - 2);
      return out;
    }
    case 'splice': {
      const cut = int(bytes.length);
      const from = int(other.length);
      const out = new Uint8Array(cut + other.length - from);
      out.set(bytes.subarray(0, cut));
      out.set(other.subarray(from), cut);
      return out;
    }
    case 'random-bytes': {
      const out = new Uint8Array(1 + int(4096));
      for (let k = 0; k < out.length; k++) out[k] = int(256);
      // A JPEG signature on noise, cut to the length (the draw is made either way, so the stream stays the same).
      if (int(2)) out.set([0xff, 0xd8, 0xff].slice(0, out.length));
      return out;
    }
  }
}

/** Offsets of the element headers of an explicit VR little endian Part 10 file, up to Pixel Data ([] otherwise). */
function elementHeaders(bytes: Uint8Array): number[] {
  const out: number[] = [];
  if (bytes.length < 140 || String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 132; at + 8 <= bytes.length && out.length < 500; ) {
    out.push(at);
    const vr = String.fromCharCode(bytes[at + 4], bytes[at + 5]);
    if (!/^[A-Z]{2}$/.test(vr) || view.getUint32(at, true) === 0x00107fe0) break;
    const long = ['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'].includes(vr);
    const length = long ? view.getUint32(at + 8, true) : view.getUint16(at + 6, true);
    if (length === 0xffffffff) break;
    at += (long ? 12 : 8) + length;
  }
  return out;
}

export interface FuzzRecipe {
  /** The seed of the case's own random stream (derived from the run's seed and the case index). */
  caseSeed: number;
  mutation: Mutation;
  source: string;
  other: string;
}

/**
 * Case `index` of the run seeded `seed`: the source, mutation and random stream all follow from both.
 * @param mutations MUTATIONS for JPEG sources, DICOM_MUTATIONS for DICOM ones
 */
export function fuzzCase(sources: FuzzSource[], seed: number, index: number, mutations: readonly Mutation[] = MUTATIONS): FuzzCase & { recipe: FuzzRecipe } {
  const caseSeed = (seed * 1_000_003 + index) >>> 0;
  const random = seededRandom(caseSeed);
  const source = sources[Math.floor(random() * sources.length)];
  const other = sources[Math.floor(random() * sources.length)];
  const mutation = mutations[index % mutations.length];
  const bytes = mutate(source.bytes, other.bytes, mutation, random);
  return { index, source: source.name, mutation, bytes, recipe: { caseSeed, mutation, source: source.name, other: other.name } };
}

/** Rebuilds a case from its recipe (what is saved for cases made from real X-rays, which are never written out). */
export function replayRecipe(recipe: FuzzRecipe, lookup: (name: string) => Uint8Array | null): Uint8Array | null {
  const source = lookup(recipe.source);
  const other = lookup(recipe.other);
  if (!source || !other) return null;
  const random = seededRandom(recipe.caseSeed);
  random(); // the two picks fuzzCase made
  random();
  return mutate(source, other, recipe.mutation, random);
}

/** Statuses and problem codes a mutated upload may get; anything else is a finding. */
export const EXPECTED_STATUSES = new Set([200, 400, 413, 422]);
// not_a_chest_xray: a mutation that still decodes can turn an image into one the model's gate refuses.
export const EXPECTED_CODES = new Set(['invalid_image', 'unsupported_image', 'image_too_large', 'payload_too_large', 'empty_body', 'not_a_chest_xray']);
