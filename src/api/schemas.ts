/**
 * The shapes of every response body, declared once with zod: the route code builds its answers with these
 * types, the OpenAPI document (src/api/openapi.ts) is generated from them, and the Worker tests check every
 * response they receive against them.
 */
import { z } from '@hono/zod-openapi';
import { PROBLEMS, type ProblemCode } from '../http/problem';

const PROBLEM_CODES = Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]];

/** RFC 9457 problem details, with the stable `code` to switch on (`codes`: the ones a route can answer). */
export function problemSchema(codes: readonly ProblemCode[] = PROBLEM_CODES) {
  return z
    .object({
      type: z.string().openapi({ example: 'urn:cxr-edge:problem:invalid_image' }),
      title: z.string(),
      status: z.number().int(),
      detail: z.string(),
      code: z.enum(codes as [ProblemCode, ...ProblemCode[]]),
      // not_a_chest_xray
      kind: z.string().nullable().optional().openapi({ description: 'not_a_chest_xray from the gate: the kind of image it saw' }),
      reason: z.string().optional().openapi({ description: 'not_a_chest_xray: gate, distance, dicom_modality, dicom_view_position or dicom_body_part' }),
      chestXrayScore: z.number().optional(),
      oodDistance: z.number().optional(),
      // internal_error
      requestId: z.string().optional(),
    })
    .openapi({ description: 'RFC 9457 problem details' });
}
export const Problem = problemSchema().openapi('Problem');

const Probabilities = z.record(z.string(), z.number().min(0).max(1)).openapi({
  description: 'Calibrated probability of each class, in the model’s class order; they sum to 1.',
  example: { 'Bacterial Pneumonia': 0.02, COVID: 0.01, Normal: 0.93, Tuberculosis: 0.01, 'Viral Pneumonia': 0.03 },
});

export const DicomImage = z
  .object({
    transferSyntax: z.object({ uid: z.string(), name: z.string() }),
    bitsStored: z.number().int(),
    photometricInterpretation: z.string(),
    window: z
      .object({
        source: z.enum(['window', 'voi-lut-sequence', 'percentile', 'as-stored']),
        center: z.number().optional(),
        width: z.number().optional(),
        function: z.enum(['LINEAR', 'LINEAR_EXACT', 'SIGMOID']).optional(),
      })
      .nullable(),
    frames: z.number().int().min(1),
  })
  .openapi('DicomImage', { description: 'What was decoded from a DICOM upload: technical attributes only, never a patient one.' });

export const ImageInfo = z
  .object({
    format: z.enum(['jpeg', 'dicom']),
    width: z.number().int(),
    height: z.number().int(),
    components: z.number().int().openapi({ description: '1 (grayscale), 3 (YCbCr/RGB) or 4 (Adobe CMYK/YCCK)' }),
    dicom: DicomImage.optional(),
  })
  .openapi('ImageInfo', { description: 'The upload as shown upright (after EXIF orientation).' });

export const ClassifyResponse = z
  .object({
    prediction: z.object({ label: z.string(), probability: z.number() }),
    probabilities: Probabilities,
    model: z.object({ name: z.string(), version: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
    image: ImageInfo,
    assessment: z
      .object({
        chestXrayScore: z.number(),
        gateThreshold: z.number(),
        oodDistance: z.number(),
        oodThreshold: z.number(),
        unlikeTrainingData: z.boolean(),
      })
      .optional(),
    predictionSet: z.object({ coverage: z.number(), classes: z.array(z.string()) }).optional(),
    abstain: z.boolean().optional(),
    abstainReasons: z.array(z.string()).optional(),
    decision: z
      .object({
        operatingPoint: z.string(),
        thresholds: z.record(z.string(), z.number().min(0).max(1)),
        positive: z.record(z.string(), z.boolean()),
        positives: z.array(z.string()),
      })
      .optional()
      .openapi({ description: 'Per class, positive when its probability is at least the threshold of the operating point (?operatingPoint=, else the model’s default).' }),
  })
  .openapi('Classification');

export const ExplainResponse = ClassifyResponse.extend({
  display: z
    .object({ width: z.number().int(), height: z.number().int(), png: z.string().startsWith('data:image/png;base64,') })
    .optional()
    .openapi({ description: 'With ?display=png: the radiograph as rendered for the model, long side ≤ 512.' }),
  explanation: z.object({
    method: z.literal('grad-cam'),
    class: z.string(),
    shape: z.tuple([z.number().int(), z.number().int()]),
    map: z.array(z.array(z.number().min(0).max(1))),
  }),
}).openapi('Explanation');

export const ModelCard = z
  .object({
    name: z.string(),
    version: z.string(),
    sha256: z.string(),
    classes: z.array(z.string()),
    input: z.object({ name: z.string(), shape: z.array(z.number().int()), preprocessing: z.string() }),
    calibration: z.object({ method: z.string(), temperature: z.number() }),
    metrics: z.unknown().openapi({ description: 'The export’s evaluation figures, as recorded in the model’s metadata.' }),
    training: z.unknown(),
    intendedUse: z.string(),
    limitations: z.array(z.string()),
    assessment: z
      .object({
        gate: z.object({ kinds: z.array(z.string()), accept: z.string(), threshold: z.number(), thresholdQuantile: z.number().nullable(), thresholdMax: z.number().nullable(), descriptions: z.record(z.string(), z.string()) }),
        ood: z.object({ description: z.string().nullable(), flagAbove: z.number(), refuseAbove: z.number(), flagQuantile: z.number().nullable(), refuseQuantile: z.number().nullable() }),
        conformal: z.object({ coverage: z.number(), method: z.string(), minProbability: z.record(z.string(), z.number()) }).passthrough(),
        operatingPoints: z
          .object({
            default: z.string(),
            targetSensitivity: z.number(),
            screened: z.array(z.string()),
            thresholds: z.record(z.string(), z.record(z.string(), z.number())),
            chosenOn: z.string(),
          })
          .nullable(),
      })
      .nullable(),
  })
  .openapi('ModelCard');

export const Usage = z
  .object({
    key: z.object({ id: z.string(), name: z.string() }).nullable(),
    period: z.string(),
    resetsAt: z.string(),
    used: z.number().int().nullable(),
    quota: z.number().int().nullable(),
    remaining: z.number().int().nullable(),
    byEndpoint: z.record(z.string(), z.number().int()),
    metered: z.boolean(),
  })
  .openapi('Usage');

export const FhirBundle = z
  .object({
    resourceType: z.literal('Bundle'),
    type: z.literal('collection'),
    timestamp: z.string(),
    entry: z.array(z.object({ fullUrl: z.string(), resource: z.object({ resourceType: z.enum(['DiagnosticReport', 'Observation', 'Device']) }).passthrough() })),
  })
  .passthrough()
  .openapi('FhirBundle', {
    description:
      'FHIR R4 Bundle (collection): a preliminary DiagnosticReport, one Observation per class (probability, and POS/NEG at the operating point), a Device for the model; all labelled AI-asserted.',
  });

export const Health = z.object({ status: z.literal('ok') }).openapi('Health');
export const Ready = z.object({ status: z.literal('ready'), model: z.object({ name: z.string(), version: z.string() }) }).openapi('Ready');

export type ClassifyBody = z.infer<typeof ClassifyResponse>;
export type ExplainBody = z.infer<typeof ExplainResponse>;
export type ModelCardBody = z.infer<typeof ModelCard>;
export type UsageBody = z.infer<typeof Usage>;
