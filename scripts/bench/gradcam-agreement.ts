/**
 * The Worker's Grad-CAM (src/explain/gradcam.ts, run here in Node on onnxruntime-node's `features`)
 * against PyTorch autograd Grad-CAM (scripts/export/python/gradcam_reference.py) on real X-rays:
 * worst and mean Pearson r and the largest difference between maps.
 *
 * Usage: npx tsx scripts/bench/gradcam-agreement.ts [model.onnx]   (reads ../shared/data/cxr5 or CXR5_DIR)
 */
import { readFileSync } from 'node:fs';
import { GradCam } from '../../src/explain/gradcam';
import { preprocessJpeg } from '../../src/preprocess';
import { gradCamReference } from '../export/gradcam-reference';
import { loadNodeClassifier } from '../export/verify';
import { realXrays } from '../../test/helpers/fixtures';

const modelPath = process.argv[2] ?? 'model.onnx';
const real = realXrays(12);
if (!real) throw new Error('no X-rays: ../shared/data/cxr5 not found (set CXR5_DIR)');
const classifier = await loadNodeClassifier(modelPath);
const gradCam = GradCam.fromModel(new Uint8Array(readFileSync(modelPath)), classifier.info.head!);
const references = await gradCamReference(modelPath, real.map((x) => x.bytes));

function pearson(a: number[], b: number[]): number {
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let num = 0;
  let da = 0;
  let db = 0;
  a.forEach((_, k) => ((num += (a[k] - ma) * (b[k] - mb)), (da += (a[k] - ma) ** 2), (db += (b[k] - mb) ** 2)));
  return da === 0 && db === 0 ? 1 : num / Math.sqrt(da * db);
}

let worst = 1;
let sum = 0;
let maxDiff = 0;
for (const [i, xray] of real.entries()) {
  const { features } = await classifier.classify(preprocessJpeg(xray.bytes, classifier.info.inputSize, { maxPixels: 1e9 }).pixels, true);
  const ours = [...gradCam.map(features!.data, features!.height, features!.width, references[i].classIndex).values];
  const reference = references[i].map.flat();
  const r = pearson(ours, reference);
  worst = Math.min(worst, r);
  sum += r;
  ours.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - reference[k]))));
}
console.log(`${real.length} X-rays: Pearson r worst ${worst.toFixed(6)}, mean ${(sum / real.length).toFixed(6)}, max |map difference| ${maxDiff.toExponential(2)}`);
