/**
 * The one definition of the model's input: the Worker calls it on every upload and the training
 * pipeline (scripts/export) calls it on every training image, so both see identical tensors.
 *
 * JPEG bytes -> luminance (BT.601) -> antialiased resize of the whole image to size x size
 * (aspect ratio not kept: see README "Preprocessing") -> EXIF orientation -> 8-bit values 0..255.
 * Normalisation is not done here: it lives inside the ONNX graph.
 */
import { decodeJpegLuma, type DecodeLimits } from '../image/decode';
import { applyOrientation } from './orientation';
import { resizeLuma } from './resize';

/** Identifies this exact preprocessing; exported models record it and the Worker refuses a mismatch. */
export const PREPROCESSING_ID = 'cxr-luma-stretch-tent-v1';

export interface PreprocessedImage {
  /** size x size luminance, row-major, 0..255. */
  pixels: Uint8Array;
  size: number;
  /** The upload as the user sees it (after EXIF orientation). */
  source: { width: number; height: number; components: number; progressive: boolean };
}

/**
 * Decodes a JPEG and turns it into the model's square luminance input.
 *
 * @param size the model's input side (read from the model's metadata by the Worker).
 * @throws ImageError for invalid, unsupported or too-large images.
 */
export function preprocessJpeg(bytes: Uint8Array, size: number, limits: DecodeLimits): PreprocessedImage {
  const { header, luma } = decodeJpegLuma(bytes, limits);
  const resized = resizeLuma(luma.data, luma.width, luma.height, size, size);
  // Orientation commutes with a square, axis-separable resize, so it is applied to the small result.
  const oriented = applyOrientation(resized, size, size, header.orientation);
  const swap = header.orientation >= 5;
  return {
    pixels: oriented.data,
    size,
    source: {
      width: swap ? header.height : header.width,
      height: swap ? header.width : header.height,
      components: header.components,
      progressive: header.progressive,
    },
  };
}
