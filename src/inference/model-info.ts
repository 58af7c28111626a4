/**
 * The registry of what the model knows (classes, input size, preprocessing, calibration, metrics),
 * read from the ONNX metadata written by scripts/export. Nothing here is hard-coded per model.
 */
import type { HeadDescription } from '../explain/gradcam';
import { PREPROCESSING_ID } from '../preprocess';
import { parseAssessment, type AssessmentMetadata } from './assessment';
import { readOnnxMetadata } from './onnx-proto';

/** Names of the graph's input and outputs: the contract between scripts/export and the Worker. */
export const MODEL_IO = {
  input: 'image',
  probabilities: 'probabilities',
  logits: 'logits',
  features: 'features',
} as const;

export interface ModelInfo {
  name: string;
  version: string;
  /** Hex SHA-256 of the ONNX file as served. */
  sha256: string;
  classes: string[];
  inputSize: number;
  preprocessing: string;
  temperature: number;
  metrics: unknown;
  training: unknown;
  intendedUse: string;
  limitations: string[];
  /** Where the head's weights are, for Grad-CAM; null for models exported without it. */
  head: HeadDescription | null;
  /** The gate, distance and conformal thresholds; null for models exported before them (no assessment). */
  assessment: AssessmentMetadata | null;
  /** The onnxruntime rewrites scripts/export saved into the file (metadata `graph_optimization`); null when none. */
  graphOptimization: { level: string; onnxruntime: string } | null;
}

/** Parses and validates the metadata; throws with a clear message when the contract is broken. */
export async function readModelInfo(model: Uint8Array): Promise<ModelInfo> {
  const meta = readOnnxMetadata(model);
  const required = ['classes', 'model_name', 'model_version', 'input_size', 'preprocessing', 'temperature'];
  const missing = required.filter((key) => !(key in meta));
  if (missing.length) throw new Error(`model metadata lacks ${missing.join(', ')}`);

  const classes: unknown = JSON.parse(meta.classes);
  if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string')) {
    throw new Error('model metadata "classes" must be a JSON array of at least two names');
  }
  const inputSize = Number(meta.input_size);
  if (!Number.isInteger(inputSize) || inputSize < 8) throw new Error('model metadata "input_size" is not a size');
  if (meta.preprocessing !== PREPROCESSING_ID) {
    throw new Error(`model was trained with preprocessing "${meta.preprocessing}", this Worker runs "${PREPROCESSING_ID}"`);
  }
  const digest = await crypto.subtle.digest('SHA-256', model as Uint8Array<ArrayBuffer>);
  return {
    name: meta.model_name,
    version: meta.model_version,
    sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''),
    classes,
    inputSize,
    preprocessing: meta.preprocessing,
    temperature: Number(meta.temperature),
    metrics: parseJson(meta.metrics),
    training: parseJson(meta.training),
    intendedUse: meta.intended_use ?? '',
    limitations: (parseJson(meta.limitations) as string[] | null) ?? [],
    head: parseJson(meta.head) as HeadDescription | null,
    // Unlike the informational keys above, a malformed `assessment` is refused: serving without the gate
    // a model meant to have one would classify anything uploaded.
    assessment: meta.assessment === undefined ? null : parseAssessment(meta.assessment, classes),
    graphOptimization: parseGraphOptimization(meta.graph_optimization),
  };
}

function parseGraphOptimization(text: string | undefined): ModelInfo['graphOptimization'] {
  const value = parseJson(text) as { level?: unknown; onnxruntime?: unknown } | null;
  return typeof value?.level === 'string' && typeof value.onnxruntime === 'string' ? { level: value.level, onnxruntime: value.onnxruntime } : null;
}

/**
 * The graph optimisation a session should run when it is created: 'disabled' when the file already holds the
 * `extended` rewrites of this very onnxruntime version, so that no cold start repeats them; 'all' otherwise (another
 * version may rewrite differently, and running them again on an optimised graph is harmless).
 * @param runtimeVersion the version of the onnxruntime that will run it, e.g. `ort.env.versions.web`
 */
export function onlineGraphOptimization(info: Pick<ModelInfo, 'graphOptimization'>, runtimeVersion: string | undefined): 'disabled' | 'all' {
  const saved = info.graphOptimization;
  return saved?.level === 'extended' && saved.onnxruntime === runtimeVersion ? 'disabled' : 'all';
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
