import { ImageError } from './errors';
import { chooseScale, decodeScaledLuma } from './jpeg/decoder';
import { readJpegHeader, type JpegHeader } from './jpeg-header';

/** A single-channel 8-bit image, row-major. */
export interface LumaPlane {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface DecodeLimits {
  /** Largest accepted width x height, checked from the header before any pixel is decoded. */
  maxPixels: number;
  /**
   * Largest coefficient store a progressive JPEG may need (2 bytes per pixel per component that
   * luminance needs, 1/64 of that at 1/8 scale, where only DC coefficients are kept); checked from the
   * header. Baseline JPEGs are decoded block by block and need none.
   */
  maxDecodeBytes?: number;
}

export interface DecodedJpeg {
  header: JpegHeader;
  /** Luminance in stored (not yet EXIF-oriented) orientation, at 1/scale of the image's size. */
  luma: LumaPlane;
  scale: number;
}

/**
 * Decodes a JPEG to its luminance plane, reduced in the DCT domain by the largest factor
 * (1, 1/2, 1/4, 1/8) that keeps both sides at least `minSide` and the long side at least
 * `minLongSide`. The header is validated and the pixel limit enforced before anything is allocated.
 *
 * @throws ImageError for invalid, unsupported or too-large images.
 */
export function decodeJpegLuma(bytes: Uint8Array, limits: DecodeLimits, minSide = Infinity, minLongSide = 0): DecodedJpeg {
  const header = readJpegHeader(bytes);
  const pixels = header.width * header.height;
  if (pixels > limits.maxPixels) {
    throw new ImageError(
      'too_large',
      `The image is ${header.width}x${header.height} (${pixels} pixels); the limit is ${limits.maxPixels} pixels.`,
    );
  }
  // Stryker disable next-line EqualityOperator: a square image gets the same scale whichever side counts as long
  const wide = header.width >= header.height;
  const minWidth = Math.max(minSide, wide ? minLongSide : 0);
  const minHeight = Math.max(minSide, wide ? 0 : minLongSide);
  // Stryker disable next-line ConditionalExpression: without a limit, `bytesNeeded > undefined` is false anyway
  if (header.progressive && limits.maxDecodeBytes !== undefined) {
    // YCbCr needs only Y's coefficients; RGB and CMYK/YCCK need every component's. At 1/8 scale only the DC
    // coefficient of each 8x8 block is kept (1/64 of them).
    const needed = header.components === 3 && header.adobeTransform !== 0 ? 1 : header.components;
    const perPixel = chooseScale(header.width, header.height, minWidth, minHeight) === 8 ? 2 / 64 : 2;
    const bytesNeeded = pixels * perPixel * needed;
    if (bytesNeeded > limits.maxDecodeBytes) {
      throw new ImageError(
        'too_large',
        `This progressive ${header.width}x${header.height} JPEG needs ${Math.ceil(bytesNeeded / 2 ** 20)} MiB to decode; ` +
          `the limit is ${Math.floor(limits.maxDecodeBytes / 2 ** 20)} MiB (baseline JPEGs of this size are accepted).`,
      );
    }
  }
  if (header.components === 4 && header.adobeTransform === null) {
    throw new ImageError('unsupported', 'Four-component JPEGs without an Adobe marker (unknown colour space) are not supported.');
  }
  let decoded;
  try {
    decoded = decodeScaledLuma(bytes, minWidth, minHeight);
  } catch (error) {
    // A safety net for a decoder bug: no input is known to reach it (npm run fuzz: every failure an ImageError).
    // Stryker disable next-line ConditionalExpression,StringLiteral: unreachable by any known input
    if (error instanceof ImageError) throw error;
    // Stryker disable next-line StringLiteral: unreachable by any known input
    throw new ImageError('invalid', 'The JPEG could not be decoded.');
  }
  return { header, luma: { width: decoded.width, height: decoded.height, data: decoded.data }, scale: decoded.scale };
}

// ITU-R BT.601 weights, the ones JPEG's own YCbCr uses, in 16.16 fixed point.
const R_WEIGHT = 19595; // 0.299
const G_WEIGHT = 38470; // 0.587
const B_WEIGHT = 7471; // 0.114

/** Collapses interleaved RGB to BT.601 luminance, rounded. Grey inputs (R = G = B) come back unchanged. */
export function rgbToLuma(rgb: Uint8Array, pixels: number): Uint8Array {
  const luma = new Uint8Array(pixels);
  // Stryker disable next-line EqualityOperator: one step more writes past the end of the typed array (dropped)
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    luma[i] = (R_WEIGHT * rgb[j] + G_WEIGHT * rgb[j + 1] + B_WEIGHT * rgb[j + 2] + 32768) >>> 16;
  }
  return luma;
}
