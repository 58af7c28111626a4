/**
 * Whether an image may be classified at all, and how sure the answer is: the "not a chest X-ray" gate,
 * the distance to the training chest X-rays, and the conformal prediction set. Everything (kinds,
 * thresholds, descriptions, coverage) comes from the model's `assessment` metadata, written by
 * scripts/export; this module only applies it (contract: README "API", /v1/classify).
 */

/** The `assessment` metadata key, as validated by {@link parseAssessment}. */
import { parseOperatingPoints, type OperatingPoints } from './operating-points';
export interface AssessmentMetadata {
  gate: {
    /** Graph output with the gate's softmax, one column per kind. */
    output: string;
    /** Kind names in output column order. */
    kinds: string[];
    /** The one kind that is analysed. */
    accept: string;
    /** Refuse when the accepted kind's probability is below this. */
    threshold: number;
    /** Quantile of validation chest X-rays' accepted-kind probability the threshold comes from (information only). */
    thresholdQuantile: number | null;
    /** The most the threshold may be, whatever the quantile (information only); null for models that name none. */
    thresholdMax: number | null;
    /** Human text per non-accepted kind, used as the refusal's detail. */
    descriptions: Record<string, string>;
  };
  ood: {
    /** Graph output with the distance to the training chest X-rays, one per image. */
    output: string;
    /** What the distance measures, in the model's words (information only); null for models that say nothing. */
    description: string | null;
    /** Above this: accepted, but flagged as unlike the training data. */
    flagAbove: number;
    /** Above this: refused as unlike any chest X-ray. */
    refuseAbove: number;
    /** Quantiles of validation chest X-rays the two thresholds come from (information only). */
    flagQuantile: number | null;
    refuseQuantile: number | null;
  };
  conformal: {
    /** Target probability that the prediction set holds the true class. */
    coverage: number;
    method: string;
    /** Class name -> the probability a class needs to enter the set. */
    minProbability: Record<string, number>;
  };
  /** Decision thresholds by named operating point; null for a model exported before they existed. */
  operatingPoints: OperatingPoints | null;
}

/** What the Worker answers instead of a classification. */
export interface Refusal {
  refused: true;
  /** "gate": the gate does not see a frontal chest X-ray; "distance": unlike any chest X-ray seen. */
  reason: 'gate' | 'distance';
  /** The gate's most probable non-accepted kind when the gate refused; null when only the distance did. */
  kind: string | null;
  /** Human-readable explanation. */
  detail: string;
  chestXrayScore: number;
  oodDistance: number;
}

/** The extra members of an accepted answer. */
export interface Acceptance {
  refused: false;
  assessment: { chestXrayScore: number; gateThreshold: number; oodDistance: number; oodThreshold: number; unlikeTrainingData: boolean };
  predictionSet: { coverage: number; classes: string[] };
  abstain: boolean;
  abstainReasons: string[];
}

/** The gate and distance outputs of one inference. */
export interface AssessmentInputs {
  /** The classifier's calibrated probabilities, in class order. */
  probabilities: ArrayLike<number>;
  /** The gate's softmax, in `gate.kinds` order. */
  gateProbabilities: ArrayLike<number>;
  oodDistance: number;
}

/**
 * Validates the `assessment` metadata JSON against the model's classes.
 * @throws Error naming the first broken part of the contract
 */
export function parseAssessment(text: string, classes: readonly string[]): AssessmentMetadata {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('model metadata "assessment" is not JSON');
  }
  const fail = (what: string): never => {
    throw new Error(`model metadata "assessment": ${what}`);
  };
  const { gate, ood, conformal, operating_points } = (isObject(raw) ? raw : fail('not an object')) as Record<string, unknown>;
  if (!isObject(gate)) fail('"gate" missing');
  if (!isObject(ood)) fail('"ood" missing');
  if (!isObject(conformal)) fail('"conformal" missing');
  const g = gate as Record<string, unknown>;
  const o = ood as Record<string, unknown>;
  const k = conformal as Record<string, unknown>;

  const kinds = g.kinds;
  if (!Array.isArray(kinds) || kinds.length < 2 || !kinds.every((x) => typeof x === 'string') || new Set(kinds).size !== kinds.length) {
    fail('"gate.kinds" must be at least two distinct names');
  }
  const kindList = kinds as string[];
  if (typeof g.output !== 'string' || !g.output) fail('"gate.output" must name a graph output');
  if (typeof g.accept !== 'string' || !kindList.includes(g.accept)) fail('"gate.accept" must be one of "gate.kinds"');
  if (!isProbability(g.threshold)) fail('"gate.threshold" must be a number in [0, 1]');
  if (!isObject(g.descriptions)) fail('"gate.descriptions" missing');
  const descriptions = g.descriptions as Record<string, unknown>;
  for (const kind of kindList) {
    // Every refusal's detail is one of these texts, so each kind the gate can refuse needs one.
    if (kind !== g.accept && (typeof descriptions[kind] !== 'string' || !descriptions[kind])) fail(`"gate.descriptions" lacks "${kind}"`);
  }

  if (typeof o.output !== 'string' || !o.output) fail('"ood.output" must name a graph output');
  if (!isNonNegative(o.flag_above) || !isNonNegative(o.refuse_above) || (o.refuse_above as number) < (o.flag_above as number)) {
    fail('"ood.flag_above" and "ood.refuse_above" must be numbers with flag_above <= refuse_above');
  }

  if (typeof k.coverage !== 'number' || !(k.coverage > 0 && k.coverage < 1)) fail('"conformal.coverage" must be in (0, 1)');
  if (!isObject(k.min_probability)) fail('"conformal.min_probability" missing');
  const minProbability = k.min_probability as Record<string, unknown>;
  for (const name of classes) if (!isProbability(minProbability[name])) fail(`"conformal.min_probability" lacks a probability for "${name}"`);
  for (const name of Object.keys(minProbability)) if (!classes.includes(name)) fail(`"conformal.min_probability" names unknown class "${name}"`);

  return {
    gate: {
      output: g.output as string,
      kinds: kindList,
      accept: g.accept as string,
      threshold: g.threshold as number,
      thresholdQuantile: typeof g.threshold_quantile === 'number' ? g.threshold_quantile : null,
      thresholdMax: typeof g.threshold_max === 'number' ? g.threshold_max : null,
      descriptions: Object.fromEntries(kindList.filter((x) => x !== g.accept).map((x) => [x, descriptions[x] as string])),
    },
    ood: {
      output: o.output as string,
      description: typeof o.description === 'string' ? o.description : null,
      flagAbove: o.flag_above as number,
      refuseAbove: o.refuse_above as number,
      flagQuantile: typeof o.flag_quantile === 'number' ? o.flag_quantile : null,
      refuseQuantile: typeof o.refuse_quantile === 'number' ? o.refuse_quantile : null,
    },
    conformal: {
      coverage: k.coverage as number,
      method: typeof k.method === 'string' ? k.method : '',
      minProbability: Object.fromEntries(classes.map((name) => [name, minProbability[name] as number])),
    },
    operatingPoints: parseOperatingPoints(operating_points, classes),
  };
}

/**
 * Decides, for one image, whether to refuse it and otherwise how sure the answer is. Pure.
 * @param classes the model's class names, in probability order
 */
export function assess(meta: AssessmentMetadata, classes: readonly string[], inputs: AssessmentInputs): Refusal | Acceptance {
  const { gate, ood, conformal } = meta;
  const { probabilities, gateProbabilities, oodDistance } = inputs;
  if (gateProbabilities.length !== gate.kinds.length) {
    throw new Error(`gate output has ${gateProbabilities.length} kinds, metadata names ${gate.kinds.length}`);
  }
  const score = gateProbabilities[gate.kinds.indexOf(gate.accept)];

  // Written as !(x >= t) so that a NaN score or distance refuses rather than slips through.
  const gateRefuses = !(score >= gate.threshold);
  const distanceRefuses = !(oodDistance <= ood.refuseAbove);
  if (gateRefuses || distanceRefuses) {
    let kind: string | null = null;
    if (gateRefuses) {
      for (let i = 0; i < gate.kinds.length; i++) {
        if (gate.kinds[i] === gate.accept) continue;
        if (kind === null || gateProbabilities[i] > gateProbabilities[gate.kinds.indexOf(kind)]) kind = gate.kinds[i];
      }
    }
    return {
      refused: true,
      reason: gateRefuses ? 'gate' : 'distance',
      kind,
      detail: kind
        ? `This image was not analysed: it looks like ${gate.descriptions[kind]}.`
        : 'This image was not analysed: it is unlike any chest X-ray the model was trained on. Send a frontal chest radiograph.',
      chestXrayScore: score,
      oodDistance,
    };
  }

  const unlikeTrainingData = oodDistance > ood.flagAbove;
  const set = classes.filter((name, i) => probabilities[i] >= conformal.minProbability[name]);
  // Class-conditional thresholds can leave every class out; the contract then falls back to the most probable one.
  if (set.length === 0) set.push(classes[argmax(probabilities)]);

  const abstainReasons: string[] = [];
  const percent = `${formatPercent(conformal.coverage)} prediction set: ${set.join(', ')}`;
  if (set.length > 1) abstainReasons.push(`The model cannot tell ${listNames(set)} apart here (${percent}).`);
  if (unlikeTrainingData) abstainReasons.push('This image is unlike the training data: treat the result with extra caution.');
  return {
    refused: false,
    assessment: { chestXrayScore: score, gateThreshold: gate.threshold, oodDistance, oodThreshold: ood.flagAbove, unlikeTrainingData },
    predictionSet: { coverage: conformal.coverage, classes: set },
    abstain: abstainReasons.length > 0,
    abstainReasons,
  };
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** "A and B", "A, B and C". */
function listNames(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** 0.95 -> "95 %", 0.975 -> "97.5 %". */
function formatPercent(p: number): string {
  return `${Number((100 * p).toFixed(1))} %`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isProbability(v: unknown): v is number {
  return typeof v === 'number' && v >= 0 && v <= 1;
}

function isNonNegative(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}
