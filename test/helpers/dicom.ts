/**
 * Writes small DICOM files for the tests (explicit VR little or big endian, Part 10; RLE frames and encapsulated
 * pixel data for the compressed syntaxes), and converts them to the
 * other transfer syntaxes with dcmtk and gdcm, the tools hospitals' own software is tested against.
 * Nothing here is committed as an image: every fixture is generated when the tests run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDicomFile } from '../../src/image/dicom/file';

/** One data element: strings for text VRs, numbers for binary ones, bytes as they are, items for SQ. */
export interface TestElement {
  tag: number;
  vr: string;
  value: string | number | number[] | Uint8Array | Uint16Array | TestElement[][];
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
export const DX_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.1';

function encodeValue(vr: string, value: TestElement['value'], le: boolean): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof Uint16Array) return swapWords(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), le);
  if (typeof value === 'string') {
    const text = value.length % 2 ? value + (vr === 'UI' ? '\0' : ' ') : value;
    return new TextEncoder().encode(text);
  }
  const numbers = typeof value === 'number' ? [value] : (value as number[]);
  const size = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8 }[vr];
  if (!size) throw new Error(`no numeric encoding for ${vr}`);
  const out = new Uint8Array(numbers.length * size);
  const view = new DataView(out.buffer);
  numbers.forEach((n, i) => {
    if (vr === 'US') view.setUint16(i * 2, n, le);
    else if (vr === 'SS') view.setInt16(i * 2, n, le);
    else if (vr === 'UL') view.setUint32(i * 4, n, le);
    else if (vr === 'SL') view.setInt32(i * 4, n, le);
    else if (vr === 'FL') view.setFloat32(i * 4, n, le);
    else view.setFloat64(i * 8, n, le);
  });
  return out;
}

/** 16-bit words as little endian bytes (the platform's order, as a Uint16Array holds them), or swapped to big endian. */
const swapWords = (bytes: Uint8Array, le: boolean): Uint8Array => (le ? bytes : bytes.map((_, i) => bytes[i ^ 1]));

export { concatBytes as concat } from '../../src/image/bytes';
import { concatBytes as concat } from '../../src/image/bytes';

function header(tag: number, vr: string, length: number, le = true): Uint8Array {
  const long = LONG_VRS.has(vr);
  const out = new Uint8Array(long ? 12 : 8);
  const view = new DataView(out.buffer);
  view.setUint16(0, tag >>> 16, le);
  view.setUint16(2, tag & 0xffff, le);
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, length, le);
  else view.setUint16(6, length, le);
  return out;
}

function item(tag: number, length: number, le = true): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xfffe, le);
  view.setUint16(2, tag, le);
  view.setUint32(4, length, le);
  return out;
}

/**
 * Encodes elements (sorted by tag here) as explicit VR little endian, or big endian when `le` is false (text and
 * byte values as they are, numbers and 16-bit words swapped). Sequences use defined lengths.
 */
export function encodeElements(elements: TestElement[], le = true): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of [...elements].sort((a, b) => a.tag - b.tag)) {
    if (e.vr === 'SQ') {
      const items = (e.value as TestElement[][]).map((children) => {
        const body = encodeElements(children, le);
        return concat([item(0xe000, body.length, le), body]);
      });
      const body = concat(items);
      parts.push(header(e.tag, 'SQ', body.length, le), body);
      continue;
    }
    let value = encodeValue(e.vr, e.value, le);
    if (value.length % 2 && e.tag !== 0x7fe00010) value = concat([value, new Uint8Array(1)]);
    parts.push(header(e.tag, e.vr, value.length, le), value);
  }
  return concat(parts);
}

/**
 * Encapsulated pixel data: the Basic Offset Table item (empty unless given), one item per fragment, a sequence
 * delimiter. Fragments of odd length get a padding byte (PS3.5 A.4: items have even lengths) unless `padToEven` is
 * false, for readers' handling of files that break that rule.
 */
export function encapsulated(fragments: Uint8Array[], offsetTable: Uint8Array = new Uint8Array(0), padToEven = true): Uint8Array {
  const parts: Uint8Array[] = [header(0x7fe00010, 'OB', 0xffffffff), item(0xe000, offsetTable.length), offsetTable];
  for (const f of fragments) {
    const even = padToEven && f.length % 2 ? concat([f, new Uint8Array(1)]) : f;
    parts.push(item(0xe000, even.length), even);
  }
  parts.push(item(0xe0dd, 0));
  return concat(parts);
}

/** A Basic Offset Table (PS3.5 A.4): each frame's first fragment, as a byte offset from the first fragment's item. */
export const offsetTable = (offsets: number[]): Uint8Array => encodeValue('UL', offsets, true);

/** An RLE Lossless frame (PS3.5 G.3): the 64-byte header (segment count, offsets) and the segments; `offsets` overrides the computed ones. */
export function rleFrame(segments: number[][], offsets?: number[], count = segments.length): Uint8Array {
  const header = new Uint8Array(64);
  const view = new DataView(header.buffer);
  view.setUint32(0, count, true);
  let at = 64;
  segments.forEach((s, i) => {
    view.setUint32(4 + 4 * i, offsets?.[i] ?? at, true);
    at += s.length;
  });
  return Uint8Array.from([...header, ...segments.flat()]);
}

/** PackBits: a literal run of `bytes` (1..128). */
export const rleLiteral = (...bytes: number[]): number[] => [bytes.length - 1, ...bytes];
/** PackBits: `value` repeated `times` (2..128). */
export const rleRepeat = (value: number, times: number): number[] => [257 - times, value];

/** A Part 10 file: preamble, DICM, file meta group (explicit VR LE), then `body` already encoded. */
export function part10(body: Uint8Array, transferSyntax = EXPLICIT_LE, sopClass = SECONDARY_CAPTURE): Uint8Array {
  const metaElements = encodeElements([
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: sopClass },
    { tag: 0x00020003, vr: 'UI', value: '1.2.826.0.1.3680043.8.498.1' },
    { tag: 0x00020010, vr: 'UI', value: transferSyntax },
    { tag: 0x00020012, vr: 'UI', value: '1.2.826.0.1.3680043.8.498.2' },
  ]);
  const groupLength = encodeElements([{ tag: 0x00020000, vr: 'UL', value: metaElements.length }]);
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  return concat([preamble, groupLength, metaElements, body]);
}

export interface RadiographSpec {
  width: number;
  height: number;
  /** Stored values, row-major; 8-bit values use OB-like single bytes when bitsAllocated is 8. */
  samples: Uint16Array | Int16Array | Uint8Array;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  signed?: boolean;
  photometric?: string;
  samplesPerPixel?: number;
  /** More elements (window, rescale, LUT sequences, modality, patient module...). */
  extra?: TestElement[];
  frames?: number;
  /** Pad odd-length native pixel data with a zero byte (PS3.5 7.1.1); off by default, as the fixtures were written. */
  padPixelData?: boolean;
  /**
   * Another transfer syntax than explicit VR little endian: explicit VR big endian (EXPLICIT_BE) writes the data set
   * and `samples` big endian; any other makes `samples` one compressed frame (a codestream), written as encapsulated
   * pixel data (an empty Basic Offset Table, one fragment).
   */
  transferSyntax?: string;
  /** The Pixel Data element already encoded (e.g. `encapsulated(...)` with several fragments), instead of `samples`. */
  pixelData?: Uint8Array;
}

/**
 * A native (uncompressed) explicit VR little endian radiograph as a Part 10 file; with `spec.transferSyntax`,
 * the same image module around one encapsulated codestream.
 */
export function nativeRadiograph(spec: RadiographSpec, sopClass = DX_FOR_PRESENTATION): Uint8Array {
  let pixelBytes = new Uint8Array(spec.samples.buffer, spec.samples.byteOffset, spec.samples.byteLength);
  if (spec.padPixelData && pixelBytes.length % 2) pixelBytes = concat([pixelBytes, new Uint8Array(1)]);
  const le = spec.transferSyntax !== EXPLICIT_BE;
  if (spec.bitsAllocated === 16) pixelBytes = swapWords(pixelBytes, le);
  const encapsulatedSyntax = spec.transferSyntax !== undefined && spec.transferSyntax !== EXPLICIT_LE && le;
  const elements: TestElement[] = [
    { tag: 0x00080016, vr: 'UI', value: sopClass },
    { tag: 0x00080018, vr: 'UI', value: '1.2.826.0.1.3680043.8.498.1' },
    { tag: 0x00080060, vr: 'CS', value: 'DX' },
    { tag: 0x0020000d, vr: 'UI', value: '1.2.826.0.1.3680043.8.498.3' },
    { tag: 0x0020000e, vr: 'UI', value: '1.2.826.0.1.3680043.8.498.4' },
    { tag: 0x00280002, vr: 'US', value: spec.samplesPerPixel ?? 1 },
    { tag: 0x00280004, vr: 'CS', value: spec.photometric ?? 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: spec.height },
    { tag: 0x00280011, vr: 'US', value: spec.width },
    { tag: 0x00280100, vr: 'US', value: spec.bitsAllocated },
    { tag: 0x00280101, vr: 'US', value: spec.bitsStored },
    { tag: 0x00280102, vr: 'US', value: spec.bitsStored - 1 },
    { tag: 0x00280103, vr: 'US', value: spec.signed ? 1 : 0 },
    ...((spec.samplesPerPixel ?? 1) > 1 ? [{ tag: 0x00280006, vr: 'US', value: 0 }] : []),
    ...(spec.frames ? [{ tag: 0x00280008, vr: 'IS', value: String(spec.frames) }] : []),
    ...(spec.extra ?? []),
    ...(encapsulatedSyntax || spec.pixelData ? [] : [{ tag: 0x7fe00010, vr: spec.bitsAllocated === 8 ? 'OB' : 'OW', value: pixelBytes }]),
  ];
  // Later entries replace earlier ones with the same tag, so `extra` can override the defaults.
  const byTag = new Map(elements.map((e) => [e.tag, e]));
  const body = encodeElements([...byTag.values()], le);
  const pixelData = spec.pixelData ?? (encapsulatedSyntax ? encapsulated([pixelBytes]) : new Uint8Array(0));
  return part10(concat([body, pixelData]), spec.transferSyntax ?? EXPLICIT_LE, sopClass);
}

/** The tests' files are never deflated, so readDicomFile's inflation limit never applies. */
const NO_INFLATION_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * The first frame's compressed codestream of an encapsulated single-frame DICOM file, read with the service's
 * own parser: every fragment after the Basic Offset Table, concatenated (with the writers' padding bytes).
 */
export function codestreamOf(dicom: Uint8Array): Uint8Array {
  const fragments = readDicomFile(dicom, NO_INFLATION_LIMIT).dataset.elements.get(0x7fe00010)?.fragments;
  if (!fragments) throw new Error('the file has no encapsulated pixel data');
  return concat(fragments.slice(1));
}

/** Runs a dcmtk/gdcm converter on `input` and returns the output file's bytes. */
export function convert(tool: string, args: string[], input: Uint8Array): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-'));
  try {
    const inPath = join(dir, 'in.dcm');
    const outPath = join(dir, 'out.dcm');
    writeFileSync(inPath, input);
    const run = spawnSync(tool, [...args, inPath, outPath], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${run.stderr || run.error}`);
    return new Uint8Array(readFileSync(outPath));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** img2dcm: a JPEG wrapped as a DICOM secondary capture (JPEG baseline transfer syntax), as dcmtk writes it. */
export function jpegToDicom(jpeg: Uint8Array, args: string[] = []): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'img2dcm-'));
  try {
    writeFileSync(join(dir, 'in.jpg'), jpeg);
    const run = spawnSync('img2dcm', ['-i', 'JPEG', ...args, join(dir, 'in.jpg'), join(dir, 'out.dcm')], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`img2dcm failed: ${run.stderr || run.error}`);
    return new Uint8Array(readFileSync(join(dir, 'out.dcm')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether the Debian tools the DICOM fixtures need are installed (dcmtk, gdcm). */
export function haveDicomTools(): boolean {
  return ['img2dcm', 'dcmconv', 'dcmcjpeg', 'dcmcrle', 'dcmcjpls', 'gdcmconv'].every(
    (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0,
  );
}
