/**
 * The grayscale pipeline a radiologist's viewer applies (PS3.3 C.11, PS3.4 N.2), as small named steps:
 * stored bits -> modality LUT -> VOI -> MONOCHROME1 inversion -> 8-bit luminance.
 *
 * Every step is a function of the stored value alone, so the whole chain is folded into one lookup table
 * over the 2^BitsStored possible stored values and applied in a single pass over the pixels.
 */
import { ImageError } from '../errors';
import type { DataSet } from './dataset';
import type { PixelModule } from './pixel-module';
import { Tag } from './tags';

export type VoiSource = 'window' | 'voi-lut-sequence' | 'percentile' | 'as-stored';

/** The VOI transform that was used, for the response (never a patient attribute). */
export interface WindowUsed {
  source: VoiSource;
  /** Linear/sigmoid windows and the percentile fallback: centre and width in modality units. */
  center?: number;
  width?: number;
  function?: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
}

// Without any VOI in the header, values from the 0.5th to the 99.5th percentile span black to white: a chest
// film's collimator edges and burned-in labels are a small fraction of it and would otherwise set the range.
const PERCENTILE_LOW = 0.005;
const PERCENTILE_HIGH = 0.995;

/** Step 1: the raw bit pattern of a sample (after HighBit and BitsStored) as the stored value. */
export function storedValueOf(module: PixelModule): (raw: number) => number {
  const signBit = 2 ** (module.bitsStored - 1);
  const range = 2 ** module.bitsStored;
  return module.signed ? (raw) => (raw >= signBit ? raw - range : raw) : (raw) => raw;
}

/** Step 2: stored value -> modality value, by a Modality LUT Sequence or Rescale Slope/Intercept. */
export function modalityTransform(ds: DataSet, module: PixelModule): { apply: (stored: number) => number; identity: boolean } {
  const lutItem = ds.sequence(Tag.ModalityLUTSequence)[0];
  if (lutItem) {
    const lut = readLut(lutItem, module.signed, 'modality');
    return { apply: (x) => lut.data[clamp(x - lut.first, 0, lut.data.length - 1)], identity: false };
  }
  const slope = ds.number(Tag.RescaleSlope) ?? 1;
  const intercept = ds.number(Tag.RescaleIntercept) ?? 0;
  if (slope === 0) throw new ImageError('invalid', 'Corrupt DICOM: Rescale Slope is 0.');
  return { apply: (x) => x * slope + intercept, identity: slope === 1 && intercept === 0 };
}

/**
 * Step 3: modality value -> 0..1 display value. The first window in the header (LINEAR, LINEAR_EXACT or
 * SIGMOID), else the first VOI LUT Sequence item, else as stored for 8-bit data, else a percentile window.
 * @param modalityValues the modality values present and how often, for the percentile fallback (lazy: only
 *   computed when needed)
 */
export function voiTransform(
  ds: DataSet,
  module: PixelModule,
  modalityIdentity: boolean,
  modalityValues: () => { value: number; count: number }[],
): { apply: (value: number) => number; window: WindowUsed } {
  const center = ds.number(Tag.WindowCenter);
  const width = ds.number(Tag.WindowWidth);
  // Stryker disable next-line StringLiteral: any name but SIGMOID and LINEAR_EXACT is LINEAR, the empty one too
  const fn = (ds.string(Tag.VOILUTFunction) ?? 'LINEAR').toUpperCase();
  if (center !== undefined && width !== undefined && (fn === 'SIGMOID' || fn === 'LINEAR_EXACT' ? width > 0 : width >= 1)) {
    if (fn === 'SIGMOID') {
      return { apply: (x) => 1 / (1 + Math.exp((-4 * (x - center)) / width)), window: { source: 'window', center, width, function: 'SIGMOID' } };
    }
    if (fn === 'LINEAR_EXACT') {
      return { apply: (x) => clamp((x - center) / width + 0.5, 0, 1), window: { source: 'window', center, width, function: 'LINEAR_EXACT' } };
    }
    // PS3.3 C.11.2.1.2.1; an unknown function name falls back to LINEAR, the default.
    return {
      // Stryker disable next-line EqualityOperator: at either edge the formula in the middle gives that edge's 0 or 1 too
      apply: (x) => (x <= center - 0.5 - (width - 1) / 2 ? 0 : x > center - 0.5 + (width - 1) / 2 ? 1 : (x - (center - 0.5)) / (width - 1) + 0.5),
      window: { source: 'window', center, width, function: 'LINEAR' },
    };
  }
  const voiItem = ds.sequence(Tag.VOILUTSequence)[0];
  if (voiItem) {
    const lut = readLut(voiItem, module.signed, 'VOI');
    const top = 2 ** lut.bits - 1;
    return { apply: (x) => lut.data[clamp(Math.round(x) - lut.first, 0, lut.data.length - 1)] / top, window: { source: 'voi-lut-sequence' } };
  }
  if (module.bitsStored <= 8 && !module.signed && modalityIdentity) {
    // What an 8-bit image means without a window: its stored values, as a JPEG's.
    const top = 2 ** module.bitsStored - 1;
    return { apply: (x) => x / top, window: { source: 'as-stored' } };
  }
  const [low, high] = percentiles(modalityValues(), PERCENTILE_LOW, PERCENTILE_HIGH);
  if (!Number.isFinite(low) || !Number.isFinite(high)) throw new ImageError('invalid', 'Corrupt DICOM: the modality transform gives values that are not finite.');
  const span = Math.max(high - low, 1e-6);
  return {
    apply: (x) => clamp((x - low) / span, 0, 1),
    window: { source: 'percentile', center: (low + high) / 2, width: span, function: 'LINEAR_EXACT' },
  };
}

/** Step 4: MONOCHROME1 shows its lowest values as white. */
export function presentation(module: PixelModule): (display: number) => number {
  return module.photometric === 'MONOCHROME1' ? (y) => 1 - y : (y) => y;
}

/**
 * Folds steps 1-5 into a table from raw sample bits (0 .. 2^BitsStored - 1) to 8-bit luminance.
 * @param histogram counts of each raw value in the frame (computed only when the percentile fallback needs it)
 */
export function grayscaleLut(ds: DataSet, module: PixelModule, histogram: () => Uint32Array): { lut: Uint8Array; window: WindowUsed } {
  const size = 2 ** module.bitsStored;
  const stored = storedValueOf(module);
  const modality = modalityTransform(ds, module);
  const modalityValues = () => {
    const counts = histogram();
    const values: { value: number; count: number }[] = [];
    // Stryker disable next-line EqualityOperator,ConditionalExpression: one step past the end reads no count; values no pixel has (count 0) move no percentile
    for (let raw = 0; raw < size; raw++) if (counts[raw]) values.push({ value: modality.apply(stored(raw)), count: counts[raw] });
    return values;
  };
  const voi = voiTransform(ds, module, modality.identity, modalityValues);
  const present = presentation(module);
  const lut = new Uint8Array(size);
  // Stryker disable next-line EqualityOperator: one step past the end of a typed array writes nothing
  for (let raw = 0; raw < size; raw++) {
    const y = present(voi.apply(modality.apply(stored(raw))));
    lut[raw] = Math.round(clamp(Number.isFinite(y) ? y : 0, 0, 1) * 255);
  }
  return { lut, window: voi.window };
}

interface Lut {
  first: number;
  bits: number;
  data: Uint16Array;
}

/** A Modality or VOI LUT Sequence item: LUT Descriptor (entries, first mapped value, bits) and LUT Data. */
function readLut(item: DataSet, signed: boolean, what: string): Lut {
  const descriptor = item.numbers(Tag.LUTDescriptor);
  const element = item.elements.get(Tag.LUTData);
  if (descriptor.length < 3 || !descriptor.slice(0, 3).every(Number.isInteger) || !element) {
    throw new ImageError('invalid', `Corrupt DICOM: the ${what} LUT has no valid descriptor or no data.`);
  }
  // The descriptor is US or SS (PS3.3 C.11.1.1): entries and bits are unsigned whatever the VR says, the first
  // mapped value is signed for signed pixel data (implicit VR files cannot say so and read as US).
  const entriesField = descriptor[0] & 0xffff;
  const bits = descriptor[2] & 0xffff;
  const firstRaw = descriptor[1] & 0xffff;
  const entries = entriesField === 0 ? 65536 : entriesField;
  const first = signed && firstRaw >= 32768 ? firstRaw - 65536 : firstRaw;
  if (bits < 1 || bits > 16) throw new ImageError('invalid', `Corrupt DICOM: the ${what} LUT has ${bits} bits per entry.`);
  const { value } = element;
  // 8-bit LUT data is sometimes packed one value a byte; the standard stores one value a 16-bit word.
  const packed = bits <= 8 && value.length === entries;
  if (!packed && value.length < entries * 2) throw new ImageError('invalid', `Corrupt DICOM: the ${what} LUT is shorter than its descriptor.`);
  const data = new Uint16Array(entries);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  for (let i = 0; i < entries; i++) data[i] = packed ? value[i] : view.getUint16(i * 2, item.littleEndian);
  return { first, bits, data };
}

function percentiles(values: { value: number; count: number }[], low: number, high: number): [number, number] {
  if (values.length === 0) return [0, 1];
  values.sort((a, b) => a.value - b.value);
  const total = values.reduce((n, v) => n + v.count, 0);
  let seen = 0;
  let lowValue = values[0].value;
  let highValue = values[values.length - 1].value;
  let lowFound = false;
  for (const { value, count } of values) {
    seen += count;
    if (!lowFound && seen > total * low) {
      lowValue = value;
      lowFound = true;
    }
    if (seen >= total * high) {
      highValue = value;
      break;
    }
  }
  return [lowValue, highValue];
}

// Stryker disable next-line EqualityOperator: at either bound both branches give the bound
const clamp = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);
