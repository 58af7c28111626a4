/**
 * Why an image was refused. The HTTP layer maps each kind to a problem+json code:
 * `invalid` -> 400 invalid_image, `unsupported` -> 422 unsupported_image, `too_large` -> 413 image_too_large,
 * `not_a_chest_xray` -> 422 not_a_chest_xray (a DICOM header that says so, before any pixel is decoded).
 * Kept free of HTTP types so the training pipeline can use the same decoder in Node.
 */
export type ImageErrorKind = 'invalid' | 'unsupported' | 'too_large' | 'not_a_chest_xray';

export class ImageError extends Error {
  constructor(
    readonly kind: ImageErrorKind,
    message: string,
    /** A stable machine-readable reason, for `not_a_chest_xray` (e.g. "dicom_modality"). */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}
