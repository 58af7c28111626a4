import { Hono } from 'hono';
import encodeJpeg from 'jpeg-js/lib/encoder.js';
import type { AppEnv } from '../env';
import { encodePng } from '../explain/png';
import { renderOverlay } from '../explain/overlay';
import { problem, quoted } from '../http/problem';
import { meter } from '../metering/billing';
import { analyseUpload, classificationBody } from './analyse';
import type { ExplainBody } from '../api/schemas';
import { fhirRequest, fhirResponse } from '../api/fhir';

/** Long side of the rendered overlay image, in pixels (never larger than the upload). */
export const OVERLAY_LONG_SIDE = 512;

/**
 * `POST /v1/explain[?class=NAME]`: the classification plus a Grad-CAM map for the predicted class
 * (or NAME). JSON by default; `Accept: image/png` or `image/jpeg` returns the radiograph with the map
 * blended over it and a colour bar (blue 0 at the bottom, red 1 at the top). An image that is not a
 * frontal chest X-ray gets 422 not_a_chest_xray in every form. `?display=png` adds to the JSON the
 * radiograph as it was rendered for the model (a DICOM file after its window), as a PNG data URL with a
 * long side of at most 512: what a browser cannot draw from DICOM bytes itself.
 */
export const explain = new Hono<AppEnv>().post('/', meter('explain'), async (c) => {
  const accept = c.req.header('accept') ?? '';
  const fhir = fhirRequest(c);
  const format = fhir ? 'fhir' : /image\/png/i.test(accept) ? 'png' : /image\/jpe?g/i.test(accept) ? 'jpeg' : 'json';
  const requested = c.req.query('class');
  const display = c.req.query('display');
  if (display !== undefined && display !== 'png') throw problem('invalid_parameter', 'The only display form is "png".');
  // A refused image throws here, before any Grad-CAM work.
  const analysis = await analyseUpload(c, {
    withFeatures: true,
    displayLongSide: (format === 'json' || format === 'fhir') && !display ? undefined : OVERLAY_LONG_SIDE,
    validate: ({ classifier, gradCam }) => {
      if (!gradCam) throw problem('explanation_unavailable', 'This model was exported without the head description Grad-CAM needs.');
      if (requested !== undefined && !classifier.info.classes.includes(requested)) {
        throw problem('invalid_parameter', `Unknown class ${quoted(requested)}; use one of: ${classifier.info.classes.join(', ')}.`);
      }
    },
  });
  const { model, image, result } = analysis;
  const { info } = model.classifier;
  const body = classificationBody(info, analysis);
  // FHIR carries the classification (a Grad-CAM map has no standard home there): no map is computed.
  if (fhir) return fhirResponse(c, info, body, fhir.subject);
  const explained = requested ?? body.prediction.label;
  const features = result.features!;
  const cam = model.gradCam!.map(features.data, features.height, features.width, info.classes.indexOf(explained));

  if (format !== 'json') {
    const overlay = renderOverlay(image.display!, cam);
    const headers = {
      'x-explained-class': explained,
      'x-prediction': body.prediction.label,
      'x-prediction-probability': body.prediction.probability.toFixed(6),
      // The image forms cannot carry the JSON members, so the verdict travels in headers.
      ...(analysis.accepted && {
        'x-abstain': String(analysis.accepted.abstain),
        'x-prediction-set': analysis.accepted.predictionSet.classes.join(', '),
        'x-unlike-training-data': String(analysis.accepted.assessment.unlikeTrainingData),
      }),
    };
    if (format === 'png') return c.body(await encodePng(overlay.rgb, overlay.width, overlay.height), 200, { ...headers, 'content-type': 'image/png' });
    const rgba = new Uint8Array(overlay.width * overlay.height * 4);
    for (let i = 0, j = 0; i < overlay.rgb.length; i += 3, j += 4) rgba.set([overlay.rgb[i], overlay.rgb[i + 1], overlay.rgb[i + 2], 255], j);
    const jpeg = encodeJpeg({ data: rgba, width: overlay.width, height: overlay.height }, 88).data;
    return c.body(new Uint8Array(jpeg), 200, { ...headers, 'content-type': 'image/jpeg' });
  }

  const rows: number[][] = [];
  for (let y = 0; y < cam.height; y++) {
    rows.push(Array.from(cam.values.subarray(y * cam.width, (y + 1) * cam.width), (v) => Math.round(v * 1e4) / 1e4));
  }
  return c.json<ExplainBody>({
    ...body,
    ...(display && image.display && { display: await displayPng(image.display) }),
    explanation: {
      method: 'grad-cam',
      class: explained,
      shape: [cam.height, cam.width],
      // The model sees the whole image stretched to a square, so the grid spans the whole image.
      map: rows,
    },
  });
});

/** The grey display copy as a PNG data URL, with its size. */
async function displayPng({ width, height, data }: { width: number; height: number; data: Uint8Array }) {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) rgb.fill(data[i], i * 3, i * 3 + 3);
  const png = await encodePng(rgb, width, height);
  let binary = '';
  for (let i = 0; i < png.length; i += 0x8000) binary += String.fromCharCode(...png.subarray(i, i + 0x8000));
  return { width, height, png: `data:image/png;base64,${btoa(binary)}` };
}
