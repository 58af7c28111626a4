import { Hono } from 'hono';
import type { Env } from '../env';
import { analyseUpload, classificationBody } from './analyse';

/** `POST /v1/classify`: JPEG in, calibrated class probabilities out. */
export const classify = new Hono<{ Bindings: Env }>().post('/', async (c) => {
  const { model, image, result } = await analyseUpload(c);
  return c.json(classificationBody(model.classifier.info, image, result));
});
