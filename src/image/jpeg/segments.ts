/**
 * Marker-segment parsing shared by the JPEG decoders (ITU T.81 B.1.1, B.2.4, B.1.1.4): the 8-bit decoder here and the
 * 12-bit sequential and lossless ones in src/image/dicom/codecs. All of it runs once per segment, never per block.
 *
 * Error messages name the format as each decoder does (`JPEG`, `lossless JPEG`), so that every decoder keeps
 * the messages it has always thrown.
 */
import { ImageError } from '../errors';
import { buildHuffmanTable, type HuffmanTable } from './huffman';
import { ZIGZAG } from './idct';

/**
 * Reads the length-prefixed segment whose length field starts at `pos` (just after its marker).
 * @param name the format in error messages: `JPEG` or `lossless JPEG`
 * @returns the segment's payload (without the length field); the segment ends at `pos + 2 + payload.length`
 * @throws ImageError `invalid` when the length field is cut off or the length is out of bounds
 */
export function readSegment(bytes: Uint8Array, pos: number, name = 'JPEG'): Uint8Array {
  if (pos + 2 > bytes.length) throw new ImageError('invalid', `The ${name} is truncated.`);
  const length = (bytes[pos] << 8) | bytes[pos + 1];
  if (length < 2 || pos + length > bytes.length) throw new ImageError('invalid', `Corrupt ${name}: bad segment length.`);
  return bytes.subarray(pos + 2, pos + length);
}

/**
 * Finds the next marker that starts a segment or ends the image, from `pos` between segments or just after a
 * scan's entropy-coded data, as libjpeg's next_marker does: stray bytes and 0xFF fill bytes are skipped, and so
 * are the markers that carry no segment (TEM, RSTn, SOI, and 0xFF00, stuffing met out of place). After a scan
 * this skips whatever data the decoder left unread (a scan it skipped, padding) up to the next real marker.
 * @returns the position just after the marker, whose code is the byte before it (0xD9 for EOI)
 * @throws ImageError `invalid` when the data ends first: a codestream ends with EOI
 */
export function nextMarker(bytes: Uint8Array, pos: number): number {
  for (;;) {
    // Stryker disable next-line EqualityOperator,ArithmeticOperator: a looser bound lets a last lone 0xFF (or nothing) through to readSegment, which refuses it with the same message
    if (pos + 1 >= bytes.length) throw new ImageError('invalid', 'The JPEG is truncated.');
    if (bytes[pos] !== 0xff) {
      pos++;
      continue;
    }
    const marker = bytes[pos + 1];
    if (marker === 0xff) pos++; // a fill byte: the next 0xFF may start the marker
    else if (marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) pos += 2;
    else return pos + 2;
  }
}

/** Whether `marker` is a frame header, SOF0 to SOF15: 0xC0 to 0xCF but DHT (0xC4), JPG (0xC8) and DAC (0xCC). */
export function isFrameHeader(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** What a JPEG's application segments say about its colour (libjpeg's jdapimin.c rules). */
export interface ColourMarkers {
  /** A JFIF APP0 segment: the components are YCbCr. */
  jfif: boolean;
  /** An Adobe APP14 segment's transform: 0 = none (RGB or CMYK), 1 = YCbCr, 2 = YCCK; null without one. */
  adobeTransform: number | null;
}

/** The transform flag of an Adobe APP14 segment's payload (0: RGB or CMYK, 1: YCbCr, 2: YCCK); null for another APP14. */
export function adobeTransformOf(data: Uint8Array): number | null {
  return data.length >= 12 && data[0] === 0x41 && data[1] === 0x64 && data[2] === 0x6f && data[3] === 0x62 && data[4] === 0x65 ? data[11] : null;
}

/**
 * Records what an APP0 (JFIF) or APP14 (Adobe) segment's payload says about colour; an APP14 that is not Adobe's
 * leaves an earlier transform as it was.
 * @param marker 0xE0 (APP0) or 0xEE (APP14)
 */
export function readColourMarker(marker: number, data: Uint8Array, colour: ColourMarkers): void {
  // A shorter segment reads undefined past its end (a subarray), which is not the zero that ends the identifier.
  if (marker === 0xe0) colour.jfif ||= data[0] === 0x4a && data[1] === 0x46 && data[2] === 0x49 && data[3] === 0x46 && data[4] === 0;
  else colour.adobeTransform = adobeTransformOf(data) ?? colour.adobeTransform;
}

/**
 * Whether three components hold R, G, B rather than Y, Cb, Cr: not with JFIF; else as an Adobe transform says
 * (0: RGB); else when the component ids are 'R', 'G', 'B'.
 */
export function isRgb(componentIds: number[], colour: ColourMarkers): boolean {
  if (colour.jfif) return false;
  if (colour.adobeTransform !== null) return colour.adobeTransform === 0;
  return componentIds[0] === 0x52 && componentIds[1] === 0x47 && componentIds[2] === 0x42;
}

/**
 * Returns a function to call once per quantisation or Huffman table a file defines: it throws once more than
 * `max` have been defined, before they are built, as thousands of tiny tables cost table building alone.
 * @param error the error to throw; by default `unsupported`, naming the limit
 */
export function tableCounter(
  max: number,
  error = () => new ImageError('unsupported', `JPEGs with more than ${max} quantisation and Huffman tables are not supported.`),
): () => void {
  let tables = 0;
  return () => {
    if (++tables > max) throw error();
  };
}

/**
 * Reads the tables of a DHT segment's payload into `dcTables` (class 0) and `acTables` (class 1), by id.
 * @param acTables null to skip AC tables unbuilt (lossless scans use class 0 only, so a stray AC table is harmless)
 * @param countTable called for every table, before it is built (see tableCounter)
 * @param strict refuse classes above 1; when false (the 8-bit decoder, which always allowed it) any nonzero
 *   class is an AC table
 * @param name the format in error messages: `JPEG` or `lossless JPEG`
 * @throws ImageError `invalid` for a bad class, an id above 3, or a table that runs past the segment
 */
export function readHuffmanTables(
  data: Uint8Array, dcTables: (HuffmanTable | undefined)[], acTables: (HuffmanTable | undefined)[] | null,
  countTable: () => void, strict = true, name = 'JPEG',
): void {
  for (let i = 0; i < data.length; ) {
    const cls = data[i] >> 4;
    const id = data[i] & 15;
    const counts = data.subarray(i + 1, i + 17);
    let total = 0;
    for (const n of counts) total += n;
    // Fewer than 16 counts left means the table runs past the segment too (i + 17 > length).
    if ((strict && cls > 1) || id > 3 || i + 17 + total > data.length) {
      throw new ImageError('invalid', `Corrupt ${name}: bad Huffman table.`);
    }
    countTable();
    // Symbols past 16 in a DC table are not refused here: some encoders list all 256 to make the code complete.
    if (cls === 0) dcTables[id] = buildHuffmanTable(counts, data.subarray(i + 17, i + 17 + total), false);
    else if (acTables) acTables[id] = buildHuffmanTable(counts, data.subarray(i + 17, i + 17 + total), true);
    i += 17 + total;
  }
}

/**
 * Reads the tables of a DQT segment's payload into `quant`, by id, in natural (row-major) order: the segment
 * lists each table's 64 entries in zig-zag order, 8-bit (Pq = 0) or 16-bit (Pq = 1, which 12-bit images need).
 * @param Table the array type each decoder multiplies by (Float32Array, Uint16Array)
 * @param length each table's length: 64, or more for a decoder that wants entries past the last, left 0
 * @param countTable called for every table, before it is read (see tableCounter)
 * @param strict refuse Pq above 1 and tables that run past the segment; when false (the 8-bit decoder, whose
 *   output for such files is kept as it always was) any nonzero Pq is 16-bit and missing entries read as
 *   undefined (NaN in a Float32Array)
 * @throws ImageError `invalid` for an id above 3, and with `strict` for a bad Pq or a cut-off table
 */
export function readQuantisationTables<T extends Float32Array | Uint16Array>(
  data: Uint8Array, quant: (T | undefined)[], Table: new (length: number) => T, countTable: () => void, strict = true, length = 64,
): void {
  for (let i = 0; i < data.length; ) {
    const pq = data[i] >> 4;
    const id = data[i] & 15;
    const size = pq === 0 ? 64 : 128;
    if (id > 3 || (strict && (pq > 1 || i + 1 + size > data.length))) throw new ImageError('invalid', 'Corrupt JPEG: bad quantisation table.');
    countTable();
    const table = new Table(length);
    // Stryker disable next-line EqualityOperator: ZIGZAG[64] is undefined, so the extra write lands on a property named "undefined", no entry
    for (let k = 0; k < 64; k++) table[ZIGZAG[k]] = pq === 0 ? data[i + 1 + k] : (data[i + 1 + 2 * k] << 8) | data[i + 2 + 2 * k];
    quant[id] = table;
    i += 1 + size;
  }
}
