import { ImageError } from './errors';
import { adobeTransformOf } from './jpeg/segments';

/** What the markers before the first scan say about a JPEG, read without decoding any pixel. */
export interface JpegHeader {
  width: number;
  height: number;
  /** 1 (grayscale), 3 (YCbCr/RGB) or 4 (Adobe CMYK/YCCK). */
  components: number;
  progressive: boolean;
  /** EXIF orientation tag, 1..8 (1 when absent or unreadable). */
  orientation: number;
  /** Adobe APP14 transform: 0 = none (RGB/CMYK), 1 = YCbCr, 2 = YCCK; null without an APP14 marker. */
  adobeTransform: number | null;
}

// SOF markers by process. Only 8-bit Huffman baseline/extended/progressive are decodable here.
const SOF_SUPPORTED = new Set([0xc0, 0xc1, 0xc2]);
const SOF_UNSUPPORTED: Record<number, string> = {
  0xc3: 'lossless JPEG',
  0xc5: 'hierarchical JPEG',
  0xc6: 'hierarchical progressive JPEG',
  0xc7: 'hierarchical lossless JPEG',
  0xc9: 'arithmetic-coded JPEG',
  0xca: 'arithmetic-coded progressive JPEG',
  0xcb: 'arithmetic-coded lossless JPEG',
  0xcd: 'hierarchical arithmetic-coded JPEG',
  0xce: 'hierarchical arithmetic-coded progressive JPEG',
  0xcf: 'hierarchical arithmetic-coded lossless JPEG',
};

/**
 * Scans the marker segments of a JPEG up to its first scan, validates them and checks that the
 * entropy-coded data is terminated by an EOI marker (a missing EOI means the upload was truncated).
 *
 * @throws ImageError `invalid` for anything that is not a well-formed JPEG, `unsupported` for
 *   valid JPEG processes this service does not decode (arithmetic, lossless, 12/16-bit, odd component counts).
 */
export function readJpegHeader(bytes: Uint8Array): JpegHeader {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new ImageError('invalid', 'The body is not a JPEG (no start-of-image marker).');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 2;
  let frame: Pick<JpegHeader, 'width' | 'height' | 'components' | 'progressive'> | null = null;
  let orientation = 1;
  let adobeTransform: number | null = null;

  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) {
      throw new ImageError('invalid', `Corrupt JPEG: expected a marker at byte ${offset}.`);
    }
    // Any number of 0xFF fill bytes may precede a marker code. Past the end, `marker` is undefined, matches
    // nothing, and the length check below ends the loop.
    while (bytes[offset] === 0xff) offset++;
    const marker = bytes[offset++];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9) throw new ImageError('invalid', 'Corrupt JPEG: end of image before any scan.');
    if (offset + 2 > bytes.length) break;
    const length = view.getUint16(offset);
    if (length < 2 || offset + length > bytes.length) break;
    const segment = bytes.subarray(offset + 2, offset + length);

    if (marker in SOF_UNSUPPORTED) {
      throw new ImageError('unsupported', `${SOF_UNSUPPORTED[marker]} is not supported; send a baseline or progressive JPEG.`);
    }
    if (SOF_SUPPORTED.has(marker)) {
      if (frame) throw new ImageError('invalid', 'Corrupt JPEG: more than one frame header.');
      frame = readFrame(segment, marker === 0xc2);
    } else if (marker === 0xe1) {
      orientation = readExifOrientation(segment) ?? orientation;
    } else if (marker === 0xee) {
      adobeTransform = adobeTransformOf(segment) ?? adobeTransform;
    } else if (marker === 0xda) {
      if (!frame) throw new ImageError('invalid', 'Corrupt JPEG: scan before frame header.');
      if (!hasEndOfImage(bytes, offset + length)) {
        throw new ImageError('invalid', 'The JPEG is truncated (no end-of-image marker).');
      }
      return { ...frame, orientation, adobeTransform };
    }
    offset += length;
  }
  throw new ImageError('invalid', 'The JPEG is truncated or corrupt (no image data).');
}

function readFrame(segment: Uint8Array, progressive: boolean): Pick<JpegHeader, 'width' | 'height' | 'components' | 'progressive'> {
  if (segment.length < 6) throw new ImageError('invalid', 'Corrupt JPEG: short frame header.');
  const precision = segment[0];
  const height = (segment[1] << 8) | segment[2];
  const width = (segment[3] << 8) | segment[4];
  const components = segment[5];
  if (precision !== 8) {
    throw new ImageError('unsupported', `${precision}-bit JPEG is not supported; send an 8-bit JPEG.`);
  }
  if (width === 0 || height === 0) {
    // Height 0 means "defined later by a DNL marker", which almost nothing writes.
    throw new ImageError('unsupported', 'JPEGs without dimensions in the frame header are not supported.');
  }
  if (components !== 1 && components !== 3 && components !== 4) {
    throw new ImageError('unsupported', `JPEGs with ${components} colour components are not supported.`);
  }
  if (segment.length < 6 + components * 3) throw new ImageError('invalid', 'Corrupt JPEG: short frame header.');
  for (let i = 0; i < components; i++) {
    const sampling = segment[7 + i * 3];
    const h = sampling >> 4;
    const v = sampling & 15;
    if (h < 1 || h > 4 || v < 1 || v > 4) throw new ImageError('invalid', 'Corrupt JPEG: invalid sampling factors.');
  }
  return { width, height, components, progressive };
}

/** Reads tag 0x0112 from an APP1 "Exif\0\0" TIFF block; null if absent or malformed. */
function readExifOrientation(segment: Uint8Array): number | null {
  // Stryker disable next-line EqualityOperator: a 14-byte block has no room for an entry, so it gives null either way
  if (segment.length < 14 || ascii(segment, 0, 6) !== 'Exif\0\0') return null;
  const tiff = new DataView(segment.buffer, segment.byteOffset + 6, segment.byteLength - 6);
  const order = tiff.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return null;
  const little = order === 0x4949;
  const ifd = tiff.getUint32(4, little);
  if (ifd + 2 > tiff.byteLength) return null;
  const entries = tiff.getUint16(ifd, little);
  // Stryker disable next-line EqualityOperator: one entry more always runs past the block (entry + 12 > length): null either way
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.byteLength) return null;
    if (tiff.getUint16(entry, little) === 0x0112) {
      const value = tiff.getUint16(entry + 8, little);
      return value >= 1 && value <= 8 ? value : null;
    }
  }
  return null;
}

/** True if an EOI marker (FF D9) follows `from`. Entropy-coded data stuffs every 0xFF, so FF D9 only appears as EOI. */
function hasEndOfImage(bytes: Uint8Array, from: number): boolean {
  // Stryker disable next-line ArithmeticOperator: starting further on only reads undefined first
  for (let i = bytes.length - 2; i >= from; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}
