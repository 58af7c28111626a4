/**
 * Cold start: a fresh isolate's first /v1/classify, model load included, on the deployable bundle in workerd
 * (scripts/lib/production-worker.ts) with SERVER_TIMING on, so that the first request splits into read (the body and,
 * on a cold isolate, the model load), decode and infer. One isolate is one sample, and one sample moves by a few
 * hundred milliseconds with the machine, so each figure is the median over several fresh isolates.
 *
 * `npm run bench` reports it for this checkout. As an A/B: `npx tsx scripts/bench/cold-start.ts OTHER_CHECKOUT`
 * (e.g. `git worktree add /tmp/head HEAD` with node_modules linked) bundles both and starts their isolates in turn,
 * COLD_ROUNDS (default 7) each, so machine noise hits both alike. COLD_UPLOAD_MS spreads each upload over that many
 * milliseconds (a phone on a slow link; loopback otherwise delivers a film at once).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLocalKey } from '../lib/local-browser';
import { buildBundle, postImageTimed, startBundle, type Bundle } from '../lib/production-worker';
import { realXrays } from '../../test/helpers/fixtures';

export interface ColdStart {
  /** Client-side milliseconds of the first request. */
  ms: number;
  /** Server-Timing stages of the first request (workerd's clock: 1 ms steps). */
  read: number;
  decode: number;
  infer: number;
  /** The second request on the same isolate: how far from warm the first one left it. */
  second: number;
}

/**
 * Starts `bundle` in a fresh isolate, sends `image` twice to /v1/classify, stops it.
 * @param uploadMs spread each upload over this many milliseconds, as a client on a slow link sends it (0: at once)
 */
export async function coldStart(bundle: Bundle, persistTo: string, key: string, image: Uint8Array, uploadMs = 0): Promise<ColdStart> {
  const worker = await startBundle(bundle, persistTo, { SERVER_TIMING: 'on' });
  try {
    const send = () => postImageTimed(worker.url, key, image, { uploadMs });
    const first = await send();
    const second = await send();
    return { ms: first.ms, read: first.stages.read, decode: first.stages.decode, infer: first.stages.infer, second: second.ms };
  } finally {
    await worker.stop();
  }
}

/** Medians of each field over `samples`. */
export function medianColdStart(samples: ColdStart[]): ColdStart {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return Object.fromEntries((['ms', 'read', 'decode', 'infer', 'second'] as const).map((k) => [k, median(samples.map((s) => s[k]))])) as unknown as ColdStart;
}

/** A small real X-ray (as `npm run bench` uses), so that the figure is the model load rather than a large decode. */
export function coldStartImage(): Uint8Array {
  const image = realXrays(1)?.[0];
  if (!image) throw new Error('No cxr5 X-ray found for the cold start (../shared/data/cxr5, or set CXR5_DIR)');
  return image.bytes;
}

async function main(): Promise<void> {
  const rounds = Number(process.env.COLD_ROUNDS ?? 7);
  const uploadMs = Number(process.env.COLD_UPLOAD_MS ?? 0);
  const checkouts = [resolve(new URL('../../', import.meta.url).pathname), ...process.argv.slice(2).map((p) => resolve(p))];
  const bundles = checkouts.map((checkout) => buildBundle(mkdtempSync(join(tmpdir(), 'cold-start-')), checkout));
  const state = mkdtempSync(join(tmpdir(), 'cold-start-state-'));
  const { key } = createLocalKey(state, 'cold start');
  const image = coldStartImage();
  const samples: ColdStart[][] = checkouts.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, bundle] of bundles.entries()) samples[i].push(await coldStart(bundle, state, key, image, uploadMs));
  }
  console.log(`| checkout | first request (ms) | read incl. model load | decode | infer | second request |\n| --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const [i, checkout] of checkouts.entries()) {
    const m = medianColdStart(samples[i]);
    console.log(`| ${checkout} | ${m.ms.toFixed(0)} (${samples[i].map((s) => s.ms.toFixed(0)).join(', ')}) | ${m.read} | ${m.decode} | ${m.infer} | ${m.second.toFixed(0)} |`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
