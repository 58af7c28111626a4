/**
 * The outer layers of a DICOM upload: a Part 10 file (128-byte preamble, "DICM", file meta group) or a bare
 * data set, the transfer syntax, and a deflated data set inflated under a size limit.
 */
import { inflateRawSync } from 'node:zlib';
import { ImageError } from '../errors';
import { parseDataSet, type DataSet } from './dataset';
import { Tag } from './tags';
import {
  EXPLICIT_VR_BIG_ENDIAN,
  EXPLICIT_VR_LITTLE_ENDIAN,
  IMPLICIT_VR_LITTLE_ENDIAN,
  printableUid,
  transferSyntax,
  type TransferSyntax,
} from './transfer-syntaxes';

export interface DicomFile {
  transferSyntax: TransferSyntax;
  /** The main data set, parsed up to and including Pixel Data. */
  dataset: DataSet;
}

// Past the end of a short body the bytes read undefined and match nothing.
const isPart10 = (bytes: Uint8Array) =>
  bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;

const isUpper = (b: number) => b >= 0x41 && b <= 0x5a;

/**
 * Whether the bytes are DICOM: a Part 10 file, or a bare data set starting with the file meta group or
 * the group every composite object begins with (0008), in either little endian encoding.
 */
export function looksLikeDicom(bytes: Uint8Array): boolean {
  if (isPart10(bytes)) return true;
  if (bytes.length < 8) return false;
  const group = bytes[0] | (bytes[1] << 8);
  return ((group === 0x0002 || group === 0x0008) && bytes[2] !== 0xff) || isBareBigEndian(bytes, 0);
}

/** Group 0008 in big endian order with a value representation after the tag: explicit VR big endian. */
const isBareBigEndian = (bytes: Uint8Array, offset: number) =>
  bytes[offset] === 0 && bytes[offset + 1] === 0x08 && isUpper(bytes[offset + 4]) && isUpper(bytes[offset + 5]);

/**
 * Reads the file's structure and its data set (up to Pixel Data).
 * @param maxInflatedBytes the largest a deflated data set may grow to (checked while inflating)
 * @throws ImageError `invalid` for what is not DICOM or is corrupt, `unsupported` for an unknown or refused
 *   transfer syntax, `too_large` for a deflated data set that inflates past the limit
 */
export function readDicomFile(bytes: Uint8Array, maxInflatedBytes: number): DicomFile {
  if (!looksLikeDicom(bytes)) {
    throw new ImageError('invalid', 'The body is not DICOM: no "DICM" prefix after a 128-byte preamble, and no data set at the start.');
  }
  let offset = isPart10(bytes) ? 132 : 0;
  let syntax: TransferSyntax;
  if ((bytes[offset] | (bytes[offset + 1] << 8)) === 0x0002) {
    // The file meta group is always explicit VR little endian, and only group 0002.
    const metaEnd = fileMetaEnd(bytes, offset);
    const { dataset: meta } = parseDataSet(bytes, offset, { littleEndian: true, explicitVR: true }, { end: metaEnd });
    offset = metaEnd;
    const uid = meta.string(Tag.TransferSyntaxUID);
    if (!uid) throw new ImageError('invalid', 'Corrupt DICOM: the file meta group has no Transfer Syntax UID.');
    const known = transferSyntax(uid);
    if (!known) {
      const printable = printableUid(uid);
      throw new ImageError('unsupported', `The DICOM transfer syntax ${printable ?? '(not a valid UID)'} is not one this service knows.`);
    }
    syntax = known;
  } else {
    // A bare data set says nothing about its encoding: explicit VR if a value representation follows the tag.
    syntax = isBareBigEndian(bytes, offset)
      ? EXPLICIT_VR_BIG_ENDIAN
      : isUpper(bytes[offset + 4]) && isUpper(bytes[offset + 5])
        ? EXPLICIT_VR_LITTLE_ENDIAN
        : IMPLICIT_VR_LITTLE_ENDIAN;
  }
  if (syntax.codec === null) {
    throw new ImageError('unsupported', `DICOM ${syntax.name} (${syntax.uid}) is not supported: ${syntax.refusal}.`);
  }
  let body = bytes;
  if (syntax.deflated) {
    body = inflate(bytes.subarray(offset), maxInflatedBytes);
    offset = 0;
  }
  const { dataset } = parseDataSet(body, offset, { littleEndian: syntax.littleEndian, explicitVR: syntax.explicitVR });
  return { transferSyntax: syntax, dataset };
}

/** Walks the file meta group's explicit VR little endian elements to the first tag of another group. */
function fileMetaEnd(bytes: Uint8Array, start: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  while (pos + 8 <= bytes.length && view.getUint16(pos, true) === 0x0002) {
    const vr = String.fromCharCode(bytes[pos + 4], bytes[pos + 5]);
    const long = vr === 'OB' || vr === 'UN' || vr === 'OW' || vr === 'UT' || vr === 'SQ';
    if (long && pos + 12 > bytes.length) break;
    const length = long ? view.getUint32(pos + 8, true) : view.getUint16(pos + 6, true);
    pos += (long ? 12 : 8) + length;
  }
  if (pos > bytes.length) throw new ImageError('invalid', 'The DICOM file is truncated (in the file meta group).');
  return pos;
}

/** Raw deflate with the output capped while inflating: a deflate bomb stops at the cap. */
function inflate(data: Uint8Array, maxBytes: number): Uint8Array {
  try {
    // An infinite budget (the training pipeline's) is no option at all: zlib refuses it as out of range.
    const out = inflateRawSync(data, Number.isFinite(maxBytes) ? { maxOutputLength: maxBytes } : {});
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (error) {
    // Node's zlib throws a RangeError with that code; either alone identifies the overflow there.
    // Stryker disable next-line LogicalOperator,ConditionalExpression,StringLiteral: both conditions hold for the same error in Node
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new ImageError('too_large', `The deflated DICOM data set inflates to more than ${maxBytes} bytes.`);
    }
    throw new ImageError('invalid', 'Corrupt DICOM: the deflated data set could not be inflated.');
  }
}
