/**
 * Named operating points: per-class decision thresholds chosen by `npm run export` on the validation images
 * (scripts/export/python/operating_points.py) and carried in the model's assessment metadata. A class is
 * positive at an operating point when its calibrated probability is at least its threshold.
 */

export interface OperatingPoints {
  /** The point used when a request names none. */
  default: string;
  /** The validation sensitivity the screening point guarantees for the screened classes. */
  targetSensitivity: number;
  screened: string[];
  /** Operating point -> class -> threshold. */
  thresholds: Record<string, Record<string, number>>;
  chosenOn: string;
}

export interface Decision {
  operatingPoint: string;
  thresholds: Record<string, number>;
  /** Class -> whether it is positive at this operating point. */
  positive: Record<string, boolean>;
  /** The positive classes, most probable first. */
  positives: string[];
}

const isThreshold = (x: unknown): x is number => typeof x === 'number' && x >= 0 && x <= 1;

/**
 * Reads `assessment.operating_points`; undefined when the model has none (exported before they existed).
 * @throws Error naming what is malformed
 */
export function parseOperatingPoints(raw: unknown, classes: readonly string[]): OperatingPoints | null {
  if (raw === undefined || raw === null) return null;
  const fail = (what: string): never => {
    throw new Error(`model metadata "assessment.operating_points": ${what}`);
  };
  if (typeof raw !== 'object') fail('not an object');
  const o = raw as Record<string, unknown>;
  if (typeof o.thresholds !== 'object' || o.thresholds === null) fail('"thresholds" missing');
  const thresholds = o.thresholds as Record<string, Record<string, unknown>>;
  const names = Object.keys(thresholds);
  if (names.length === 0) fail('no operating point');
  for (const name of names) {
    for (const c of classes) if (!isThreshold(thresholds[name]?.[c])) fail(`"${name}" lacks a threshold in [0, 1] for "${c}"`);
  }
  if (typeof o.default !== 'string' || !names.includes(o.default)) fail('"default" must name one of the operating points');
  return {
    default: o.default as string,
    targetSensitivity: typeof o.target_sensitivity === 'number' ? o.target_sensitivity : NaN,
    screened: Array.isArray(o.screened) ? o.screened.filter((x): x is string => typeof x === 'string') : [],
    thresholds: Object.fromEntries(names.map((n) => [n, Object.fromEntries(classes.map((c) => [c, thresholds[n][c] as number]))])),
    chosenOn: typeof o.chosen_on === 'string' ? o.chosen_on : '',
  };
}

/** The decision for one image's probabilities at the operating point `name` (one the model has). */
export function decide(points: OperatingPoints, name: string, classes: readonly string[], probabilities: ArrayLike<number>): Decision {
  const thresholds = points.thresholds[name];
  const positive = Object.fromEntries(classes.map((c, i) => [c, probabilities[i] >= thresholds[c]]));
  const positives = classes
    .map((c, i) => [c, probabilities[i]] as const)
    .filter(([c]) => positive[c])
    .sort((a, b) => b[1] - a[1])
    .map(([c]) => c);
  return { operatingPoint: name, thresholds, positive, positives };
}
