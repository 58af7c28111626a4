/**
 * Why an image was refused. The HTTP layer maps each kind to a problem+json code:
 * `invalid` -> 400 invalid_image, `unsupported` -> 422 unsupported_image, `too_large` -> 413 image_too_large.
 * Kept free of HTTP types so the training pipeline can use the same decoder in Node.
 */
export type ImageErrorKind = 'invalid' | 'unsupported' | 'too_large';

export class ImageError extends Error {
  constructor(
    readonly kind: ImageErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}
