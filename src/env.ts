/** Bindings declared in wrangler.toml. */
export interface Env {
  /** Largest accepted request body, in bytes. */
  MAX_UPLOAD_BYTES: string;
  /** Largest accepted image, width x height, checked from the JPEG header before decoding. */
  MAX_IMAGE_PIXELS: string;
  /** Memory a progressive JPEG's coefficients may take while decoding (baseline JPEGs stream and need none). */
  MAX_DECODE_MEMORY_BYTES: string;
}

export interface Limits {
  maxUploadBytes: number;
  maxImagePixels: number;
  maxDecodeBytes: number;
}

/** Reads the limits from the environment, falling back to the documented defaults. */
export function readLimits(env: Partial<Env>): Limits {
  return {
    maxUploadBytes: positiveInt(env.MAX_UPLOAD_BYTES, 16 * 1024 * 1024),
    maxImagePixels: positiveInt(env.MAX_IMAGE_PIXELS, 50_000_000),
    maxDecodeBytes: positiveInt(env.MAX_DECODE_MEMORY_BYTES, 48 * 1024 * 1024),
  };
}

function positiveInt(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) && parsed > 0 ? parsed : fallback;
}
