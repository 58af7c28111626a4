/**
 * npm run export -- --data DIR [--manifest FILE] [--arch ...] [--pretrained FILE] [--epochs N]
 *   [--batch-size N] [--device auto|cuda|cpu] [--seed 42] [--split-seed N] [--plan] [--out model.onnx] ...
 *
 * Node does the data handling and the one preprocessing (the Worker's TypeScript); PyTorch trains,
 * calibrates and exports; Node then re-checks the exported file with onnxruntime-node.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { env as ortWeb } from 'onnxruntime-web';
import { PREPROCESSING_ID } from '../../src/preprocess';
import { buildPixelCache } from './cache';
import { reproducingCommand } from './command';
import { DatasetError, loadDatasets } from './dataset';
import { MIN_HELD_OUT_GROUP, chooseHoldout, finalSplit, groupKey, parseHoldout, valGroupsSharingTraining, type HoldoutChoice, type SourceGroup } from './holdout';
import { ACCEPTED_KIND, GATE_KINDS, chestXraysForNegatives, gateKindOf, generateNegatives, loadNotCxr, type NegativeImage } from './negatives';
import { gradCamReference } from './gradcam-reference';
import { EXPORT_DIR, PythonError, ensurePythonEnv } from './python-env';
import { groupSplit } from './split';
import { PARITY_TOLERANCE, verifyAgainstPyTorch } from './verify';

const ARCHITECTURES = ['mobilenet_v3_small', 'mobilenet_v3_small_dw3', 'mobilenet_v3_large', 'mobilenet_v2'];
const INPUT_SIZE = 256;

const INTENDED_USE =
  'Research and engineering evaluation of chest X-ray classification at the edge. Not a medical device: ' +
  'not for diagnosis, triage, screening or any clinical decision, and not validated on any clinical population.';

const LIMITATIONS = [
  'Research artifact, not a medical device; no regulatory clearance of any kind.',
  'Figures come from a unit-disjoint test split of the training sources and from a few held-out public sources; other hospitals, scanners and populations will differ, and the unseen-source figures are the better guide to them.',
  'The "not a chest X-ray" gate knows nine kinds of non-chest images plus generated ones; the distance check flags what is far from training chest X-rays, but an unusual chest film can be refused and an unusual non-chest image accepted.',
  'In the cxr5 data nearly all bacterial and viral pneumonia images are pediatric (one hospital) while COVID and tuberculosis images are adult: the model can learn age or source instead of disease.',
  'Tuberculosis is the smallest class, mostly from one anonymous compilation with weak provenance.',
  'Many COVID images were cropped from papers and may carry arrows or captions.',
  'Source licences vary and include research-only and non-commercial terms.',
];

function usage(): string {
  return `usage: npm run export -- --data DIR [--manifest FILE] [--data DIR [--manifest FILE] ...] [--group-column unit]
  [--not-cxr DIR] [--negatives N per generated family, 120] [--holdout auto|none|"val=SOURCE :: CLASS; .../test=...[/shared=...]"]
  [--holdout-min 30] [--final [--recipe-card CARD.json]] [--coverage 0.95] [--epoch-samples N] [--freeze-blocks N]
  [--arch ${ARCHITECTURES.join('|')}] [--pretrained FILE] [--epochs N] [--batch-size N]
  [--device auto|cuda|cpu] [--seed 42] [--split-seed N, --seed's] [--recipe original|adamw] [--augment basic|robust|shift]
  [--split 80/10/10] [--out model.onnx] [--work .cache/export] [--quantize] [--resume] [--limit N]
  [--plan]   (print the split and write WORK/job.json, then stop before training)
       npm run export -- --setup-python   (only create the pinned Python environment)
       npm run export -- --gradcam-reference [--model model.onnx] IMAGE.jpg ...   (PyTorch autograd Grad-CAM maps, JSON)`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      data: { type: 'string', multiple: true },
      manifest: { type: 'string', multiple: true },
      'not-cxr': { type: 'string' },
      negatives: { type: 'string', default: '120' },
      holdout: { type: 'string', default: 'auto' },
      'holdout-min': { type: 'string', default: String(MIN_HELD_OUT_GROUP) },
      final: { type: 'boolean', default: false },
      'recipe-card': { type: 'string' },
      coverage: { type: 'string', default: '0.95' },
      'epoch-samples': { type: 'string' },
      'freeze-blocks': { type: 'string', default: '0' },
      'group-column': { type: 'string', default: 'unit' },
      arch: { type: 'string', default: 'mobilenet_v3_small' },
      pretrained: { type: 'string' },
      epochs: { type: 'string', default: '12' },
      'batch-size': { type: 'string', default: '64' },
      device: { type: 'string', default: 'auto' },
      seed: { type: 'string', default: '42' },
      'split-seed': { type: 'string' },
      plan: { type: 'boolean', default: false },
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
  if (values.help || !values.data?.length) {
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
  if (!['basic', 'robust', 'shift'].includes(values.augment!)) return fail('--augment must be basic, robust or shift');
  const epochs = Number(values.epochs);
  const batchSize = Number(values['batch-size']);
  const seed = Number(values.seed);
  if (!(epochs >= 1) || !(batchSize >= 2) || !Number.isInteger(seed)) return fail('--epochs >= 1, --batch-size >= 2, --seed an integer');
  // --seed alone draws the data (subset, generated negatives, unit split, shared sources' halves) and the training;
  // --split-seed fixes the data, so two training seeds can be compared on the same split.
  const splitSeed = values['split-seed'] === undefined ? seed : Number(values['split-seed']);
  if (!Number.isInteger(splitSeed)) return fail('--split-seed must be an integer');
  const fractions = values.split!.split('/').map(Number);
  if (fractions.length !== 3 || fractions.some((f) => !(f > 0))) return fail('--split is train/val/test, e.g. 80/10/10');
  const sum = fractions[0] + fractions[1] + fractions[2];
  if (values.pretrained && !existsSync(values.pretrained)) return fail(`--pretrained file not found: ${values.pretrained}`);

  const log = (line: string) => console.log(line);
  const work = resolve(values.work!);
  const out = resolve(values.out!);
  mkdirSync(work, { recursive: true });
  mkdirSync(dirname(out), { recursive: true });

  const dataRoots = (values.data as string[]).map((d) => resolve(d));
  const manifests = ((values.manifest as string[] | undefined) ?? []).map((m) => resolve(m));
  if (manifests.length > dataRoots.length) return fail('more --manifest than --data: give each --manifest after its --data');
  const data = loadDatasets(dataRoots.map((root, k) => ({ root, manifest: manifests[k] })), values['group-column']);
  if (values.limit) {
    // Quick runs: a seeded, class-stratified subset (every class keeps some images).
    const keep = Number(values.limit);
    const picked = groupSplit(data.labels, data.groups, { train: keep / data.files.length, val: 0, test: 1 - keep / data.files.length }, splitSeed).train;
    for (const key of ['files', 'labels', 'labelSets', 'groups', 'sources', 'originalSizes', 'folder'] as const) (data[key] as unknown[]) = picked.map((i) => data[key][i]);
  }
  log(`data: ${data.files.length} images in ${data.classes.length} classes (${data.classes.join(', ')}) from ${dataRoots.length} folder(s), grouped by ${data.groupBy}`);
  const partial = data.labelSets.filter((set) => set.length > 1).length;
  if (partial) log(`  ${partial} images carry a partial label (one of several classes): trained on the summed probability, left out of accuracy`);

  let explicitHoldout: HoldoutChoice | undefined;
  if (!['auto', 'none'].includes(values.holdout!)) {
    try {
      explicitHoldout = parseHoldout(values.holdout!);
    } catch (e) {
      return fail(`--holdout: ${(e as Error).message}`);
    }
  }

  // Negatives for the gate: the not-cxr folder and generated images.
  const negatives: NegativeImage[] = values['not-cxr'] ? loadNotCxr(resolve(values['not-cxr'])) : [];
  const perFamily = Number(values.negatives);
  if (perFamily > 0) {
    // The films come from sources that train: an automatic --holdout never holds out a class's largest source.
    const named = new Set(explicitHoldout ? [...explicitHoldout.val, ...explicitHoldout.test, ...explicitHoldout.shared] : []);
    const singles = data.files.flatMap((file, i) => (data.labelSets[i].length === 1 ? [{ file, source: data.sources[i], className: data.classes[data.labels[i]] }] : []));
    const chest = chestXraysForNegatives(singles, named);
    negatives.push(...generateNegatives(join(work, 'negatives'), perFamily, chest, splitSeed));
  }
  log(`negatives for the gate: ${negatives.length} (` + countBy(negatives.map((n) => n.kind)).map(([k, n]) => `${k} ${n}`).join(', ') + ')');

  // --plan needs no Python; a run checks it before the pixel cache, so a missing package fails in seconds.
  const python = values.plan ? '' : ensurePythonEnv(log);
  const cache = buildPixelCache({ root: '', files: [...data.files, ...negatives.map((n) => n.file)] }, INPUT_SIZE, work, log);
  const chestRows = cache.kept.filter((i) => i < data.files.length);
  const negativeRows = cache.kept.map((item, row) => ({ item, row })).filter(({ item }) => item >= data.files.length);

  // Seen-source splits: each folder split by group exactly as a single-folder run would split it, so the
  // unit-disjoint test split of cxr5 stays what it was; held-out (source, class) groups are then taken out.
  const classText = (i: number) => data.labelSets[i].map((c) => data.classes[c]).join('|');
  const sourceGroups = new Map<string, SourceGroup>();
  for (const i of chestRows) {
    const key = groupKey(data.sources[i], classText(i));
    const group = sourceGroups.get(key) ?? { key, source: data.sources[i], className: classText(i), size: 0 };
    group.size++;
    sourceGroups.set(key, group);
  }
  let holdout: HoldoutChoice;
  if (values.holdout === 'none') holdout = { val: [], test: [], shared: [], reasons: {} };
  else if (values.holdout === 'auto') holdout = chooseHoldout([...sourceGroups.values()], Number(values['holdout-min']));
  else holdout = explicitHoldout!;
  for (const key of [...holdout.val, ...holdout.test, ...holdout.shared]) {
    if (!sourceGroups.has(key)) return fail(`--holdout names "${key}", which is not a (source :: class) group of the data`);
  }
  const splitOf = new Array<string>(cache.kept.length).fill('');
  const rowOf = new Map(cache.kept.map((item, row) => [item, row]));
  const fractionsBySide = { train: fractions[0] / sum, val: fractions[1] / sum, test: fractions[2] / sum };
  for (let k = 0; k < dataRoots.length; k++) {
    const items = chestRows.filter((i) => data.folder[i] === k);
    // A partial label is its own stratum here, so it spreads over the three sides like a class.
    const strata = items.map((i) => (data.labelSets[i].length > 1 ? data.classes.length : data.labels[i]));
    const folderSplit = groupSplit(strata, items.map((i) => data.groups[i]), fractionsBySide, splitSeed);
    for (const side of ['train', 'val', 'test'] as const) for (const j of folderSplit[side]) splitOf[rowOf.get(items[j])!] = side;
  }
  const sharedRows = new Set<number>();
  for (const key of holdout.shared) {
    const items = chestRows.filter((i) => groupKey(data.sources[i], classText(i)) === key);
    const shared = groupSplit(items.map(() => 0), items.map((i) => data.groups[i]), { train: 0, val: 0.5, test: 0.5 }, splitSeed);
    for (const side of ['val', 'test'] as const) for (const j of shared[side]) splitOf[rowOf.get(items[j])!] = `unseen_${side}`;
    for (const i of items) sharedRows.add(rowOf.get(i)!);
  }
  for (const i of chestRows) {
    const key = groupKey(data.sources[i], classText(i));
    if (holdout.val.includes(key)) splitOf[rowOf.get(i)!] = 'unseen_val';
    if (holdout.test.includes(key)) splitOf[rowOf.get(i)!] = 'unseen_test';
  }
  if (values.final) {
    // The model to ship: the unseen-source test images join training (their figures come from the
    // --recipe-card run, where they were held out); the unseen-source validation images still choose the
    // epoch and calibrate, so the probabilities and prediction sets stay tuned to sources not trained on.
    splitOf.splice(0, splitOf.length, ...finalSplit(splitOf, (row) => sharedRows.has(row)));
  }
  let recipeEvaluation: unknown = null;
  if (values['recipe-card']) {
    const recipe = JSON.parse(readFileSync(resolve(values['recipe-card']), 'utf8'));
    const m = recipe.metrics ?? {};
    recipeEvaluation = {
      model_version: recipe.version, command: recipe.training?.command, holdout: recipe.training?.holdout,
      test: { accuracy: m.accuracy, ece: m.ece, per_class: m.per_class, prediction_set: m.prediction_set, false_refusals: m.false_refusals },
      unseen_val: m.unseen_val, unseen_test: m.unseen_test, per_unseen_source: m.per_unseen_source, gate: m.gate, shortcut_probe: m.shortcut_probe,
      operating_points: m.operating_points,
    };
  }
  // Negatives: per raw kind, a seeded 70/15/15 split by file.
  const negativeFractions = { train: 0.7, val: 0.15, test: 0.15 };
  const negativeKinds = negativeRows.map(({ item }) => negatives[item - data.files.length].kind);
  const negativeSplit = groupSplit(negativeKinds.map((k) => [...new Set(negativeKinds)].indexOf(k)), negativeRows.map(({ item }) => String(item)), negativeFractions, splitSeed);
  for (const side of ['train', 'val', 'test'] as const) for (const j of negativeSplit[side]) splitOf[negativeRows[j].row] = side;

  const gateKinds = [ACCEPTED_KIND, ...new Set(negativeKinds.map(gateKindOf))];
  const rows = cache.kept.map((item) => {
    if (item < data.files.length) {
      return { label_set: data.labelSets[item], class_text: classText(item), kind: ACCEPTED_KIND, gate: 0, source: data.sources[item], original_size: data.originalSizes[item] };
    }
    const negative = negatives[item - data.files.length];
    return { label_set: [], class_text: '', kind: negative.kind, gate: gateKinds.indexOf(gateKindOf(negative.kind)), source: negative.source, original_size: [0, 0] };
  });

  const sides = ['train', 'val', 'test', 'unseen_val', 'unseen_test'] as const;
  const split = Object.fromEntries(sides.map((side) => [side, splitOf.flatMap((s, row) => (s === side ? [row] : []))])) as Record<(typeof sides)[number], number[]>;
  const splitSizes: Record<string, Record<string, number>> = {};
  log('split (chest X-rays per class; negatives per kind):');
  for (const side of sides) {
    const chest = split[side].filter((row) => rows[row].gate === 0);
    splitSizes[side] = Object.fromEntries(countBy(chest.map((row) => rows[row].class_text)));
    const negs = split[side].filter((row) => rows[row].gate !== 0);
    log(`  ${side.padEnd(11)} ${String(chest.length).padStart(6)}  ` + countBy(chest.map((row) => rows[row].class_text)).map(([n, c]) => `${n} ${c}`).join(', ') +
      (negs.length ? ` | negatives ${negs.length}` : ''));
  }
  log(values.final ? 'held-out sources (--final: the test ones join training, and so do none of the validation ones; a shared source\'s validation half becomes seen validation):' : 'held-out sources (never in training):');
  for (const [className, reason] of Object.entries(holdout.reasons)) log(`  ${className}: ${reason}`);
  for (const side of ['train', 'val', 'test'] as const) {
    if (!split[side].some((row) => rows[row].gate === 0)) return fail(`the ${side} split has no chest X-rays: too few images or groups`);
  }

  const command = reproducingCommand(process.argv.slice(2));
  const job = {
    pixels: cache.pixels,
    input_size: INPUT_SIZE,
    preprocessing: PREPROCESSING_ID,
    // The graph is optimised at export only for the onnxruntime the Worker runs (scripts/export/python/optimise_graph.py).
    onnxruntime_web: ortWeb.versions.web,
    classes: data.classes,
    rows,
    split,
    gate: { kinds: gateKinds, accept: ACCEPTED_KIND, descriptions: Object.fromEntries(gateKinds.slice(1).map((k) => [k, GATE_KINDS[k]])) },
    coverage: Number(values.coverage),
    arch: values.arch,
    pretrained: values.pretrained ? resolve(values.pretrained) : null,
    epochs,
    epoch_samples: Number(values['epoch-samples']) || 0,
    freeze_blocks: Number(values['freeze-blocks']),
    batch_size: batchSize,
    device: values.device,
    seed,
    split_seed: splitSeed,
    recipe: values.recipe,
    augment: values.augment,
    out,
    work,
    quantize: values.quantize,
    resume: values.resume,
    model_name: values['model-name'] ?? `cxr5-${values.arch}`,
    // A --final model differs from its recipe run of the same day and seed: its version says so.
    model_version: values['model-version'] ?? `${new Date().toISOString().slice(0, 10)}-s${seed}${splitSeed === seed ? '' : `-split${splitSeed}`}${values.final ? '-final' : ''}`,
    intended_use: INTENDED_USE,
    limitations: LIMITATIONS,
    training_summary: {
      command,
      data: {
        images: data.files.length, decoded: chestRows.length, skipped: data.files.length - chestRows.length, group_by: data.groupBy, classes: data.classes,
        folders: dataRoots.map((r) => r.split('/').pop()), partial_labels: partial,
        negatives: { images: negatives.length, decoded: negativeRows.length, kinds: Object.fromEntries(countBy(negativeKinds)) },
      },
      split_sizes: splitSizes,
      holdout: {
        val: holdout.val, test: holdout.test, shared_by_unit: holdout.shared, reasons: holdout.reasons, final: values.final,
        val_sharing_training: valGroupsSharingTraining(holdout, values.final),
      },
      recipe_evaluation: recipeEvaluation,
    },
  };
  const jobPath = join(work, 'job.json');
  writeFileSync(jobPath, JSON.stringify(job));
  if (values.plan) {
    log(`plan: ${jobPath} written; --plan stops before training`);
    return 0;
  }

  const trained = spawnSync(python, [join(EXPORT_DIR, 'python', 'train.py'), jobPath], {
    stdio: 'inherit',
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  if (trained.status !== 0) return fail(`training/export failed (exit ${trained.status ?? trained.signal})`);

  const reference = JSON.parse(readFileSync(join(work, 'reference.json'), 'utf8')) as { indices: number[]; probabilities: number[][] };
  const check = await verifyAgainstPyTorch(out, cache.pixels, reference.indices, reference.indices.map((i) => rows[i].label_set[0]), reference.probabilities);
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

function countBy(values: string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => (a < b ? -1 : 1));
}
