import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { meter } from '../metering/billing';
import { analyseUpload, classificationBody } from './analyse';
import { fhirRequest, fhirResponse } from '../api/fhir';

/**
 * `POST /v1/classify`: JPEG or DICOM in, calibrated class probabilities out, with the assessment, prediction set
 * and decision (or 422 not_a_chest_xray) when the model has them; FHIR R4 with `Accept: application/fhir+json`.
 */
export const classify = new Hono<AppEnv>().post('/', meter('classify'), async (c) => {
  const fhir = fhirRequest(c);
  const analysis = await analyseUpload(c);
  const { info } = analysis.model.classifier;
  const body = classificationBody(info, analysis);
  return fhir ? fhirResponse(c, info, body, fhir.subject) : c.json(body);
});
