/**
 * A focused JPEG decoder: baseline and progressive Huffman, 8-bit, 1/3/4 components, that decodes
 * straight to a reduced size (1/1, 1/2, 1/4 or 1/8) and returns only luminance. Full-resolution
 * pixels never exist: baseline images go block by block into the reduced plane; progressive images
 * keep the coefficients of the components that luminance needs (2 bytes per pixel each) until the
 * last scan. For YCbCr images only Y is transformed; chroma is entropy-decoded (the stream requires
 * it) and dropped, and chroma-only progressive scans are skipped unread.
 */
import { ImageError } from '../errors';
import { BitReader, END_OF_BLOCK, MAX_PADDING_BITS, type HuffmanTable } from './huffman';
import { clampToByte } from '../byte-rounding';
import { CONTRIBUTES, ZIGZAG, idctBlock, idctFlat } from './idct';
import { isRgb, nextMarker, readColourMarker, readHuffmanTables, readQuantisationTables, readSegment, tableCounter, type ColourMarkers } from './segments';

/** A decoded luminance plane at 1/scale of the image's size. */
export interface ScaledLuma {
  width: number;
  height: number;
  data: Uint8Array;
  /** 1, 2, 4 or 8: the image was decoded at 1/scale. */
  scale: number;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  blocksPerLine: number;
  blocksPerColumn: number;
  /** Blocks per line/column including MCU padding. */
  paddedBlocksPerLine: number;
  paddedBlocksPerColumn: number;
  /** Whether luminance needs this component's pixels. */
  needed: boolean;
  /**
   * Progressive only: the coefficients of every block, zig-zag order, `stride` per block: all 64, or only
   * the DC at 1/8 scale, where nothing else reaches the output (the AC scans are then skipped unread).
   */
  coefficients: Int16Array | null;
  stride: number;
  /** Reduced-size pixels of this component. */
  plane: Uint8Array | null;
  planeWidth: number;
  planeHeight: number;
  dcTable?: HuffmanTable;
  acTable?: HuffmanTable;
  pred: number;
}

interface Frame {
  width: number;
  height: number;
  progressive: boolean;
  components: Component[];
  maxH: number;
  maxV: number;
  mcusPerLine: number;
  mcusPerColumn: number;
}

// Encoders write about 10 scans (libjpeg's default script) and rarely more than 20; every scan walks every block,
// so a file with hundreds of tiny scans is a CPU bomb.
const MAX_SCANS = 64;
// A file defines a handful of tables (progressive ones may redefine AC tables per scan); thousands of them in
// front of an image (16 MB of DHT segments) cost seconds of table building before the first pixel.
const MAX_TABLES = 256;

/**
 * Counts the SOS markers from `from` (just after the first scan's header) to the end, before any decoding:
 * entropy-coded data never holds 0xFF 0xDA (an 0xFF there is stuffed with 0x00), so each one is a scan.
 */
function checkScanCount(bytes: Uint8Array, from: number): void {
  let scans = 1;
  // A last 0xFF reads undefined after it, which is not 0xDA: no bound needed.
  for (let i = bytes.indexOf(0xff, from); i !== -1; i = bytes.indexOf(0xff, i + 1)) {
    if (bytes[i + 1] === 0xda && ++scans > MAX_SCANS) {
      throw new ImageError('unsupported', `JPEGs with more than ${MAX_SCANS} scans are not supported.`);
    }
  }
}

/**
 * Decodes `bytes` to luminance at the largest reduction (1/8 at most) that keeps both sides at
 * least `minWidth` x `minHeight`.
 * @throws ImageError for corrupt or unsupported data
 */
export function decodeScaledLuma(bytes: Uint8Array, minWidth: number, minHeight: number): ScaledLuma {
  // A previous decode that failed half-way through a block may have left coefficients behind.
  dequantised.fill(0);
  const quant: Float32Array[] = [];
  const dcTables: HuffmanTable[] = [];
  const acTables: HuffmanTable[] = [];
  let frame: Frame | null = null;
  let restartInterval = 0;
  const colour: ColourMarkers = { jfif: false, adobeTransform: null };
  let scale = 1;
  let scans = 0;
  const countTable = tableCounter(MAX_TABLES);
  let pos = 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  for (;;) {
    pos = nextMarker(bytes, pos);
    const marker = bytes[pos - 1];
    if (marker === 0xd9) break; // EOI
    const data = readSegment(bytes, pos);
    pos += 2 + data.length;
    switch (marker) {
      // Lenient table parsing (not strict): this decoder has always read such files this way, and its output is hash-checked.
      case 0xdb: // DQT
        readQuantisationTables(data, quant, Float32Array, countTable, false, 65); // 65: entry 64 is 0, for the sink (below)
        break;
      case 0xc4: // DHT
        readHuffmanTables(data, dcTables, acTables, countTable, false);
        break;
      case 0xdd: // DRI
        restartInterval = view.getUint16(pos - data.length);
        break;
      case 0xe0:
      case 0xee:
        readColourMarker(marker, data, colour);
        break;
      case 0xc0:
      case 0xc1:
      case 0xc2: {
        if (frame) throw new ImageError('invalid', 'Corrupt JPEG: more than one frame.');
        frame = readFrame(data, marker === 0xc2);
        const needAll = !isYCbCr(frame, colour);
        frame.components.forEach((c, i) => (c.needed = i === 0 || needAll));
        scale = chooseScale(frame.width, frame.height, minWidth, minHeight);
        allocate(frame, scale);
        break;
      }
      case 0xda: {
        if (!frame) throw new ImageError('invalid', 'Corrupt JPEG: scan before frame.');
        // Stryker disable next-line UpdateOperator: after the first scan the count only has to be nonzero (the end checks scans === 0), and -1 is nonzero too
        if (scans++ === 0) checkScanCount(bytes, pos);
        pos = decodeScan(bytes, pos, data, frame, dcTables, acTables, quant, restartInterval, scale);
        break;
      }
      default:
        if (marker >= 0xc3 && marker <= 0xcf) throw new ImageError('unsupported', 'This JPEG process is not supported.');
      // APPn, COM and others: skipped.
    }
  }
  if (!frame || scans === 0) throw new ImageError('invalid', 'The JPEG has no image data.');
  if (frame.progressive) for (const c of frame.components) if (c.needed) transformAll(c, quant, scale);
  return { ...combine(frame, colour.adobeTransform, scale), scale };
}

function readFrame(data: Uint8Array, progressive: boolean): Frame {
  const height = (data[1] << 8) | data[2];
  const width = (data[3] << 8) | data[4];
  const count = data[5];
  const components: Component[] = [];
  for (let i = 0; i < count; i++) {
    const o = 6 + 3 * i;
    components.push({
      id: data[o], h: data[o + 1] >> 4, v: data[o + 1] & 15, tq: data[o + 2] & 3,
      blocksPerLine: 0, blocksPerColumn: 0, paddedBlocksPerLine: 0, paddedBlocksPerColumn: 0,
      // Stryker disable next-line BooleanLiteral: decodeScaledLuma sets `needed` for every component as soon as the frame is read
      needed: false, coefficients: null, stride: 64, plane: null, planeWidth: 0, planeHeight: 0, pred: 0,
    });
  }
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  const mcusPerLine = Math.ceil(width / (8 * maxH));
  const mcusPerColumn = Math.ceil(height / (8 * maxV));
  for (const c of components) {
    c.blocksPerLine = Math.ceil((Math.ceil(width / 8) * c.h) / maxH);
    c.blocksPerColumn = Math.ceil((Math.ceil(height / 8) * c.v) / maxV);
    c.paddedBlocksPerLine = mcusPerLine * c.h;
    c.paddedBlocksPerColumn = mcusPerColumn * c.v;
  }
  return { width, height, progressive, components, maxH, maxV, mcusPerLine, mcusPerColumn };
}

/** YCbCr unless three components are RGB by libjpeg's rules (isRgb); four are CMYK or YCCK, which `combine` reads. */
function isYCbCr(frame: Frame, colour: ColourMarkers): boolean {
  // Stryker disable next-line ConditionalExpression,BooleanLiteral: with one component, false only makes it needed, which the first component always is
  if (frame.components.length === 1) return true;
  if (frame.components.length !== 3) return false;
  return !isRgb(frame.components.map((c) => c.id), colour);
}

/** The DCT reduction (8, 4, 2 or 1) a decode uses: the largest that keeps both sides at least minWidth x minHeight. */
export function chooseScale(width: number, height: number, minWidth: number, minHeight: number): number {
  for (const s of [8, 4, 2]) if (Math.ceil(width / s) >= minWidth && Math.ceil(height / s) >= minHeight) return s;
  return 1;
}

function allocate(frame: Frame, scale: number): void {
  for (const c of frame.components) {
    // Stryker disable next-line ConditionalExpression: a plane for a component nothing reads costs memory and changes no pixel
    if (!c.needed) continue;
    c.planeWidth = Math.ceil((Math.ceil((frame.width * c.h) / frame.maxH)) / scale);
    c.planeHeight = Math.ceil((Math.ceil((frame.height * c.v) / frame.maxV)) / scale);
    c.plane = new Uint8Array(c.planeWidth * c.planeHeight);
    // Stryker disable next-line ConditionalExpression: a stride of 64 at 1/8 scale only spaces the stored DC coefficients further apart
    c.stride = scale === 8 ? 1 : 64;
    // Stryker disable next-line ConditionalExpression: a baseline decode never reads the coefficient store
    if (frame.progressive) c.coefficients = new Int16Array(c.paddedBlocksPerLine * c.paddedBlocksPerColumn * c.stride);
  }
}

// Scratch DC for progressive components luminance does not need.
const scratchBlock = new Int16Array(64);
// Kept all-zero between blocks: whoever fills it clears exactly the entries it set. Entry 64 is the sink the entropy
// decoder writes the coefficients it drops to (times a quantisation table's entry 64, which is 0), so it stays 0 too.
const dequantised = new Float32Array(65);
const touched = new Uint8Array(64);
/**
 * KEPT_AT[N][zig-zag index]: the natural index of a coefficient that reaches an N x N output, or 64 (the sink) for one
 * that does not. 80 long: a corrupt run may take the index up to 78 before BitReader.decodeAc refuses it.
 */
const KEPT_AT: Uint8Array[] = [];
for (const n of [1, 2, 4, 8]) {
  KEPT_AT[n] = new Uint8Array(80).fill(64);
  ZIGZAG.forEach((natural, k) => (KEPT_AT[n][k] = CONTRIBUTES[n][natural] ? natural : 64));
}
/**
 * EXTENT_THROUGH[natural]: the rows and columns (bit 8 + row, bit column) of every position up to this one in zig-zag
 * order. Coefficients come in that order, so the last one decoded bounds where a block's nonzero ones lie.
 */
const EXTENT_THROUGH = new Int32Array(64);
for (let k = 0, extent = 0; k < 64; k++) {
  const natural = ZIGZAG[k];
  extent |= (1 << (8 + (natural >> 3))) | (1 << (natural & 7));
  EXTENT_THROUGH[natural] = extent;
}

/** Transforms one block of a progressive component's stored coefficients (zig-zag order) into its plane. */
function transformBlock(c: Component, quant: Float32Array[], scale: number, zz: Int16Array, offset: number, row: number, col: number): void {
  const q = quant[c.tq];
  if (!q) throw new ImageError('invalid', 'Corrupt JPEG: missing quantisation table.');
  const n = 8 / scale;
  // Stryker disable next-line ConditionalExpression,BlockStatement: a shortcut; below, CONTRIBUTES[1] keeps the DC coefficient alone and idctBlock gives the same pixel
  if (n === 1) {
    // 1/8 scale needs the DC coefficient alone.
    dequantised[0] = zz[offset] * q[0];
    idctBlock(dequantised, 1, c.plane!, c.planeWidth, c.planeHeight, col, row, 0, 0);
    return;
  }
  let lastRow = 0; // the last coefficient row and column holding a nonzero value (most of a real block is zero)
  let lastCol = 0;
  let used = 0;
  const keep = CONTRIBUTES[n];
  for (let k = 0; k < 64; k++) {
    const v = zz[offset + k];
    const natural = ZIGZAG[k];
    // Stryker disable next-line ConditionalExpression,LogicalOperator: storing a zero, or a coefficient whose basis values are zero at this size, adds exact zeros to every sum
    if (v !== 0 && keep[natural] !== 0) {
      dequantised[natural] = v * q[natural];
      touched[used++] = natural;
      // Stryker disable next-line EqualityOperator: >= assigns the value it already has
      if (natural >> 3 > lastRow) lastRow = natural >> 3;
      // Stryker disable next-line EqualityOperator: >= assigns the value it already has
      if ((natural & 7) > lastCol) lastCol = natural & 7;
    }
  }
  idctBlock(dequantised, n, c.plane!, c.planeWidth, c.planeHeight, col * n, row * n, lastRow, lastCol);
  // Stryker disable next-line EqualityOperator: one step more clears an entry that is already 0
  for (let i = 0; i < used; i++) dequantised[touched[i]] = 0;
}

function transformAll(c: Component, quant: Float32Array[], scale: number): void {
  for (let row = 0; row < c.blocksPerColumn; row++) {
    for (let col = 0; col < c.blocksPerLine; col++) {
      transformBlock(c, quant, scale, c.coefficients!, (row * c.paddedBlocksPerLine + col) * c.stride, row, col);
    }
  }
  c.coefficients = null;
}


/** Decodes one scan starting at `pos` (just after the SOS header); returns where its data stops being read. */
function decodeScan(
  bytes: Uint8Array, pos: number, header: Uint8Array, frame: Frame,
  dcTables: HuffmanTable[], acTables: HuffmanTable[], quant: Float32Array[], restartInterval: number, scale: number,
): number {
  const count = header[0];
  const components: Component[] = [];
  for (let i = 0; i < count; i++) {
    const c = frame.components.find((x) => x.id === header[1 + 2 * i]);
    if (!c) throw new ImageError('invalid', 'Corrupt JPEG: scan names an unknown component.');
    c.dcTable = dcTables[header[2 + 2 * i] >> 4];
    c.acTable = acTables[header[2 + 2 * i] & 15];
    components.push(c);
  }
  const o = 1 + 2 * count;
  const ss = header[o];
  const se = header[o + 1];
  const ah = header[o + 2] >> 4;
  const al = header[o + 2] & 15;
  if (frame.progressive && (se > 63 || ss > se || (ss === 0 && se !== 0) || (ss > 0 && count !== 1))) {
    throw new ImageError('invalid', 'Corrupt JPEG: bad progressive scan parameters.');
  }
  // A progressive AC scan of a component luminance does not need, or of any component at 1/8 scale (where
  // only DC coefficients reach the output): skip its data unread (nextMarker walks over it to the next marker).
  if (frame.progressive && ss > 0 && (!components[0].needed || scale === 8)) return pos;

  const reader = new BitReader(bytes, pos);
  const size = 8 / scale; // each block's side in the plane
  for (const c of components) c.pred = 0;
  let eobrun = 0;
  const single = components.length === 1;
  const c0 = components[0];
  const totalMcus = single ? c0.blocksPerLine * c0.blocksPerColumn : frame.mcusPerLine * frame.mcusPerColumn;
  // Every Huffman code is at least one bit long, so a baseline block takes at least two (its DC difference,
  // then an end of block or a coefficient) and a block of a progressive DC scan at least one. Data that ends
  // before it could have covered the scan's blocks is corrupt; decoding the rest from zero bits would cost
  // a full-size image's CPU for a few kilobytes (a 7000x7000 header on a 9 KB body: 0.3 s). Checked once,
  // when the reader first meets a marker other than RSTn; a valid scan can never fail it.
  const blocksPerMcu = single ? 1 : components.reduce((n, c) => n + c.h * c.v, 0);
  const minimumBits = totalMcus * blocksPerMcu * (!frame.progressive ? 2 : ss === 0 ? 1 : 0);
  let dataEndChecked = minimumBits === 0;
  const checkDataEnd = () => {
    const marker = reader.marker;
    if (marker === 0 || (marker >= 0xd0 && marker <= 0xd7)) return;
    // Stryker disable next-line BooleanLiteral: checking again once the marker is known gives the same answer
    dataEndChecked = true;
    if ((reader.pos - pos) * 8 < minimumBits) {
      throw new ImageError('invalid', 'Corrupt JPEG: the image data ends long before the image does.');
    }
  };

  const decodeBlock = (c: Component, row: number, col: number) => {
    if (!frame.progressive) {
      decodeBaselineBlock(reader, c, quant, size, row, col);
      return;
    }
    const coefficients = c.coefficients;
    const offset = (row * c.paddedBlocksPerLine + col) * c.stride;
    if (ss === 0) {
      // DC first or refinement; for components luminance does not need, decode into a scratch block.
      const target = coefficients ?? scratchBlock;
      const base = coefficients ? offset : 0;
      if (ah === 0) {
        const t = reader.decode(c.dcTable);
        // Stryker disable next-line ConditionalExpression: a shortcut; receiveExtend(0) is 0 too
        const diff = t === 0 ? 0 : reader.receiveExtend(t);
        c.pred += diff;
        target[base] = c.pred * (1 << al);
      } else if (reader.readBit()) target[base] |= 1 << al;
    } else if (ah === 0) {
      eobrun = decodeAcFirst(reader, c, coefficients!, offset, ss, se, al, eobrun);
    } else {
      eobrun = decodeAcRefine(reader, c, coefficients!, offset, ss, se, al, eobrun);
    }
  };

  let mcu = 0;
  // The MCU's row and column, stepped along with `mcu` (a division per block costs more than the step).
  const perLine = single ? c0.blocksPerLine : frame.mcusPerLine;
  let mcuRow = 0;
  let mcuCol = 0;
  while (mcu < totalMcus) {
    const stop = restartInterval ? Math.min(totalMcus, mcu + restartInterval) : totalMcus;
    for (; mcu < stop; mcu++) {
      if (single) decodeBlock(c0, mcuRow, mcuCol);
      else {
        for (const c of components) {
          for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) decodeBlock(c, mcuRow * c.v + v, mcuCol * c.h + h);
        }
      }
      if (++mcuCol === perLine) {
        mcuCol = 0;
        mcuRow++;
      }
      // Stryker disable next-line ConditionalExpression: checking again once the marker is known gives the same answer
      if (!dataEndChecked) checkDataEnd();
      // Entropy decoding costs at most a few coefficients per bit of real data: a scan that goes on decoding
      // zero bits past its end (a truncated file, or a bomb of data-less scans) is refused, before it costs
      // a full image's CPU. A valid scan consumes no padding; a little is tolerated for slightly cut files.
      // Stryker disable next-line ConditionalExpression: a shortcut, per block; with nothing padded since the last restart the count is what passed the check then
      if (reader.padded !== 0 && reader.paddingConsumed() > MAX_PADDING_BITS) {
        throw new ImageError('invalid', 'Corrupt JPEG: the image data ends before the image does (truncated, or scans without data).');
      }
    }
    if (mcu < totalMcus) {
      reader.restart();
      eobrun = 0;
      for (const c of components) c.pred = 0;
    }
  }
  reader.reset();
  return reader.pos; // the reader stops at the marker after its data, or at the end (nextMarker goes on from there)
}

/**
 * Decodes one baseline block and, when luminance shows it, transforms it into the component's plane.
 * Coefficients are dequantised as they are decoded, straight into `dequantised` (natural order), which
 * is all-zero again on return.
 */
function decodeBaselineBlock(reader: BitReader, c: Component, quant: Float32Array[], n: number, row: number, col: number): void {
  const dcTable = c.dcTable;
  const table = c.acTable;
  if (!dcTable || !table) throw new ImageError('invalid', 'Corrupt JPEG: scan uses an undefined Huffman table.');
  const dc = reader.decodeFast(dcTable);
  if (dc !== 0) c.pred += dc >> 16;
  else {
    const t = reader.decode(dcTable);
    // Stryker disable next-line ConditionalExpression: a shortcut; receiveExtend(0) is 0 too
    c.pred += t === 0 ? 0 : reader.receiveExtend(t);
  }
  const visible = c.needed && row < c.blocksPerColumn && col < c.blocksPerLine;
  const q = visible ? quant[c.tq] : undefined;
  if (visible && !q) throw new ImageError('invalid', 'Corrupt JPEG: missing quantisation table.');
  // The coefficients that reach the output at this size (at 1/8 only DC, which is not in this loop); none when the
  // block is not shown.
  const keep = q !== undefined ? KEPT_AT[n] : KEPT_AT[1];
  // (A hidden block keeps nothing, so its quantisation table, here a stand-in, is never read.)
  const kept = reader.decodeAc(table, keep, q ?? dequantised, dequantised, touched);
  if (!q) return;
  // A bound, not always the tightest: the IDCT then adds exact zeros, which leaves its sums bit-identical.
  const extent = EXTENT_THROUGH[kept === 0 ? 0 : touched[kept - 1]];
  const lastRow = 31 - Math.clz32(extent >> 8);
  const lastCol = 31 - Math.clz32(extent & 0xff);
  const plane = c.plane!;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,BlockStatement: a shortcut; idctFlat gives what idctBlock gives for a DC-only block, at every size (jpeg-idct.test.ts)
  if (kept === 0 && n > 1) {
    // Only the DC coefficient: every output pixel has the same value.
    idctFlat(Math.fround(c.pred * q[0]), n, plane, c.planeWidth, c.planeHeight, col * n, row * n);
    return;
  }
  dequantised[0] = c.pred * q[0];
  idctBlock(dequantised, n, plane, c.planeWidth, c.planeHeight, col * n, row * n, lastRow, lastCol);
  dequantised[0] = 0;
  // Stryker disable next-line EqualityOperator: one step more clears an entry that is already 0
  for (let i = 0; i < kept; i++) dequantised[touched[i]] = 0;
}

function decodeAcFirst(reader: BitReader, c: Component, coef: Int16Array, offset: number, ss: number, se: number, al: number, eobrun: number): number {
  if (eobrun > 0) return eobrun - 1;
  const table = c.acTable;
  if (!table) throw new ImageError('invalid', 'Corrupt JPEG: scan uses an undefined Huffman table.');
  for (let k = ss; k <= se; ) {
    const fast = reader.decodeFast(table);
    if (fast !== 0) {
      if (fast & END_OF_BLOCK) return 0; // EOB0: this block ends, no run of further ones
      k += (fast >> 8) & 15;
      if (k > 63) throw new ImageError('invalid', 'Corrupt JPEG: coefficient index out of range.');
      coef[offset + k] = (fast >> 16) * (1 << al);
      k++;
      continue;
    }
    const rs = reader.decode(table);
    const s = rs & 15;
    const r = rs >> 4;
    if (s === 0) {
      if (r < 15) return (1 << r) - 1 + reader.readBits(r);
      k += 16;
      continue;
    }
    k += r;
    if (k > 63) throw new ImageError('invalid', 'Corrupt JPEG: coefficient index out of range.');
    coef[offset + k] = reader.receiveExtend(s) * (1 << al);
    k++;
  }
  return 0;
}

function decodeAcRefine(reader: BitReader, c: Component, coef: Int16Array, offset: number, ss: number, se: number, al: number, eobrun: number): number {
  const p1 = 1 << al;
  const m1 = -1 << al;
  let k = ss;
  if (eobrun <= 0) {
    for (; k <= se; ) {
      const rs = reader.decode(c.acTable);
      const s = rs & 15;
      let r = rs >> 4;
      let value = 0;
      if (s === 0) {
        if (r < 15) {
          eobrun = (1 << r) + reader.readBits(r);
          break;
        }
      } else {
        if (s !== 1) throw new ImageError('invalid', 'Corrupt JPEG: bad refinement value.');
        value = reader.readBit() ? p1 : m1;
      }
      // Skip r zero-history coefficients, refining the non-zero ones passed on the way (G.1.2.3).
      while (k <= se) {
        const i = offset + k;
        if (coef[i] !== 0) {
          if (reader.readBit() && (coef[i] & p1) === 0) coef[i] += coef[i] >= 0 ? p1 : m1;
        } else {
          if (r === 0) {
            // Stryker disable next-line ConditionalExpression: writing 0 over a coefficient with no history (0) changes nothing
            if (value !== 0) coef[i] = value;
            k++;
            break;
          }
          r--;
        }
        k++;
      }
    }
  }
  if (eobrun > 0) {
    for (; k <= se; k++) {
      const i = offset + k;
      if (coef[i] !== 0 && reader.readBit() && (coef[i] & p1) === 0) coef[i] += coef[i] >= 0 ? p1 : m1;
    }
    eobrun--;
  }
  return eobrun;
}

/** Luminance from the reduced component planes (nearest-neighbour for subsampled ones). */
function combine(frame: Frame, adobeTransform: number | null, scale: number): { width: number; height: number; data: Uint8Array } {
  const width = Math.ceil(frame.width / scale);
  const height = Math.ceil(frame.height / scale);
  const [first] = frame.components;
  const planes = frame.components.filter((c) => c.needed);
  // Stryker disable next-line ConditionalExpression,BlockStatement: a shortcut; sampling a plane of the output's size gives the same pixels
  if (planes.length === 1) {
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: a shortcut; sampling a plane of the output's size gives the same pixels
    if (first.planeWidth === width && first.planeHeight === height) return { width, height, data: first.plane! };
  }
  const out = new Uint8Array(width * height);
  const sample = (c: Component, x: number, y: number) =>
    c.plane![Math.min(c.planeHeight - 1, Math.floor((y * c.v) / frame.maxV)) * c.planeWidth + Math.min(c.planeWidth - 1, Math.floor((x * c.h) / frame.maxH))];
  const count = frame.components.length;
  // Stryker disable next-line EqualityOperator: one step more writes past the end of a typed array
  for (let y = 0; y < height; y++) {
    // Stryker disable next-line EqualityOperator: one step more writes past the end of a typed array
    for (let x = 0; x < width; x++) {
      let luma: number;
      if (planes.length === 1) luma = sample(first, x, y);
      else if (count === 3) {
        luma = 0.299 * sample(planes[0], x, y) + 0.587 * sample(planes[1], x, y) + 0.114 * sample(planes[2], x, y); // RGB
      } else {
        let r: number;
        let g: number;
        let b: number;
        const k = sample(planes[3], x, y);
        if (adobeTransform === 2) {
          // YCCK carries 255 minus each stored CMY sample as YCbCr (libjpeg's ycck_cmyk_convert).
          const yy = sample(planes[0], x, y);
          const cb = sample(planes[1], x, y) - 128;
          const cr = sample(planes[2], x, y) - 128;
          r = 255 - clampToByte(yy + 1.402 * cr);
          g = 255 - clampToByte(yy - 0.344136 * cb - 0.714136 * cr);
          b = 255 - clampToByte(yy + 1.772 * cb);
        } else {
          r = sample(planes[0], x, y);
          g = sample(planes[1], x, y);
          b = sample(planes[2], x, y);
        }
        // Adobe stores CMYK inverted: these are (255 - C), (255 - M), (255 - Y) and (255 - K).
        luma = ((0.299 * r + 0.587 * g + 0.114 * b) * k) / 255;
      }
      out[y * width + x] = clampToByte(luma);
    }
  }
  return { width, height, data: out };
}
