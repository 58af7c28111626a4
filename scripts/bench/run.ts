/**
 * npm run bench: the real request path in workerd against the native stack, on the same images and the
 * same model.onnx, in one run. Writes BENCHMARKS.md (keeping the sections other commands own).
 *
 * - ours: the deployable bundle (`wrangler deploy --dry-run`) in workerd through Miniflare, with the bindings
 *   wrangler.toml declares (AUTH on, keys from `npm run keys`, usage meter, rate limit): scripts/lib/production-worker.ts.
 *   End to end is client-side over loopback (HTTP, key check and usage meter included); per stage from the
 *   Server-Timing header of a second instance with SERVER_TIMING on: decode (JPEG decode to size + resize +
 *   orientation) and infer (onnxruntime-web, WASM SIMD, one thread). Warm: N sequential requests after warm-ups.
 *   The same requests through `wrangler dev` are reported too: its proxy Worker, attached inspector and dev
 *   middleware add a few milliseconds that a deployment does not have; they are interleaved with native runs too.
 * - native: in this Node process, one thread each: sharp (libvips + libjpeg-turbo, shrink-on-load) to a
 *   256x256 luminance image, then onnxruntime-node (intra-op threads 1). No HTTP. Interleaved with ours,
 *   request by request, so machine noise hits both alike.
 * - cold: a fresh isolate's first /v1/classify, model load included: the bundle's the median over COLD_ROUNDS (5) fresh
 *   isolates with their Server-Timing stages (scripts/bench/cold-start.ts), wrangler dev's one restart.
 * - memory per image (scripts/bench/memory.ts) and the bundle's size.
 * - DICOM: scripts/bench/dicom.ts, run at the end (its own section: real films as uncompressed, JPEG lossless and RLE
 *   DICOM against dcmtk's dcmj2pnm, and their memory).
 * - Inside the decoder: scripts/bench/decoder-stages.ts (its own section: each stage's share of a CPU profile
 *   of the Worker's preprocessing on the headline films).
 * - Inside the Worker: scripts/bench/request-profile.ts, run last (its own section: each stage's share of a CPU profile
 *   of the bundle's isolate serving /v1/classify on the headline films: decode, inference, request handling, idle).
 * Images (what users send; a model with a gate refuses synthetic radiographs, so every image is a real film):
 * the headline rows are the 16 full-size films of ../shared/data/large as stored (read in place) and the same
 * re-encoded as grayscale JPEG at quality 90, as PACS exports usually look; then small real X-rays from
 * ../shared/data/cxr5 (with explain), and one large film re-encoded as the JPEG flavours users also send
 * (3-component 4:2:0 and 4:4:4 progressive at 12 MP, grayscale progressive). Re-encodings are made by sharp
 * in a temp folder at bench time and never committed. `LARGE_DIR` / `CXR5_DIR` point elsewhere.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import sharp, { type Sharp } from 'sharp';
import { createLocalKey, startDevServer } from '../lib/local-browser';
import { buildBundle, postImageTimed, startBundle } from '../lib/production-worker';
import { ownedSections } from '../lib/report-sections';
import { realXrays } from '../../test/helpers/fixtures';
import { coldStart, medianColdStart, type ColdStart } from './cold-start';
import { grayscaleQ90, largeFilms } from './films';

const PORT = 8796;
const DEV = `http://127.0.0.1:${PORT}`;
const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const COLD_ROUNDS = Number(process.env.COLD_ROUNDS ?? 5);
const ROOT = new URL('../../', import.meta.url).pathname;

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const median = (xs: number[]) => quantile(xs, 0.5);

// ---- images ----
const dir = mkdtempSync(join(tmpdir(), 'bench-'));
const LARGE = process.env.LARGE_DIR ?? join(ROOT, '../shared/data/large');
const largeFiles = largeFilms(LARGE);
const sets: { name: string; files: string[]; explain?: boolean; headline?: boolean }[] = [];
const reencode = (files: string[], tag: string, encode: (s: Sharp) => Sharp) =>
  Promise.all(files.map(async (file, i) => {
    const out = join(dir, `${tag}-${i}.jpg`);
    await encode(sharp(file)).toFile(out);
    return out;
  }));
const sizes = await Promise.all(largeFiles.map((f) => sharp(f).metadata()));
const pixelRange = `${Math.min(...sizes.map((m) => Math.max(m.width!, m.height!)))}–${Math.max(...sizes.map((m) => Math.max(m.width!, m.height!)))} px`;
sets.push({ name: `real films as stored (${largeFiles.length}, ${pixelRange})`, files: largeFiles, headline: true });
sets.push({ name: `the same films as grayscale q90 (${largeFiles.length})`, files: await grayscaleQ90(largeFiles), headline: true });
const real = realXrays(6);
if (real) {
  const realDir = mkdtempSync(join(tmpdir(), 'bench-real-'));
  const files = real.map((x, i) => {
    const file = join(realDir, `real-${i}.jpg`);
    writeFileSync(file, x.bytes);
    return file;
  });
  sets.push({ name: `real X-rays from cxr5 (${files.length}, 128–320 px)`, files, explain: true });
}
// One film in the other flavours users send: 12 MP 3-component baseline and progressive, grayscale progressive.
const flavours: [string, (x: Sharp) => Sharp][] = [
  ['3000x4000 rgb 4:2:0 q75', (x) => x.resize(3000, 4000, { fit: 'fill' }).toColourspace('srgb').jpeg({ quality: 75, chromaSubsampling: '4:2:0' })],
  ['3000x4000 rgb 4:4:4 progressive q90', (x) => x.resize(3000, 4000, { fit: 'fill' }).toColourspace('srgb').jpeg({ quality: 90, chromaSubsampling: '4:4:4', progressive: true })],
  ['2048x2048 gray progressive q90', (x) => x.resize(2048, 2048, { fit: 'fill' }).toColourspace('b-w').jpeg({ quality: 90, progressive: true })],
];
for (const [i, [name, encode]] of flavours.entries()) sets.push({ name: `one film as ${name}`, files: await reencode([largeFiles[0]], `flavour${i}`, encode) });

// ---- ours: the deployable bundle in workerd, and wrangler dev ----
const bundle = buildBundle(mkdtempSync(join(tmpdir(), 'bench-bundle-')));
const state = mkdtempSync(join(tmpdir(), 'bench-state-'));
// Several keys, so the per-key rate limit (600 a minute) is never what is measured.
const keys = Array.from({ length: 4 }, (_, i) => createLocalKey(state, `bench ${i}`).key);
let sent = 0;
const devArgs = ['--persist-to', state];

interface Sample {
  ms: number;
  stages: Record<string, number>;
}
function request(base: string, path: string, body: Uint8Array, accept = 'application/json'): Promise<Sample> {
  return postImageTimed(base, keys[sent++ % keys.length], body, { path, accept });
}
async function measure(base: string, path: string, images: Uint8Array[], accept?: string): Promise<Sample[]> {
  for (let i = 0; i < 3; i++) await request(base, path, images[i % images.length], accept);
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await request(base, path, images[i % images.length], accept));
  return samples;
}

const images = sets.map((s) => s.files.map((f) => new Uint8Array(readFileSync(f))));
// Cold start on a small X-ray, so that it measures the model load rather than a large decode; the bundle's is the
// median over several fresh isolates (scripts/bench/cold-start.ts), wrangler dev's one restart.
const coldImage = images[Math.max(0, sets.findIndex((set) => set.explain))][0];
const coldSamples: ColdStart[] = [];
for (let i = 0; i < COLD_ROUNDS; i++) coldSamples.push(await coldStart(bundle, state, keys[0], coldImage));
const cold = medianColdStart(coldSamples);
const coldStop = await startDevServer(PORT, devArgs, '/healthz'); // /readyz would load the model first
const coldDev = (await request(DEV, '/v1/classify', coldImage)).ms;
coldStop();

// ---- native: sharp + onnxruntime-node, one thread each ----
sharp.concurrency(1);
sharp.cache(false);
const session = await ortNode.InferenceSession.create(join(ROOT, 'model.onnx'), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
async function native(bytes: Uint8Array): Promise<{ decode: number; infer: number }> {
  const t0 = performance.now();
  const pixels = await sharp(bytes).grayscale().resize(256, 256, { fit: 'fill' }).raw().toBuffer();
  const t1 = performance.now();
  await session.run({ image: new ortNode.Tensor('float32', Float32Array.from(pixels), [1, 1, 256, 256]) });
  return { decode: t1 - t0, infer: performance.now() - t1 };
}
type NativeRow = { decode: number[]; infer: number[]; total: number[] };
const nativeRows: NativeRow[] = [];

/** Classifications of `list` on `base`, each followed by the native stack on the same image (after 3 warm-ups). */
async function interleaved(base: string, list: Uint8Array[]): Promise<{ samples: Sample[]; native: NativeRow }> {
  const samples: Sample[] = [];
  const row: NativeRow = { decode: [], infer: [], total: [] };
  for (let r = -3; r < RUNS; r++) {
    const image = list[(r + 3) % list.length];
    const sample = await request(base, '/v1/classify', image);
    const n = await native(image);
    if (r < 0) continue; // warm-ups
    samples.push(sample);
    row.decode.push(n.decode);
    row.infer.push(n.infer);
    row.total.push(n.decode + n.infer);
  }
  return { samples, native: row };
}

// End to end with SERVER_TIMING off (as deployed: its zero-timer yields cost a little), each request
// followed by the native stack on the same image, so that both see the same machine (on these shared
// 2-core machines native inference alone varied 1.3-2.1 ms between runs); then the per-stage split from a
// second instance with SERVER_TIMING on, and the same requests through wrangler dev.
const ours: { classify: Sample[]; dev: Sample[]; stages: Sample[]; explain?: Sample[]; png?: Sample[] }[] = [];
let worker = await startBundle(bundle, state);
try {
  const base = String(worker.url);
  for (const [i, set] of sets.entries()) {
    const { samples: classify, native: nativeRow } = await interleaved(base, images[i]);
    nativeRows.push(nativeRow);
    const row: (typeof ours)[number] = { classify, dev: [], stages: [] };
    if (set.explain) {
      row.explain = await measure(base, '/v1/explain', images[i]);
      row.png = await measure(base, '/v1/explain', images[i], 'image/png');
    }
    ours.push(row);
    console.log(`${set.name}: classify median ${median(classify.map((s) => s.ms)).toFixed(1)} ms`);
  }
} finally {
  await worker.stop();
}
worker = await startBundle(bundle, state, { SERVER_TIMING: 'on' });
try {
  for (const [i] of sets.entries()) ours[i].stages = await measure(String(worker.url), '/v1/classify', images[i]);
} finally {
  await worker.stop();
}
// wrangler dev, interleaved with the native stack as the bundle was, so that its ratio compares requests made on
// the same machine at the same moment (the machine's speed moves by a tenth between the phases of one run).
const devNative: number[][] = [];
const stop = await startDevServer(PORT, devArgs);
try {
  for (const [i] of sets.entries()) {
    const { samples, native: nativeRow } = await interleaved(DEV, images[i]);
    ours[i].dev = samples;
    devNative[i] = nativeRow.total;
  }
} finally {
  stop();
}

// ---- memory and bundle ----
const memoryFiles = sets.filter((s) => !s.explain).map((s) => s.files[0]);
const memory = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench/memory.ts'), ...memoryFiles], { encoding: 'utf8' });

// ---- report ----
const f1 = (v: number) => v.toFixed(1);
const mp = (stats: Sample[], key: string) => median(stats.map((s) => s.stages[key] ?? NaN));
const rows = sets.map((set, i) => {
  const o = ours[i].classify;
  const n = nativeRows[i];
  const e2e = median(o.map((s) => s.ms));
  const st = ours[i].stages;
  return `| ${set.headline ? `**${set.name}**` : set.name} | ${f1(e2e)} / ${f1(quantile(o.map((s) => s.ms), 0.95))} | ${f1(median(ours[i].dev.map((s) => s.ms)))} | ${f1(mp(st, 'decode'))} | ${f1(mp(st, 'infer'))} | ${f1(median(n.total))} | ${f1(median(n.decode))} | ${f1(median(n.infer))} | **${(e2e / median(n.total)).toFixed(1)}×** | **${(mp(st, 'decode') / median(n.decode)).toFixed(1)}×** | **${(median(ours[i].dev.map((s) => s.ms)) / median(devNative[i])).toFixed(1)}×** |`;
});
const explainRows = sets.flatMap((set, i) => {
  const r = ours[i];
  if (!r.explain || !r.png) return [];
  const c = median(r.classify.map((s) => s.ms));
  const e = median(r.explain.map((s) => s.ms));
  return [`| ${set.name} | ${f1(c)} | ${f1(e)} / ${f1(quantile(r.explain.map((s) => s.ms), 0.95))} | ${(e / c).toFixed(2)} | ${f1(median(r.png.map((s) => s.ms)))} / ${f1(quantile(r.png.map((s) => s.ms), 0.95))} |`];
});
const kept = ownedSections().join('\n\n');
const report = `# Benchmarks

Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}), with the shipped
model.onnx. **Ours**: the deployable bundle (\`wrangler deploy --dry-run\`) in workerd through Miniflare with the
bindings of wrangler.toml (AUTH on, keys made by \`npm run keys\`, usage meter, rate limit; scripts/lib/production-worker.ts),
times taken by the client (node:http on a kept-alive connection: scripts/bench/client-overhead.ts) over loopback (HTTP, key check and usage meter included) with SERVER_TIMING off, as deployed;
*decode* (JPEG decoded straight to a reduced size, resize, orientation) and *infer* (onnxruntime-web, WASM SIMD, one
thread) from the Server-Timing header of a second instance with it on (workerd's clock has 1 ms steps). The same
requests through \`wrangler dev\` (what \`npm start\` runs) add its proxy Worker, attached DevTools inspector and
dev-only middleware; they too are interleaved with the native stack, and *wrangler dev ÷ native* divides by those
native runs. **Native**: sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}, shrink-on-load) to 256×256
luminance, then onnxruntime-node ${ortNode.env.versions?.node ?? ''} on one thread, in-process (no HTTP), on the same images, each
run right after the same image's request to ours (interleaved, so both see the same machine).
${RUNS} sequential requests per cell after 3 warm-ups; medians unless marked p95; milliseconds.

Cold start (fresh isolate, first /v1/classify including model load): **${cold.ms.toFixed(0)} ms** for the bundle (median of
${COLD_ROUNDS} isolates, ${coldSamples.map((c) => c.ms.toFixed(0)).join(', ')}; Server-Timing read with the model load ${cold.read}, decode ${cold.decode},
infer ${cold.infer}; the second request ${cold.second.toFixed(0)}), ${coldDev.toFixed(0)} ms under \`wrangler dev\` (one restart) (target ≤ 500).

| images | ours end to end median / p95 | ours under wrangler dev | ours decode | ours infer | native total | native decode (sharp) | native infer | end to end ÷ native | decode ÷ sharp | wrangler dev ÷ native |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

Targets on the two real-film rows: decode + preprocess ≤ 1.5× sharp's decode + resize as stored, ≤ 2× at q90; end to end ≤ 2.5× native
for the deployable bundle, ≤ 3× under \`wrangler dev\`.

| images | classify | explain (JSON) median / p95 | explain ÷ classify | explain (PNG overlay) median / p95 |
| --- | ---: | ---: | ---: | ---: |
${explainRows.join('\n')}

## Memory per image

\`npx tsx scripts/bench/memory.ts IMAGES\` (method in its header), in fresh V8 processes: the model = ORT's WASM linear
memory + the JS heap after one inference; one request = what a warm decode + preprocessing allocates, ArrayBuffers (read
with no garbage collection running, so everything it ever held counts) and JS objects (V8's sampling heap profiler,
garbage included); two in flight = the model + one request's allocations + both bodies + the other's tensors: an upper
bound, since JPEG decoding is synchronous and two requests never decode at the same moment.
Target: a 12-megapixel 3-component JPEG ≤ 64 MB.

${memory.stdout.trim()}

## Bundle

\`wrangler deploy --dry-run\`: ${bundle.files.length} files, **${(bundle.rawBytes / 2 ** 20).toFixed(2)} MiB raw, ${(bundle.gzipBytes / 2 ** 20).toFixed(2)} MiB gzipped**
(Workers limits: 3 MB compressed on the free plan, 10 MB on paid plans: ${bundle.gzipBytes <= 3 * 2 ** 20 ? 'fits both' : bundle.gzipBytes <= 10 * 2 ** 20 ? 'fits the paid plan only' : 'fits neither'}).

${kept}
`;
writeFileSync(join(ROOT, 'BENCHMARKS.md'), report);
console.log(report);

// DICOM rows (their own section, also runnable alone): real films as a hospital sends them, against dcmtk.
const dicom = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench/dicom.ts')], { stdio: 'inherit' });
if (dicom.status !== 0) throw new Error('scripts/bench/dicom.ts failed');

// Where the decoder's time goes on the same films (its own section, also runnable alone).
const stages = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench/decoder-stages.ts')], { stdio: 'inherit', env: { ...process.env, LARGE_DIR: LARGE } });
if (stages.status !== 0) throw new Error('scripts/bench/decoder-stages.ts failed');

// Where a whole request's time goes inside the Worker on the same films (its own section, also runnable alone).
const requestProfile = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench/request-profile.ts')], { stdio: 'inherit', env: { ...process.env, LARGE_DIR: LARGE } });
if (requestProfile.status !== 0) throw new Error('scripts/bench/request-profile.ts failed');
