/**
 * The Image Pixel module (PS3.3 C.7.6.3) read from a data set and checked before any pixel is decoded.
 */
import { ImageError } from '../errors';
import type { DataSet } from './dataset';
import { Tag } from './tags';

/** Photometric interpretations this service renders; the names are echoed only from this list. */
const MONOCHROME = new Set(['MONOCHROME1', 'MONOCHROME2']);
const COLOUR = new Set(['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_RCT', 'YBR_ICT']);
const KNOWN_REFUSED = new Set(['PALETTE COLOR', 'YBR_PARTIAL_422', 'YBR_PARTIAL_420', 'ARGB', 'CMYK', 'HSV']);

export interface PixelModule {
  rows: number;
  columns: number;
  samplesPerPixel: 1 | 3;
  photometric: string;
  /** 0: colour samples interleaved per pixel; 1: one plane per colour. */
  planarConfiguration: 0 | 1;
  frames: number;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  highBit: number;
  signed: boolean;
}

/**
 * Reads and validates the pixel description.
 * @throws ImageError `invalid` when required attributes are missing or inconsistent, `unsupported` for
 *   layouts this service does not render (palette colour, 1- or 32-bit samples, more than 16 bits stored).
 */
export function readPixelModule(ds: DataSet): PixelModule {
  const rows = ds.number(Tag.Rows);
  const columns = ds.number(Tag.Columns);
  // Stryker disable next-line ConditionalExpression: Number.isInteger(undefined) is false too; the test narrows the type
  const isSide = (x: number | undefined): x is number => x !== undefined && Number.isInteger(x) && x >= 1 && x <= 65535;
  if (!isSide(rows) || !isSide(columns)) throw new ImageError('invalid', 'The DICOM file has no valid image size (Rows and Columns: whole numbers 1..65535).');
  const samplesPerPixel = ds.number(Tag.SamplesPerPixel) ?? 1;
  const photometric = (ds.string(Tag.PhotometricInterpretation) ?? (samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB')).toUpperCase();
  if (!MONOCHROME.has(photometric) && !COLOUR.has(photometric)) {
    throw new ImageError(
      'unsupported',
      KNOWN_REFUSED.has(photometric)
        ? `DICOM images with photometric interpretation ${photometric} are not supported; send MONOCHROME1, MONOCHROME2 or RGB.`
        : 'The DICOM photometric interpretation is not one this service knows; send MONOCHROME1, MONOCHROME2 or RGB.',
    );
  }
  const expectedSamples = MONOCHROME.has(photometric) ? 1 : 3;
  if (samplesPerPixel !== expectedSamples) {
    throw new ImageError('invalid', `Corrupt DICOM: ${photometric} needs ${expectedSamples} samples per pixel, the header says ${samplesPerPixel}.`);
  }
  const bitsAllocated = ds.number(Tag.BitsAllocated);
  if (bitsAllocated !== 8 && bitsAllocated !== 16) {
    throw new ImageError(
      bitsAllocated === undefined ? 'invalid' : 'unsupported',
      bitsAllocated === undefined ? 'The DICOM file has no Bits Allocated.' : `DICOM pixels of ${bitsAllocated} bits allocated are not supported; send 8 or 16.`,
    );
  }
  const bitsStored = ds.number(Tag.BitsStored) ?? bitsAllocated;
  const highBit = ds.number(Tag.HighBit) ?? bitsStored - 1;
  if (!Number.isInteger(bitsStored) || bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated) {
    throw new ImageError('invalid', `Corrupt DICOM: ${bitsStored} bits stored with high bit ${highBit} do not fit ${bitsAllocated} bits allocated.`);
  }
  if (expectedSamples === 3 && bitsAllocated !== 8) {
    throw new ImageError('unsupported', 'DICOM colour images with more than 8 bits a sample are not supported.');
  }
  const frames = ds.number(Tag.NumberOfFrames) ?? 1;
  if (!Number.isInteger(frames) || frames < 1) throw new ImageError('invalid', 'Corrupt DICOM: invalid Number of Frames.');
  return {
    rows,
    columns,
    samplesPerPixel: expectedSamples,
    photometric,
    planarConfiguration: ds.number(Tag.PlanarConfiguration) === 1 ? 1 : 0,
    frames,
    bitsAllocated,
    bitsStored,
    highBit,
    signed: ds.number(Tag.PixelRepresentation) === 1,
  };
}
