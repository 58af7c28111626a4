/**
 * npm run fuzz [-- --cases 10000 --seed 1 --concurrency 4 --timeout-ms 5000]
 *
 * Mutated JPEGs (test/helpers/fuzz.ts: bit flips, overwrites, truncation, marker and segment-length
 * corruption, huge or zero declared dimensions with tiny bodies, hundreds of progressive scans, splices,
 * random bytes) from generated fixtures and, when ../shared is there, real X-rays, then mutated DICOM files
 * (element tags, VRs, lengths and sequences corrupted, plus the byte mutations; generated with dcmtk in every
 * transfer syntax the Worker reads) as application/dicom, sent through the real
 * request path: POST /v1/classify on `wrangler dev` (workerd) over loopback, AUTH off (access control has
 * its own tests, and the rate limit would stop a run this size).
 *
 * A case fails on a 5xx, a status or problem code outside the documented ones, a non-problem+json error,
 * no answer within the time bound, or the server dying. Failures are written to test/fuzz-regressions/
 * (bytes for generated sources; for real X-rays only {source, seed, index}, never image bytes), which the
 * Worker tests replay. Memory: the Worker isolate's heap after GC (inspector) every 1,000 cases, which
 * must stay under 32 MiB, and the workerd process's resident set each second.
 * Then the hostile families of test/helpers/bombs.ts (entropy bombs, scan and table floods, restart-marker
 * floods, huge declared sizes), each answered within FAMILY_BOUND_MS and, where the decoder must, refused.
 * Writes docs/fuzz-report.md; exits 1 on any failure.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isolateHeap, workerdResidentBytes } from './lib/inspector';
import { startDevServer } from './lib/local-browser';
import { buildFixtures, realXrays } from '../test/helpers/fixtures';
import { DICOM_MUTATIONS, EXPECTED_CODES, EXPECTED_STATUSES, MUTATIONS, fuzzCase, type FuzzSource } from '../test/helpers/fuzz';
import { convert, nativeRadiograph } from '../test/helpers/dicom';
import { encodeJpeg, syntheticXray } from '../test/helpers/synthetic';
import { hostileFamilies } from '../test/helpers/bombs';
import { seededRandom } from './export/split';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    'dicom-cases': { type: 'string', default: '3000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '4' },
    'timeout-ms': { type: 'string', default: '5000' },
    port: { type: 'string', default: '8797' },
    'inspector-port': { type: 'string', default: '9237' },
  },
});
const CASES = Number(values.cases);
const DICOM_CASES = Number(values['dicom-cases']);
const SEED = Number(values.seed);
const TIMEOUT_MS = Number(values['timeout-ms']);
const BASE = `http://127.0.0.1:${values.port}`;
const REGRESSIONS = new URL('../test/fuzz-regressions/', import.meta.url).pathname;

const fixtures = buildFixtures();
const generated: FuzzSource[] = Object.entries(fixtures).map(([name, bytes]) => ({ name: `fixture:${name}`, bytes }));
generated.push({ name: 'generated:1024-gray', bytes: encodeJpeg(1024, 1024, syntheticXray(1024, 2, 5, seededRandom(11)), 85) });
const real: FuzzSource[] = (realXrays(4) ?? []).map((x) => ({ name: `cxr5:${x.file}`, bytes: x.bytes }));
const sources = [...generated, ...real];
// A synthetic radiograph as DICOM: 12-bit windowed in every transfer syntax the Worker decodes, and 8-bit.
const dicomSources: FuzzSource[] = (() => {
  const size = 320;
  const grey = syntheticXray(size, 1, 5, seededRandom(21));
  const samples = new Uint16Array(size * size).map((_, i) => Math.round(grey(i % size, Math.floor(i / size)) * 16));
  const window = [
    { tag: 0x00281050, vr: 'DS', value: '2048' },
    { tag: 0x00281051, vr: 'DS', value: '4096' },
  ];
  const native = nativeRadiograph({ width: size, height: size, samples, bitsAllocated: 16, bitsStored: 12, extra: window });
  const eight = nativeRadiograph({ width: size, height: size, samples: Uint8Array.from(samples, (v) => v >> 4), bitsAllocated: 8, bitsStored: 8 });
  const variants: [string, Uint8Array][] = [
    ['explicit-le-12', native],
    ['implicit-12', convert('dcmconv', ['+ti'], native)],
    ['big-endian-12', convert('dcmconv', ['+tb'], native)],
    ['deflated-12', convert('dcmconv', ['+td'], native)],
    ['rle-12', convert('dcmcrle', [], native)],
    ['lossless-sv1-12', convert('dcmcjpeg', ['+e1'], native)],
    ['lossless-p6-12', convert('dcmcjpeg', ['+el', '+sv', '6'], native)],
    ['extended-12', convert('dcmcjpeg', ['+ee'], native)],
    ['baseline-8', convert('dcmcjpeg', ['+eb', '+sr'], eight)],
    ['explicit-le-8', eight],
  ];
  return variants.map(([name, bytes]) => ({ name: `dicom:${name}`, bytes }));
})();
console.log(`fuzz: ${CASES} JPEG cases (${generated.length} generated and ${real.length} real sources) and ${DICOM_CASES} DICOM cases (${dicomSources.length} sources), seed ${SEED}, concurrency ${values.concurrency}`);


const INSPECTOR = Number(values['inspector-port']);
const stop = await startDevServer(Number(values.port), ['--var', 'AUTH:off', '--inspector-port', String(INSPECTOR)]);
const statuses = new Map<string, number>();
const perMutation = new Map<string, { cases: number; failures: number; maxMs: number }>(
  [...MUTATIONS, ...DICOM_MUTATIONS.map((m) => `dicom ${m}`)].map((m) => [m, { cases: 0, failures: 0, maxMs: 0 }]),
);
const failures: { index: number; mutation: string; source: string; reason: string }[] = [];
const times: number[] = [];
const rss: number[] = [];
const sampler = setInterval(() => rss.push(workerdResidentBytes()), 1000);
const started = Date.now();
let next = 0;
/** The isolate's JS heap after a full GC, after case 200, 1200, 2200, ... and at the end. */
const heaps: number[] = [];
// Within limits: the isolate's heap (after GC) never passes this; with ORT's 23 MB of WASM memory and the
// largest admitted decode (48 MiB) it keeps an isolate far under 128 MB.
const HEAP_LIMIT = 32 * 2 ** 20;
// A hostile file may cost at most this much, client side through wrangler dev: a real 16 MP film costs about a
// third of it on these machines, and the bombs it replaces took 1-18 s.
const FAMILY_BOUND_MS = 1000;
const familyResults: { family: string; name: string; bytes: Uint8Array; mustRefuse: boolean; status: number; code: string; ms: number; reason: string }[] = [];

/** Runs case `index`: JPEG cases first (0 .. CASES-1), then DICOM ones. */
async function one(index: number): Promise<void> {
  const dicom = index >= CASES;
  const c = dicom ? fuzzCase(dicomSources, SEED, index - CASES, DICOM_MUTATIONS) : fuzzCase(sources, SEED, index);
  const stat = perMutation.get(dicom ? `dicom ${c.mutation}` : c.mutation)!;
  stat.cases++;
  const t0 = performance.now();
  let reason = '';
  try {
    const res = await fetch(`${BASE}/v1/classify`, {
      method: 'POST',
      body: c.bytes as Uint8Array<ArrayBuffer>,
      headers: { 'content-type': dicom ? 'application/dicom' : 'image/jpeg' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    let code = '';
    if (res.status !== 200) {
      if (res.headers.get('content-type') !== 'application/problem+json') reason = `status ${res.status} without problem+json`;
      else code = (JSON.parse(text) as { code: string }).code;
    }
    statuses.set(`${res.status}${code ? ` ${code}` : ''}`, (statuses.get(`${res.status}${code ? ` ${code}` : ''}`) ?? 0) + 1);
    if (!EXPECTED_STATUSES.has(res.status)) reason ||= `unexpected status ${res.status} ${code}`;
    else if (code && !EXPECTED_CODES.has(code)) reason ||= `unexpected code ${code}`;
  } catch (error) {
    reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS} ms` : `request failed: ${String(error)}`;
    statuses.set('no answer', (statuses.get('no answer') ?? 0) + 1);
  }
  const ms = performance.now() - t0;
  times.push(ms);
  stat.maxMs = Math.max(stat.maxMs, ms);
  if (reason) {
    stat.failures++;
    failures.push({ index, mutation: c.mutation, source: c.source, reason });
    const base = join(REGRESSIONS, `seed${SEED}-case${index}`);
    const fromReal = c.recipe.source.startsWith('cxr5:') || c.recipe.other.startsWith('cxr5:');
    if (fromReal) writeFileSync(`${base}.json`, JSON.stringify({ ...c.recipe, reason }, null, 2) + '\n');
    else writeFileSync(`${base}.${dicom ? 'dcm' : 'jpg'}`, c.bytes);
    console.error(`FAIL case ${index} (${c.mutation} of ${c.source}): ${reason}`);
  }
}

const mibText = (b: number) => (b / 2 ** 20).toFixed(1);
try {
  await Promise.all(
    Array.from({ length: Number(values.concurrency) }, async () => {
      while (next < CASES + DICOM_CASES) {
        const index = next++;
        await one(index);
        if (index % 1000 === 199) heaps.push((await isolateHeap(INSPECTOR)).used);
        if (index % 1000 === 999) console.log(`  ${index + 1}/${CASES + DICOM_CASES}, ${failures.length} failures, workerd RSS ${(workerdResidentBytes() / 2 ** 20).toFixed(0)} MiB`);
      }
    }),
  );
  // Hostile families, one at a time so each time is its own: CPU must stay bounded by the bytes sent.
  for (const f of hostileFamilies(fixtures['gray-baseline'])) {
    const t0 = performance.now();
    let status = 0;
    let code = '';
    try {
      const res = await fetch(`${BASE}/v1/classify`, { method: 'POST', body: f.bytes as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'image/jpeg' }, signal: AbortSignal.timeout(TIMEOUT_MS) });
      status = res.status;
      code = status === 200 ? '' : ((await res.json()) as { code: string }).code;
      if (status === 200) await res.arrayBuffer();
    } catch (error) {
      code = String(error);
    }
    const ms = performance.now() - t0;
    let reason = '';
    if (!EXPECTED_STATUSES.has(status)) reason = `status ${status} ${code}`;
    else if (f.mustRefuse && status === 200) reason = 'decoded instead of refused';
    else if (ms > FAMILY_BOUND_MS) reason = `took ${ms.toFixed(0)} ms (bound ${FAMILY_BOUND_MS} ms)`;
    familyResults.push({ ...f, status, code, ms, reason });
    if (reason) {
      failures.push({ index: -1, mutation: f.family, source: f.name, reason });
      console.error(`FAIL ${f.family} (${f.name}): ${reason}`);
    }
  }
  heaps.push((await isolateHeap(INSPECTOR)).used);
  if (!heaps.every((h) => h <= HEAP_LIMIT)) failures.push({ index: -1, mutation: '-', source: '-', reason: `isolate heap over ${mibText(HEAP_LIMIT)} MiB: ${heaps.map(mibText).join(', ')}` });
  const health = await fetch(`${BASE}/healthz`).then((r) => r.status, () => 0);
  if (health !== 200) failures.push({ index: -1, mutation: '-', source: '-', reason: `server not healthy after the run (${health})` });
} finally {
  clearInterval(sampler);
  stop();
}

times.sort((a, b) => a - b);
const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
const firstRss = rss.slice(0, 5);
const lastRss = rss.slice(-5);
const report = `# Fuzz report

\`npm run fuzz -- --cases ${CASES} --dicom-cases ${DICOM_CASES} --seed ${SEED}\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}):
${CASES} mutated JPEGs and ${DICOM_CASES} mutated DICOM files (${dicomSources.length} sources: ${dicomSources.map((d) => d.name.slice(6)).join(', ')}) through POST /v1/classify on \`wrangler dev\` (workerd) over loopback, ${values.concurrency} in flight,
${generated.length} generated sources and ${real.length} real X-rays from ../shared (mutated in memory, never written).
Took ${((Date.now() - started) / 1000).toFixed(0)} s.

**${failures.length} failures** (5xx, undocumented status or code, no answer within ${TIMEOUT_MS} ms, server down).

| mutation | cases | failures | slowest (ms) |
| --- | ---: | ---: | ---: |
${[...perMutation].map(([m, s]) => `| ${m} | ${s.cases} | ${s.failures} | ${s.maxMs.toFixed(0)} |`).join('\n')}

Hostile families (test/helpers/bombs.ts), one request each, bound ${FAMILY_BOUND_MS} ms:

| family | case | bytes | answer | ms |
| --- | --- | ---: | --- | ---: |
${familyResults.map((f) => `| ${f.family} | ${f.name} | ${f.bytes.length} | ${f.status} ${f.code} | ${f.ms.toFixed(0)} |`).join('\n')}

Slowest per family: ${[...new Set(familyResults.map((f) => f.family))].map((family) => `${family} ${Math.max(...familyResults.filter((f) => f.family === family).map((f) => f.ms)).toFixed(0)} ms`).join('; ')}.

| answer | count |
| --- | ---: |
${[...statuses].sort((a, b) => b[1] - a[1]).map(([s, n]) => `| ${s} | ${n} |`).join('\n')}

Time per case (client side): median ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${times[times.length - 1].toFixed(0)} ms.

The Worker isolate's JS heap after a full GC (DevTools inspector), after case 200, 1,200, 2,200, … and at the end:
${heaps.map(mibText).join(', ')} MiB (limit ${mibText(HEAP_LIMIT)} MiB at every sample). The workerd process's resident set (runtime, dev tooling, all
services), sampled each second: first 5 s ${firstRss.map(mib).join(', ')} MiB; last 5 s ${lastRss.map(mib).join(', ')} MiB; peak
${mib(Math.max(...rss))} MiB (under \`wrangler dev\` it grows with the request count even for a hello-world Worker).
${failures.length ? `\nFailures (saved under test/fuzz-regressions/):\n\n${failures.slice(0, 50).map((f) => `- case ${f.index} (${f.mutation} of ${f.source}): ${f.reason}`).join('\n')}\n` : ''}`;
writeFileSync(new URL('../docs/fuzz-report.md', import.meta.url).pathname, report);
console.log(report);
process.exit(failures.length ? 1 : 0);
