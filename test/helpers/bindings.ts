/**
 * In-memory stand-ins for the Worker's bindings, for Node unit tests of the middleware (test/node/auth.test.ts,
 * metering.test.ts, http.test.ts): they record what the code under test asked of them, so a test can assert
 * both the answer and which bindings were (or were not) touched. The Worker tests use the real ones in workerd.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv, Env } from '../../src/env';

/** A KV namespace over a Map; `reads` counts get() calls. */
export class MemoryKV {
  readonly values = new Map<string, string>();
  readonly metadata = new Map<string, unknown>();
  reads = 0;
  async get(key: string, type?: 'json' | 'text'): Promise<unknown> {
    this.reads++;
    const value = this.values.get(key);
    if (value === undefined) return null;
    return type === 'json' ? JSON.parse(value) : value;
  }
  async put(key: string, value: string, options?: { metadata?: unknown }): Promise<void> {
    this.values.set(key, value);
    if (options?.metadata !== undefined) this.metadata.set(key, options.metadata);
  }
}

/** A rate limiter that lets `budget` calls per key through, then refuses; records the keys it was asked about. */
export class CountingLimiter {
  readonly calls: string[] = [];
  private readonly used = new Map<string, number>();
  constructor(private readonly budget: number) {}
  async limit({ key }: { key: string }): Promise<{ success: boolean }> {
    this.calls.push(key);
    const used = (this.used.get(key) ?? 0) + 1;
    this.used.set(key, used);
    return { success: used <= this.budget };
  }
}

/** The bindings the middleware reads, with harmless defaults; `overrides` replace any of them. */
export function testEnv(overrides: Partial<Env> = {}): Env {
  return {
    MAX_UPLOAD_BYTES: '1048576',
    MAX_IMAGE_PIXELS: '50000000',
    MAX_DECODE_MEMORY_BYTES: '41943040',
    AUTH: 'on',
    CORS_ORIGINS: '',
    RATE_LIMIT_PERIOD_SECONDS: '60',
    API_KEYS: new MemoryKV() as unknown as KVNamespace,
    USAGE_METER: undefined as unknown as Env['USAGE_METER'],
    RATE_LIMITER: new CountingLimiter(1_000_000) as unknown as RateLimit,
    USAGE_EVENTS: { writeDataPoint: () => undefined } as unknown as AnalyticsEngineDataset,
    ...overrides,
  };
}

/** A Hono app with the Worker's error mapping (HTTPException -> its response; anything else -> a plain 500). */
export function appWithErrors(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError((error) => (error instanceof HTTPException ? error.getResponse() : new Response(`unexpected: ${error.message}`, { status: 500 })));
  return app;
}

/** The problem+json body of a response. */
export const problemOf = async (response: Response) =>
  (await response.json()) as { type: string; title: string; status: number; detail: string; code: string } & Record<string, unknown>;
