/**
 * Grad-CAM for the exported head (global max pooling -> Dense -> ReLU -> BatchNorm -> Dense),
 * computed in the Worker from the `features` output and the head's weights read from the ONNX file.
 *
 * With global max pooling, d logit_c / d A_k(i,j) is non-zero only where channel k attains its maximum
 * and sums to g_k = d logit_c / d pooled_k over the map, so Grad-CAM's channel weights are exactly
 * alpha_k = g_k / (h w). g is the head's Jacobian at this input:
 *   g = W1^T (relu'(W1 p + b1) * gamma / sqrt(var + eps) * W2[c, :]).
 * The map is ReLU(sum_k alpha_k A_k), divided by its maximum (all zeros when nothing is positive).
 */
import { readOnnxInitializers } from '../inference/onnx-proto';

/** Where the head's weights live in the ONNX file (the `head` metadata written by scripts/export). */
export interface HeadDescription {
  pooling: 'global_max';
  dense: { weight: string; bias: string };
  activation: 'relu';
  norm: { weight: string; bias: string; mean: string; var: string; epsilon: number };
  out: { weight: string; bias: string };
}

export interface CamMap {
  /** Row-major, values in [0, 1]. */
  values: Float32Array;
  height: number;
  width: number;
}

export class GradCam {
  private constructor(
    /** [hidden x channels] */
    private readonly w1: Float32Array,
    private readonly b1: Float32Array,
    /** gamma / sqrt(var + eps) per hidden unit */
    private readonly normScale: Float32Array,
    /** [classes x hidden] */
    private readonly w2: Float32Array,
    readonly hidden: number,
    readonly channels: number,
    readonly classes: number,
  ) {}

  /** Reads the head's weights from the model bytes, as named by its metadata. */
  static fromModel(model: Uint8Array, head: HeadDescription): GradCam {
    if (head.pooling !== 'global_max' || head.activation !== 'relu') throw new Error('unsupported head for Grad-CAM');
    const names = [head.dense.weight, head.dense.bias, head.norm.weight, head.norm.var, head.out.weight];
    const t = readOnnxInitializers(model, names);
    const [hidden, channels] = t[head.dense.weight].dims;
    const classes = t[head.out.weight].dims[0];
    const gamma = t[head.norm.weight].data;
    const variance = t[head.norm.var].data;
    const normScale = new Float32Array(hidden);
    for (let j = 0; j < hidden; j++) normScale[j] = gamma[j] / Math.sqrt(variance[j] + head.norm.epsilon);
    return new GradCam(t[head.dense.weight].data, t[head.dense.bias].data, normScale, t[head.out.weight].data, hidden, channels, classes);
  }

  /**
   * @param features the `features` output for one image, [channels, height, width] row-major
   * @param classIndex the class whose logit is explained
   */
  map(features: Float32Array, height: number, width: number, classIndex: number): CamMap {
    const { hidden, channels } = this;
    const area = height * width;
    if (features.length !== channels * area) throw new Error('features do not match the head');
    if (!(classIndex >= 0 && classIndex < this.classes)) throw new Error('class index out of range');

    const pooled = new Float32Array(channels);
    for (let k = 0; k < channels; k++) {
      let max = -Infinity;
      for (let i = k * area, end = i + area; i < end; i++) if (features[i] > max) max = features[i];
      pooled[k] = max;
    }
    // Back-propagate d logit_c through Dense(2) -> BatchNorm -> ReLU -> Dense(1) to the pooled features.
    const upstream = new Float32Array(hidden);
    for (let j = 0; j < hidden; j++) {
      let pre = this.b1[j];
      for (let k = 0, row = j * channels; k < channels; k++) pre += this.w1[row + k] * pooled[k];
      upstream[j] = pre > 0 ? this.w2[classIndex * hidden + j] * this.normScale[j] : 0;
    }
    const alpha = new Float32Array(channels);
    for (let j = 0; j < hidden; j++) {
      const u = upstream[j];
      if (u === 0) continue;
      for (let k = 0, row = j * channels; k < channels; k++) alpha[k] += u * this.w1[row + k];
    }
    const values = new Float32Array(area);
    for (let k = 0; k < channels; k++) {
      const a = alpha[k] / area;
      if (a === 0) continue;
      for (let i = 0, base = k * area; i < area; i++) values[i] += a * features[base + i];
    }
    let max = 0;
    for (let i = 0; i < area; i++) {
      if (values[i] < 0) values[i] = 0;
      if (values[i] > max) max = values[i];
    }
    if (max > 0) for (let i = 0; i < area; i++) values[i] /= max;
    return { values, height, width };
  }
}
