/**
 * The isolate's one model: loaded lazily on first use, reused afterwards. A failed load is not
 * cached, so the next request tries again.
 */
import modelFile from '../../model.onnx';
import { GradCam } from '../explain/gradcam';
import { Classifier } from './classifier';
import { onlineGraphOptimization, readModelInfo } from './model-info';
import { createWasmSession, ort } from './ort-backend';

export interface LoadedModel {
  classifier: Classifier;
  /** Null when the model's metadata does not describe its head. */
  gradCam: GradCam | null;
}

let loading: Promise<LoadedModel> | null = null;

/** Returns the shared model, loading the bundled model.onnx on first call. */
export function getModel(): Promise<LoadedModel> {
  loading ??= load().catch((error: unknown) => {
    loading = null;
    throw error;
  });
  return loading;
}

async function load(): Promise<LoadedModel> {
  const bytes = new Uint8Array(modelFile);
  const info = await readModelInfo(bytes);
  const session = await createWasmSession(bytes, onlineGraphOptimization(info, ort.env.versions.web));
  return {
    classifier: new Classifier(session, ort.Tensor, info),
    gradCam: info.head ? GradCam.fromModel(bytes, info.head) : null,
  };
}
