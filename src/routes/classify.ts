import { Hono } from 'hono';
import type { Env } from '../env';
import { readLimits } from '../env';
import { readJpegUpload } from '../http/upload';
import { problem } from '../http/problem';
import { ImageError } from '../image/errors';
import { preprocessJpeg, type PreprocessedImage } from '../preprocess';
import { requireClassifier } from './model';

const IMAGE_PROBLEM = { invalid: 'invalid_image', unsupported: 'unsupported_image', too_large: 'image_too_large' } as const;

/** `POST /v1/classify`: JPEG in, calibrated class probabilities out. */
export const classify = new Hono<{ Bindings: Env }>().post('/', async (c) => {
  const limits = readLimits(c.env);
  const bytes = await readJpegUpload(c.req.raw, limits.maxUploadBytes);
  const classifier = await requireClassifier();
  const { info } = classifier;

  let image: PreprocessedImage;
  try {
    image = preprocessJpeg(bytes, info.inputSize, { maxPixels: limits.maxImagePixels });
  } catch (error) {
    if (error instanceof ImageError) throw problem(IMAGE_PROBLEM[error.kind], error.message);
    throw error;
  }
  const { probabilities } = await classifier.classify(image.pixels);

  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[best]) best = i;
  return c.json({
    prediction: { label: info.classes[best], probability: probabilities[best] },
    probabilities: Object.fromEntries(info.classes.map((name, i) => [name, probabilities[i]])),
    model: { name: info.name, version: info.version, sha256: info.sha256 },
    image: { width: image.source.width, height: image.source.height, components: image.source.components },
  });
});
