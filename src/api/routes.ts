/**
 * Every route of the API as an OpenAPI operation (@hono/zod-openapi's createRoute): paths, parameters,
 * request bodies, and each status with its body schema, problem codes and headers. The document at
 * GET /openapi.json is generated from this list, and the Worker tests check the traffic against it.
 *
 * The handlers stay plain Hono routes (src/routes/): an upload is read as a stream under a byte limit, which
 * zod-openapi's body validators would replace by buffering; the bodies they answer are typed by
 * src/api/schemas.ts, so a handler that drifts from the contract does not compile.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { ProblemCode } from '../http/problem';
import { PROBLEMS } from '../http/problem';
import { ClassifyResponse, ExplainResponse, FhirBundle, Health, ModelCard, problemSchema, Ready, Usage } from './schemas';

const header = (description: string) => ({ schema: { type: 'string' as const }, description });
const REQUEST_ID = { 'X-Request-Id': header('Identifies the request in the logs; quote it when reporting a problem.') };
const RETRY_AFTER = { 'Retry-After': header('Seconds to wait before trying again.') };

/** Problem responses by status, each with the codes a route can answer at that status. */
function problems(codes: ProblemCode[]) {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of codes) byStatus.set(PROBLEMS[code].status, [...(byStatus.get(PROBLEMS[code].status) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      {
        description: list.map((code) => `\`${code}\`: ${PROBLEMS[code].title}`).join('; '),
        headers: { ...REQUEST_ID, ...(status === 429 || status === 503 ? RETRY_AFTER : {}) },
        content: { 'application/problem+json': { schema: problemSchema(list) } },
      },
    ]),
  );
}

const KEYED: ProblemCode[] = ['unauthorized', 'forbidden', 'rate_limited', 'internal_error'];
const UPLOAD: ProblemCode[] = [
  ...KEYED,
  'unsupported_media_type',
  'empty_body',
  'invalid_image',
  'payload_too_large',
  'image_too_large',
  'unsupported_image',
  'not_a_chest_xray',
  'client_closed_request',
  'quota_exceeded',
  'model_unavailable',
  'metering_unavailable',
];

const binary = z.string().openapi({ format: 'binary' });
const uploadBody = {
  description: 'A chest radiograph: a JPEG, a DICOM file (RFC 3240), or either as the multipart field `image`.',
  required: true,
  content: {
    'image/jpeg': { schema: binary },
    'application/dicom': { schema: binary },
    'multipart/form-data': { schema: z.object({ image: binary }) },
  },
};
const operatingPointParameter = z.string().optional().openapi({
  description: 'The operating point of `decision` (GET /v1/model lists them: `screening`, `balanced`); default: the model’s (`balanced`).',
});
const uploadHeaders = {
  ...REQUEST_ID,
  'Server-Timing': header('With SERVER_TIMING on: read, decode and infer durations.'),
  'X-DICOM-Frame': header('A multi-frame DICOM upload: which frame was read, e.g. "1; of=3".'),
};
const security = [{ bearerAuth: [] }];
const fhirHeaders = z.object({
  'x-fhir-subject': z.string().optional().openapi({
    description: 'With Accept: application/fhir+json, the subject of the report as a relative reference (e.g. Patient/123); echoed in the answer only, never stored or logged.',
  }),
});

export const classifyRoute = createRoute({
  method: 'post',
  path: '/v1/classify',
  summary: 'Classify a chest X-ray',
  description: 'Calibrated probabilities for each class, with the assessment and prediction set of a model that has them.',
  security,
  request: { body: uploadBody, query: z.object({ operatingPoint: operatingPointParameter }), headers: fhirHeaders },
  responses: {
    200: {
      description: 'The classification (JSON, or FHIR R4 with Accept: application/fhir+json).',
      headers: uploadHeaders,
      content: { 'application/json': { schema: ClassifyResponse }, 'application/fhir+json': { schema: FhirBundle } },
    },
    ...problems([...UPLOAD, 'invalid_parameter']),
  },
});

export const explainRoute = createRoute({
  method: 'post',
  path: '/v1/explain',
  summary: 'Classify and explain (Grad-CAM)',
  description:
    'The classification plus a Grad-CAM map. JSON by default; `Accept: image/png` or `image/jpeg` returns the radiograph with the map blended over it, the verdict in headers.',
  security,
  request: {
    body: uploadBody,
    query: z.object({
      class: z.string().optional().openapi({ description: 'Explain this class instead of the predicted one.' }),
      display: z.enum(['png']).optional().openapi({ description: 'Add the radiograph as rendered for the model (JSON only).' }),
      operatingPoint: operatingPointParameter,
    }),
    headers: fhirHeaders,
  },
  responses: {
    200: {
      description: 'The explanation.',
      headers: {
        ...uploadHeaders,
        'X-Explained-Class': header('Image forms: the class the map explains.'),
        'X-Prediction': header('Image forms: the predicted class.'),
        'X-Prediction-Probability': header('Image forms: its probability.'),
        'X-Abstain': header('Image forms, gated model: true or false.'),
        'X-Prediction-Set': header('Image forms, gated model: the prediction set, comma-separated.'),
        'X-Unlike-Training-Data': header('Image forms, gated model: true or false.'),
      },
      content: {
        'application/json': { schema: ExplainResponse },
        'application/fhir+json': { schema: FhirBundle },
        'image/png': { schema: binary },
        'image/jpeg': { schema: binary },
      },
    },
    ...problems([...UPLOAD, 'invalid_parameter', 'explanation_unavailable']),
  },
});

export const modelRoute = createRoute({
  method: 'get',
  path: '/v1/model',
  summary: 'The model card',
  security,
  responses: {
    200: { description: 'Read from the model’s metadata.', headers: REQUEST_ID, content: { 'application/json': { schema: ModelCard } } },
    ...problems([...KEYED, 'model_unavailable']),
  },
});

export const usageRoute = createRoute({
  method: 'get',
  path: '/v1/usage',
  summary: 'The calling key’s usage this period',
  security,
  responses: {
    200: { description: 'Billable requests and what is left of the quota.', headers: REQUEST_ID, content: { 'application/json': { schema: Usage } } },
    ...problems([...KEYED, 'metering_unavailable']),
  },
});

export const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'The isolate answers',
  responses: { 200: { description: 'Alive.', headers: REQUEST_ID, content: { 'application/json': { schema: Health } } } },
});

export const readyRoute = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'The model is loaded',
  responses: {
    200: { description: 'Ready to classify.', headers: REQUEST_ID, content: { 'application/json': { schema: Ready } } },
    ...problems(['model_unavailable', 'internal_error']),
  },
});

export const openApiRoute = createRoute({
  method: 'get',
  path: '/openapi.json',
  summary: 'This document',
  responses: { 200: { description: 'OpenAPI 3.1.', headers: REQUEST_ID, content: { 'application/json': { schema: z.object({}).passthrough() } } } },
});

export const pageRoute = createRoute({
  method: 'get',
  path: '/',
  summary: 'The web page (HTML, no external resources)',
  responses: { 200: { description: 'HTML.', headers: REQUEST_ID, content: { 'text/html': { schema: z.string() } } } },
});

export const docsRoute = createRoute({
  method: 'get',
  path: '/docs',
  summary: 'This document, readable (HTML, no external resources)',
  responses: { 200: { description: 'HTML.', headers: REQUEST_ID, content: { 'text/html': { schema: z.string() } } } },
});

/** Every route, in the order the document lists them. */
export const ROUTES = [classifyRoute, explainRoute, modelRoute, usageRoute, healthRoute, readyRoute, openApiRoute, docsRoute, pageRoute];
