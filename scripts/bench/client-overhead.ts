/**
 * What the benchmark's HTTP client costs by itself: uploads of real films to a Worker that only reads the body and
 * answers its length, in workerd through Miniflare, timed with undici's fetch and with node:http (kept-alive
 * connection), interleaved. The difference is the client's own time, which `npm run bench` would otherwise count as
 * the service's (it uses node:http: scripts/lib/production-worker.ts).
 *
 * Usage: npx tsx scripts/bench/client-overhead.ts [LARGE_DIR]   (default ../shared/data/large)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';

const RUNS = Number(process.env.BENCH_RUNS ?? 60);
const dir = process.argv[2] ?? new URL('../../../shared/data/large', import.meta.url).pathname;
const films = readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => new Uint8Array(readFileSync(join(dir, f))));
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
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function viaHttp(body: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'image/jpeg', 'content-length': body.length } }, (response) => {
      response.on('data', () => {});
      response.on('end', () => resolve(performance.now() - start));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const times = { fetch: [] as number[], http: [] as number[] };
for (let r = -5; r < RUNS; r++) {
  const body = films[(r + 5) % films.length];
  const a = await viaFetch(body);
  const b = await viaHttp(body);
  if (r < 0) continue;
  times.fetch.push(a);
  times.http.push(b);
}
await mf.dispose();
agent.destroy();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const kb = Math.round(median(films.map((f) => f.length)) / 1024);
console.log(`${films.length} films (median ${kb} KB), ${RUNS} uploads each way: fetch ${median(times.fetch).toFixed(2)} ms, node:http ${median(times.http).toFixed(2)} ms (medians)`);
