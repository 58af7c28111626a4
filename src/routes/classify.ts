import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { meter } from '../metering/billing';
import { analyseUpload, classificationBody } from './analyse';

/**
 * `POST /v1/classify`: JPEG in, calibrated class probabilities out, with the assessment and prediction set
 * (or 422 not_a_chest_xray) when the model has them.
 */
export const classify = new Hono<AppEnv>().post('/', meter('classify'), async (c) => {
  const analysis = await analyseUpload(c);
  return c.json(classificationBody(analysis.model.classifier.info, analysis));
});
