/**
 * The Worker as `wrangler deploy` would upload it, run locally in workerd for measurements.
 *
 * `wrangler deploy --dry-run --outdir DIR` writes the deployable bundle (the script, the precompiled
 * ORT .wasm, model.onnx, the page); Miniflare runs it with the bindings wrangler.toml declares (KV, the
 * UsageMeter Durable Object, the rate limit, Analytics Engine, vars), persisted where
 * `npm run keys -- --persist-to DIR` writes keys. Unlike `wrangler dev` there is no dev proxy Worker in
 * front, no DevTools inspector attached (which makes every console.log a protocol message), and none of
 * wrangler's dev-only middleware: the closest local stand-in for the deployed request path.
 */
import type { Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { Agent, request as httpRequest, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface Bundle {
  dir: string;
  /** The checkout it was built from: its wrangler.toml gives the bindings and vars it runs with. */
  checkout: string;
  /** The files `wrangler deploy` would upload (source maps excluded). */
  files: string[];
  rawBytes: number;
  gzipBytes: number;
}

/**
 * Builds the deployable bundle into `dir` with `wrangler deploy --dry-run` (nothing is uploaded).
 * @param checkout the checkout to bundle (default this one), e.g. a worktree of another revision for an A/B
 */
export function buildBundle(dir: string, checkout = ROOT): Bundle {
  const result = spawnSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', dir], {
    cwd: checkout,
    encoding: 'utf8',
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
  });
  if (result.status !== 0) throw new Error(`wrangler deploy --dry-run failed: ${result.stderr}`);
  const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile() && !f.endsWith('.map') && f !== 'README.md');
  return {
    dir,
    checkout,
    files,
    rawBytes: files.reduce((n, f) => n + statSync(join(dir, f)).size, 0),
    gzipBytes: files.reduce((n, f) => n + gzipSync(readFileSync(join(dir, f)), { level: 9 }).length, 0),
  };
}

const MODULE_TYPES: [RegExp, 'ESModule' | 'CompiledWasm' | 'Data' | 'Text'][] = [
  [/\.m?js$/, 'ESModule'],
  [/\.wasm$/, 'CompiledWasm'],
  [/\.onnx$/, 'Data'],
  [/\.html$/, 'Text'],
];

/**
 * Starts the bundle in workerd on a free loopback port and resolves once it listens.
 * @param persistTo the folder given to `npm run keys -- --persist-to` (KV keys, usage counts)
 * @param vars overrides of wrangler.toml [vars], e.g. { SERVER_TIMING: 'on' }
 * @param inspectorPort where to open the isolate's DevTools inspector (none when omitted), e.g. for a CPU profile
 */
export async function startBundle(
  bundle: Bundle,
  persistTo: string,
  vars: Record<string, string> = {},
  inspectorPort?: number,
): Promise<{ url: URL; stop: () => Promise<void> }> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(bundle.checkout, 'wrangler.toml'));
  // The entry first: Miniflare treats the first module as the Worker's main module.
  const files = [...bundle.files].sort((a, b) => Number(b === 'index.js') - Number(a === 'index.js'));
  const mf = new Miniflare({
    ...(workerOptions as object),
    bindings: { ...(workerOptions.bindings ?? {}), ...vars },
    modulesRoot: bundle.dir,
    modules: files.map((file) => {
      const type = MODULE_TYPES.find(([pattern]) => pattern.test(file))?.[1];
      if (!type) throw new Error(`no module type for ${file}`);
      return { type, path: join(bundle.dir, file) };
    }),
    // wrangler dev --persist-to DIR keeps its state under DIR/v3.
    defaultPersistRoot: join(persistTo, 'v3'),
    host: '127.0.0.1',
    port: 0,
    ...(inspectorPort ? { inspectorPort } : {}),
    // The access log still runs (as in production); its lines are read and dropped here.
    // Typed here: miniflare's declarations name zod 3 types, which resolve to the project's zod 4.
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      stdout.resume();
      stderr.resume();
    },
  } as ConstructorParameters<typeof Miniflare>[0]);
  const url = await mf.ready;
  return { url, stop: () => mf.dispose() };
}

/** Sends `bytes` as 16 chunks spread over `ms` (chunked, no Content-Length): a client on a slow link (a phone uploading a film). */
async function trickle(request: ClientRequest, bytes: Uint8Array, ms: number): Promise<void> {
  const parts = 16;
  for (let sent = 0; sent < parts; sent++) {
    await new Promise((resolve) => setTimeout(resolve, ms / parts));
    request.write(bytes.subarray(Math.floor((sent * bytes.length) / parts), Math.floor(((sent + 1) * bytes.length) / parts)));
  }
  request.end();
}

// One kept-alive connection per client, as a real client reuses it. The client is node:http rather than fetch: on
// loopback undici's fetch spends 2-3 ms of its own on a 700 KB upload (4.7 and 3.8 against 1.7 ms to a Worker that
// only reads the body: `npx tsx scripts/bench/client-overhead.ts`), which would be counted as the service's time.
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/**
 * One timed POST of a JPEG with an API key (by default to /v1/classify), body read to the end; throws on a non-2xx answer.
 * @param options.uploadMs when above 0, the body is sent in chunks spread over this many milliseconds (no Content-Length)
 * @returns the client-side milliseconds and the answer's Server-Timing stages (empty unless SERVER_TIMING is on)
 */
export async function postImageTimed(
  base: URL | string,
  key: string,
  jpeg: Uint8Array,
  { path = '/v1/classify', accept = 'application/json', uploadMs = 0 }: { path?: string; accept?: string; uploadMs?: number } = {},
): Promise<{ ms: number; stages: Record<string, number> }> {
  const headers: Record<string, string | number> = { 'content-type': 'image/jpeg', accept, authorization: `Bearer ${key}` };
  if (uploadMs <= 0) headers['content-length'] = jpeg.length;
  const start = performance.now();
  const { status, timing } = await new Promise<{ status: number; timing: string }>((resolve, reject) => {
    const request = httpRequest(new URL(path, base), { method: 'POST', agent, headers }, (response) => {
      response.on('data', () => {});
      response.on('end', () => resolve({ status: response.statusCode ?? 0, timing: String(response.headers['server-timing'] ?? '') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    if (uploadMs > 0) trickle(request, jpeg, uploadMs).catch(reject);
    else request.end(jpeg);
  });
  const ms = performance.now() - start;
  if (status < 200 || status > 299) throw new Error(`${path} answered ${status}: every image sent here must be one the model accepts`);
  return { ms, stages: Object.fromEntries([...timing.matchAll(/(\w+);dur=([\d.]+)/g)].map((m) => [m[1], Number(m[2])])) };
}
