/**
 * Runs the model on preprocessed pixels. Works with any onnxruntime flavour (web in the Worker,
 * node in tests and in scripts/export), because both share onnxruntime-common's API.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { MODEL_IO, type ModelInfo } from './model-info';

export interface Classification {
  /** Calibrated probabilities in the model's class order. */
  probabilities: Float32Array;
  logits: Float32Array;
  /** The last feature maps, [channels, height, width], when asked for. */
  features?: { data: Float32Array; channels: number; height: number; width: number };
  /** The gate's softmax over image kinds, when the model has an assessment (`info.assessment.gate.kinds` order). */
  gateProbabilities?: Float32Array;
  /** Distance of the image to the training chest X-rays, when the model has an assessment. */
  oodDistance?: number;
}

type TensorConstructor = new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;

export class Classifier {
  /** Tail of the queue: ORT-web cannot run two inferences on one session at once. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly session: InferenceSession,
    private readonly TensorClass: TensorConstructor,
    readonly info: ModelInfo,
  ) {
    // Fail at load, not on the first request, when the metadata names outputs the graph lacks.
    const declared = info.assessment ? [info.assessment.gate.output, info.assessment.ood.output] : [];
    const missing = declared.filter((name) => !session.outputNames.includes(name));
    if (missing.length) throw new Error(`model metadata names outputs the graph lacks: ${missing.join(', ')}`);
  }

  /**
   * Classifies one image of `info.inputSize`² luminance values; concurrent calls queue.
   * @param withFeatures also return the last feature maps (for Grad-CAM)
   */
  classify(pixels: Uint8Array, withFeatures = false): Promise<Classification> {
    const run = this.tail.then(() => this.run(pixels, withFeatures));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async run(pixels: Uint8Array, withFeatures: boolean): Promise<Classification> {
    const size = this.info.inputSize;
    if (pixels.length !== size * size) throw new Error(`expected ${size}x${size} pixels`);
    const input = new this.TensorClass('float32', Float32Array.from(pixels), [1, 1, size, size]);
    const fetches: string[] = [MODEL_IO.probabilities, MODEL_IO.logits];
    if (withFeatures) fetches.push(MODEL_IO.features);
    const assessment = this.info.assessment;
    if (assessment) fetches.push(assessment.gate.output, assessment.ood.output);
    const outputs = await this.session.run({ [MODEL_IO.input]: input }, fetches);
    const result: Classification = {
      probabilities: Float32Array.from(outputs[MODEL_IO.probabilities].data as Float32Array),
      logits: Float32Array.from(outputs[MODEL_IO.logits].data as Float32Array),
    };
    if (withFeatures) {
      const features = outputs[MODEL_IO.features];
      const [, channels, height, width] = features.dims;
      result.features = { data: Float32Array.from(features.data as Float32Array), channels, height, width };
    }
    if (assessment) {
      result.gateProbabilities = Float32Array.from(outputs[assessment.gate.output].data as Float32Array);
      result.oodDistance = (outputs[assessment.ood.output].data as Float32Array)[0];
    }
    return result;
  }
}
