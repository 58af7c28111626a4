import type { UsageMeter } from './metering/usage-meter';

/** Bindings declared in wrangler.toml. */
export interface Env {
  /** Largest accepted request body, in bytes. */
  MAX_UPLOAD_BYTES: string;
  /** Largest accepted image, width x height, checked from the JPEG or DICOM header before decoding. */
  MAX_IMAGE_PIXELS: string;
  /**
   * Memory a decode may take beyond the body: a progressive JPEG's coefficients (baseline JPEGs stream and need
   * none), a compressed DICOM frame's samples, a deflated DICOM data set once inflated.
   */
  MAX_DECODE_MEMORY_BYTES: string;
  /** "on" (the deployable default): every /v1 route needs a key. "off": open, for local trials only. */
  AUTH: string;
  /** Comma-separated origins allowed by CORS ("*" for any); empty: no cross-origin access. */
  CORS_ORIGINS: string;
  /** The rate limiter's period in seconds, as configured in [[ratelimits]] (sent as Retry-After). */
  RATE_LIMIT_PERIOD_SECONDS: string;
  /** "on": a Server-Timing header with per-stage durations (costs a zero-timer yield per stage). */
  SERVER_TIMING?: string;
  /** API key records by hash of the key (see src/auth/api-keys.ts). */
  API_KEYS: KVNamespace;
  /** One UsageMeter per key: the exact count of billable requests, and the quota check. */
  USAGE_METER: DurableObjectNamespace<UsageMeter>;
  /** Per-key request rate limit. */
  RATE_LIMITER: RateLimit;
  /** Failed authentications per client address (src/auth/address-limit.ts); absent: no address limit. */
  AUTH_FAILURE_LIMITER?: RateLimit;
  /** One data point per billable request, for dashboards. */
  USAGE_EVENTS: AnalyticsEngineDataset;
}

/** Variables the middleware sets on the request context. */
export interface Variables {
  requestId: string;
  /** The caller's key, or null when AUTH is off. */
  apiKey: import('./auth/api-keys').ApiKeyRecord | null;
  /** For the access log and the usage event: which model answered. */
  modelVersion?: string;
  /** For the usage event: bytes of the upload. */
  bytesIn?: number;
}

export type AppEnv = { Bindings: Env; Variables: Variables };

export interface Limits {
  maxUploadBytes: number;
  maxImagePixels: number;
  maxDecodeBytes: number;
}

/** Reads the limits from the environment, falling back to the documented defaults. */
export function readLimits(env: Partial<Env>): Limits {
  return {
    maxUploadBytes: positiveInt(env.MAX_UPLOAD_BYTES, 20 * 1024 * 1024),
    maxImagePixels: positiveInt(env.MAX_IMAGE_PIXELS, 50_000_000),
    maxDecodeBytes: positiveInt(env.MAX_DECODE_MEMORY_BYTES, 40 * 1024 * 1024),
  };
}

/** Whether /v1 routes require an API key: anything but an explicit "off" means yes. */
export const authRequired = (env: Partial<Env>) => (env.AUTH ?? 'on').trim().toLowerCase() !== 'off';

export function positiveInt(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) && parsed > 0 ? parsed : fallback;
}
