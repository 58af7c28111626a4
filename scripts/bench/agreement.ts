/**
 * Model-level check of the decode-to-size decoder: on the test split of a data set (the same split
 * `npm run export` makes), the shipped model's top-1 agreement and largest probability difference
 * between the production preprocessing and a full-resolution jpeg-js decode through the same resize.
 * Twice: the files as they are (128-320 px, decoded at full scale), and each re-encoded at 2000x2000
 * (grayscale, quality 90, in memory with sharp), the upload size where the DCT-domain reduction (1/4) works.
 * Writes the `agreement` section of BENCHMARKS.md.
 *
 * Usage: npx tsx scripts/bench/agreement.ts DATA_DIR [MANIFEST] [model.onnx]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadDataset } from '../export/dataset';
import { groupSplit } from '../export/split';
import { loadNodeClassifier } from '../export/verify';
import { writeSection } from '../lib/report-sections';
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

async function compare(label: string, encode: (bytes: Uint8Array) => Promise<Uint8Array>): Promise<string> {
  let agree = 0;
  let maxProbability = 0;
  let sumProbability = 0;
  let maxPixel = 0;
  for (const i of split.test) {
    const bytes = await encode(new Uint8Array(readFileSync(join(root, data.files[i]))));
    const fast = preprocessJpeg(bytes, size, { maxPixels: 1e9 }).pixels;
    const oracle = jpegJsLuma(bytes);
    const full = applyOrientation(resizeLuma(oracle.data, oracle.width, oracle.height, size, size), size, size, readJpegHeader(bytes).orientation).data;
    for (let k = 0; k < fast.length; k++) maxPixel = Math.max(maxPixel, Math.abs(fast[k] - full[k]));
    const a = (await classifier.classify(fast)).probabilities;
    const b = (await classifier.classify(full)).probabilities;
    if (argmax(a) === argmax(b)) agree++;
    let largest = 0;
    for (let k = 0; k < a.length; k++) largest = Math.max(largest, Math.abs(a[k] - b[k]));
    maxProbability = Math.max(maxProbability, largest);
    sumProbability += largest;
  }
  const n = split.test.length;
  const row = `| ${label} | ${n} | ${((100 * agree) / n).toFixed(2)} % (${n - agree} differ) | ${maxProbability.toFixed(4)} | ${(sumProbability / n).toFixed(5)} | ${maxPixel} |`;
  console.log(row);
  return row;
}

const rows = [
  await compare('as stored (128–320 px: DCT scale 1/1)', async (bytes) => bytes),
  await compare('re-encoded at 2000x2000 gray q90 (DCT scale 1/4)', async (bytes) =>
    new Uint8Array(await sharp(bytes).resize(2000, 2000, { fit: 'fill', kernel: 'lanczos3' }).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer())),
];
const section = `## Decoder at model level (\`npx tsx scripts/bench/agreement.ts ../shared/data/cxr5 ../shared/data/cxr5/MANIFEST.csv\`)

${new Date().toISOString().slice(0, 10)}: on the unit-disjoint test split, the shipped model's answers from the production preprocessing (decode
to size, src/preprocess) against a full-resolution jpeg-js decode through the same resize and orientation. Target: top-1
agreement ≥ 99.5 %.

| images | count | top-1 agreement | max \\|probability difference\\| | mean of each image's max difference | max model-input pixel difference |
| --- | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}`;
writeSection('agreement', section);
console.log(section);
