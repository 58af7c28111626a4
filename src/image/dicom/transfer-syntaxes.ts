/**
 * Transfer syntaxes as a table: how the data set is encoded and which codec holds the pixels. A syntax
 * with `codec: null` is a known one this service refuses with 422, naming it.
 */
export type PixelCodec = 'native' | 'rle' | 'jpeg-baseline' | 'jpeg-extended' | 'jpeg-lossless';

export interface TransferSyntax {
  uid: string;
  name: string;
  littleEndian: boolean;
  explicitVR: boolean;
  /** The data set after the file meta group is a raw deflate stream (PS3.5 A.5). */
  deflated: boolean;
  codec: PixelCodec | null;
  /** Why a known syntax is refused. */
  refusal?: string;
}

const WASM_CODEC = 'it would need a WebAssembly codec this service does not bundle (send JPEG lossless, RLE or uncompressed)';

const le = { littleEndian: true, explicitVR: true, deflated: false };
const TABLE: TransferSyntax[] = [
  { uid: '1.2.840.10008.1.2', name: 'Implicit VR Little Endian', ...le, explicitVR: false, codec: 'native' },
  { uid: '1.2.840.10008.1.2.1', name: 'Explicit VR Little Endian', ...le, codec: 'native' },
  { uid: '1.2.840.10008.1.2.1.99', name: 'Deflated Explicit VR Little Endian', ...le, deflated: true, codec: 'native' },
  { uid: '1.2.840.10008.1.2.2', name: 'Explicit VR Big Endian', ...le, littleEndian: false, codec: 'native' },
  { uid: '1.2.840.10008.1.2.4.50', name: 'JPEG Baseline (Process 1)', ...le, codec: 'jpeg-baseline' },
  { uid: '1.2.840.10008.1.2.4.51', name: 'JPEG Extended (Process 2 & 4)', ...le, codec: 'jpeg-extended' },
  { uid: '1.2.840.10008.1.2.4.57', name: 'JPEG Lossless, Non-Hierarchical (Process 14)', ...le, codec: 'jpeg-lossless' },
  { uid: '1.2.840.10008.1.2.4.70', name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])', ...le, codec: 'jpeg-lossless' },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE Lossless', ...le, codec: 'rle' },
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS Lossless', ...le, codec: null, refusal: WASM_CODEC },
  { uid: '1.2.840.10008.1.2.4.81', name: 'JPEG-LS Lossy (Near-Lossless)', ...le, codec: null, refusal: WASM_CODEC },
  { uid: '1.2.840.10008.1.2.4.90', name: 'JPEG 2000 Image Compression (Lossless Only)', ...le, codec: null, refusal: WASM_CODEC },
  { uid: '1.2.840.10008.1.2.4.91', name: 'JPEG 2000 Image Compression', ...le, codec: null, refusal: WASM_CODEC },
  { uid: '1.2.840.10008.1.2.4.92', name: 'JPEG 2000 Part 2 Multi-component (Lossless Only)', ...le, codec: null, refusal: WASM_CODEC },
  { uid: '1.2.840.10008.1.2.4.93', name: 'JPEG 2000 Part 2 Multi-component', ...le, codec: null, refusal: WASM_CODEC },
  { uid: '1.2.840.10008.1.2.4.201', name: 'High-Throughput JPEG 2000 (Lossless Only)', ...le, codec: null, refusal: WASM_CODEC },
  { uid: '1.2.840.10008.1.2.4.202', name: 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', ...le, codec: null, refusal: WASM_CODEC },
  { uid: '1.2.840.10008.1.2.4.203', name: 'High-Throughput JPEG 2000', ...le, codec: null, refusal: WASM_CODEC },
  { uid: '1.2.840.10008.1.2.4.94', name: 'JPIP Referenced', ...le, codec: null, refusal: 'the pixels are not in the file' },
  { uid: '1.2.840.10008.1.2.4.95', name: 'JPIP Referenced Deflate', ...le, codec: null, refusal: 'the pixels are not in the file' },
];
for (const [uid, name] of [
  ['1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level'],
  ['1.2.840.10008.1.2.4.101', 'MPEG2 Main Profile / High Level'],
  ['1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264 High Profile / Level 4.1'],
  ['1.2.840.10008.1.2.4.103', 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1'],
  ['1.2.840.10008.1.2.4.104', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video'],
  ['1.2.840.10008.1.2.4.105', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video'],
  ['1.2.840.10008.1.2.4.106', 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2'],
  ['1.2.840.10008.1.2.4.107', 'HEVC/H.265 Main Profile / Level 5.1'],
  ['1.2.840.10008.1.2.4.108', 'HEVC/H.265 Main 10 Profile / Level 5.1'],
]) {
  TABLE.push({ uid, name, ...le, codec: null, refusal: 'video is not a radiograph' });
}

const BY_UID = new Map(TABLE.map((syntax) => [syntax.uid, syntax]));

/** The transfer syntax with this UID, or undefined for one not in the table. */
export function transferSyntax(uid: string): TransferSyntax | undefined {
  return BY_UID.get(uid);
}

/** A UID as it may appear in a message: only digits and dots (a UID cannot hold patient text), else nothing. */
export function printableUid(uid: string): string | null {
  return /^[0-9.]{1,64}$/.test(uid) ? uid : null;
}

export const IMPLICIT_VR_LITTLE_ENDIAN = BY_UID.get('1.2.840.10008.1.2')!;
export const EXPLICIT_VR_LITTLE_ENDIAN = BY_UID.get('1.2.840.10008.1.2.1')!;
export const EXPLICIT_VR_BIG_ENDIAN = BY_UID.get('1.2.840.10008.1.2.2')!;
