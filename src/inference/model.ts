/**
 * The isolate's one model: loaded lazily on first use, reused afterwards. A failed load is not
 * cached, so the next request tries again.
 */
import modelFile from '../../model.onnx';
import { Classifier } from './classifier';
import { readModelInfo } from './model-info';
import { createWasmSession, ort } from './ort-backend';

let loading: Promise<Classifier> | null = null;

/** Returns the shared classifier, loading the bundled model.onnx on first call. */
export function getClassifier(): Promise<Classifier> {
  loading ??= load().catch((error: unknown) => {
    loading = null;
    throw error;
  });
  return loading;
}

async function load(): Promise<Classifier> {
  const bytes = new Uint8Array(modelFile);
  const info = await readModelInfo(bytes);
  const session = await createWasmSession(bytes);
  return new Classifier(session, ort.Tensor, info);
}
