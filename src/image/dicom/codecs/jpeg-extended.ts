/**
 * JPEG sequential DCT with Huffman coding at 8 or 12 bits per sample: ITU T.81 baseline (SOF0) and extended
 * sequential, process 4 (SOF1), as DICOM carries it in transfer syntaxes 1.2.840.10008.1.2.4.50 and .51.
 *
 * The 8-bit decoder in src/image/jpeg cannot serve here: it writes 8-bit samples and decodes to a reduced
 * size, and its output is hash-checked, so it stays as it is. This file reuses its entropy decoder
 * (huffman.ts: magnitude categories up to 16 bits, which 12-bit data needs, and the padding count that stops
 * truncated data from spinning) and writes full-resolution luminance samples of up to 16 bits.
 *
 * Only luminance is produced, block by block straight into the output: chroma is entropy-decoded (the stream
 * requires it) and dropped, so no buffer but the output is ever image-sized.
 */
import { ImageError } from '../../errors';
import { BitReader, END_OF_BLOCK, MAX_PADDING_BITS, type HuffmanTable } from '../../jpeg/huffman';
import { ZIGZAG as ZIGZAG_ORDER } from '../../jpeg/idct';
import { isFrameHeader, isRgb, nextMarker, readColourMarker, readHuffmanTables, readQuantisationTables, readSegment, tableCounter, type ColourMarkers } from '../../jpeg/segments';

// Local copies: a CommonJS-style transform (tsx) turns each use of an imported binding into a getter call,
// about 15% of the decode time in a profile of the per-coefficient loop.
const ZIGZAG = ZIGZAG_ORDER;
const EOB = END_OF_BLOCK;

export interface ExtendedImage {
  width: number;
  height: number;
  /** Components in the frame: 1 (grayscale) or 3. */
  components: number;
  /** Bits per sample: 8 or 12. */
  precision: number;
  /**
   * Luminance, unsigned 0..2^precision - 1, row-major: component 0 of grayscale and YCbCr images (Y, not
   * converted); for RGB-coded ones (an Adobe marker with transform 0, or components labelled 'R', 'G', 'B',
   * libjpeg's rules) the BT.601 luma 0.299 R + 0.587 G + 0.114 B.
   */
  samples: Uint16Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Blocks that hold image samples; an interleaved scan also codes MCU padding blocks beyond them. */
  blocksPerLine: number;
  blocksPerColumn: number;
  /** Index into the per-component sample blocks when luminance needs this component, else -1. */
  slot: number;
  /** Decoded in a scan already: sequential JPEG codes each component exactly once. */
  done: boolean;
  /** Latched at the start of its scan. */
  dc: HuffmanTable | undefined;
  ac: HuffmanTable | undefined;
  quant: Uint16Array | undefined;
  pred: number;
}

interface Frame {
  width: number;
  height: number;
  precision: number;
  components: Component[];
  maxH: number;
  maxV: number;
  mcusPerLine: number;
  mcusPerColumn: number;
  /** Whether the three components are R, G, B rather than Y, Cb, Cr; decided at the first scan. */
  rgb: boolean;
  /** The luminance being decoded, width x height. */
  samples: Uint16Array;
}

// A file defines a handful of tables; thousands of them (megabytes of DHT segments) cost table building only.
const MAX_TABLES = 256;

/**
 * Decodes a sequential Huffman DCT JPEG (SOF0 or SOF1, 8 or 12 bits, 1 or 3 components, any sampling
 * factors, restart intervals) to its luminance at full resolution.
 *
 * @param bytes one JPEG codestream, SOI to EOI (for DICOM: the concatenated fragments of one frame)
 * @param maxPixels largest accepted width x height, checked from the frame header before anything is allocated
 * @throws ImageError `invalid` for corrupt or truncated data, `unsupported` for other JPEG processes
 *   (progressive, lossless, arithmetic, hierarchical) and layouts this decoder does not handle, `too_large`
 *   for images over `maxPixels`. Nothing else is thrown, and the time spent is bounded by the pixel count.
 */
export function decodeJpegExtended(bytes: Uint8Array, maxPixels: number): ExtendedImage {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new ImageError('invalid', 'Not a JPEG codestream (no SOI marker).');
  coefficients.fill(0); // a decode that failed half-way through a block may have left some behind
  const quant: (Uint16Array | undefined)[] = [];
  const dcTables: (HuffmanTable | undefined)[] = [];
  const acTables: (HuffmanTable | undefined)[] = [];
  const countTable = tableCounter(MAX_TABLES);
  let restartInterval = 0;
  const colour: ColourMarkers = { jfif: false, adobeTransform: null };
  let frame: Frame | null = null;
  let scans = 0;

  let pos = 2;
  for (;;) {
    pos = nextMarker(bytes, pos);
    const marker = bytes[pos - 1];
    if (marker === 0xd9) break; // EOI
    const data = readSegment(bytes, pos);
    pos += 2 + data.length;

    switch (marker) {
      case 0xdb: // DQT: 8-bit (Pq = 0) or 16-bit (Pq = 1, which 12-bit images need) tables
        readQuantisationTables(data, quant, Uint16Array, countTable);
        break;
      case 0xc4: // DHT
        readHuffmanTables(data, dcTables, acTables, countTable);
        break;
      case 0xdd: // DRI
        if (data.length < 2) throw new ImageError('invalid', 'Corrupt JPEG: bad restart interval.');
        restartInterval = (data[0] << 8) | data[1];
        break;
      case 0xe0: // APP0 (JFIF) and APP14 (Adobe) say whether three components are RGB
      case 0xee:
        readColourMarker(marker, data, colour);
        break;
      case 0xc0:
      case 0xc1:
        if (frame) throw new ImageError('invalid', 'Corrupt JPEG: more than one frame.');
        frame = readFrame(data, maxPixels);
        break;
      case 0xda: {
        if (!frame) throw new ImageError('invalid', 'Corrupt JPEG: scan before frame.');
        // Stryker disable next-line UpdateOperator: after the first scan the count only has to be nonzero (the end checks scans === 0), and -1 is nonzero too
        if (scans++ === 0) chooseLuminance(frame, colour);
        pos = decodeScan(bytes, pos, data, frame, dcTables, acTables, quant, restartInterval);
        break;
      }
      default:
        // (SOF0 and SOF1 have their case above.)
        if (isFrameHeader(marker)) throw unsupportedProcess(marker);
      // APPn, COM, DNL, DAC and the like carry nothing this decoder needs.
    }
  }
  if (!frame) throw new ImageError('invalid', 'The JPEG has no frame header.');
  if (scans === 0) throw new ImageError('invalid', 'The JPEG has no image data (no scan).');
  if (frame.components.some((c) => c.slot >= 0 && !c.done)) throw new ImageError('invalid', 'The JPEG ends before its luminance was coded.');
  return { width: frame.width, height: frame.height, components: frame.components.length, precision: frame.precision, samples: frame.samples };
}

function unsupportedProcess(marker: number): ImageError {
  const n = marker - 0xc0;
  const kind = [n & 8 ? 'arithmetic-coded' : '', n & 4 ? 'hierarchical' : '', (n & 3) === 2 ? 'progressive' : (n & 3) === 3 ? 'lossless' : 'sequential'];
  return new ImageError('unsupported', `This JPEG (SOF${n}: ${kind.filter(Boolean).join(' ')}) is not supported; only sequential Huffman DCT JPEGs (SOF0, SOF1) are.`);
}

function readFrame(data: Uint8Array, maxPixels: number): Frame {
  // Six fixed bytes and at least one component's three.
  if (data.length < 9) throw new ImageError('invalid', 'Corrupt JPEG: bad frame header.');
  const precision = data[0];
  const height = (data[1] << 8) | data[2];
  const width = (data[3] << 8) | data[4];
  const count = data[5];
  if (precision !== 8 && precision !== 12) throw new ImageError('unsupported', `JPEG DCT images with ${precision}-bit samples are not supported (8 or 12 are).`);
  // Height 0 defers it to a DNL marker after the first scan, which no DICOM encoder writes.
  if (height === 0) throw new ImageError('unsupported', 'JPEGs whose height is given by a DNL marker are not supported.');
  if (width === 0 || count === 0 || data.length < 6 + 3 * count) throw new ImageError('invalid', 'Corrupt JPEG: bad frame header.');
  if (width * height > maxPixels) {
    throw new ImageError('too_large', `The image is ${width}x${height} (${width * height} pixels); the limit is ${maxPixels} pixels.`);
  }
  if (count !== 1 && count !== 3) throw new ImageError('unsupported', `JPEGs with ${count} components are not supported (1 or 3 are).`);
  const components: Component[] = [];
  for (let i = 0; i < count; i++) {
    const o = 6 + 3 * i;
    const h = data[o + 1] >> 4;
    const v = data[o + 1] & 15;
    const tq = data[o + 2];
    if (h < 1 || h > 4 || v < 1 || v > 4 || tq > 3 || components.some((c) => c.id === data[o])) {
      throw new ImageError('invalid', 'Corrupt JPEG: bad frame component.');
    }
    components.push({ id: data[o], h, v, tq, blocksPerLine: 0, blocksPerColumn: 0, slot: -1, done: false, dc: undefined, ac: undefined, quant: undefined, pred: 0 });
  }
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  for (const c of components) {
    // libjpeg's width_in_blocks: the component's own size (ceil(width * h / maxH)) in whole blocks.
    c.blocksPerLine = Math.ceil((width * c.h) / (maxH * 8));
    c.blocksPerColumn = Math.ceil((height * c.v) / (maxV * 8));
  }
  const mcusPerLine = Math.ceil(width / (8 * maxH));
  const mcusPerColumn = Math.ceil(height / (8 * maxV));
  let samples: Uint16Array;
  try {
    samples = new Uint16Array(width * height);
  } catch {
    // Only with a maxPixels beyond what the runtime can allocate (a Worker has 128 MB): still an ImageError.
    throw new ImageError('too_large', `The image is ${width}x${height}; there is not enough memory to decode it.`);
  }
  return { width, height, precision, components, maxH, maxV, mcusPerLine, mcusPerColumn, rgb: false, samples };
}

/**
 * Marks the components luminance needs. Three components are YCbCr unless libjpeg's rules say RGB (isRgb).
 * Y must be at full resolution to be written straight out; RGB needs all three at once, so only a single
 * interleaved scan without subsampling is accepted (storing whole planes for anything else would cost three
 * image-sized buffers).
 */
function chooseLuminance(frame: Frame, colour: ColourMarkers): void {
  const [first] = frame.components;
  if (frame.components.length === 3 && isRgb(frame.components.map((c) => c.id), colour)) frame.rgb = true;
  if (frame.rgb) {
    if (frame.maxH !== 1 || frame.maxV !== 1) throw new ImageError('unsupported', 'Subsampled RGB JPEGs are not supported.');
    frame.components.forEach((c, i) => (c.slot = i));
  } else {
    if (first.h !== frame.maxH || first.v !== frame.maxV) throw new ImageError('unsupported', 'JPEGs whose luminance is subsampled are not supported.');
    first.slot = 0;
  }
}

// Kept all-zero between blocks: the IDCT clears what the entropy decoder wrote.
const coefficients = new Float64Array(64);
const work = new Float64Array(64);
/** The last transformed block of each component luminance needs, in final sample values. */
const blockSamples = [new Uint16Array(64), new Uint16Array(64), new Uint16Array(64)];

/** Decodes one scan starting at `pos` (just after the SOS header); returns where its data stops being read. */
function decodeScan(
  bytes: Uint8Array, pos: number, header: Uint8Array, frame: Frame,
  dcTables: (HuffmanTable | undefined)[], acTables: (HuffmanTable | undefined)[], quant: (Uint16Array | undefined)[], restartInterval: number,
): number {
  const count = header[0];
  if (count < 1 || count > 4 || header.length < 1 + 2 * count + 3) throw new ImageError('invalid', 'Corrupt JPEG: bad scan header.');
  const components: Component[] = [];
  for (let i = 0; i < count; i++) {
    const c = frame.components.find((x) => x.id === header[1 + 2 * i]);
    if (!c || components.includes(c)) throw new ImageError('invalid', 'Corrupt JPEG: scan names an unknown or repeated component.');
    // Sequential JPEG codes every component once; refusing a second scan of one also bounds the work per file.
    if (c.done) throw new ImageError('invalid', 'Corrupt JPEG: a component is coded in more than one scan.');
    c.dc = dcTables[header[2 + 2 * i] >> 4];
    c.ac = acTables[header[2 + 2 * i] & 15];
    if (!c.dc || !c.ac) throw new ImageError('invalid', 'Corrupt JPEG: scan uses an undefined Huffman table.');
    c.quant = quant[c.tq];
    if (c.slot >= 0 && !c.quant) throw new ImageError('invalid', 'Corrupt JPEG: missing quantisation table.');
    c.pred = 0;
    components.push(c);
  }
  // (Ss, Se, Ah, Al are fixed at 0, 63, 0, 0 for sequential scans; libjpeg only warns about other values, and so
  // they are ignored here.)
  const single = count === 1;
  const blocksPerMcu = single ? 1 : components.reduce((n, c) => n + c.h * c.v, 0);
  if (blocksPerMcu > 10) throw new ImageError('invalid', 'Corrupt JPEG: too many blocks per MCU.');
  if (frame.rgb && count !== 3) throw new ImageError('unsupported', 'RGB JPEGs with a scan per component are not supported.');
  const c0 = components[0];
  const mcusPerLine = single ? c0.blocksPerLine : frame.mcusPerLine;
  const totalMcus = single ? c0.blocksPerLine * c0.blocksPerColumn : frame.mcusPerLine * frame.mcusPerColumn;

  const out = frame.samples;
  const reader = new BitReader(bytes, pos);
  const offset = 1 << (frame.precision - 1); // level shift
  const max = (1 << frame.precision) - 1;
  // Every Huffman code is at least one bit, so each block takes at least two (DC difference, then an end of block
  // or a coefficient). Data that ends long before it could cover the scan is refused as soon as the reader meets
  // the end, rather than decoding the rest of a large image from zero bits. A valid scan never fails this.
  const minimumBits = totalMcus * blocksPerMcu * 2;
  let dataEndChecked = false;

  /**
   * Decodes a block of `c` and, when luminance needs it, transforms it into blockSamples. (Blocks past the image's
   * right or bottom edge, MCU padding, are transformed too: store() clips them to nothing.)
   */
  const unit = (c: Component): boolean => {
    const keep = c.slot >= 0;
    const lastRow = decodeBlock(reader, c, keep);
    if (keep) transform(lastRow, blockSamples[c.slot], offset, max);
    return keep;
  };

  for (let mcu = 0; mcu < totalMcus; mcu++) {
    if (restartInterval !== 0 && mcu !== 0 && mcu % restartInterval === 0) {
      reader.restart();
      for (const c of components) c.pred = 0;
    }
    const mcuRow = Math.floor(mcu / mcusPerLine);
    const mcuCol = mcu - mcuRow * mcusPerLine;
    if (single) {
      if (unit(c0) && !frame.rgb) store(blockSamples[0], out, frame.width, frame.height, mcuCol * 8, mcuRow * 8);
    } else {
      for (const c of components) {
        for (let v = 0; v < c.v; v++) {
          for (let h = 0; h < c.h; h++) {
            if (unit(c) && !frame.rgb) store(blockSamples[0], out, frame.width, frame.height, (mcuCol * c.h + h) * 8, (mcuRow * c.v + v) * 8);
          }
        }
      }
      // RGB: one block per component per MCU, all at full resolution (chooseLuminance made sure).
      if (frame.rgb) storeLuma(out, frame, mcuCol * 8, mcuRow * 8, max);
    }
    if (!dataEndChecked && reader.marker !== 0 && (reader.marker < 0xd0 || reader.marker > 0xd7)) {
      // Stryker disable next-line BooleanLiteral: checking again once the marker is known gives the same answer
      dataEndChecked = true;
      if ((reader.pos - pos) * 8 < minimumBits) throw new ImageError('invalid', 'Corrupt JPEG: the image data ends long before the image does.');
    }
    if (reader.padded !== 0 && reader.paddingConsumed() > MAX_PADDING_BITS) {
      throw new ImageError('invalid', 'Corrupt JPEG: the image data ends before the image does (truncated?).');
    }
  }
  for (const c of components) c.done = true;
  reader.reset();
  return reader.pos; // the reader stops at the marker after its data, or at the end (nextMarker goes on from there)
}

/**
 * Entropy-decodes one block (F.2.2). With `keep`, writes its dequantised coefficients into `coefficients`
 * (natural order) and returns the last coefficient row holding a nonzero AC value, or -1 when only the DC is set.
 */
function decodeBlock(reader: BitReader, c: Component, keep: boolean): number {
  const fastDc = reader.decodeFast(c.dc!);
  if (fastDc !== 0) c.pred += fastDc >> 16;
  else {
    c.pred += reader.receiveExtend(reader.decode(c.dc)); // (receiveExtend(0) is 0: no difference)
  }
  const table = c.ac!;
  const q = c.quant!;
  let lastRow = -1;
  for (let k = 1; k < 64; k++) {
    let value: number;
    const fast = reader.decodeFast(table);
    if (fast !== 0) {
      if (fast & EOB) break;
      k += (fast >> 8) & 15;
      value = fast >> 16;
    } else {
      const rs = reader.decode(table);
      const s = rs & 15;
      if (s === 0) {
        if (rs >> 4 < 15) break; // end of block
        k += 15; // ZRL: sixteen zeros (the loop adds the last)
        continue;
      }
      k += rs >> 4;
      value = reader.receiveExtend(s);
    }
    if (k > 63) throw new ImageError('invalid', 'Corrupt JPEG: coefficient index out of range.');
    if (keep) {
      const natural = ZIGZAG[k];
      coefficients[natural] = value * q[natural];
      if (natural >> 3 > lastRow) lastRow = natural >> 3;
    }
  }
  if (keep) coefficients[0] = c.pred * q[0];
  return lastRow;
}

// The 8-point IDCT basis, c(u) cos((2x + 1) u pi / 16) / 2, split into its even and odd parts (output x and 7 - x
// share the products, with the odd part's sign flipped): 20 multiplications per 8 samples, in double precision,
// which keeps 12-bit samples within rounding of the exact transform.
const K = (k: number) => Math.cos((k * Math.PI) / 16) / 2;
const C1 = K(1), C2 = K(2), C3 = K(3), C4 = K(4), C5 = K(5), C6 = K(6), C7 = K(7);

/** One 8-point IDCT: src[s + i * step] -> dst[d + i * dstep]. */
function idct8(src: Float64Array, s: number, step: number, dst: Float64Array, d: number, dstep: number): void {
  const f0 = src[s], f1 = src[s + step], f2 = src[s + 2 * step], f3 = src[s + 3 * step];
  const f4 = src[s + 4 * step], f5 = src[s + 5 * step], f6 = src[s + 6 * step], f7 = src[s + 7 * step];
  const a = C4 * (f0 + f4);
  const b = C4 * (f0 - f4);
  const p = C2 * f2 + C6 * f6;
  const q = C6 * f2 - C2 * f6;
  const e0 = a + p, e1 = b + q, e2 = b - q, e3 = a - p;
  const o0 = C1 * f1 + C3 * f3 + C5 * f5 + C7 * f7;
  const o1 = C3 * f1 - C7 * f3 - C1 * f5 - C5 * f7;
  const o2 = C5 * f1 - C1 * f3 + C7 * f5 + C3 * f7;
  const o3 = C7 * f1 - C5 * f3 + C3 * f5 - C1 * f7;
  dst[d] = e0 + o0;
  dst[d + dstep] = e1 + o1;
  dst[d + 2 * dstep] = e2 + o2;
  dst[d + 3 * dstep] = e3 + o3;
  dst[d + 4 * dstep] = e3 - o3;
  dst[d + 5 * dstep] = e2 - o2;
  dst[d + 6 * dstep] = e1 - o1;
  dst[d + 7 * dstep] = e0 - o0;
}

/**
 * Inverse DCT of `coefficients` into final samples (level-shifted, rounded, clamped to 0..max), clearing
 * `coefficients` for the next block. Rows past `lastRow` are all zero and transform to zeros; a block with
 * only its DC coefficient (most of a smooth radiograph) is flat.
 */
function transform(lastRow: number, out: Uint16Array, offset: number, max: number): void {
  if (lastRow < 0) {
    out.fill(clamp(coefficients[0] / 8 + offset, max));
    coefficients[0] = 0;
    return;
  }
  for (let v = 0; v <= lastRow; v++) {
    idct8(coefficients, v * 8, 1, work, v * 8, 1);
    coefficients.fill(0, v * 8, v * 8 + 8);
  }
  work.fill(0, (lastRow + 1) * 8);
  for (let x = 0; x < 8; x++) idct8(work, x, 8, work, x, 8); // in place: each column is read whole before it is written
  for (let i = 0; i < 64; i++) out[i] = clamp(work[i] + offset, max);
}

function clamp(value: number, max: number): number {
  return value <= 0 ? 0 : value >= max ? max : (value + 0.5) | 0;
}

/** Copies an 8x8 block of samples to (x0, y0) of the image, clipped at its right and bottom edges. */
function store(block: Uint16Array, out: Uint16Array, width: number, height: number, x0: number, y0: number): void {
  const columns = Math.min(8, width - x0);
  const rows = Math.min(8, height - y0);
  for (let y = 0; y < rows; y++) {
    const o = (y0 + y) * width + x0;
    for (let x = 0; x < columns; x++) out[o + x] = block[y * 8 + x];
  }
}

/** BT.601 luma of the R, G and B blocks of one MCU, stored at (x0, y0). */
function storeLuma(out: Uint16Array, frame: Frame, x0: number, y0: number, max: number): void {
  const [r, g, b] = blockSamples;
  const luma = blockSamples[0]; // overwritten in place: each sample is read before it is replaced
  for (let i = 0; i < 64; i++) luma[i] = clamp(0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i], max);
  store(luma, out, frame.width, frame.height, x0, y0);
}
