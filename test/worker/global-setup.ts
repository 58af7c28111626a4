/**
 * Runs in Node before the workerd tests: builds the JPEG fixtures and, from real X-rays in
 * ../shared, the onnxruntime-node reference probabilities for the parity test. Both reach the
 * tests through vitest's provide/inject (workerd has no file system).
 */
import type { TestProject } from 'vitest/node';
import { preprocessJpeg } from '../../src/preprocess';
import { gradCamReference } from '../../scripts/export/gradcam-reference';
import { loadNodeClassifier } from '../../scripts/export/verify';
import { buildFixtures, realXrays } from '../helpers/fixtures';
import { replayRecipe, type FuzzRecipe } from '../helpers/fuzz';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RealXray {
  file: string;
  jpeg: string;
  /** onnxruntime-node's probabilities for the same preprocessed tensor. */
  expected: number[];
  /** PyTorch autograd Grad-CAM of the predicted class on the same tensor. */
  gradcam: { classIndex: number; map: number[][] };
}

declare module 'vitest' {
  export interface ProvidedContext {
    fixtures: Record<string, string>;
    realXrays: RealXray[] | null;
    /** Every case `npm run fuzz` ever failed on (test/fuzz-regressions/), rebuilt where it was saved as a recipe. */
    fuzzRegressions: { name: string; jpeg: string }[];
  }
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export default async function setup(project: TestProject): Promise<void> {
  const fixtures = buildFixtures();
  project.provide('fixtures', Object.fromEntries(Object.entries(fixtures).map(([k, v]) => [k, base64(v)])));

  project.provide('fuzzRegressions', loadFuzzRegressions(fixtures));

  const real = realXrays(12);
  if (!real) {
    if (process.env.CI) throw new Error('CI must have ../shared/data/cxr5 (or CXR5_DIR) for the real X-ray tests');
    console.warn('real X-ray tests will be skipped: ../shared/data/cxr5 not found (set CXR5_DIR)');
    project.provide('realXrays', null);
    return;
  }
  const modelPath = new URL('../../model.onnx', import.meta.url).pathname;
  const classifier = await loadNodeClassifier(modelPath);
  const references = await gradCamReference(modelPath, real.map((x) => x.bytes));
  const out: RealXray[] = [];
  for (const [i, { file, bytes }] of real.entries()) {
    const image = preprocessJpeg(bytes, classifier.info.inputSize, { maxPixels: 100_000_000 });
    const { probabilities } = await classifier.classify(image.pixels);
    out.push({ file, jpeg: base64(bytes), expected: [...probabilities], gradcam: references[i] });
  }
  project.provide('realXrays', out);
}

function loadFuzzRegressions(fixtures: Record<string, Uint8Array>): { name: string; jpeg: string }[] {
  const dir = new URL('../fuzz-regressions/', import.meta.url).pathname;
  const cxr5 = process.env.CXR5_DIR ?? new URL('../../../shared/data/cxr5/', import.meta.url).pathname;
  const lookup = (name: string): Uint8Array | null => {
    if (name.startsWith('fixture:')) return fixtures[name.slice('fixture:'.length)] ?? null;
    if (name.startsWith('cxr5:') && existsSync(join(cxr5, name.slice(5)))) return new Uint8Array(readFileSync(join(cxr5, name.slice(5))));
    return null;
  };
  const out: { name: string; jpeg: string }[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (file.endsWith('.jpg')) out.push({ name: file, jpeg: base64(new Uint8Array(readFileSync(join(dir, file)))) });
    if (file.endsWith('.json')) {
      const bytes = replayRecipe(JSON.parse(readFileSync(join(dir, file), 'utf8')) as FuzzRecipe, lookup);
      if (bytes) out.push({ name: file, jpeg: base64(bytes) });
      else if (process.env.CI) throw new Error(`fuzz regression ${file} names a source that is not here`);
    }
  }
  return out;
}
