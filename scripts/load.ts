/**
 * npm run load [-- --seconds 120 --concurrency 16]
 *
 * Load against the local server exactly as deployed (`wrangler dev`, AUTH on, keys in a fresh local KV made
 * with `npm run keys`), over loopback: real X-rays (or generated ones without ../shared) to /v1/classify and
 * /v1/explain mixed with bad uploads, unknown keys, a revoked key and missing credentials.
 * Checks: no status outside what each kind of request may get, the server's usage counts equal the
 * successful billable requests the client saw for every key, and workerd's memory does not grow.
 * Writes its section of BENCHMARKS.md (p50/p99 per kind); exits 1 on any violation.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isolateHeap, workerdResidentBytes } from './lib/inspector';
import { createLocalKey, startDevServer } from './lib/local-browser';
import { writeSection } from './lib/report-sections';
import { buildFixtures, realXrays } from '../test/helpers/fixtures';
import { fuzzCase } from '../test/helpers/fuzz';
import { encodeJpeg, syntheticXray } from '../test/helpers/synthetic';
import { seededRandom } from './export/split';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    concurrency: { type: 'string', default: '16' },
    port: { type: 'string', default: '8798' },
    'inspector-port': { type: 'string', default: '9238' },
  },
});
const SECONDS = Number(values.seconds);
const BASE = `http://127.0.0.1:${values.port}`;
const KEYS = 8;

const state = mkdtempSync(join(tmpdir(), 'cxr-load-'));
const valid = Array.from({ length: KEYS }, (_, i) => createLocalKey(state, `load ${i}`));
const revoked = createLocalKey(state, 'load revoked');
const revokeRun = spawnSync('npx', ['tsx', new URL('./keys.ts', import.meta.url).pathname, 'revoke', revoked.id, '--persist-to', state], { encoding: 'utf8' });
if (revokeRun.status !== 0) throw new Error(revokeRun.stderr);

const fixtures = buildFixtures();
const xrays = (realXrays(10) ?? []).map((x) => x.bytes);
const imageSource = xrays.length ? `${xrays.length} real X-rays from cxr5` : 'generated radiographs (no ../shared)';
if (!xrays.length) for (let i = 0; i < 10; i++) xrays.push(encodeJpeg(1024, 1024, syntheticXray(1024, i % 5, 5, seededRandom(i)), 85));
const fuzzSources = Object.entries(fixtures).map(([name, bytes]) => ({ name, bytes }));

type Kind = 'classify' | 'explain' | 'bad upload' | 'unknown key' | 'revoked key' | 'no credentials';
const ALLOWED: Record<Kind, Set<string>> = {
  classify: new Set(['200', '429 rate_limited']),
  explain: new Set(['200', '429 rate_limited']),
  // A mutated JPEG can still be a valid one: then it is classified (and billed) like any other, or refused
  // (not billed) by the model's gate as not a chest X-ray.
  'bad upload': new Set(['200', '400 invalid_image', '400 empty_body', '413 image_too_large', '413 payload_too_large', '415 unsupported_media_type', '422 unsupported_image', '422 not_a_chest_xray', '429 rate_limited']),
  'unknown key': new Set(['401 unauthorized']),
  'revoked key': new Set(['403 forbidden']),
  'no credentials': new Set(['401 unauthorized']),
};
const MIX: [Kind, number][] = [['classify', 0.55], ['explain', 0.15], ['bad upload', 0.12], ['unknown key', 0.08], ['revoked key', 0.05], ['no credentials', 0.05]];


const INSPECTOR = Number(values['inspector-port']);
const stop = await startDevServer(Number(values.port), ['--persist-to', state, '--inspector-port', String(INSPECTOR)]);
const latencies = new Map<Kind, number[]>(MIX.map(([k]) => [k, []]));
const seen = new Map<string, number>();
const unexpected: string[] = [];
const billed = new Map<string, number>(valid.map((k) => [k.id, 0]));
const rss: { t: number; bytes: number }[] = [];
const heap: { t: number; bytes: number }[] = [];
const started = Date.now();
const sampler = setInterval(() => rss.push({ t: (Date.now() - started) / 1000, bytes: workerdResidentBytes() }), 1000);
// The isolate's JS heap after a full GC, every 10 s (the GC pauses the Worker briefly; the latencies include it).
const heapSampler = setInterval(() => {
  const t = (Date.now() - started) / 1000;
  isolateHeap(INSPECTOR).then((h) => heap.push({ t, bytes: h.used }), (error: unknown) => void unexpected.push(`isolate heap unreadable: ${String(error)}`));
}, 10_000);
let n = 0;

async function one(random: () => number): Promise<void> {
  let r = random();
  const kind = MIX.find(([, p]) => (r -= p) < 0)?.[0] ?? 'classify';
  const key = valid[Math.floor(random() * valid.length)];
  const headers: Record<string, string> = { 'content-type': 'image/jpeg' };
  let body: Uint8Array = xrays[Math.floor(random() * xrays.length)];
  let path = kind === 'explain' ? '/v1/explain' : '/v1/classify';
  if (kind === 'classify' || kind === 'explain' || kind === 'bad upload') headers.authorization = `Bearer ${key.key}`;
  if (kind === 'unknown key') headers.authorization = `Bearer cxr_${'x'.repeat(43)}`;
  if (kind === 'revoked key') headers.authorization = `Bearer ${revoked.key}`;
  // Failed authentications are limited per client address (60 a minute): the keyed clients come from one
  // address, the unauthenticated traffic from many, as on the internet (miniflare keeps a CF-Connecting-IP it is sent).
  headers['cf-connecting-ip'] = kind === 'unknown key' || kind === 'no credentials' ? `198.51.100.${1 + Math.floor(random() * 250)}` : '192.0.2.1';
  if (kind === 'bad upload') {
    const choice = Math.floor(random() * 4);
    if (choice === 0) body = fuzzCase(fuzzSources, 7, n).bytes;
    else if (choice === 1) body = new Uint8Array(0);
    else if (choice === 2) headers['content-type'] = 'image/png';
    else body = fixtures['bomb'];
  }
  const t0 = performance.now();
  const res = await fetch(`${BASE}${path}`, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers });
  const text = await res.text();
  latencies.get(kind)!.push(performance.now() - t0);
  const code = res.status === 200 ? '' : ` ${(JSON.parse(text) as { code?: string }).code}`;
  const status = `${res.status}${code}`;
  seen.set(`${kind}: ${status}`, (seen.get(`${kind}: ${status}`) ?? 0) + 1);
  if (!ALLOWED[kind].has(status)) unexpected.push(`${kind} -> ${status}`);
  if (res.status === 200 && (kind === 'classify' || kind === 'explain' || kind === 'bad upload')) billed.set(key.id, billed.get(key.id)! + 1);
}

try {
  await Promise.all(
    Array.from({ length: Number(values.concurrency) }, async (_, worker) => {
      const random = seededRandom(1000 + worker);
      while (Date.now() - started < SECONDS * 1000) {
        n++;
        await one(random).catch((error: unknown) => void unexpected.push(`request failed: ${String(error)}`));
      }
    }),
  );
  clearInterval(sampler);
  clearInterval(heapSampler);
  // Exact metering: the server's count for each key equals the successes the client saw.
  for (const key of valid) {
    const usage = (await (await fetch(`${BASE}/v1/usage`, { headers: { authorization: `Bearer ${key.key}` } })).json()) as { used: number };
    if (usage.used !== billed.get(key.id)) unexpected.push(`usage of ${key.id}: server ${usage.used}, client saw ${billed.get(key.id)} successes`);
  }
} finally {
  clearInterval(sampler);
  clearInterval(heapSampler);
  stop();
}

const mib = (b: number) => b / 2 ** 20;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
// Growth after warm-up: the second quarter of the run against the last quarter. A heap that has reached its
// working set stays flat; a leak keeps climbing. The pass/fail figure is the isolate's heap after GC (what
// the 128 MB limit counts); the process RSS is reported too, but grows under wrangler dev for any Worker.
const quarter = (xs: { t: number; bytes: number }[], i: number) => median(xs.filter((s) => s.t >= (i * SECONDS) / 4 && s.t < ((i + 1) * SECONDS) / 4).map((s) => s.bytes));
const heapGrowth = mib(quarter(heap, 3) - quarter(heap, 1));
if (!(Math.abs(heapGrowth) <= 4)) unexpected.push(`isolate heap changed by ${heapGrowth.toFixed(1)} MiB from the second to the last quarter of the run`);
const rssGrowth = mib(quarter(rss, 3) - quarter(rss, 1));
const heapSeries = heap.map((s) => `${s.t.toFixed(0)} s ${mib(s.bytes).toFixed(1)}`).join(', ');
const rssSeries = rss.filter((_, i) => i % 30 === 0).map((s) => `${s.t.toFixed(0)} s ${mib(s.bytes).toFixed(0)}`).join(', ');
const total = [...latencies.values()].reduce((a, l) => a + l.length, 0);
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;

const section = `## Load (\`npm run load\`)

${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}: ${SECONDS} s at concurrency ${values.concurrency} against \`wrangler dev\` as deployed (AUTH on,
${KEYS} keys made with \`npm run keys\`, 600 requests a minute each), ${imageSource}: ${total} requests, ${(total / SECONDS).toFixed(1)} a second.
**${unexpected.length} unexpected answers**; usage counts equal the client's successes for all ${KEYS} keys${unexpected.some((u) => u.startsWith('usage')) ? ' — NOT' : ''}.
Isolate JS heap after a full GC (DevTools inspector; what the 128 MB limit counts, with ORT's fixed WASM memory): median of the
second quarter of the run ${mib(quarter(heap, 1)).toFixed(1)} MiB, of the last quarter ${mib(quarter(heap, 3)).toFixed(1)} MiB (change ${heapGrowth.toFixed(1)} MiB; limit ±4).
Every 10 s (MiB): ${heapSeries}.
workerd process resident set (runtime, Durable Object, local KV, dev tooling): ${rssSeries} MiB (growth ${rssGrowth.toFixed(0)} MiB over the
same quarters; under \`wrangler dev\` it grows with the request count for a hello-world Worker too, so it is not a leak measure).

| request | count | p50 (ms) | p99 (ms) | answers |
| --- | ---: | ---: | ---: | --- |
${MIX.map(([k]) => `| ${k} | ${latencies.get(k)!.length} | ${q(latencies.get(k)!, 0.5).toFixed(1)} | ${q(latencies.get(k)!, 0.99).toFixed(1)} | ${[...seen].filter(([s]) => s.startsWith(`${k}:`)).map(([s, c]) => `${s.slice(k.length + 2)} ×${c}`).join(', ')} |`).join('\n')}`;
writeSection('load', section);
console.log(section);
for (const u of [...new Set(unexpected)].slice(0, 30)) console.error(`UNEXPECTED ${u}`);
process.exit(unexpected.length ? 1 : 0);
