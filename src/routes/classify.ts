import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { meter } from '../metering/billing';
import { analyseUpload, classificationBody } from './analyse';

/** `POST /v1/classify`: JPEG in, calibrated class probabilities out. */
export const classify = new Hono<AppEnv>().post('/', meter('classify'), async (c) => {
  const { model, image, result } = await analyseUpload(c);
  return c.json(classificationBody(model.classifier.info, image, result));
});
