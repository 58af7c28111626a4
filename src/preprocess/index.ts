/**
 * The one definition of the model's input: the Worker calls it on every upload and the training
 * pipeline (scripts/export) calls it on every training image, so both see identical tensors.
 *
 * JPEG bytes -> luminance, decoded straight to a reduced size (DCT-domain 1/2, 1/4 or 1/8, never below
 * the input size) -> antialiased resize of the whole image to size x size (aspect ratio not kept: see
 * README "Preprocessing") -> EXIF orientation -> 8-bit values 0..255.
 * Normalisation is not done here: it lives inside the ONNX graph.
 */
import { decodeJpegLuma, type DecodeLimits } from '../image/decode';
import { applyOrientation } from './orientation';
import { resizeLuma } from './resize';

/** Identifies this exact preprocessing; exported models record it and the Worker refuses a mismatch. */
export const PREPROCESSING_ID = 'cxr-luma-dct-stretch-tent-v2';

export interface PreprocessedImage {
  /** size x size luminance, row-major, 0..255. */
  pixels: Uint8Array;
  size: number;
  /** The upload as the user sees it (after EXIF orientation). */
  source: { width: number; height: number; components: number; progressive: boolean };
  /** An upright, aspect-preserving luminance copy for display, when asked for. */
  display?: { width: number; height: number; data: Uint8Array };
}

export interface PreprocessOptions extends DecodeLimits {
  /** Also produce `display` with this long side (never enlarged beyond the source). */
  displayLongSide?: number;
}

/**
 * Decodes a JPEG and turns it into the model's square luminance input.
 *
 * @param size the model's input side (read from the model's metadata by the Worker).
 * @throws ImageError for invalid, unsupported or too-large images.
 */
export function preprocessJpeg(bytes: Uint8Array, size: number, options: PreprocessOptions): PreprocessedImage {
  // Decode-to-size: the JPEG is reduced in the DCT domain as far as the model input (and the display
  // copy, when asked for) allows, then the tent filter finishes the resize.
  const display = options.displayLongSide ?? 0;
  const { header, luma } = decodeJpegLuma(bytes, options, size, display);
  const resized = resizeLuma(luma.data, luma.width, luma.height, size, size);
  // Orientation commutes with a square, axis-separable resize, so it is applied to the small result.
  const oriented = applyOrientation(resized, size, size, header.orientation);
  const swap = header.orientation >= 5;
  const result: PreprocessedImage = {
    pixels: oriented.data,
    size,
    source: {
      width: swap ? header.height : header.width,
      height: swap ? header.width : header.height,
      components: header.components,
      progressive: header.progressive,
    },
  };
  if (display) {
    // Never larger than the upload itself.
    const scale = Math.min(1, display / Math.max(header.width, header.height));
    const width = Math.max(1, Math.round(header.width * scale));
    const height = Math.max(1, Math.round(header.height * scale));
    result.display = applyOrientation(resizeLuma(luma.data, luma.width, luma.height, width, height), width, height, header.orientation);
  }
  return result;
}
