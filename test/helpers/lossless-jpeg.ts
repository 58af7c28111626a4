/**
 * Lossless JPEG codestreams (ITU T.81 process 14: SOF3, Huffman-coded differences, annex H) written marker by marker
 * with test/helpers/jpeg-writer.ts, for the tests of the lossless decoder and of DICOM's encapsulated frames.
 * Generated; no image content.
 */
import { BitWriter, canonicalCodes, dht, jpegFile, segment, type HuffmanSpec } from './jpeg-writer';

/** Difference categories 0..16: 00, 01, 10 for 0-2, then one code each of 3 to 16 bits. */
export const LOSSLESS_DIFFERENCES: HuffmanSpec = { counts: [0, 3, ...new Array(14).fill(1)], symbols: Array.from({ length: 17 }, (_, i) => i) };
const codes = canonicalCodes(LOSSLESS_DIFFERENCES);

/** F.1.2.1 (as H.1.2.2 uses it): the category of a difference and its extra bits. */
export function writeDifference(w: BitWriter, difference: number): BitWriter {
  if (difference === 32768) return w.symbol(codes, 16);
  const size = difference === 0 ? 0 : 32 - Math.clz32(Math.abs(difference));
  return w.symbol(codes, size, difference < 0 ? difference + (1 << size) - 1 : difference, size);
}

export interface LosslessStream {
  width: number;
  height: number;
  precision?: number;
  /** Frame components: id and sampling byte (0x11 unless given). */
  components?: [number, number?][];
  predictor?: number;
  pointTransform?: number;
  /** Scan components: id and table selector byte (0x00 unless given). */
  scan?: [number, number?][];
  differences?: number[];
  /** Entropy-coded data instead of `differences`. */
  data?: Uint8Array;
  /** Segments before the frame. */
  before?: number[];
  /** The frame header's body as given instead of the one built. */
  frameBody?: number[];
  scanBody?: number[];
}

/** SOI, [before], DHT, SOF3, SOS and its data, EOI. */
export function losslessJpeg(s: LosslessStream): Uint8Array {
  const precision = s.precision ?? 8;
  const components = s.components ?? [[1]];
  const frameBody = s.frameBody ?? [precision, s.height >> 8, s.height & 0xff, s.width >> 8, s.width & 0xff, components.length, ...components.flatMap(([id, sampling]) => [id, sampling ?? 0x11, 0])];
  const scan = s.scan ?? components.map(([id]) => [id, 0] as [number, number]);
  const scanBody = s.scanBody ?? [scan.length, ...scan.flatMap(([id, tables]) => [id, tables ?? 0]), s.predictor ?? 1, 0, s.pointTransform ?? 0];
  const data = s.data ?? (s.differences ?? []).reduce((w, d) => writeDifference(w, d), new BitWriter()).finish();
  return jpegFile(s.before ?? [], dht(0, 0, LOSSLESS_DIFFERENCES), segment(0xc3, frameBody), segment(0xda, scanBody), data);
}
