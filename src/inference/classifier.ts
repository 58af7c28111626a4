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
}

type TensorConstructor = new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;

export class Classifier {
  /** Tail of the queue: ORT-web cannot run two inferences on one session at once. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly session: InferenceSession,
    private readonly TensorClass: TensorConstructor,
    readonly info: ModelInfo,
  ) {}

  /** Classifies one image of `info.inputSize`² luminance values; concurrent calls queue. */
  classify(pixels: Uint8Array): Promise<Classification> {
    const run = this.tail.then(() => this.run(pixels));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async run(pixels: Uint8Array): Promise<Classification> {
    const size = this.info.inputSize;
    if (pixels.length !== size * size) throw new Error(`expected ${size}x${size} pixels`);
    const input = new this.TensorClass('float32', Float32Array.from(pixels), [1, 1, size, size]);
    const outputs = await this.session.run({ [MODEL_IO.input]: input }, [MODEL_IO.probabilities, MODEL_IO.logits]);
    const probabilities = outputs[MODEL_IO.probabilities].data as Float32Array;
    const logits = outputs[MODEL_IO.logits].data as Float32Array;
    return { probabilities: Float32Array.from(probabilities), logits: Float32Array.from(logits) };
  }
}
