/**
 * After export: loads the ONNX file the way the Worker does (metadata through readModelInfo, runs
 * through Classifier) but on onnxruntime-node, feeds it the test split exactly as the TypeScript
 * preprocessing produced it, and checks it against PyTorch's probabilities.
 */
import { readFileSync } from 'node:fs';
import * as ortNode from 'onnxruntime-node';
import { Classifier } from '../../src/inference/classifier';
import { onlineGraphOptimization, readModelInfo } from '../../src/inference/model-info';

export const PARITY_TOLERANCE = 1e-4;

/** Loads `modelPath` with onnxruntime-node behind the Worker's Classifier. */
export async function loadNodeClassifier(modelPath: string): Promise<Classifier> {
  const bytes = new Uint8Array(readFileSync(modelPath));
  const info = await readModelInfo(bytes);
  // With the graph optimisation the Worker would choose for this runtime.
  const graphOptimizationLevel = onlineGraphOptimization(info, ortNode.env.versions.node);
  const session = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel });
  return new Classifier(session, ortNode.Tensor, info);
}

export interface VerifyResult {
  images: number;
  maxAbsDiff: number;
  accuracy: number;
}

/**
 * @param rows cache rows of the test images, in the order of `reference.probabilities`
 */
export async function verifyAgainstPyTorch(
  modelPath: string,
  pixelsPath: string,
  rows: number[],
  labels: number[],
  reference: number[][],
): Promise<VerifyResult> {
  const classifier = await loadNodeClassifier(modelPath);
  const size = classifier.info.inputSize;
  const all = readFileSync(pixelsPath);
  let maxAbsDiff = 0;
  let correct = 0;
  for (let k = 0; k < rows.length; k++) {
    const pixels = new Uint8Array(all.buffer, all.byteOffset + rows[k] * size * size, size * size);
    const { probabilities } = await classifier.classify(pixels);
    let best = 0;
    for (let c = 0; c < probabilities.length; c++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(probabilities[c] - reference[k][c]));
      if (probabilities[c] > probabilities[best]) best = c;
    }
    if (best === labels[k]) correct++;
  }
  return { images: rows.length, maxAbsDiff, accuracy: rows.length ? correct / rows.length : 0 };
}
