/**
 * Runs in Node before the workerd tests: builds the JPEG fixtures and the generated non-X-rays, reads
 * one image of each kind in ../shared/data/not-cxr, and computes from real X-rays in ../shared the
 * onnxruntime-node reference probabilities for the parity test. All of it reaches the tests through
 * vitest's provide/inject (workerd has no file system); nothing from ../shared is written anywhere.
 */
import type { TestProject } from 'vitest/node';
import { preprocessJpeg } from '../../src/preprocess';
import { gradCamReference } from '../../scripts/export/gradcam-reference';
import { loadNodeClassifier } from '../../scripts/export/verify';
import { assess } from '../../src/inference/assessment';
import type { Classifier } from '../../src/inference/classifier';
import { buildFixtures, realXrays } from '../helpers/fixtures';
import { replayRecipe, type FuzzRecipe } from '../helpers/fuzz';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedNegatives, wrongWayChestXrays } from './negatives';
import { xrayVariants } from './xray-variants';
import { dicomVariants, type DicomFixtures } from './dicom-variants';
import { haveDicomTools } from '../helpers/dicom';
import { IN_CI } from '../helpers/ci';

export interface RealXray {
  file: string;
  jpeg: string;
  /** onnxruntime-node's probabilities for the same preprocessed tensor. */
  expected: number[];
  /** Whether onnxruntime-node's outputs, through the same assess(), refuse it (always false without a gate). */
  refused: boolean;
  /** onnxruntime-node's gate score for the accepted kind and distance; null without a gate. */
  chestXrayScore: number | null;
  oodDistance: number | null;
  /** PyTorch autograd Grad-CAM of the predicted class on the same tensor. */
  gradcam: { classIndex: number; map: number[][] };
}

declare module 'vitest' {
  export interface ProvidedContext {
    fixtures: Record<string, string>;
    realXrays: RealXray[] | null;
    /** Every case `npm run fuzz` ever failed on (test/fuzz-regressions/), rebuilt where it was saved as a recipe. */
    fuzzRegressions: { name: string; jpeg: string }[];
    /** Generated images that are not chest X-rays (black, grey, gradient, noise, a document), by name. */
    negatives: Record<string, string>;
    /**
     * The first real X-ray of each class turned upside down, a quarter turn, inverted and framed on a page, and
     * tiled 2x2 with three others (test/worker/negatives.ts `wrongWayChestXrays`), by name; null without ../shared.
     */
    wrongWayXrays: Record<string, string> | null;
    /** One image of each kind in ../shared/data/not-cxr (MANIFEST.csv `kind`); null where it is missing. */
    notChestXrays: { file: string; kind: string; jpeg: string }[] | null;
    /**
     * One real X-ray in the fixtures' JPEG flavours and sizes (test/worker/xray-variants.ts), for the tests
     * that need an accepted image; null without ../shared.
     */
    xrayFixtures: Record<string, string> | null;
    /** The accepted grey X-ray of xrayFixtures as DICOM in every layout, refusals and privacy probes (dicom-variants.ts). */
    dicomFixtures: DicomFixtures | null;
  }
}

/** Real X-rays read per class (in class order), for parity, Grad-CAM and the wrong-way films. */
const REAL_PER_CLASS = 12;

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export default async function setup(project: TestProject): Promise<void> {
  const fixtures = buildFixtures();
  project.provide('fixtures', Object.fromEntries(Object.entries(fixtures).map(([k, v]) => [k, base64(v)])));

  project.provide('fuzzRegressions', loadFuzzRegressions(fixtures));
  project.provide('negatives', Object.fromEntries(Object.entries(generatedNegatives()).map(([k, v]) => [k, base64(v)])));
  project.provide('notChestXrays', loadNotChestXrays());

  const real = realXrays(REAL_PER_CLASS);
  if (!real) {
    if (IN_CI) throw new Error('CI must have ../shared/data/cxr5 (or CXR5_DIR) for the real X-ray tests');
    console.warn('real X-ray tests will be skipped: ../shared/data/cxr5 not found (set CXR5_DIR)');
    project.provide('realXrays', null);
    project.provide('wrongWayXrays', null);
    project.provide('xrayFixtures', null);
    project.provide('dicomFixtures', null);
    return;
  }
  const modelPath = new URL('../../model.onnx', import.meta.url).pathname;
  const classifier = await loadNodeClassifier(modelPath);
  const references = await gradCamReference(modelPath, real.map((x) => x.bytes));
  const out: RealXray[] = [];
  for (const [i, { file, bytes }] of real.entries()) {
    const verdict = await referenceVerdict(classifier, bytes);
    out.push({ file, jpeg: base64(bytes), ...verdict, gradcam: references[i] });
  }
  project.provide('realXrays', out);
  project.provide('wrongWayXrays', wrongWayXrayImages(real));
  const accepted = await acceptedVariants(classifier, real);
  project.provide('xrayFixtures', accepted);
  if (haveDicomTools()) {
    project.provide('dicomFixtures', dicomVariants(Buffer.from(accepted['gray-baseline'], 'base64')));
  } else {
    if (IN_CI) throw new Error('CI needs dcmtk and gdcm for the DICOM fixtures (apt-get install dcmtk libgdcm-tools)');
    console.warn('DICOM Worker tests will be skipped: dcmtk or gdcm is not installed');
    project.provide('dicomFixtures', null);
  }
}

/** The first film of each class as 512x512 luminance, sent the wrong way. */
function wrongWayXrayImages(real: { file: string; bytes: Uint8Array }[]): Record<string, string> {
  const size = 512;
  const films = real
    .filter((_, i) => i % REAL_PER_CLASS === 0)
    .map(({ file, bytes }) => ({ name: file.split('/')[0], pixels: preprocessJpeg(bytes, size, { maxPixels: 100_000_000 }).pixels }));
  return Object.fromEntries(Object.entries(wrongWayChestXrays(films, size)).map(([k, v]) => [k, base64(v)]));
}

/** onnxruntime-node's probabilities and, for a gated model, its verdict through the Worker's assess(). */
async function referenceVerdict(classifier: Classifier, jpeg: Uint8Array) {
  const { info } = classifier;
  const image = preprocessJpeg(jpeg, info.inputSize, { maxPixels: 100_000_000 });
  const result = await classifier.classify(image.pixels);
  const expected = [...result.probabilities];
  if (!info.assessment) return { expected, refused: false, chestXrayScore: null, oodDistance: null };
  const verdict = assess(info.assessment, info.classes, {
    probabilities: result.probabilities,
    gateProbabilities: result.gateProbabilities!,
    oodDistance: result.oodDistance!,
  });
  const chestXrayScore = result.gateProbabilities![info.assessment.gate.kinds.indexOf(info.assessment.gate.accept)];
  return { expected, refused: verdict.refused, chestXrayScore, oodDistance: result.oodDistance! };
}

/**
 * The flavours of the first real X-ray that the reference accepts in every flavour. Sources refused in some
 * flavour are reported, not hidden: each is a real chest X-ray the gate turned away.
 */
async function acceptedVariants(classifier: Classifier, real: { file: string; bytes: Uint8Array }[]): Promise<Record<string, string>> {
  for (const { file, bytes } of real) {
    const variants = await xrayVariants(bytes);
    const refused: string[] = [];
    for (const [name, jpeg] of Object.entries(variants)) if ((await referenceVerdict(classifier, jpeg)).refused) refused.push(name);
    if (refused.length === 0) return Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, base64(v)]));
    console.warn(`real X-ray ${file} is refused by the model as ${refused.join(', ')}; trying the next one for the JPEG-flavour tests`);
  }
  throw new Error('no real X-ray is accepted by the model in every JPEG flavour');
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
    if (file.endsWith('.jpg') || file.endsWith('.dcm')) out.push({ name: file, jpeg: base64(new Uint8Array(readFileSync(join(dir, file)))) });
    if (file.endsWith('.json')) {
      const bytes = replayRecipe(JSON.parse(readFileSync(join(dir, file), 'utf8')) as FuzzRecipe, lookup);
      if (bytes) out.push({ name: file, jpeg: base64(bytes) });
      else if (IN_CI) throw new Error(`fuzz regression ${file} names a source that is not here`);
    }
  }
  return out;
}

/** The first file (in manifest order) of each kind in ../shared/data/not-cxr, read in place. */
function loadNotChestXrays(): { file: string; kind: string; jpeg: string }[] | null {
  const root = process.env.NOT_CXR_DIR ?? new URL('../../../shared/data/not-cxr/', import.meta.url).pathname;
  const manifest = join(root, 'MANIFEST.csv');
  if (!existsSync(manifest)) {
    if (IN_CI) throw new Error('CI must have ../shared/data/not-cxr (or NOT_CXR_DIR) for the gate tests');
    console.warn('gate tests on real non-X-rays will be skipped: ../shared/data/not-cxr not found (set NOT_CXR_DIR)');
    return null;
  }
  const [header, ...rows] = readFileSync(manifest, 'utf8').trim().split(/\r?\n/);
  const columns = header.split(',');
  const fileAt = columns.indexOf('file');
  const kindAt = columns.indexOf('kind');
  const picked = new Map<string, string>();
  for (const row of rows) {
    // file and kind come before any quoted column, so a plain split reaches them intact.
    const cells = row.split(',');
    if (!picked.has(cells[kindAt])) picked.set(cells[kindAt], cells[fileAt]);
  }
  return [...picked].map(([kind, file]) => ({ file, kind, jpeg: base64(new Uint8Array(readFileSync(join(root, file)))) }));
}
