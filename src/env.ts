/** Bindings declared in wrangler.toml. */
export interface Env {
  /** Largest accepted request body, in bytes. */
  MAX_UPLOAD_BYTES: string;
  /** Largest accepted image, width x height, checked from the JPEG header before decoding. */
  MAX_IMAGE_PIXELS: string;
}

export interface Limits {
  maxUploadBytes: number;
  maxImagePixels: number;
}

/** Reads the limits from the environment, falling back to the documented defaults. */
export function readLimits(env: Partial<Env>): Limits {
  return {
    maxUploadBytes: positiveInt(env.MAX_UPLOAD_BYTES, 8 * 1024 * 1024),
    maxImagePixels: positiveInt(env.MAX_IMAGE_PIXELS, 2_400_000),
  };
}

function positiveInt(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) && parsed > 0 ? parsed : fallback;
}
