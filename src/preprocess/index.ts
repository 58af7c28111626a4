/**
 * The one definition of the model's input: the Worker calls it on every upload and the training
 * pipeline (scripts/export) calls it on every training image, so both see identical tensors.
 *
 * JPEG bytes -> luminance, decoded straight to a reduced size (DCT-domain 1/2, 1/4 or 1/8, never below
 * the input size) -> antialiased resize of the whole image to size x size (aspect ratio not kept: see
 * README "Preprocessing") -> EXIF orientation -> 8-bit values 0..255.
 * DICOM bytes -> the first frame through the viewer's grayscale pipeline (src/image/dicom) to 8-bit
 * luminance -> the same resize.
 * Normalisation is not done here: it lives inside the ONNX graph.
 */
import { decodeJpegLuma, type DecodeLimits, type LumaPlane } from '../image/decode';
import { decodeDicomLuma, type DicomImageInfo } from '../image/dicom/decode';
import { looksLikeDicom } from '../image/dicom/file';
import { ImageError } from '../image/errors';
import { applyOrientation } from './orientation';
import { resizeLuma } from './resize';

/** Identifies this exact preprocessing; exported models record it and the Worker refuses a mismatch. */
export const PREPROCESSING_ID = 'cxr-luma-dct-stretch-tent-v2';

export interface PreprocessedImage {
  /** size x size luminance, row-major, 0..255. */
  pixels: Uint8Array;
  size: number;
  /** The upload as the user sees it (after EXIF orientation). */
  source: {
    format: ImageFormat;
    width: number;
    height: number;
    components: number;
    progressive: boolean;
    /** DICOM only: transfer syntax, bits stored, photometric interpretation, the window used, frames. */
    dicom?: DicomImageInfo;
  };
  /** An upright, aspect-preserving luminance copy for display, when asked for. */
  display?: { width: number; height: number; data: Uint8Array };
}

export interface PreprocessOptions extends DecodeLimits {
  /** Also produce `display` with this long side (never enlarged beyond the source). */
  displayLongSide?: number;
  /** The format the sender declared (Content-Type); bytes of another format are refused as invalid. */
  declaredFormat?: ImageFormat;
}

export type ImageFormat = 'jpeg' | 'dicom';

/** The format of an upload, from its bytes alone; null when it is neither. */
export function detectFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg'; // (past the end a byte reads undefined)
  return looksLikeDicom(bytes) ? 'dicom' : null;
}

const FORMAT_NAMES: Record<ImageFormat, string> = { jpeg: 'image/jpeg', dicom: 'application/dicom' };

/**
 * Decodes a JPEG or DICOM upload (chosen from the bytes) and turns it into the model's square input.
 *
 * @param size the model's input side (read from the model's metadata by the Worker).
 * @throws ImageError for invalid, unsupported, too-large or (DICOM headers) non-chest images; bytes that
 *   contradict `options.declaredFormat` are invalid.
 */
export function preprocessImage(bytes: Uint8Array, size: number, options: PreprocessOptions): PreprocessedImage {
  const format = detectFormat(bytes);
  if (options.declaredFormat && format !== options.declaredFormat) {
    const found = format ? `the bytes are ${FORMAT_NAMES[format]}` : 'the bytes are neither JPEG nor DICOM';
    throw new ImageError('invalid', `The upload was declared ${FORMAT_NAMES[options.declaredFormat]}, but ${found}.`);
  }
  if (format === 'dicom') return preprocessDicom(bytes, size, options);
  return preprocessJpeg(bytes, size, options);
}

function preprocessDicom(bytes: Uint8Array, size: number, options: PreprocessOptions): PreprocessedImage {
  const display = options.displayLongSide ?? 0;
  const decoded = decodeDicomLuma(bytes, options, size, display);
  const result: PreprocessedImage = {
    pixels: resizeLuma(decoded.luma.data, decoded.luma.width, decoded.luma.height, size, size),
    size,
    source: { format: 'dicom', width: decoded.width, height: decoded.height, components: decoded.components, progressive: false, dicom: decoded.info },
  };
  if (display) result.display = displayCopy(decoded.luma, decoded.width, decoded.height, display, 1);
  return result;
}

/** An aspect-preserving copy with long side `longSide` (never larger than the image), upright. */
function displayCopy(luma: LumaPlane, width: number, height: number, longSide: number, orientation: number) {
  const scale = Math.min(1, longSide / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  return applyOrientation(resizeLuma(luma.data, luma.width, luma.height, w, h), w, h, orientation);
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
      format: 'jpeg',
      width: swap ? header.height : header.width,
      height: swap ? header.width : header.height,
      components: header.components,
      progressive: header.progressive,
    },
  };
  if (display) result.display = displayCopy(luma, header.width, header.height, display, header.orientation);
  return result;
}
