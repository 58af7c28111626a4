/**
 * Lossless JPEG (ITU T.81 process 14: SOF3, Huffman-coded), as carried by DICOM transfer syntaxes
 * 1.2.840.10008.1.2.4.57 (any predictor) and 1.2.840.10008.1.2.4.70 (predictor 1). Only what those files
 * use is decoded: one interleaved scan of 1 or 3 components with 1x1 sampling; the rest is refused.
 */
import { ImageError } from '../../errors';
import { BitReader, MAX_PADDING_BITS, type HuffmanTable } from '../../jpeg/huffman';
import { readHuffmanTables, readSegment, tableCounter } from '../../jpeg/segments';

export interface LosslessImage {
  width: number;
  height: number;
  components: number;
  precision: number;
  /** samples, interleaved per pixel when components > 1, unsigned 0..2^precision-1 */
  samples: Uint16Array;
}

// A lossless file needs at most 4 tables; thousands of DHT segments would only cost table building.
const MAX_TABLES = 64;

interface Frame {
  precision: number;
  width: number;
  height: number;
  ids: number[];
}

/**
 * Decodes a lossless JPEG codestream (one frame of a DICOM encapsulated pixel data element).
 *
 * Samples come back as stored in the codestream, shifted left by the point transform, so a file encoded
 * with Pt > 0 yields values whose low Pt bits are zero, as T.81 reconstructs them.
 *
 * @param bytes the codestream, from SOI; anything after the scan (EOI, DICOM padding) is ignored
 * @param maxPixels largest width * height accepted, checked before anything is allocated
 * @throws ImageError `invalid` for corrupt or truncated data, `unsupported` for valid JPEG this decoder does
 *   not handle (other processes, subsampling, non-interleaved scans, DNL), `too_large` past `maxPixels`
 */
export function decodeJpegLossless(bytes: Uint8Array, maxPixels: number): LosslessImage {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new ImageError('invalid', 'Not a JPEG codestream (no SOI marker).');
  const tables: (HuffmanTable | undefined)[] = [];
  const countTable = tableCounter(MAX_TABLES, () => new ImageError('invalid', 'Corrupt lossless JPEG: too many Huffman tables.'));
  let frame: Frame | undefined;
  let restartInterval = 0;
  let pos = 2;

  for (;;) {
    if (pos + 1 >= bytes.length) throw new ImageError('invalid', 'The lossless JPEG ends before its image data.');
    if (bytes[pos] !== 0xff) throw new ImageError('invalid', 'Corrupt lossless JPEG: expected a marker.');
    const marker = bytes[pos + 1];
    pos += 2;
    if (marker === 0xff) {
      pos--; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // TEM, stray RSTn: no segment
    if (marker === 0xd8 || marker === 0xd9 || marker === 0x00) throw new ImageError('invalid', 'Corrupt lossless JPEG: unexpected marker before the scan.');
    const data = readSegment(bytes, pos, 'lossless JPEG');
    pos += 2 + data.length;

    if (marker === 0xc4) {
      // Lossless scans use only the DC-style tables (class 0); a stray AC table is harmless and ignored (null).
      readHuffmanTables(data, tables, null, countTable, true, 'lossless JPEG');
    } else if (marker === 0xdd) {
      if (data.length !== 2) throw new ImageError('invalid', 'Corrupt lossless JPEG: bad DRI segment.');
      restartInterval = (data[0] << 8) | data[1];
    } else if (marker === 0xc3) {
      if (frame) throw new ImageError('invalid', 'Corrupt lossless JPEG: more than one frame.');
      frame = readFrame(data, maxPixels);
    } else if (marker === 0xdc) {
      throw new ImageError('unsupported', 'Lossless JPEG with a DNL marker is not supported.');
    } else if (marker >= 0xc0 && marker <= 0xcf) {
      // Every other SOFn (and DAC, for arithmetic coding) belongs to a process this decoder does not implement.
      throw new ImageError('unsupported', 'Only lossless Huffman JPEG (SOF3) is supported here.');
    } else if (marker === 0xda) {
      if (!frame) throw new ImageError('invalid', 'Corrupt lossless JPEG: scan before frame.');
      return decodeScan(bytes, pos, data, frame, tables, restartInterval);
    }
    // APPn, COM, DQT and the rest carry nothing a lossless decode needs.
  }
}

function readFrame(data: Uint8Array, maxPixels: number): Frame {
  if (data.length < 6) throw new ImageError('invalid', 'Corrupt lossless JPEG: short frame header.');
  const precision = data[0];
  const height = (data[1] << 8) | data[2];
  const width = (data[3] << 8) | data[4];
  const count = data[5];
  if (data.length !== 6 + 3 * count || count === 0) throw new ImageError('invalid', 'Corrupt lossless JPEG: bad frame header.');
  if (precision < 2 || precision > 16) throw new ImageError('invalid', 'Corrupt lossless JPEG: sample precision out of range.');
  if (height === 0) throw new ImageError('unsupported', 'Lossless JPEG with the height in a DNL marker is not supported.');
  if (width === 0) throw new ImageError('invalid', 'Corrupt lossless JPEG: zero width.');
  if (width * height > maxPixels) throw new ImageError('too_large', `The image is too large (${width}x${height}).`);
  if (count !== 1 && count !== 3) throw new ImageError('unsupported', `Lossless JPEG with ${count} components is not supported.`);
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = data[6 + 3 * i];
    if (ids.includes(id)) throw new ImageError('invalid', 'Corrupt lossless JPEG: duplicate component.');
    if (data[7 + 3 * i] !== 0x11) throw new ImageError('unsupported', 'Lossless JPEG with subsampled components is not supported.');
    ids.push(id);
  }
  return { precision, width, height, ids };
}

/** Decodes the scan whose header is `header` and whose entropy-coded data starts at `pos`. */
function decodeScan(
  bytes: Uint8Array, pos: number, header: Uint8Array, frame: Frame, tables: (HuffmanTable | undefined)[], restartInterval: number,
): LosslessImage {
  const { width, height, precision } = frame;
  const nc = frame.ids.length;
  const count = header[0];
  if (header.length !== 4 + 2 * count || count === 0 || count > 4) throw new ImageError('invalid', 'Corrupt lossless JPEG: bad scan header.');
  // Each scan of a non-interleaved file would be one more pass; DICOM encoders write a single interleaved scan.
  if (count !== nc) throw new ImageError('unsupported', 'Non-interleaved lossless JPEG is not supported.');
  const order = new Int32Array(nc); // frame index of each scan component, so samples land in frame order
  const scanTables: HuffmanTable[] = [];
  for (let i = 0; i < count; i++) {
    const index = frame.ids.indexOf(header[1 + 2 * i]);
    if (index < 0 || order.subarray(0, i).includes(index)) throw new ImageError('invalid', 'Corrupt lossless JPEG: scan names a bad component.');
    const table = tables[header[2 + 2 * i] >> 4];
    if (!table) throw new ImageError('invalid', 'Corrupt lossless JPEG: scan uses an undefined Huffman table.');
    order[i] = index;
    scanTables.push(table);
  }
  const predictor = header[1 + 2 * count]; // Ss holds the selection value in lossless scans
  const pt = header[3 + 2 * count] & 15; // Al holds the point transform
  if (predictor < 1 || predictor > 7) throw new ImageError('invalid', 'Corrupt lossless JPEG: bad predictor.');
  if (pt >= precision) throw new ImageError('invalid', 'Corrupt lossless JPEG: point transform too large.');
  // A predictor reset mid-row would leave the next row's first-line rule undefined; libjpeg refuses it too.
  if (restartInterval % width !== 0) throw new ImageError('unsupported', 'Lossless JPEG restart intervals that are not whole rows are not supported.');
  const rowsPerInterval = restartInterval / width;

  const samplesPerRow = width * nc;
  const total = samplesPerRow * height;
  // Every sample costs at least one bit of data: refuse a huge header on a small body before allocating for it.
  if ((bytes.length - pos) * 8 < total) throw new ImageError('invalid', 'Corrupt lossless JPEG: the image data ends long before the image does.');
  const out = new Uint16Array(total);
  const reader = new BitReader(bytes, pos);
  const initial = 1 << (precision - pt - 1);

  for (let y = 0; y < height; y++) {
    const rowStart = y * samplesPerRow;
    const intervalStart = rowsPerInterval === 0 ? y === 0 : y % rowsPerInterval === 0;
    // (Not at y = 0: an RSTn marker at the very start of the data is read as its end, as anywhere else.)
    if (intervalStart && y > 0) reader.restart();
    for (let x = 0, i = rowStart; x < width; x++, i += nc) {
      for (let c = 0; c < nc; c++) {
        const at = i + order[c];
        let prediction: number;
        if (x === 0) prediction = intervalStart ? initial : out[at - samplesPerRow];
        else if (intervalStart) prediction = out[at - nc];
        else {
          const ra = out[at - nc];
          const rb = out[at - samplesPerRow];
          const rc = out[at - samplesPerRow - nc];
          switch (predictor) {
            case 1: prediction = ra; break;
            case 2: prediction = rb; break;
            case 3: prediction = rc; break;
            case 4: prediction = ra + rb - rc; break;
            case 5: prediction = ra + ((rb - rc) >> 1); break;
            case 6: prediction = rb + ((ra - rc) >> 1); break;
            default: prediction = (ra + rb) >> 1;
          }
        }
        out[at] = prediction + readDifference(reader, scanTables[c]); // Uint16Array storage is the mod 2^16 of H.1.2.1
      }
    }
    // A truncated or hostile stream keeps decoding zero bits; stop it within a row instead of a whole image.
    if (reader.paddingConsumed() > MAX_PADDING_BITS) {
      throw new ImageError('invalid', 'Corrupt lossless JPEG: the image data ends before the image does.');
    }
  }

  // The point transform is undone only now, as prediction works on the shifted-down values. Masking first keeps
  // corrupt data, which can wrap past the declared precision, inside the documented range.
  const mask = (1 << (precision - pt)) - 1;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: a shortcut; at 16 bits without a point transform the mask is 0xffff and the shift 0 (and one step past the end writes nothing)
  if (pt > 0 || precision < 16) for (let i = 0; i < total; i++) out[i] = (out[i] & mask) << pt;
  return { width, height, components: nc, precision, samples: out };
}

/** One Huffman-coded difference (T.81 H.1.2.2): category 16 stands for 32768 and has no extra bits. */
function readDifference(reader: BitReader, table: HuffmanTable): number {
  const fast = reader.decodeFast(table);
  if (fast !== 0) return fast >> 16;
  const category = reader.decode(table);
  if (category > 16) throw new ImageError('invalid', 'Corrupt lossless JPEG: difference category out of range.');
  return category === 16 ? 32768 : reader.receiveExtend(category);
}
