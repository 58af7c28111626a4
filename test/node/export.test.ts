/**
 * End to end: `npm run export` on tiny generated data (two data folders, one with a partial label and a
 * source-held-out split; a not-cxr folder and generated negatives for the gate; one epoch, CPU), then the
 * exported file is checked against the contract the Worker relies on.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { preprocessJpeg } from '../../src/preprocess';
import { assess } from '../../src/inference/assessment';
import { ensurePythonEnv } from '../../scripts/export/python-env';
import { loadNodeClassifier } from '../../scripts/export/verify';
import { encodeJpeg, syntheticXray, writeNotCxr, writeSourcedDataset, writeSyntheticDataset } from '../helpers/synthetic';
import { seededRandom } from '../../scripts/export/split';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLASSES = ['Bacterial Pneumonia', 'COVID', 'Normal'];
// ImageNet weights (CI has ../shared beside the clone): with random weights the pooled features of a one-epoch
// model hardly vary between images, and the Mahalanobis distance of such features is float noise.
const PRETRAINED = new URL('../../../shared/pretrained/mobilenet_v3_small_imagenet.pth', import.meta.url).pathname;

function runExport(args: string[]) {
  const result = spawnSync('npx', ['tsx', join(ROOT, 'scripts/export/cli.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

describe('npm run export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cxr-export-'));
  const out = join(dir, 'out', 'model.onnx');
  let run: { status: number | null; output: string };
  let data: { root: string; manifest: string };
  let more: { root: string; manifest: string };
  let notCxr: string;

  beforeAll(() => {
    data = writeSyntheticDataset(join(dir, 'data'), CLASSES, 16);
    // One unreadable file: skipped and counted, not fatal.
    writeFileSync(join(data.root, 'COVID', 'broken.jpg'), 'not a jpeg');
    writeFileSync(data.manifest, readFileSync(data.manifest, 'utf8') + 'COVID/broken.jpg,COVID,u-broken\n');
    // A second folder: two new sources per class (held out by --holdout auto) and a partial label.
    more = writeSourcedDataset(join(dir, 'more'), CLASSES, [
      ...CLASSES.flatMap((className) => [
        { className, source: 'hospital-a', count: 6 },
        { className, source: 'hospital-b', count: 4 },
      ]),
      { className: 'Bacterial Pneumonia|COVID', source: 'hospital-c', count: 6 },
    ]);
    notCxr = writeNotCxr(join(dir, 'not-cxr'), {
      document_scan: (x, y) => (y % 12 < 3 && x % 9 < 6 ? 30 : 235),
      lateral_chest_xray: (x, y) => 120 + 80 * Math.sin(x / 9) * Math.cos(y / 13),
    }, 6);
    run = runExport(['--data', data.root, '--manifest', data.manifest, '--data', more.root, '--manifest', more.manifest,
      '--not-cxr', notCxr, '--negatives', '4', '--holdout-min', '4', '--pretrained', PRETRAINED, '--recipe', 'adamw', '--epochs', '1', '--batch-size', '16',
      '--device', 'cpu', '--out', out, '--work', join(dir, 'work'), '--quantize']);
  });

  it('trains, exports and verifies parity', () => {
    expect(run.status, run.output).toBe(0);
    expect(run.output).toMatch(/split \(chest X-rays per class; negatives per kind\):/);
    expect(run.output).toMatch(/6 images carry a partial label/);
    // Per class: the largest source stays in training, hospital-a goes to the unseen test set, hospital-b to validation.
    for (const name of CLASSES) expect(run.output).toContain(`${name}: test: hospital-a (6), validation: hospital-b (4)`);
    expect(run.output).toMatch(/unseen_test\s+18 /);
    expect(run.output).toMatch(/unseen_val\s+12 /);
    expect(run.output).toMatch(/parity: onnxruntime \(Python\) vs PyTorch/);
    expect(run.output).toMatch(/parity: onnxruntime-node through the Worker's Classifier/);
  });

  it('writes opset >= 17 with the image input, the three outputs, a dynamic batch and the metadata contract', () => {
    const python = ensurePythonEnv(() => undefined);
    const inspect = spawnSync(python, ['-c', `
import json, sys, onnx
m = onnx.load(sys.argv[1])
dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
print(json.dumps({
  "opset": max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
  "inputs": {i.name: dims(i) for i in m.graph.input},
  "outputs": {o.name: dims(o) for o in m.graph.output},
  "metadata": {p.key: p.value for p in m.metadata_props},
  "ops": sorted({n.op_type for n in m.graph.node}),
}))`, out], { encoding: 'utf8' });
    expect(inspect.status, inspect.stderr).toBe(0);
    const model = JSON.parse(inspect.stdout);
    expect(model.opset).toBeGreaterThanOrEqual(17);
    expect(model.inputs).toEqual({ image: ['batch', 1, 256, 256] });
    expect(Object.keys(model.outputs)).toEqual(['probabilities', 'logits', 'features', 'gate_probabilities', 'ood_distance']);
    expect(model.outputs.gate_probabilities).toEqual(['batch', 6]); // the accepted kind and five refused ones
    expect(model.outputs.ood_distance).toEqual(['batch']);
    expect(model.outputs.probabilities).toEqual(['batch', 3]);
    expect(model.outputs.logits).toEqual(['batch', 3]);
    expect(model.outputs.features.length).toBe(4);
    const meta = model.metadata;
    expect(JSON.parse(meta.classes)).toEqual(CLASSES);
    for (const key of ['model_name', 'model_version', 'input_size', 'preprocessing', 'temperature', 'metrics', 'training']) {
      expect(meta[key], key).toBeTruthy();
    }
    expect(meta.input_size).toBe('256');
    // onnxruntime's extended rewrites are in the file (Conv fused with its activation), then ours (the first
    // convolution reads the one-channel input: no Expand), and the metadata says so.
    expect(JSON.parse(meta.graph_optimization)).toEqual({ level: 'extended', onnxruntime: ortNode.env.versions.common, rewrites: ['grayscale_stem'] });
    expect(model.ops).toContain('FusedConv');
    expect(model.ops).not.toContain('Expand');
    expect(model.ops).not.toContain('HardSwish');
    expect(meta.preprocessing).toBe('cxr-luma-dct-stretch-tent-v2');
    const metrics = JSON.parse(meta.metrics);
    expect(Object.keys(metrics.per_class)).toEqual(CLASSES);
    const training = JSON.parse(meta.training);
    expect(training).toMatchObject({ architecture: 'mobilenet_v3_small', epochs: 1, seed: 42, device: 'cpu' });
    expect(training.data).toMatchObject({ images: 85, decoded: 84, skipped: 1, group_by: 'unit', partial_labels: 6 });
    expect(training.data.negatives).toMatchObject({ images: 56, decoded: 56 }); // 2 not-cxr kinds x 6, 11 generated families x 4
    expect(training.holdout.test).toEqual(CLASSES.map((c) => `hospital-a :: ${c}`));
    expect(training.holdout.val_sharing_training).toEqual([]); // not --final
    // The recorded command reproduces the model: where it was written (--out, --work) is left out.
    expect(training.command).toMatch(/^npm run export -- --data \S+ --manifest \S+ --data \S+ --manifest \S+ --not-cxr \S+ --negatives 4 --holdout-min 4 --pretrained \S+ --recipe adamw --epochs 1 --batch-size 16 --device cpu --quantize$/);
    // What the Worker needs to refuse and to answer with prediction sets.
    const assessment = JSON.parse(meta.assessment);
    expect(assessment.gate.kinds[0]).toBe('frontal_chest_xray');
    expect(new Set(assessment.gate.kinds)).toEqual(new Set(['frontal_chest_xray', 'lateral_chest_xray', 'photo_document_chart', 'blank_or_synthetic', 'other_radiograph', 'rotated_or_inverted_chest_xray']));
    expect(assessment.gate.descriptions.lateral_chest_xray).toMatch(/lateral chest view/);
    expect(assessment.gate.threshold).toBeGreaterThan(0);
    expect(assessment.gate.threshold_quantile).toBe(0.003);
    expect(assessment.gate.threshold_max).toBe(0.95);
    // The threshold is the recorded quantile within [0.05, 0.95].
    expect(assessment.gate.threshold).toBeCloseTo(Math.min(0.95, Math.max(0.05, assessment.gate.threshold_quantile_value)), 6);
    expect(assessment.ood.refuse_above).toBeGreaterThanOrEqual(assessment.ood.flag_above);
    // Two scaled parts, each divided by its own 0.99 quantile on the same validation chest X-rays: the larger of
    // the two cannot have a 0.99 quantile below 1.
    expect(assessment.ood.parts.map((p: { features: string }) => p.features)).toEqual(['average-pooled last features', "average-pooled feature maps before the backbone's last layer"]);
    for (const part of assessment.ood.parts) expect(part.scale).toBeGreaterThan(0);
    expect(assessment.ood.flag_quantile).toBe(0.99);
    expect(assessment.ood.flag_above).toBeGreaterThanOrEqual(0.9999);
    expect(Object.keys(assessment.conformal.min_probability)).toEqual(CLASSES);
    expect(assessment.conformal.coverage).toBe(0.95);
    // Operating points, chosen on the validation images and reported on the test split.
    expect(Object.keys(assessment.operating_points.thresholds).sort()).toEqual(['balanced', 'screening']);
    for (const point of Object.values(assessment.operating_points.thresholds) as Record<string, number>[]) expect(Object.keys(point)).toEqual(CLASSES);
    expect(assessment.operating_points.default).toBe('balanced');
    expect(Object.keys(JSON.parse(meta.metrics).operating_points.test.screening)).toEqual(CLASSES);
  });

  it('writes the model card, plots and an int8 variant next to the model', () => {
    const card = JSON.parse(readFileSync(join(dir, 'out', 'model.card.json'), 'utf8'));
    expect(card.parity.onnxruntime_python_max_abs_diff).toBeLessThan(1e-4);
    expect(card.parity.onnxruntime_node_max_abs_diff).toBeLessThan(1e-4);
    expect(card.graph_optimization).toMatchObject({ level: 'extended' });
    expect(card.graph_optimization.nodes_after).toBeLessThan(card.graph_optimization.nodes_before);
    expect(card.graph_optimization.max_rel_diff).toBeLessThan(1e-4);
    expect(readFileSync(join(dir, 'out', 'model.card.md'), 'utf8')).toMatch(/- Graph: onnxruntime \S+ `extended` optimisations saved at export/);
    expect(card.metrics.ece_after_temperature).toBeTypeOf('number');
    expect(card.metrics.confusion_matrix.counts.length).toBe(3);
    expect(readFileSync(join(dir, 'out', 'model.card.md'), 'utf8')).toMatch(/not a medical device/);
    expect(readFileSync(join(dir, 'out', 'model.card.md'), 'utf8')).toMatch(/## Operating points[\s\S]*\| screening \|/);
    for (const png of ['model.curves.png', 'model.confusion.png']) {
      expect([...readFileSync(join(dir, 'out', png)).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    }
    expect(existsSync(join(dir, 'out', 'model.int8.onnx'))).toBe(true);
    expect(card.quantized.size_bytes).toBeLessThan(card.size_bytes);
  });

  it("loads in the Worker's code and classifies a JPEG, also in a batch of two", async () => {
    const classifier = await loadNodeClassifier(out);
    expect(classifier.info.classes).toEqual(CLASSES);
    const jpeg = encodeJpeg(200, 180, syntheticXray(200, 2, 3, seededRandom(1)));
    const { probabilities } = await classifier.classify(preprocessJpeg(jpeg, 256, { maxPixels: 1e7 }).pixels);
    expect(probabilities.length).toBe(3);
    expect(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);

    // A generated negative (a flat grey image) is refused by the exported gate or distance, as the Worker would.
    const blank = await classifier.classify(preprocessJpeg(encodeJpeg(300, 240, () => 128), 256, { maxPixels: 1e7 }).pixels);
    const verdict = assess(classifier.info.assessment!, classifier.info.classes, {
      probabilities: blank.probabilities, gateProbabilities: blank.gateProbabilities!, oodDistance: blank.oodDistance!,
    });
    expect(verdict.refused).toBe(true);

    const session = await ortNode.InferenceSession.create(out);
    const batch = new ortNode.Tensor('float32', new Float32Array(2 * 256 * 256).fill(100), [2, 1, 256, 256]);
    const result = await session.run({ image: batch });
    expect(result.probabilities.dims).toEqual([2, 3]);
    expect(result.features.dims[0]).toBe(2);
  });

  it('refuses a pretrained file whose keys do not fit the architecture, clearly', () => {
    const python = ensurePythonEnv(() => undefined);
    const bad = join(dir, 'bad.pth');
    spawnSync(python, ['-c', 'import sys, torch; torch.save({"fc.weight": torch.zeros(2, 2)}, sys.argv[1])', bad]);
    const result = runExport(['--data', data.root, '--manifest', data.manifest, '--epochs', '1', '--device', 'cpu',
      '--pretrained', bad, '--out', join(dir, 'bad', 'model.onnx'), '--work', join(dir, 'work')]);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/--pretrained .*bad\.pth does not fit mobilenet_v3_small/);
  });

  it('--plan writes the job and stops before training; --split-seed fixes the data while --seed varies the training', () => {
    const plan = (name: string, seeds: string[]) => {
      const work = join(dir, `plan-${name}`);
      const result = runExport(['--data', data.root, '--manifest', data.manifest, '--data', more.root, '--manifest', more.manifest,
        '--not-cxr', notCxr, '--negatives', '4', '--holdout-min', '4', '--device', 'cpu', ...seeds, '--plan',
        '--out', join(work, 'model.onnx'), '--work', work]);
      expect(result.status, result.output).toBe(0);
      expect(result.output).toContain('--plan stops before training');
      expect(existsSync(join(work, 'model.onnx'))).toBe(false);
      return JSON.parse(readFileSync(join(work, 'job.json'), 'utf8'));
    };
    const first = plan('a', ['--seed', '1', '--split-seed', '5']);
    const second = plan('b', ['--seed', '2', '--split-seed', '5']);
    expect([first.seed, first.split_seed, second.seed, second.split_seed]).toEqual([1, 5, 2, 5]);
    expect(second.split).toEqual(first.split);
    expect(second.rows).toEqual(first.rows);
    expect(first.model_version).toMatch(/-s1-split5$/);
    // Without --split-seed, --seed draws the split too (the behaviour of every run before the option).
    const third = plan('c', ['--seed', '1']);
    const fourth = plan('d', ['--seed', '2']);
    expect(third.split_seed).toBe(1);
    expect(fourth.split.train).not.toEqual(third.split.train);
    const bad = runExport(['--data', data.root, '--split-seed', '1.5', '--plan']);
    expect(bad.status).toBe(2);
    expect(bad.output).toMatch(/--split-seed must be an integer/);
  });

  it('explains a missing data folder and an empty class folder', () => {
    const missing = runExport(['--data', join(dir, 'nowhere')]);
    expect(missing.status).toBe(2);
    expect(missing.output).toMatch(/data folder not found/);
    const empty = join(dir, 'empty');
    for (const name of ['A', 'B']) mkdirSync(join(empty, name), { recursive: true });
    writeFileSync(join(empty, 'A', 'x.jpg'), encodeJpeg(32, 32, () => 9));
    const result = runExport(['--data', empty]);
    expect(result.status).toBe(2);
    expect(result.output).toMatch(/class folder "B" has no images/);
  });

  it('uses the interpreter named by CXR_EXPORT_PYTHON as it is, and says clearly when it lacks the packages', () => {
    const venvPython = ensurePythonEnv(() => undefined);
    const saved = process.env.CXR_EXPORT_PYTHON;
    try {
      process.env.CXR_EXPORT_PYTHON = venvPython;
      const lines: string[] = [];
      expect(ensurePythonEnv((line) => lines.push(line))).toBe(venvPython);
      expect(lines.join('\n')).toMatch(/as it is \(CXR_EXPORT_PYTHON\): torch \S+, torchvision \S+, onnx \S+, onnxruntime \S+/);
      process.env.CXR_EXPORT_PYTHON = '/usr/bin/false';
      expect(() => ensurePythonEnv(() => undefined)).toThrow(/CXR_EXPORT_PYTHON=\/usr\/bin\/false cannot import the training packages/);
    } finally {
      if (saved === undefined) delete process.env.CXR_EXPORT_PYTHON;
      else process.env.CXR_EXPORT_PYTHON = saved;
    }
  });
});
