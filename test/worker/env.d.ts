// The Worker's bindings, as the tests see them through `import { env } from 'cloudflare:workers'`.
import type { Env as WorkerEnv } from '../../src/env';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      /** vitest.config.ts: the same kind of binding as RATE_LIMITER, limited to 20 requests a minute. */
      SMALL_RATE_LIMITER: RateLimit;
    }
  }
}
