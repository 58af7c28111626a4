/**
 * What the benchmark's HTTP client costs by itself: uploads of real films to a Worker that only reads the body and
 * answers its length, in workerd through Miniflare, timed with undici's fetch and with the bench's own client
 * (`postImageTimed`, node:http on a kept-alive connection: scripts/lib/production-worker.ts), interleaved. The
 * difference is the client's own time, which `npm run bench` would otherwise count as the service's.
 *
 * Usage: npx tsx scripts/bench/client-overhead.ts [LARGE_DIR]   (default ../shared/data/large)
 */
import { readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { largeFilms } from './films';
import { postImageTimed } from '../lib/production-worker';

const RUNS = Number(process.env.BENCH_RUNS ?? 60);
const dir = process.argv[2] ?? new URL('../../../shared/data/large', import.meta.url).pathname;
const films = largeFilms(dir).map((file) => new Uint8Array(readFileSync(file)));
const mf = new Miniflare({
  modules: true,
  script: 'export default { async fetch(request) { return new Response(String((await request.arrayBuffer()).byteLength)); } }',
  host: '127.0.0.1',
  port: 0,
});
const url = await mf.ready;

async function viaFetch(body: Uint8Array): Promise<number> {
  const start = performance.now();
  const response = await fetch(url, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'image/jpeg' } });
  await response.arrayBuffer();
  return performance.now() - start;
}
// The Worker ignores the path and the (unused) key the bench's client sends.
const viaBenchClient = async (body: Uint8Array): Promise<number> => (await postImageTimed(url, 'unused', body, { path: '/' })).ms;

const times = { fetch: [] as number[], http: [] as number[] };
for (let r = -5; r < RUNS; r++) {
  const body = films[(r + 5) % films.length];
  const a = await viaFetch(body);
  const b = await viaBenchClient(body);
  if (r < 0) continue;
  times.fetch.push(a);
  times.http.push(b);
}
await mf.dispose();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const kb = Math.round(median(films.map((f) => f.length)) / 1024);
console.log(`${films.length} films (median ${kb} KB), ${RUNS} uploads each way: fetch ${median(times.fetch).toFixed(2)} ms, node:http ${median(times.http).toFixed(2)} ms (medians)`);
