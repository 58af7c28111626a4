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
  }
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export default async function setup(project: TestProject): Promise<void> {
  const fixtures = buildFixtures();
  project.provide('fixtures', Object.fromEntries(Object.entries(fixtures).map(([k, v]) => [k, base64(v)])));

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
