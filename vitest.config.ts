import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Local miniflare must not try to reach Cloudflare for the `request.cf` object: tests run offline.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';

export default defineConfig({
  test: {
    // The Worker's access log (one JSON line per request) would bury the test output; warnings and errors stay.
    onConsoleLog: (log) => !log.startsWith('{"level":"info"'),
    projects: [
      {
        // Real requests through the Worker inside workerd (SELF.fetch), with the shipped model.onnx.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            // A second limiter with a small limit, so the rate-limit test sends 25 requests instead of the shipped
            // limit's 600 (which took minutes on a loaded 2-core CI machine). The Worker's code path is the same.
            miniflare: { ratelimits: { SMALL_RATE_LIMITER: { simple: { limit: 20, period: 60 } } } },
          }),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          globalSetup: ['test/worker/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 300_000,
        },
      },
      {
        // The same Worker with a model that cannot load: 503 model_unavailable.
        plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' } })],
        resolve: { alias: [{ find: /^.*\/model\.onnx$/, replacement: new URL('./test/fixtures/broken.onnx', import.meta.url).pathname }] },
        test: { name: 'worker-broken-model', include: ['test/worker-broken-model/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        // The web page in headless Chromium against `wrangler dev`.
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], environment: 'node', testTimeout: 120_000, hookTimeout: 180_000 },
      },
      {
        // Pure TypeScript units and the export pipeline, in Node. The Durable Object base class comes from a shim
        // (the Worker tests use workerd's own).
        resolve: { alias: { 'cloudflare:workers': new URL('./test/helpers/cloudflare-workers-shim.ts', import.meta.url).pathname } },
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
          testTimeout: 900_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
