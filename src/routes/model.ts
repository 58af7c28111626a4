import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { problem } from '../http/problem';
import type { AssessmentMetadata } from '../inference/assessment';
import { getModel, type LoadedModel } from '../inference/model';
import type { ModelCardBody } from '../api/schemas';

/** The loaded model, or a 503 model_unavailable problem (the next request retries the load). */
export async function requireModel(): Promise<LoadedModel> {
  try {
    return await getModel();
  } catch (error) {
    throw problem('model_unavailable', `The model could not be loaded: ${error instanceof Error ? error.message : 'unknown error'}`, {
      'retry-after': '5',
    });
  }
}

/** `GET /v1/model`: the model card, straight from the model's metadata. */
export const model = new Hono<AppEnv>().get('/', async (c) => {
  const { info } = (await requireModel()).classifier;
  return c.json<ModelCardBody>({
    name: info.name,
    version: info.version,
    sha256: info.sha256,
    classes: info.classes,
    input: { name: 'image', shape: [1, 1, info.inputSize, info.inputSize], preprocessing: info.preprocessing },
    calibration: { method: 'temperature scaling', temperature: info.temperature },
    metrics: info.metrics,
    training: info.training,
    intendedUse: info.intendedUse,
    limitations: info.limitations,
    assessment: assessmentCard(info.assessment),
  });
});

/**
 * What integrators need to interpret refusals and prediction sets: the gate's kinds and threshold, the
 * distance thresholds, and the conformal coverage and per-class thresholds. Graph output names stay internal.
 * Null for a model without an assessment (it refuses nothing and answers without prediction sets).
 */
function assessmentCard(meta: AssessmentMetadata | null) {
  if (!meta) return null;
  const { gate, ood, conformal } = meta;
  return {
    gate: { kinds: gate.kinds, accept: gate.accept, threshold: gate.threshold, thresholdQuantile: gate.thresholdQuantile, thresholdMax: gate.thresholdMax, descriptions: gate.descriptions },
    ood: { description: ood.description, flagAbove: ood.flagAbove, refuseAbove: ood.refuseAbove, flagQuantile: ood.flagQuantile, refuseQuantile: ood.refuseQuantile },
    conformal,
    operatingPoints: meta.operatingPoints,
  };
}

/** `GET /healthz` (the isolate answers) and `GET /readyz` (the model is loaded and usable). */
export const health = new Hono<AppEnv>()
  .get('/healthz', (c) => c.json({ status: 'ok' }))
  .get('/readyz', async (c) => {
    const { info } = (await requireModel()).classifier;
    return c.json({ status: 'ready', model: { name: info.name, version: info.version } });
  });
