/**
 * The assessment contract without a model: src/inference/assessment.ts (refusal, flag, prediction set)
 * on hand-made metadata, its validation, readModelInfo with and without the `assessment` key, and the
 * Classifier fetching the outputs the metadata names.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { assess, parseAssessment, type Acceptance, type AssessmentMetadata, type Refusal } from '../../src/inference/assessment';
import { Classifier } from '../../src/inference/classifier';
import { onlineGraphOptimization, readModelInfo } from '../../src/inference/model-info';
import { PREPROCESSING_ID } from '../../src/preprocess';

const CLASSES = ['Alpha', 'Beta', 'Gamma'];
// Deliberately not the production names or order: the module must take everything from the metadata.
const KINDS = ['document', 'chest_pa', 'lateral'];

const RAW = {
  gate: {
    output: 'gate_out',
    kinds: KINDS,
    accept: 'chest_pa',
    threshold: 0.6,
    threshold_quantile: 0.003,
    threshold_max: 0.95,
    descriptions: { document: 'a scanned document', lateral: 'a lateral view: send a frontal one' },
  },
  ood: { output: 'dist_out', description: 'a test distance', flag_above: 10, refuse_above: 20, flag_quantile: 0.99, refuse_quantile: 0.998 },
  conformal: { coverage: 0.9, method: 'test', min_probability: { Alpha: 0.3, Beta: 0.2, Gamma: 0.5 } },
};
const META: AssessmentMetadata = parseAssessment(JSON.stringify(RAW), CLASSES);

const run = (probabilities: number[], gateProbabilities: number[], oodDistance: number) =>
  assess(META, CLASSES, { probabilities, gateProbabilities, oodDistance });

describe('assess: refusals', () => {
  it('refuses when the accepted kind is below the gate threshold, naming the most probable other kind', () => {
    const verdict = run([0.9, 0.05, 0.05], [0.15, 0.55, 0.3], 1) as Refusal;
    expect(verdict).toMatchObject({ refused: true, reason: 'gate', kind: 'lateral', chestXrayScore: 0.55, oodDistance: 1 });
    expect(verdict.detail).toContain('a lateral view: send a frontal one');
    // The other kind wins when it is the more probable one.
    expect(run([0.9, 0.05, 0.05], [0.7, 0.2, 0.1], 1)).toMatchObject({ refused: true, kind: 'document' });
  });

  it('names a non-accepted kind even when the accepted kind is the gate argmax but under the threshold', () => {
    expect(run([1, 0, 0], [0.25, 0.5, 0.25], 1)).toMatchObject({ refused: true, reason: 'gate', kind: 'document' });
  });

  it('refuses by distance alone above refuse_above, with kind null and the "unlike any chest X-ray" text', () => {
    const verdict = run([0.9, 0.05, 0.05], [0.01, 0.98, 0.01], 20.5) as Refusal;
    expect(verdict).toMatchObject({ refused: true, reason: 'distance', kind: null });
    expect(verdict.detail).toMatch(/unlike any chest X-ray the model was trained on.*frontal chest radiograph/);
  });

  it('prefers the gate reason when both refuse, and refuses a NaN score or distance', () => {
    expect(run([1, 0, 0], [0.9, 0.05, 0.05], 99)).toMatchObject({ refused: true, reason: 'gate', kind: 'document' });
    expect(run([1, 0, 0], [0.05, NaN, 0.05], 1)).toMatchObject({ refused: true, reason: 'gate' });
    expect(run([1, 0, 0], [0.05, 0.9, 0.05], NaN)).toMatchObject({ refused: true, reason: 'distance' });
  });

  it('accepts exactly at the thresholds (score = threshold, distance = refuse_above)', () => {
    expect(run([0.9, 0.05, 0.05], [0.2, 0.6, 0.2], 20).refused).toBe(false);
  });

  it('throws when the gate output does not have one column per kind', () => {
    expect(() => run([1, 0, 0], [0.5, 0.5], 1)).toThrow(/3/);
  });
});

describe('assess: accepted images', () => {
  it('answers a confident, typical image with a one-class set and no abstention', () => {
    const verdict = run([0.8, 0.15, 0.05], [0.05, 0.9, 0.05], 4) as Acceptance;
    expect(verdict).toEqual({
      refused: false,
      assessment: { chestXrayScore: 0.9, gateThreshold: 0.6, oodDistance: 4, oodThreshold: 10, unlikeTrainingData: false },
      predictionSet: { coverage: 0.9, classes: ['Alpha'] },
      abstain: false,
      abstainReasons: [],
    });
  });

  it('puts every class at or above its own threshold in the set, in class order, and abstains naming them', () => {
    // Gamma at 0.5 meets its 0.5; Beta at 0.2 meets its 0.2; Alpha at 0.3 meets 0.3.
    const verdict = run([0.3, 0.2, 0.5], [0, 1, 0], 0) as Acceptance;
    expect(verdict.predictionSet.classes).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(verdict.abstain).toBe(true);
    expect(verdict.abstainReasons).toEqual(['The model cannot tell Alpha, Beta and Gamma apart here (90 % prediction set: Alpha, Beta, Gamma).']);
    // Class-conditional: Alpha at 0.45 is in (>= 0.3), Gamma at 0.45 is not (< 0.5).
    const two = run([0.45, 0.1, 0.45], [0, 1, 0], 0) as Acceptance;
    expect(two.predictionSet.classes).toEqual(['Alpha']);
    expect(two.abstain).toBe(false);
  });

  it('falls back to the argmax when no class reaches its threshold', () => {
    const verdict = run([0.29, 0.19, 0.42], [0, 1, 0], 0) as Acceptance;
    expect(verdict.predictionSet.classes).toEqual(['Gamma']);
    expect(verdict.abstain).toBe(false);
  });

  it('flags an image beyond flag_above as unlike the training data and abstains, even with a one-class set', () => {
    const verdict = run([0.9, 0.05, 0.05], [0, 1, 0], 10.01) as Acceptance;
    expect(verdict.assessment.unlikeTrainingData).toBe(true);
    expect(verdict.predictionSet.classes).toEqual(['Alpha']);
    expect(verdict.abstain).toBe(true);
    expect(verdict.abstainReasons).toEqual(['This image is unlike the training data: treat the result with extra caution.']);
    expect((run([0.9, 0.05, 0.05], [0, 1, 0], 10) as Acceptance).assessment.unlikeTrainingData).toBe(false);
  });

  it('gives both reasons when the set is ambiguous and the image is atypical', () => {
    const verdict = run([0.5, 0.5, 0], [0, 1, 0], 15) as Acceptance;
    expect(verdict.abstainReasons).toHaveLength(2);
    expect(verdict.abstainReasons[0]).toMatch(/Alpha and Beta/);
  });
});

describe('parseAssessment: the metadata is validated', () => {
  const broken = (edit: (raw: any) => void) => {
    const raw = structuredClone(RAW) as any;
    edit(raw);
    return () => parseAssessment(JSON.stringify(raw), CLASSES);
  };

  it('reads the snake_case keys into the typed shape, keeping only the non-accepted descriptions', () => {
    expect(META.ood).toEqual({ output: 'dist_out', description: 'a test distance', flagAbove: 10, refuseAbove: 20, flagQuantile: 0.99, refuseQuantile: 0.998 });
    expect(Object.keys(META.gate.descriptions).sort()).toEqual(['document', 'lateral']);
    expect(META.gate.thresholdQuantile).toBe(0.003);
    expect(META.gate.thresholdMax).toBe(0.95);
    // Older models carry no quantile or bound: published as null, not as a number that was never chosen.
    const old = structuredClone(RAW) as any;
    delete old.gate.threshold_quantile;
    delete old.gate.threshold_max;
    delete old.ood.description;
    const parsedOld = parseAssessment(JSON.stringify(old), CLASSES);
    expect(parsedOld.gate).toMatchObject({ thresholdQuantile: null, thresholdMax: null });
    expect(parsedOld.ood.description).toBeNull();
    expect(META.conformal.minProbability).toEqual({ Alpha: 0.3, Beta: 0.2, Gamma: 0.5 });
  });

  it('refuses broken contracts with a message naming the part', () => {
    expect(() => parseAssessment('{not json', CLASSES)).toThrow(/not JSON/);
    expect(broken((r) => delete r.ood)).toThrow(/"ood" missing/);
    expect(broken((r) => (r.gate.accept = 'frontal'))).toThrow(/gate\.accept/);
    expect(broken((r) => delete r.gate.descriptions.lateral)).toThrow(/lacks "lateral"/);
    expect(broken((r) => (r.gate.threshold = 1.5))).toThrow(/gate\.threshold/);
    expect(broken((r) => (r.gate.kinds = ['chest_pa', 'chest_pa']))).toThrow(/gate\.kinds/);
    expect(broken((r) => (r.ood.refuse_above = 5))).toThrow(/flag_above <= refuse_above/);
    expect(broken((r) => delete r.conformal.min_probability.Beta)).toThrow(/lacks a probability for "Beta"/);
    expect(broken((r) => (r.conformal.min_probability.Delta = 0.1))).toThrow(/unknown class "Delta"/);
    expect(broken((r) => (r.conformal.coverage = 1))).toThrow(/coverage/);
  });
});

/** A ModelProto holding only metadata_props (field 14): all readModelInfo reads besides the hash. */
function onnxWithMetadata(props: Record<string, string>): Uint8Array {
  const bytes: number[] = [];
  const varint = (out: number[], n: number) => {
    for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
    out.push(n);
  };
  const field = (out: number[], number: number, payload: number[]) => {
    varint(out, number * 8 + 2);
    varint(out, payload.length);
    out.push(...payload);
  };
  for (const [key, value] of Object.entries(props)) {
    const entry: number[] = [];
    field(entry, 1, [...new TextEncoder().encode(key)]);
    field(entry, 2, [...new TextEncoder().encode(value)]);
    field(bytes, 14, entry);
  }
  return new Uint8Array(bytes);
}

const BASE_META = {
  classes: JSON.stringify(CLASSES),
  model_name: 'test',
  model_version: '1',
  input_size: '16',
  preprocessing: PREPROCESSING_ID,
  temperature: '1',
};

describe('readModelInfo and the Classifier', () => {
  it('creates the session without online graph optimisation only for the extended rewrites of the same onnxruntime', async () => {
    const level = async (value: string | undefined, runtime = '1.30.0') =>
      onlineGraphOptimization(await readModelInfo(onnxWithMetadata(value === undefined ? BASE_META : { ...BASE_META, graph_optimization: value })), runtime);
    expect(await level(undefined)).toBe('all');
    expect(await level(JSON.stringify({ level: 'extended', onnxruntime: '1.30.0' }))).toBe('disabled');
    // Another onnxruntime may rewrite differently: it optimises again (harmless on an optimised graph).
    expect(await level(JSON.stringify({ level: 'extended', onnxruntime: '1.30.0' }), '1.31.0')).toBe('all');
    // Only basic rewrites saved, or a value that cannot be read: onnxruntime still optimises at load.
    expect(await level(JSON.stringify({ level: 'basic', onnxruntime: '1.30.0' }))).toBe('all');
    expect(await level(JSON.stringify({ level: 'extended' }))).toBe('all');
    expect(await level('extended')).toBe('all');
    expect((await readModelInfo(onnxWithMetadata({ ...BASE_META, graph_optimization: '{"level": "extended", "onnxruntime": "1.30.0"}' }))).graphOptimization)
      .toEqual({ level: 'extended', onnxruntime: '1.30.0' });
  });

  it('reads a model without "assessment" as before (assessment null) and one with it validated', async () => {
    expect((await readModelInfo(onnxWithMetadata(BASE_META))).assessment).toBeNull();
    expect((await readModelInfo(onnxWithMetadata({ ...BASE_META, assessment: JSON.stringify(RAW) }))).assessment).toEqual(META);
    const bad = { ...RAW, conformal: { ...RAW.conformal, min_probability: { Alpha: 0.1 } } };
    await expect(readModelInfo(onnxWithMetadata({ ...BASE_META, assessment: JSON.stringify(bad) }))).rejects.toThrow(/Beta/);
  });

  class FakeTensor {
    constructor(readonly type: string, readonly data: Float32Array, readonly dims: readonly number[]) {}
  }
  const fakeSession = (outputNames: string[], fetched: string[][]) =>
    ({
      outputNames,
      run: async (_feeds: unknown, fetches: string[]) => {
        fetched.push(fetches);
        const out: Record<string, { data: Float32Array; dims: number[] }> = {
          probabilities: { data: new Float32Array([0.2, 0.3, 0.5]), dims: [1, 3] },
          logits: { data: new Float32Array([0, 1, 2]), dims: [1, 3] },
          gate_out: { data: new Float32Array([0.1, 0.8, 0.1]), dims: [1, 3] },
          dist_out: { data: new Float32Array([7.5]), dims: [1] },
        };
        return Object.fromEntries(fetches.map((name) => [name, out[name]]));
      },
    }) as unknown as InferenceSession;
  const Tensor = FakeTensor as unknown as new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;

  it('fetches the gate and distance outputs the metadata names, and only for a model that has them', async () => {
    const withAssessment = await readModelInfo(onnxWithMetadata({ ...BASE_META, assessment: JSON.stringify(RAW) }));
    const fetched: string[][] = [];
    const result = await new Classifier(fakeSession(['probabilities', 'logits', 'gate_out', 'dist_out'], fetched), Tensor, withAssessment).classify(new Uint8Array(256));
    expect(fetched[0]).toEqual(['probabilities', 'logits', 'gate_out', 'dist_out']);
    expect([...result.gateProbabilities!]).toEqual([0.1, 0.8, 0.1].map(Math.fround));
    expect(result.oodDistance).toBe(7.5);

    const plain = await readModelInfo(onnxWithMetadata(BASE_META));
    const fetchedPlain: string[][] = [];
    const old = await new Classifier(fakeSession(['probabilities', 'logits'], fetchedPlain), Tensor, plain).classify(new Uint8Array(256));
    expect(fetchedPlain[0]).toEqual(['probabilities', 'logits']);
    expect(old.gateProbabilities).toBeUndefined();
    expect(old.oodDistance).toBeUndefined();
  });

  it('refuses, at construction, metadata naming outputs the graph lacks', async () => {
    const info = await readModelInfo(onnxWithMetadata({ ...BASE_META, assessment: JSON.stringify(RAW) }));
    expect(() => new Classifier(fakeSession(['probabilities', 'logits', 'gate_out'], []), Tensor, info)).toThrow(/dist_out/);
  });
});
