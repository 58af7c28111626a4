/**
 * npm run export -- --data DIR [--manifest FILE] [--arch ...] [--pretrained FILE] [--epochs N]
 *   [--batch-size N] [--device auto|cuda|cpu] [--seed 42] [--out model.onnx] ...
 *
 * Node does the data handling and the one preprocessing (the Worker's TypeScript); PyTorch trains,
 * calibrates and exports; Node then re-checks the exported file with onnxruntime-node.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PREPROCESSING_ID } from '../../src/preprocess';
import { buildPixelCache } from './cache';
import { DatasetError, loadDataset } from './dataset';
import { gradCamReference } from './gradcam-reference';
import { EXPORT_DIR, PythonError, ensurePythonEnv } from './python-env';
import { groupSplit } from './split';
import { PARITY_TOLERANCE, verifyAgainstPyTorch } from './verify';

const ARCHITECTURES = ['mobilenet_v3_small', 'mobilenet_v3_large', 'mobilenet_v2'];
const INPUT_SIZE = 256;

const INTENDED_USE =
  'Research and engineering evaluation of chest X-ray classification at the edge. Not a medical device: ' +
  'not for diagnosis, triage, screening or any clinical decision, and not validated on any clinical population.';

const LIMITATIONS = [
  'Research artifact, not a medical device; no regulatory clearance of any kind.',
  'Figures come from one unit-disjoint test split of the training sources; other hospitals, scanners and populations will differ.',
  'In the cxr5 data nearly all bacterial and viral pneumonia images are pediatric (one hospital) while COVID and tuberculosis images are adult: the model can learn age or source instead of disease.',
  'Tuberculosis is the smallest class, mostly from one anonymous compilation with weak provenance.',
  'Many COVID images were cropped from papers and may carry arrows or captions.',
  'Source licences vary and include research-only and non-commercial terms.',
];

function usage(): string {
  return `usage: npm run export -- --data DIR [--manifest FILE] [--group-column unit]
  [--arch ${ARCHITECTURES.join('|')}] [--pretrained FILE] [--epochs N] [--batch-size N]
  [--device auto|cuda|cpu] [--seed 42] [--recipe original|adamw] [--augment basic|robust] [--split 80/10/10]
  [--out model.onnx] [--work .cache/export] [--quantize] [--resume] [--limit N]
       npm run export -- --setup-python   (only create the pinned Python environment)
       npm run export -- --gradcam-reference [--model model.onnx] IMAGE.jpg ...   (PyTorch autograd Grad-CAM maps, JSON)`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      data: { type: 'string' },
      manifest: { type: 'string' },
      'group-column': { type: 'string', default: 'unit' },
      arch: { type: 'string', default: 'mobilenet_v3_small' },
      pretrained: { type: 'string' },
      epochs: { type: 'string', default: '12' },
      'batch-size': { type: 'string', default: '64' },
      device: { type: 'string', default: 'auto' },
      seed: { type: 'string', default: '42' },
      recipe: { type: 'string', default: 'original' },
      augment: { type: 'string', default: 'basic' },
      split: { type: 'string', default: '80/10/10' },
      out: { type: 'string', default: 'model.onnx' },
      work: { type: 'string', default: '.cache/export' },
      'model-name': { type: 'string' },
      'model-version': { type: 'string' },
      quantize: { type: 'boolean', default: false },
      resume: { type: 'boolean', default: false },
      limit: { type: 'string' },
      help: { type: 'boolean', default: false },
      'setup-python': { type: 'boolean', default: false },
      'gradcam-reference': { type: 'boolean', default: false },
      model: { type: 'string', default: 'model.onnx' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values['setup-python']) {
    console.log(`python: ${ensurePythonEnv((line) => console.log(line))}`);
    return 0;
  }
  if (values['gradcam-reference']) {
    // Reference maps by PyTorch autograd for the given JPEGs, as JSON on stdout.
    const jpegs = positionals.map((file) => new Uint8Array(readFileSync(file)));
    const maps = await gradCamReference(resolve(values.model!), jpegs);
    console.log(JSON.stringify(maps.map((m, i) => ({ file: positionals[i], ...m }))));
    return 0;
  }
  if (values.help || !values.data) {
    console.log(usage());
    return values.help ? 0 : 2;
  }
  const fail = (message: string): number => {
    console.error(`error: ${message}`);
    return 2;
  };
  if (!ARCHITECTURES.includes(values.arch!)) return fail(`--arch must be one of ${ARCHITECTURES.join(', ')}`);
  if (!['auto', 'cuda', 'cpu'].includes(values.device!)) return fail('--device must be auto, cuda or cpu');
  if (!['original', 'adamw'].includes(values.recipe!)) return fail('--recipe must be original or adamw');
  if (!['basic', 'robust'].includes(values.augment!)) return fail('--augment must be basic or robust');
  const epochs = Number(values.epochs);
  const batchSize = Number(values['batch-size']);
  const seed = Number(values.seed);
  if (!(epochs >= 1) || !(batchSize >= 2) || !Number.isInteger(seed)) return fail('--epochs >= 1, --batch-size >= 2, --seed an integer');
  const fractions = values.split!.split('/').map(Number);
  if (fractions.length !== 3 || fractions.some((f) => !(f > 0))) return fail('--split is train/val/test, e.g. 80/10/10');
  const sum = fractions[0] + fractions[1] + fractions[2];
  if (values.pretrained && !existsSync(values.pretrained)) return fail(`--pretrained file not found: ${values.pretrained}`);

  const log = (line: string) => console.log(line);
  const work = resolve(values.work!);
  const out = resolve(values.out!);
  mkdirSync(work, { recursive: true });
  mkdirSync(dirname(out), { recursive: true });

  const data = loadDataset(resolve(values.data), values.manifest && resolve(values.manifest), values['group-column']);
  if (values.limit) {
    // Quick runs: a seeded, class-stratified subset (every class keeps some images).
    const keep = Number(values.limit);
    const picked = groupSplit(data.labels, data.groups, { train: keep / data.files.length, val: 0, test: 1 - keep / data.files.length }, seed).train;
    for (const key of ['files', 'labels', 'groups'] as const) (data[key] as unknown[]) = picked.map((i) => data[key][i]);
  }
  log(`data: ${data.files.length} images in ${data.classes.length} classes (${data.classes.join(', ')}), grouped by ${data.groupBy}`);

  const python = ensurePythonEnv(log);
  const cache = buildPixelCache(data, INPUT_SIZE, work, log);
  const labels = cache.kept.map((i) => data.labels[i]);
  const groups = cache.kept.map((i) => data.groups[i]);
  const split = groupSplit(labels, groups, { train: fractions[0] / sum, val: fractions[1] / sum, test: fractions[2] / sum }, seed);
  const splitSizes: Record<string, Record<string, number>> = {};
  log('split (images per class):');
  for (const side of ['train', 'val', 'test'] as const) {
    splitSizes[side] = Object.fromEntries(data.classes.map((name, c) => [name, split[side].filter((i) => labels[i] === c).length]));
    log(`  ${side.padEnd(5)} ${String(split[side].length).padStart(6)}  ` + data.classes.map((n) => `${n} ${splitSizes[side][n]}`).join(', '));
    if (split[side].length === 0) return fail(`the ${side} split is empty: too few images or groups`);
  }

  // The command that reproduces this model: --resume, --work and --out change where, not what.
  const where = ['--work', '--out'];
  const args = process.argv
    .slice(2)
    .filter((arg, i, all) => arg !== '--resume' && !where.includes(arg) && !where.includes(all[i - 1]) && !where.some((w) => arg.startsWith(`${w}=`)));
  const command = ['npm run export --', ...args].join(' ');
  const job = {
    pixels: cache.pixels,
    input_size: INPUT_SIZE,
    preprocessing: PREPROCESSING_ID,
    classes: data.classes,
    labels,
    split,
    arch: values.arch,
    pretrained: values.pretrained ? resolve(values.pretrained) : null,
    epochs,
    batch_size: batchSize,
    device: values.device,
    seed,
    recipe: values.recipe,
    augment: values.augment,
    out,
    work,
    quantize: values.quantize,
    resume: values.resume,
    model_name: values['model-name'] ?? `cxr5-${values.arch}`,
    model_version: values['model-version'] ?? `${new Date().toISOString().slice(0, 10)}-s${seed}`,
    intended_use: INTENDED_USE,
    limitations: LIMITATIONS,
    training_summary: {
      command,
      data: { images: data.files.length, decoded: cache.kept.length, skipped: cache.skipped.length, group_by: data.groupBy, classes: data.classes },
      split_sizes: splitSizes,
    },
  };
  const jobPath = join(work, 'job.json');
  writeFileSync(jobPath, JSON.stringify(job));

  const trained = spawnSync(python, [join(EXPORT_DIR, 'python', 'train.py'), jobPath], {
    stdio: 'inherit',
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  if (trained.status !== 0) return fail(`training/export failed (exit ${trained.status ?? trained.signal})`);

  const reference = JSON.parse(readFileSync(join(work, 'reference.json'), 'utf8')) as { indices: number[]; probabilities: number[][] };
  const check = await verifyAgainstPyTorch(out, cache.pixels, reference.indices, reference.indices.map((i) => labels[i]), reference.probabilities);
  log(`parity: onnxruntime-node through the Worker's Classifier vs PyTorch on ${check.images} test images: max |diff| ${check.maxAbsDiff.toExponential(2)}; accuracy ${check.accuracy.toFixed(4)}`);
  if (!(check.maxAbsDiff <= PARITY_TOLERANCE)) return fail(`onnxruntime-node disagrees with PyTorch by ${check.maxAbsDiff} (> ${PARITY_TOLERANCE})`);
  const card = join(dirname(out), out.replace(/\.onnx$/, '').split('/').pop() + '.card.json');
  const cardJson = JSON.parse(readFileSync(card, 'utf8'));
  cardJson.parity.onnxruntime_node_max_abs_diff = check.maxAbsDiff;
  cardJson.parity.end_to_end_accuracy_typescript_preprocessing = check.accuracy;
  writeFileSync(card, JSON.stringify(cardJson, null, 2));
  log(`done: ${out}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof DatasetError || error instanceof PythonError) {
      console.error(`error: ${error.message}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
