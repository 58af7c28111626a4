// The Worker's bindings, as the tests see them through `import { env } from 'cloudflare:workers'`.
import type { Env as WorkerEnv } from '../../src/env';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
