import decodeWithJpegJs from 'jpeg-js/lib/decoder.js';
import { ImageError } from './errors';
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
}

export interface DecodedJpeg {
  header: JpegHeader;
  /** Luminance in stored (not yet EXIF-oriented) orientation. */
  luma: LumaPlane;
}

// ITU-R BT.601 weights, the ones JPEG's own YCbCr uses, in 16.16 fixed point.
const R_WEIGHT = 19595; // 0.299
const G_WEIGHT = 38470; // 0.587
const B_WEIGHT = 7471; // 0.114

/**
 * Decodes a JPEG to its luminance plane. The header is validated and the pixel limit enforced
 * before jpeg-js allocates anything.
 *
 * @throws ImageError for invalid, unsupported or too-large images.
 */
export function decodeJpegLuma(bytes: Uint8Array, limits: DecodeLimits): DecodedJpeg {
  const header = readJpegHeader(bytes);
  const pixels = header.width * header.height;
  if (pixels > limits.maxPixels) {
    throw new ImageError(
      'too_large',
      `The image is ${header.width}x${header.height} (${pixels} pixels); the limit is ${limits.maxPixels} pixels.`,
    );
  }
  if (header.components === 4 && header.adobeTransform === null) {
    throw new ImageError('unsupported', 'Four-component JPEGs without an Adobe marker (unknown colour space) are not supported.');
  }

  let rgb: Uint8Array;
  try {
    const decoded = decodeWithJpegJs(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      // jpeg-js keeps every DCT block as its own Int32Array: about 400 bytes per 64 pixels per component,
      // so its budget is sized from the pixel count rather than left at its 512 MB default.
      maxMemoryUsageInMB: Math.ceil((pixels * header.components * 8 + pixels * 3) / 1e6) + 8,
      maxResolutionInMP: Math.ceil(limits.maxPixels / 1e6),
    });
    rgb = decoded.data;
  } catch (error) {
    throw new ImageError('invalid', `The JPEG could not be decoded: ${describe(error)}.`);
  }
  return { header, luma: { width: header.width, height: header.height, data: rgbToLuma(rgb, header.width * header.height) } };
}

/** Collapses interleaved RGB to BT.601 luminance, rounded. Grey inputs (R = G = B) come back unchanged. */
export function rgbToLuma(rgb: Uint8Array, pixels: number): Uint8Array {
  const luma = new Uint8Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    luma[i] = (R_WEIGHT * rgb[j] + G_WEIGHT * rgb[j + 1] + B_WEIGHT * rgb[j + 2] + 32768) >>> 16;
  }
  return luma;
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // jpeg-js messages are short and carry no image content; cap them anyway.
  return message.slice(0, 160);
}
