/**
 * The shared part of /v1/classify and /v1/explain: read the upload, load the model, preprocess,
 * run it, refuse what is not a frontal chest X-ray, and shape the classification JSON.
 */
import type { Context } from 'hono';
import { readLimits, type AppEnv } from '../env';
import { problem, quoted } from '../http/problem';
import { stageTimer } from '../http/server-timing';
import { checkUploadHeaders, readImageUpload } from '../http/upload';
import { ImageError } from '../image/errors';
import { assess, type Acceptance } from '../inference/assessment';
import { decide, type OperatingPoints } from '../inference/operating-points';
import type { Classification } from '../inference/classifier';
import type { LoadedModel } from '../inference/model';
import type { ModelInfo } from '../inference/model-info';
import { preprocessImage, type PreprocessedImage } from '../preprocess';
import { requireModel } from './model';
import type { ClassifyBody } from '../api/schemas';

const IMAGE_PROBLEM = {
  invalid: 'invalid_image',
  unsupported: 'unsupported_image',
  too_large: 'image_too_large',
  not_a_chest_xray: 'not_a_chest_xray',
} as const;

export interface Analysis {
  model: LoadedModel;
  image: PreprocessedImage;
  result: Classification;
  /** The assessment of an accepted image; null for a model without one. */
  accepted: Acceptance | null;
  /** The operating point the answer's decision uses (?operatingPoint=, else the model's default); null without any. */
  operatingPoint: string | null;
}

/**
 * The operating point a request asks for (`?operatingPoint=`), else the model's default.
 * @throws problem 400 invalid_parameter for a name the model does not have
 */
function chooseOperatingPoint(requested: string | undefined, points: OperatingPoints | null): string | null {
  if (requested === undefined) return points?.default ?? null;
  const names = Object.keys(points?.thresholds ?? {});
  if (!names.includes(requested)) {
    throw problem(
      'invalid_parameter',
      names.length
        ? `Unknown operating point ${quoted(requested)}; use one of: ${names.join(', ')}.`
        : 'This model was exported without operating points.',
    );
  }
  return requested;
}

/**
 * Reads, decodes and classifies the upload; throws a problem for anything that cannot be answered,
 * including 422 not_a_chest_xray for an image the model's gate or distance refuses (so callers never
 * spend Grad-CAM work, or a billed request, on it).
 * @param validate runs once the model is loaded and before any decoding (e.g. to check query parameters)
 */
export async function analyseUpload(
  c: Context<AppEnv>,
  options: { withFeatures?: boolean; displayLongSide?: number; validate?: (model: LoadedModel) => void } = {},
): Promise<Analysis> {
  const limits = readLimits(c.env);
  const timer = stageTimer(c.env.SERVER_TIMING);
  // The model loads while the body arrives: on a fresh isolate the load then overlaps the client's upload instead
  // of following it. Not before the headers pass (a 415 or 413 answers at once), and its failure is reported after
  // the upload's own errors, as before.
  const headers = checkUploadHeaders(c.req.raw, limits.maxUploadBytes);
  const loading = requireModel();
  loading.catch(() => undefined);
  const { bytes, declaredFormat } = await readImageUpload(c.req.raw, limits.maxUploadBytes, headers);
  c.set('bytesIn', bytes.length);
  const model = await loading;
  await timer?.mark('read');
  c.set('modelVersion', model.classifier.info.version);
  const operatingPoint = chooseOperatingPoint(c.req.query('operatingPoint'), model.classifier.info.assessment?.operatingPoints ?? null);
  options.validate?.(model);
  let image: PreprocessedImage;
  try {
    image = preprocessImage(bytes, model.classifier.info.inputSize, {
      declaredFormat,
      maxPixels: limits.maxImagePixels,
      maxDecodeBytes: limits.maxDecodeBytes,
      displayLongSide: options.displayLongSide,
    });
  } catch (error) {
    if (error instanceof ImageError) {
      // A DICOM header that rules the image out says why (reason), as the model's own refusal does.
      throw problem(IMAGE_PROBLEM[error.kind], error.message, {}, error.reason ? { reason: error.reason } : {});
    }
    throw error;
  }
  const frames = image.source.dicom?.frames ?? 1;
  // Only the first frame of a multi-frame DICOM is read; the header says so before the body does.
  if (frames > 1) c.header('x-dicom-frame', `1; of=${frames}`);
  await timer?.mark('decode');
  const result = await model.classifier.classify(image.pixels, options.withFeatures);
  if (timer) {
    await timer.mark('infer');
    c.header('server-timing', timer.header());
  }
  const { info } = model.classifier;
  if (!info.assessment) return { model, image, result, accepted: null, operatingPoint };
  const verdict = assess(info.assessment, info.classes, {
    probabilities: result.probabilities,
    gateProbabilities: result.gateProbabilities!,
    oodDistance: result.oodDistance!,
  });
  if (verdict.refused) {
    const { detail, kind, reason, chestXrayScore, oodDistance } = verdict;
    // Names and scores only: the problem body never carries pixels.
    throw problem('not_a_chest_xray', detail, {}, { kind, reason, chestXrayScore, oodDistance });
  }
  return { model, image, result, accepted: verdict, operatingPoint };
}

/**
 * The response body of /v1/classify (and the first part of /v1/explain's). The assessment members are
 * present only for a model that has one, so older models answer exactly as before.
 */
export function classificationBody(
  info: ModelInfo,
  { image, result: { probabilities }, accepted, operatingPoint }: Pick<Analysis, 'image' | 'result' | 'accepted' | 'operatingPoint'>,
): ClassifyBody {
  const points = info.assessment?.operatingPoints;
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[best]) best = i;
  return {
    prediction: { label: info.classes[best], probability: probabilities[best] },
    probabilities: Object.fromEntries(info.classes.map((name, i) => [name, probabilities[i]])),
    model: { name: info.name, version: info.version, sha256: info.sha256 },
    image: {
      format: image.source.format,
      width: image.source.width,
      height: image.source.height,
      components: image.source.components,
      ...(image.source.dicom && { dicom: image.source.dicom }),
    },
    ...(accepted && {
      assessment: accepted.assessment,
      predictionSet: accepted.predictionSet,
      abstain: accepted.abstain,
      abstainReasons: accepted.abstainReasons,
    }),
    ...(accepted && points && operatingPoint && { decision: decide(points, operatingPoint, info.classes, probabilities) }),
  };
}
