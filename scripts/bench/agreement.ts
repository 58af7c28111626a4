/**
 * Model-level check of the decode-to-size decoder: on the test split of a data set (the same split
 * `npm run export` makes), the shipped model's top-1 agreement and largest probability difference
 * between the production preprocessing and a full-resolution jpeg-js decode through the same resize.
 *
 * Usage: npx tsx scripts/bench/agreement.ts DATA_DIR [MANIFEST] [model.onnx]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../export/dataset';
import { groupSplit } from '../export/split';
import { loadNodeClassifier } from '../export/verify';
import { readJpegHeader } from '../../src/image/jpeg-header';
import { preprocessJpeg } from '../../src/preprocess';
import { applyOrientation } from '../../src/preprocess/orientation';
import { resizeLuma } from '../../src/preprocess/resize';
import { jpegJsLuma } from '../../test/helpers/jpeg-oracle';

const [root, manifest, modelPath = 'model.onnx'] = process.argv.slice(2);
if (!root) {
  console.error('usage: npx tsx scripts/bench/agreement.ts DATA_DIR [MANIFEST] [model.onnx]');
  process.exit(2);
}
const data = loadDataset(root, manifest);
const split = groupSplit(data.labels, data.groups, { train: 0.8, val: 0.1, test: 0.1 }, 42);
const classifier = await loadNodeClassifier(modelPath);
const size = classifier.info.inputSize;
const argmax = (p: Float32Array) => p.indexOf(Math.max(...p));
let agree = 0;
let maxProbability = 0;
let maxPixel = 0;
for (const i of split.test) {
  const bytes = new Uint8Array(readFileSync(join(root, data.files[i])));
  const fast = preprocessJpeg(bytes, size, { maxPixels: 1e9 }).pixels;
  const oracle = jpegJsLuma(bytes);
  const full = applyOrientation(resizeLuma(oracle.data, oracle.width, oracle.height, size, size), size, size, readJpegHeader(bytes).orientation).data;
  for (let k = 0; k < fast.length; k++) maxPixel = Math.max(maxPixel, Math.abs(fast[k] - full[k]));
  const a = (await classifier.classify(fast)).probabilities;
  const b = (await classifier.classify(full)).probabilities;
  if (argmax(a) === argmax(b)) agree++;
  for (let k = 0; k < a.length; k++) maxProbability = Math.max(maxProbability, Math.abs(a[k] - b[k]));
}
const n = split.test.length;
console.log(`test split, ${n} images: top-1 agreement ${((100 * agree) / n).toFixed(2)} % (${n - agree} differ), ` +
  `max |probability difference| ${maxProbability.toFixed(4)}, max |model-input pixel difference| ${maxPixel}`);
