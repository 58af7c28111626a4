/**
 * The grayscale pipeline's steps one by one (src/image/dicom/grayscale-pipeline.ts) on data sets built element by
 * element: the edges of each rule (the sign bit, the LINEAR window's first and last grey values, the width each
 * window function needs, LUT first values and their ends, the 99.5th percentile landing exactly on a value) and each
 * refusal with its reason. dicom.test.ts runs the same pipeline through whole files.
 */
import { describe, expect, it } from 'vitest';
import { parseDataSet, type DataSet } from '../../src/image/dicom/dataset';
import { grayscaleLut, modalityTransform, presentation, storedValueOf, voiTransform } from '../../src/image/dicom/grayscale-pipeline';
import type { PixelModule } from '../../src/image/dicom/pixel-module';
import { encodeElements, type TestElement } from '../helpers/dicom';
import { expectImageError } from '../helpers/image-errors';

const dataSet = (...elements: TestElement[]): DataSet => parseDataSet(encodeElements(elements), 0, { littleEndian: true, explicitVR: true }).dataset;
const pixelModule = (bitsStored: number, signed = false, photometric = 'MONOCHROME2'): PixelModule => ({
  rows: 1, columns: 1, samplesPerPixel: 1, photometric, planarConfiguration: 0, frames: 1,
  bitsAllocated: bitsStored > 8 ? 16 : 8, bitsStored, highBit: bitsStored - 1, signed,
});
const ds = (tag: number, value: string): TestElement => ({ tag, vr: 'DS', value });
const windowOf = (center: number, width: number, fn?: string): TestElement[] => [
  ds(0x00281050, String(center)),
  ds(0x00281051, String(width)),
  ...(fn ? [{ tag: 0x00281056, vr: 'CS', value: fn }] : []),
];
const rescale = (slope: number, intercept: number) => [ds(0x00281053, String(slope)), ds(0x00281052, String(intercept))];
/** A LUT item: descriptor (entries, first mapped value, bits) and data; `vr` of the descriptor, `packed` 8-bit data. */
function lutItem(descriptor: number[], data: number[], options: { vr?: string; packed?: boolean } = {}): TestElement[] {
  return [
    { tag: 0x00283002, vr: options.vr ?? 'US', value: descriptor },
    options.packed ? { tag: 0x00283006, vr: 'OB', value: Uint8Array.from(data) } : { tag: 0x00283006, vr: 'OW', value: Uint16Array.from(data) },
  ];
}
const modalityLut = (...item: TestElement[]): TestElement => ({ tag: 0x00283000, vr: 'SQ', value: [item] });
const voiLut = (...item: TestElement[]): TestElement => ({ tag: 0x00283010, vr: 'SQ', value: [item] });
const noValues = () => [];

/** PS3.3 C.11.2.1.2.1 (LINEAR), to 0..1. */
function linear(x: number, c: number, w: number): number {
  if (x <= c - 0.5 - (w - 1) / 2) return 0;
  if (x > c - 0.5 + (w - 1) / 2) return 1;
  return (x - (c - 0.5)) / (w - 1) + 0.5;
}

describe('stored values', () => {
  it('are two-complement below the sign bit of BitsStored for signed data, raw otherwise', () => {
    const signed = storedValueOf(pixelModule(12, true));
    expect([0, 2047, 2048, 4095].map(signed)).toEqual([0, 2047, -2048, -1]);
    expect([0, 2048, 4095].map(storedValueOf(pixelModule(12)))).toEqual([0, 2048, 4095]);
  });
});

describe('the modality transform', () => {
  it('rescales, and is the identity only for slope 1 and intercept 0', () => {
    const m = pixelModule(8);
    expect(modalityTransform(dataSet(...rescale(2, -10)), m).apply(7)).toBe(4);
    expect([[1, 0], [1, 5], [2, 0]].map(([s, i]) => modalityTransform(dataSet(...rescale(s, i)), m).identity)).toEqual([true, false, false]);
    expect(modalityTransform(dataSet(), m)).toMatchObject({ identity: true });
    expectImageError(() => modalityTransform(dataSet(...rescale(0, 0)), m), 'invalid', 'Corrupt DICOM: Rescale Slope is 0.');
  });

  it('looks values up in a Modality LUT from its first mapped value, holding its first and last entries beyond it', () => {
    const t = modalityTransform(dataSet(modalityLut(...lutItem([4, 100, 12], [10, 20, 30, 40]))), pixelModule(12));
    expect([0, 99, 100, 101, 103, 104, 4000].map(t.apply)).toEqual([10, 10, 10, 20, 40, 40, 40]);
    expect(t.identity).toBe(false);
  });
});

describe('the VOI transform', () => {
  const m = pixelModule(12);

  it('LINEAR: 0 up to c - 0.5 - (w - 1) / 2, 1 past c - 0.5 + (w - 1) / 2, PS3.3 in between', () => {
    const { apply, window } = voiTransform(dataSet(...windowOf(100, 11)), m, true, noValues);
    expect(window).toEqual({ source: 'window', center: 100, width: 11, function: 'LINEAR' });
    const xs = [-1000, 94, 94.5, 94.6, 95, 99.5, 100, 104, 104.5, 104.6, 105, 5000];
    expect(xs.map(apply)).toEqual(xs.map((x) => linear(x, 100, 11)));
    expect([apply(-1000), apply(5000)]).toEqual([0, 1]);
  });

  it('SIGMOID and LINEAR_EXACT, the function name in any case', () => {
    const sigmoid = voiTransform(dataSet(...windowOf(100, 40, 'sigmoid')), m, true, noValues);
    expect(sigmoid.window).toEqual({ source: 'window', center: 100, width: 40, function: 'SIGMOID' });
    expect([60, 100, 140].map(sigmoid.apply)).toEqual([60, 100, 140].map((x) => 1 / (1 + Math.exp((-4 * (x - 100)) / 40))));
    const exact = voiTransform(dataSet(...windowOf(100, 40, 'LINEAR_EXACT')), m, true, noValues);
    expect(exact.window).toEqual({ source: 'window', center: 100, width: 40, function: 'LINEAR_EXACT' });
    expect([0, 80, 90, 100, 120, 200].map(exact.apply)).toEqual([0, 0, 0.25, 0.5, 1, 1]);
    // An unknown name is LINEAR, the default.
    expect(voiTransform(dataSet(...windowOf(100, 11, 'GAMMA')), m, true, noValues).window.function).toBe('LINEAR');
  });

  it('needs both centre and width, at least 1 wide for LINEAR and more than 0 for the others', () => {
    const fallback = { source: 'percentile' };
    const values = () => [{ value: 0, count: 1 }, { value: 10, count: 1 }];
    const source = (...elements: TestElement[]) => voiTransform(dataSet(...elements), m, true, values).window.source;
    expect(source(ds(0x00281050, '100'))).toBe(fallback.source);
    expect(source(ds(0x00281051, '100'))).toBe(fallback.source);
    expect(source(...windowOf(100, 1))).toBe('window');
    expect(source(...windowOf(100, 0.5))).toBe(fallback.source);
    expect(source(...windowOf(100, 0.5, 'SIGMOID'))).toBe('window');
    expect(source(...windowOf(100, 0.5, 'LINEAR_EXACT'))).toBe('window');
    expect(source(...windowOf(100, 0, 'SIGMOID'))).toBe(fallback.source);
    expect(source(...windowOf(100, 0, 'LINEAR_EXACT'))).toBe(fallback.source);
  });

  it('a VOI LUT from its first mapped value, scaled by its bit depth, holding its ends', () => {
    const { apply, window } = voiTransform(dataSet(voiLut(...lutItem([3, 50, 4], [0, 5, 15]))), m, true, noValues);
    expect(window).toEqual({ source: 'voi-lut-sequence' });
    expect([0, 49.6, 50, 51, 52, 53, 900].map(apply)).toEqual([0, 0, 0, 5 / 15, 1, 1, 1]);
  });

  it('without VOI: unsigned 8-bit data with no modality transform as stored; anything else by percentiles', () => {
    const values = () => [{ value: 3, count: 1 }, { value: 200, count: 1 }];
    const asStored = voiTransform(dataSet(), pixelModule(8), true, values);
    expect(asStored.window).toEqual({ source: 'as-stored' });
    expect(asStored.apply(51)).toBe(51 / 255);
    expect(voiTransform(dataSet(), pixelModule(8), false, values).window.source).toBe('percentile');
    expect(voiTransform(dataSet(), pixelModule(8, true), true, values).window.source).toBe('percentile');
    expect(voiTransform(dataSet(), pixelModule(9), true, values).window.source).toBe('percentile');
  });

  it('percentiles: the 0.5th and 99.5th of the pixels, whichever way the values come', () => {
    // 1,000 pixels, given out of order. The low end is the first value past the 5th pixel (2: the five 1s are not
    // past it); the high end the first value that reaches the 995th pixel (exactly the one 19).
    const values = () => [{ value: 20, count: 5 }, { value: 10, count: 988 }, { value: 1, count: 5 }, { value: 19, count: 1 }, { value: 2, count: 1 }];
    const { apply, window } = voiTransform(dataSet(), m, false, values);
    expect(window).toEqual({ source: 'percentile', center: 10.5, width: 17, function: 'LINEAR_EXACT' });
    expect([0, 2, 10.5, 19, 30].map(apply)).toEqual([0, 0, 0.5, 1, 1]);
    // All one value: a width of 1e-6, not a division by zero.
    expect(voiTransform(dataSet(), m, false, () => [{ value: 7, count: 5 }]).window).toMatchObject({ center: 7, width: 1e-6 });
    // No pixels at all: 0 to 1.
    expect(voiTransform(dataSet(), m, false, () => []).window).toMatchObject({ center: 0.5, width: 1 });
  });

  it('refuses modality values that are not finite', () => {
    const values = () => [{ value: 0, count: 1 }, { value: Infinity, count: 1 }];
    expectImageError(() => voiTransform(dataSet(), m, false, values), 'invalid', 'Corrupt DICOM: the modality transform gives values that are not finite.');
  });
});

describe('LUT items', () => {
  const modality = (...item: TestElement[]) => () => modalityTransform(dataSet(modalityLut(...item)), pixelModule(12));
  const voi = (...item: TestElement[]) => () => voiTransform(dataSet(voiLut(...item)), pixelModule(12), true, noValues);

  it('read 0 entries as 65536, and a first mapped value past 32767 as negative for signed data only', () => {
    const data = Array.from({ length: 65536 }, (_, i) => i);
    expect(modality(...lutItem([0, 0, 16], data))().apply(65535)).toBe(65535);
    const signedLut = modalityTransform(dataSet(modalityLut(...lutItem([2, 65535, 8], [11, 22]))), pixelModule(12, true));
    expect([-1, 0].map(signedLut.apply)).toEqual([11, 22]); // first = -1
    const unsignedLut = modalityTransform(dataSet(modalityLut(...lutItem([2, 65535, 8], [11, 22]))), pixelModule(12));
    expect([65535, 65536].map(unsignedLut.apply)).toEqual([11, 22]);
    // For signed data the sign bit decides: 32768 is -32768, and a value below it stays positive.
    const signedFrom = (first: number) => modalityTransform(dataSet(modalityLut(...lutItem([2, first, 8], [11, 22]))), pixelModule(12, true));
    expect([-32768, -32767].map(signedFrom(32768).apply)).toEqual([11, 22]);
    expect([100, 101].map(signedFrom(100).apply)).toEqual([11, 22]);
  });

  it('read 8-bit data packed a byte an entry, or a word an entry', () => {
    expect([0, 1, 2, 3].map(modality(...lutItem([4, 0, 8], [7, 8, 9, 10], { packed: true }))().apply)).toEqual([7, 8, 9, 10]);
    // Four bytes for two 8-bit entries: words, not bytes.
    expect([0, 1].map(modality(...lutItem([2, 0, 8], [0x0107, 0x0208]))().apply)).toEqual([0x0107, 0x0208]);
    // Sixteen bits an entry with as many bytes as entries: too short, not packed.
    expectImageError(modality(...lutItem([4, 0, 16], [1, 2, 3, 4], { packed: true })), 'invalid', 'Corrupt DICOM: the modality LUT is shorter than its descriptor.');
  });

  it('refuse a missing or bad descriptor, missing data, bits outside 1..16 and data shorter than the entries', () => {
    expectImageError(modality(...lutItem([4, 0], [1, 2, 3, 4])), 'invalid', 'Corrupt DICOM: the modality LUT has no valid descriptor or no data.');
    expectImageError(voi(lutItem([4, 0, 8], [1, 2, 3, 4])[0]), 'invalid', 'Corrupt DICOM: the VOI LUT has no valid descriptor or no data.');
    // A descriptor in a float VR: any of its three values not a whole number is bad; values past the third are not read.
    expectImageError(voi(...lutItem([2, 0.5, 8], [0, 255], { vr: 'FL' })), 'invalid', 'Corrupt DICOM: the VOI LUT has no valid descriptor or no data.');
    expect(voi(...lutItem([2, 0, 8, 0.5], [0, 255], { vr: 'FL' }))().apply(1)).toBe(1);
    expectImageError(voi(...lutItem([4, 0, 0], [1, 2, 3, 4])), 'invalid', 'Corrupt DICOM: the VOI LUT has 0 bits per entry.');
    expectImageError(voi(...lutItem([4, 0, 17], [1, 2, 3, 4])), 'invalid', 'Corrupt DICOM: the VOI LUT has 17 bits per entry.');
    expect(voi(...lutItem([2, 0, 1], [0, 1]))().apply(1)).toBe(1);
    expect(voi(...lutItem([2, 0, 16], [0, 65535]))().apply(1)).toBe(1);
    expectImageError(voi(...lutItem([5, 0, 12], [1, 2, 3, 4])), 'invalid', 'Corrupt DICOM: the VOI LUT is shorter than its descriptor.');
  });
});

describe('the folded table', () => {
  it('maps every raw value through all steps to 8 bits, MONOCHROME1 inverted', () => {
    const elements = [...rescale(2, -8), ...windowOf(0, 11)];
    const lut = grayscaleLut(dataSet(...elements), pixelModule(4), () => new Uint32Array(16)).lut;
    expect(Array.from(lut)).toEqual(Array.from({ length: 16 }, (_, raw) => Math.round(linear(raw * 2 - 8, 0, 11) * 255)));
    const inverted = grayscaleLut(dataSet(...elements), pixelModule(4, false, 'MONOCHROME1'), () => new Uint32Array(16)).lut;
    expect(Array.from(inverted)).toEqual(Array.from(lut, (v) => 255 - v));
    expect([presentation(pixelModule(4, false, 'MONOCHROME1'))(0.25), presentation(pixelModule(4))(0.25)]).toEqual([0.75, 0.25]);
  });

  it('takes the percentiles over the modality values of the pixels present (a decreasing rescale included)', () => {
    const histogram = new Uint32Array(16);
    [[14, 5], [13, 1], [8, 988], [3, 1], [2, 5]].forEach(([raw, count]) => (histogram[raw] = count));
    const { lut, window } = grayscaleLut(dataSet(...rescale(-1, 0)), pixelModule(4), () => histogram);
    // Modality values -14 (5 pixels), -13 (1), -8 (988), -3 (1), -2 (5): low -13, high -3.
    expect(window).toMatchObject({ source: 'percentile', center: -8, width: 10 });
    expect([lut[15], lut[13], lut[8], lut[3], lut[0]]).toEqual([0, 0, 128, 255, 255]);
  });
});
