/**
 * A DICOM data set parsed once into typed elements (PS3.5 chapter 7), in any of the three encodings:
 * implicit VR little endian, explicit VR little endian, explicit VR big endian. Values stay views into
 * the uploaded bytes; only the sequences this service reads are turned into nested data sets, the rest
 * are walked past. Parsing stops after the top-level Pixel Data.
 */
import { ImageError } from '../errors';
import { IMPLICIT_VR, Tag } from './tags';

export interface Encoding {
  littleEndian: boolean;
  explicitVR: boolean;
}

export interface DicomElement {
  tag: number;
  vr: string;
  /** The value's bytes: a view into the file (empty for sequences and encapsulated pixel data). */
  value: Uint8Array;
  /** Sequences this service reads: their items. */
  items?: DataSet[];
  /** Encapsulated pixel data: the Basic Offset Table item first, then one entry per fragment. */
  fragments?: Uint8Array[];
}

// VRs whose explicit-VR header has 2 reserved bytes and a 32-bit length.
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED_LENGTH = 0xffffffff;
// Real radiograph headers hold a few hundred elements and nest sequences two or three deep; these caps keep
// a hostile file of millions of empty items, or sequences nested thousands deep, from costing time or stack.
const MAX_ELEMENTS = 100_000;
const MAX_DEPTH = 16;
const MATERIALISED_SEQUENCES = new Set<number>([Tag.ModalityLUTSequence, Tag.VOILUTSequence]);
const formatTag = (tag: number) => `(${(tag >>> 16).toString(16).padStart(4, '0')},${(tag & 0xffff).toString(16).padStart(4, '0')})`;

/** The elements of one data set (or sequence item), with typed accessors. */
export class DataSet {
  constructor(
    readonly elements: Map<number, DicomElement>,
    readonly littleEndian: boolean,
  ) {}

  has(tag: number): boolean {
    return this.elements.has(tag);
  }

  /** The values of a text element (split on backslash, trimmed); [] when absent or implausibly long. */
  strings(tag: number): string[] {
    const element = this.elements.get(tag);
    if (!element || element.value.length > 1024) return [];
    let text = '';
    for (const byte of element.value) text += String.fromCharCode(byte);
    return text.split('\\').map((s) => s.replace(/[\0 ]+$/, '').replace(/^ +/, ''));
  }

  /** The first value of a text element (case as stored); undefined when absent or empty. */
  string(tag: number): string | undefined {
    const value = this.strings(tag)[0];
    return value ? value : undefined;
  }

  /** Numeric values, from binary VRs (US, SS, UL, SL, FL, FD) or decimal strings (DS, IS). */
  numbers(tag: number): number[] {
    const element = this.elements.get(tag);
    if (!element) return [];
    const { vr, value } = element;
    if (vr === 'DS' || vr === 'IS') return this.strings(tag).filter((s) => s !== '').map(Number);
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const size = vr === 'FD' ? 8 : vr === 'UL' || vr === 'SL' || vr === 'FL' ? 4 : 2;
    const out: number[] = [];
    for (let i = 0; i + size <= value.length && out.length < 64; i += size) {
      const le = this.littleEndian;
      out.push(
        vr === 'SS' ? view.getInt16(i, le)
        : vr === 'UL' ? view.getUint32(i, le)
        : vr === 'SL' ? view.getInt32(i, le)
        : vr === 'FL' ? view.getFloat32(i, le)
        : vr === 'FD' ? view.getFloat64(i, le)
        : view.getUint16(i, le),
      );
    }
    return out;
  }

  /** The first numeric value, or undefined when absent or not a finite number. */
  number(tag: number): number | undefined {
    const value = this.numbers(tag)[0];
    return Number.isFinite(value) ? value : undefined;
  }

  /** The items of a sequence this service reads ([] when absent). */
  sequence(tag: number): DataSet[] {
    return this.elements.get(tag)?.items ?? [];
  }
}

class Reader {
  readonly view: DataView;
  pos: number;
  elements = 0;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }
  need(count: number, what: string): void {
    if (this.pos + count > this.bytes.length) throw new ImageError('invalid', `The DICOM file is truncated (in ${what}).`);
  }
  tag(le: boolean): number {
    this.need(4, 'an element tag');
    const tag = ((this.view.getUint16(this.pos, le) << 16) | this.view.getUint16(this.pos + 2, le)) >>> 0;
    this.pos += 4;
    return tag;
  }
  uint32(le: boolean): number {
    this.need(4, 'an element length');
    const value = this.view.getUint32(this.pos, le);
    this.pos += 4;
    return value;
  }
  count(): void {
    if (++this.elements > MAX_ELEMENTS) {
      throw new ImageError('unsupported', `DICOM data sets with more than ${MAX_ELEMENTS} elements are not supported.`);
    }
  }
}

/**
 * Parses data elements from `start` up to `end` (or the end of the bytes), or until an item delimiter
 * when `inUndefinedItem`. Returns the data set and where parsing stopped.
 * @param stopAfterPixelData stop at the top-level Pixel Data (what follows is padding or signatures)
 */
export function parseDataSet(
  bytes: Uint8Array,
  start: number,
  encoding: Encoding,
  options: { end?: number; stopAfterPixelData?: boolean } = {},
): { dataset: DataSet; end: number } {
  const reader = new Reader(bytes, start);
  const dataset = readElements(reader, encoding, options.end ?? bytes.length, false, 0, options.stopAfterPixelData ?? true);
  return { dataset, end: reader.pos };
}

function readElements(reader: Reader, enc: Encoding, end: number, inUndefinedItem: boolean, depth: number, stopAfterPixelData: boolean): DataSet {
  if (depth > MAX_DEPTH) throw new ImageError('unsupported', `DICOM sequences nested more than ${MAX_DEPTH} deep are not supported.`);
  const le = enc.littleEndian;
  const elements = new Map<number, DicomElement>();
  while (reader.pos < end) {
    // Trailing zero padding after the last element (some writers pad to a block size) is not an element.
    if (!inUndefinedItem && end - reader.pos < 8 && reader.bytes.subarray(reader.pos, end).every((b) => b === 0)) {
      reader.pos = end;
      break;
    }
    reader.count();
    const tag = reader.tag(le);
    if (tag === Tag.ItemDelimitation) {
      reader.uint32(le);
      if (!inUndefinedItem) throw new ImageError('invalid', 'Corrupt DICOM: an item delimiter outside any item.');
      return new DataSet(elements, le);
    }
    if (tag === Tag.Item || tag === Tag.SequenceDelimitation) {
      throw new ImageError('invalid', `Corrupt DICOM: an item tag ${formatTag(tag)} where a data element was expected.`);
    }
    let vr: string;
    let length: number;
    if (enc.explicitVR) {
      reader.need(4, 'an element header');
      const a = reader.bytes[reader.pos];
      const b = reader.bytes[reader.pos + 1];
      if (a < 0x41 || a > 0x5a || b < 0x41 || b > 0x5a) {
        throw new ImageError('invalid', `Corrupt DICOM: element ${formatTag(tag)} has no valid value representation.`);
      }
      vr = String.fromCharCode(a, b);
      if (LONG_VRS.has(vr)) {
        reader.pos += 4;
        length = reader.uint32(le);
      } else {
        length = reader.view.getUint16(reader.pos + 2, le);
        reader.pos += 4;
      }
    } else {
      vr = IMPLICIT_VR.get(tag) ?? 'UN';
      length = reader.uint32(le);
    }

    if (length === UNDEFINED_LENGTH) {
      if (tag === Tag.PixelData) {
        elements.set(tag, { tag, vr, value: new Uint8Array(0), fragments: readFragments(reader, le) });
        if (stopAfterPixelData) break; // true at the top level only: sequence items are parsed with false
        continue;
      }
      if (vr !== 'SQ' && vr !== 'UN') {
        throw new ImageError('invalid', `Corrupt DICOM: element ${formatTag(tag)} (${vr}) has an undefined length.`);
      }
      // An undefined-length UN is a sequence encoded as implicit VR little endian (PS3.5 6.2.2).
      const itemEncoding = vr === 'UN' ? { littleEndian: true, explicitVR: false } : enc;
      const items = readSequence(reader, itemEncoding, undefined, depth + 1, MATERIALISED_SEQUENCES.has(tag));
      elements.set(tag, { tag, vr: 'SQ', value: new Uint8Array(0), items });
      continue;
    }
    if (length > end - reader.pos) {
      throw new ImageError('invalid', `The DICOM file is truncated: element ${formatTag(tag)} declares ${length} bytes, ${Math.max(0, end - reader.pos)} remain.`);
    }
    const valueStart = reader.pos;
    if (vr === 'SQ') {
      const items = readSequence(reader, enc, valueStart + length, depth + 1, MATERIALISED_SEQUENCES.has(tag));
      elements.set(tag, { tag, vr, value: new Uint8Array(0), items });
      reader.pos = valueStart + length;
      continue;
    }
    elements.set(tag, { tag, vr, value: reader.bytes.subarray(valueStart, valueStart + length) });
    reader.pos = valueStart + length;
    if (tag === Tag.PixelData && stopAfterPixelData) break;
  }
  if (inUndefinedItem) throw new ImageError('invalid', 'The DICOM file is truncated (an item has no delimiter).');
  return new DataSet(elements, le);
}

/** Reads a sequence's items up to `end` (defined length) or its delimiter; keeps them only when `keep`. */
function readSequence(reader: Reader, enc: Encoding, end: number | undefined, depth: number, keep: boolean): DataSet[] {
  const le = enc.littleEndian;
  const items: DataSet[] = [];
  for (;;) {
    if (reader.pos >= (end ?? Infinity)) return items;
    reader.count();
    const tag = reader.tag(le);
    const length = reader.uint32(le);
    if (tag === Tag.SequenceDelimitation) {
      if (end !== undefined) throw new ImageError('invalid', 'Corrupt DICOM: a sequence delimiter inside a sequence of defined length.');
      return items;
    }
    if (tag !== Tag.Item) throw new ImageError('invalid', `Corrupt DICOM: ${formatTag(tag)} inside a sequence where an item was expected.`);
    let item: DataSet;
    if (length === UNDEFINED_LENGTH) {
      item = readElements(reader, enc, end ?? reader.bytes.length, true, depth, false);
    } else {
      const limit = end ?? reader.bytes.length;
      if (length > limit - reader.pos) throw new ImageError('invalid', 'The DICOM file is truncated (in a sequence item).');
      const itemEnd = reader.pos + length;
      item = readElements(reader, enc, itemEnd, false, depth, false);
      reader.pos = itemEnd;
    }
    if (keep) items.push(item);
  }
}

/** Encapsulated pixel data (PS3.5 A.4): items of fragments, the first being the Basic Offset Table. */
function readFragments(reader: Reader, le: boolean): Uint8Array[] {
  const fragments: Uint8Array[] = [];
  for (;;) {
    reader.count();
    const tag = reader.tag(le);
    const length = reader.uint32(le);
    if (tag === Tag.SequenceDelimitation) return fragments;
    if (tag !== Tag.Item) throw new ImageError('invalid', 'Corrupt DICOM: encapsulated pixel data holds something other than items.');
    // An undefined length (0xFFFFFFFF) is longer than any upload, so this refuses it too.
    if (length > reader.bytes.length - reader.pos) {
      throw new ImageError('invalid', 'The DICOM file is truncated (in the encapsulated pixel data).');
    }
    fragments.push(reader.bytes.subarray(reader.pos, reader.pos + length));
    reader.pos += length;
  }
}
