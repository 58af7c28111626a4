/**
 * DICOM upload -> 8-bit luminance, the way a radiologist's viewer renders it: the header is read and checked
 * first (size limits, modality, view, body part), then the first frame is decoded by its transfer syntax's
 * codec and passed through the grayscale pipeline (or, for colour, BT.601 luminance).
 */
import { concatBytes } from '../bytes';
import { ImageError } from '../errors';
import type { DecodeLimits, LumaPlane } from '../decode';
import { decodeJpegLuma, rgbToLuma } from '../decode';
import { isFrameHeader, nextMarker, readSegment } from '../jpeg/segments';
import { decodeJpegExtended } from './codecs/jpeg-extended';
import { decodeJpegLossless } from './codecs/jpeg-lossless';
import { decodeRleFrame } from './codecs/rle';
import type { DataSet } from './dataset';
import { readDicomFile } from './file';
import { grayscaleLut, type WindowUsed } from './grayscale-pipeline';
import { checkChestHeader } from './header-checks';
import { readPixelModule, type PixelModule } from './pixel-module';
import { Tag } from './tags';
import type { TransferSyntax } from './transfer-syntaxes';

/** What was decoded, for the response: technical attributes only, never a patient one. */
export interface DicomImageInfo {
  transferSyntax: { uid: string; name: string };
  bitsStored: number;
  photometricInterpretation: string;
  /** The VOI transform used (colour images: none). */
  window: WindowUsed | null;
  /** Frames in the file; only the first is read. */
  frames: number;
}

export interface DecodedDicom {
  /** Luminance at 1/scale of the image's size (JPEG-coded frames are reduced in the DCT domain). */
  luma: LumaPlane;
  width: number;
  height: number;
  components: number;
  info: DicomImageInfo;
}

const PLATFORM_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes the first frame of a DICOM image to 8-bit luminance.
 * @param minSide, minLongSide as for decodeJpegLuma: how far a JPEG-coded frame may be reduced while decoding
 * @throws ImageError for invalid, unsupported, too-large or (by its header) non-chest images
 */
export function decodeDicomLuma(bytes: Uint8Array, limits: DecodeLimits, minSide = Infinity, minLongSide = 0): DecodedDicom {
  const budget = limits.maxDecodeBytes ?? Infinity;
  const { transferSyntax: syntax, dataset: ds } = readDicomFile(bytes, budget);
  checkChestHeader(ds);
  const pixelData = ds.elements.get(Tag.PixelData);
  if (!pixelData) throw new ImageError('unsupported', 'The DICOM file holds no image (no Pixel Data): send a radiograph.');
  const module = readPixelModule(ds);
  const pixels = module.rows * module.columns;
  if (pixels > limits.maxPixels) {
    throw new ImageError('too_large', `The image is ${module.columns}x${module.rows} (${pixels} pixels); the limit is ${limits.maxPixels} pixels.`);
  }
  // A compressed frame is decoded whole: 2 bytes a sample above 8 bits, one plane per colour sample.
  const decodedBytes = syntax.codec === 'native' || syntax.codec === 'jpeg-baseline' ? 0 : pixels * module.samplesPerPixel * (module.bitsAllocated / 8);
  if (decodedBytes > budget) {
    throw new ImageError(
      'too_large',
      `This ${module.columns}x${module.rows} ${syntax.name} frame needs ${Math.ceil(decodedBytes / 2 ** 20)} MiB to decode; ` +
        `the limit is ${Math.floor(budget / 2 ** 20)} MiB (send it uncompressed, or smaller).`,
    );
  }
  const info = (window: WindowUsed | null): DicomImageInfo => ({
    transferSyntax: { uid: syntax.uid, name: syntax.name },
    bitsStored: module.bitsStored,
    photometricInterpretation: module.photometric,
    window,
    frames: module.frames,
  });
  const result = (luma: LumaPlane, window: WindowUsed | null): DecodedDicom => ({
    luma,
    width: module.columns,
    height: module.rows,
    components: module.samplesPerPixel,
    info: info(window),
  });

  if (syntax.codec === 'native') {
    const frame = nativeFrame(pixelData.value, module, syntax);
    // Colour is 8-bit only (readPixelModule), so its samples are always bytes.
    if (module.samplesPerPixel === 3) return result(plane(module, colourLuma(frame as Uint8Array, module, pixels)), null);
    const { plane: gray, window } = renderGrayscale(frame, module, ds, false);
    return result(plane(module, gray), window);
  }

  const fragments = pixelData.fragments;
  if (!fragments) throw new ImageError('invalid', `Corrupt DICOM: ${syntax.name} needs encapsulated pixel data.`);
  const frame = firstFrame(fragments, module.frames, syntax);
  switch (syntax.codec) {
    case 'rle': {
      const decoded = decodeRleFrame(frame, pixels, module.bitsAllocated, module.samplesPerPixel);
      if (Array.isArray(decoded)) return result(plane(module, planesToLuma(decoded, module.photometric, pixels)), null);
      const { plane: gray, window } = renderGrayscale(decoded, module, ds, true);
      return result(plane(module, gray), window);
    }
    case 'jpeg-lossless': {
      // The codec allocates from the JPEG's own header: hold it to the DICOM header and the budget first.
      checkDecodeBudget(matchingFrameHeader(frame, module), budget, module.samplesPerPixel * 2);
      const image = decodeJpegLossless(frame, limits.maxPixels); // of the size checked: its header is the one checked
      if (image.components === 3) return result(plane(module, colourLuma(image.samples, { ...module, planarConfiguration: 0 }, pixels)), null);
      const { plane: gray, window } = renderGrayscale(image.samples, module, ds, true);
      return result(plane(module, gray), window);
    }
    case 'jpeg-baseline':
    case 'jpeg-extended': {
      const sof = matchingFrameHeader(frame, module);
      if (syntax.codec === 'jpeg-extended' && sof.precision > 8) {
        checkDecodeBudget(sof, budget, 2); // one 16-bit luminance plane
        const image = decodeJpegExtended(frame, limits.maxPixels); // of the size checked: its header is the one checked
        const { plane: gray, window } = renderGrayscale(image.samples, { ...module, bitsStored: image.precision, highBit: image.precision - 1 }, ds, true);
        return result(plane(module, gray), window);
      }
      // 8-bit JPEG: the project's own decoder, reduced in the DCT domain; colour comes back as luminance already.
      const { luma } = decodeJpegLuma(frame, limits, minSide, minLongSide);
      if (module.samplesPerPixel === 3) return result(luma, null);
      // The JPEG's samples are the stored values, at the reduced size it was decoded to.
      const eightBit: PixelModule = { ...module, rows: luma.height, columns: luma.width, bitsAllocated: 8, bitsStored: 8, highBit: 7, signed: false };
      const { plane: gray, window } = renderGrayscale(luma.data, eightBit, ds, true);
      return result({ width: luma.width, height: luma.height, data: gray }, window);
    }
  }
  throw new ImageError('unsupported', `DICOM ${syntax.name} is not supported.`);
}

const plane = (module: PixelModule, data: Uint8Array): LumaPlane => ({ width: module.columns, height: module.rows, data });

/** 16-bit samples read where they lie: big endian, or at an odd offset (no copy of the frame is made). */
interface UnalignedWords {
  view: DataView;
  littleEndian: boolean;
}

/** The first frame of native pixel data: 8-bit bytes, 16-bit words viewed in place, or unaligned words. */
function nativeFrame(value: Uint8Array, module: PixelModule, syntax: TransferSyntax): Uint8Array | Uint16Array | UnalignedWords {
  // Uncompressed YBR_FULL_422 stores Y Y Cb Cr for each pair of pixels: two samples a pixel.
  const samplesPerPixel = module.photometric === 'YBR_FULL_422' ? 2 : module.samplesPerPixel;
  const samples = module.rows * module.columns * samplesPerPixel;
  const bytes = samples * (module.bitsAllocated / 8);
  if (value.length < bytes) {
    throw new ImageError('invalid', `The DICOM pixel data is truncated: ${value.length} bytes where one frame needs ${bytes}.`);
  }
  if (module.bitsAllocated === 8) return value.subarray(0, bytes);
  if (syntax.littleEndian === PLATFORM_LITTLE_ENDIAN && value.byteOffset % 2 === 0) {
    return new Uint16Array(value.buffer, value.byteOffset, samples);
  }
  // Big endian data, or words at an odd offset: read through a DataView rather than copied (a copy of a frame
  // inflated from a deflated data set would hold it twice).
  return { view: new DataView(value.buffer, value.byteOffset, bytes), littleEndian: syntax.littleEndian };
}

/**
 * The first frame's compressed bytes. One frame: all fragments. Several: the Basic Offset Table's first
 * range when there is one, else (RLE: one fragment a frame) the first fragment, else (JPEG) fragments up to
 * the first that ends a codestream.
 */
function firstFrame(fragments: Uint8Array[], frames: number, syntax: TransferSyntax): Uint8Array {
  const [offsetTable, ...data] = fragments;
  if (data.length === 0) throw new ImageError('invalid', 'Corrupt DICOM: the encapsulated pixel data has no fragments.');
  let count = data.length;
  if (frames > 1) {
    if (offsetTable && offsetTable.length >= 8) {
      const view = new DataView(offsetTable.buffer, offsetTable.byteOffset, offsetTable.byteLength);
      const end = view.getUint32(4, true);
      let position = 0;
      count = 0;
      while (count < data.length && position < end) position += 8 + data[count++].length;
    } else if (syntax.codec === 'rle' || data.length === frames) {
      count = 1;
    } else {
      count = data.findIndex(endsCodestream) + 1 || data.length;
    }
  }
  return count === 1 ? data[0] : concatBytes(data.slice(0, count));
}

/** A JPEG fragment ends its codestream with EOI (FF D9), possibly followed by one padding byte. */
function endsCodestream(fragment: Uint8Array): boolean {
  const n = fragment.length;
  return (n >= 2 && fragment[n - 2] === 0xff && fragment[n - 1] === 0xd9) || (n >= 3 && fragment[n - 3] === 0xff && fragment[n - 2] === 0xd9);
}

interface JpegFrameHeader {
  precision: number;
  width: number;
  height: number;
  components: number;
}

/**
 * A JPEG's first frame header (SOFn), read without decoding; null when a scan or the end of the image comes first.
 * The markers are walked as the codecs walk them (segments.ts nextMarker: fill bytes, stray bytes, markers without
 * a segment; the lossless codec walks the same way where it does not refuse the stream), so the header checked here
 * is the one a codec sizes its buffers from: a walk of its own (it once read a fill byte as a marker) could be led
 * past the real header to a decoy.
 * @throws ImageError `invalid` when the data ends first or a segment's length runs past it
 */
function jpegFrameHeader(jpeg: Uint8Array): JpegFrameHeader | null {
  for (let pos = 2; ; ) {
    pos = nextMarker(jpeg, pos);
    const marker = jpeg[pos - 1];
    if (marker === 0xd9 || marker === 0xda) return null;
    const data = readSegment(jpeg, pos);
    if (isFrameHeader(marker)) {
      return data.length < 6 ? null : { precision: data[0], height: (data[1] << 8) | data[2], width: (data[3] << 8) | data[4], components: data[5] };
    }
    pos += 2 + data.length;
  }
}

/**
 * The JPEG-coded frame's header, held to the DICOM header before any sample is allocated: the same size and sample
 * count (a codec sizes its buffers from the JPEG's own header, which a hostile file can make far larger than the
 * DICOM header's).
 */
function matchingFrameHeader(frame: Uint8Array, module: PixelModule): JpegFrameHeader {
  const sof = jpegFrameHeader(frame);
  if (!sof) throw new ImageError('invalid', 'Corrupt DICOM: the compressed frame has no JPEG frame header.');
  if (sof.width !== module.columns || sof.height !== module.rows || sof.components !== module.samplesPerPixel) {
    throw new ImageError(
      'invalid',
      `Corrupt DICOM: the compressed frame is ${sof.width}x${sof.height} with ${sof.components} components, the header says ` +
        `${module.columns}x${module.rows} with ${module.samplesPerPixel}.`,
    );
  }
  return sof;
}

/** Refuses a frame whose codec would need more than `budget` bytes: `bytesPerSample` for each of its samples. */
function checkDecodeBudget(sof: JpegFrameHeader, budget: number, bytesPerSample: number): void {
  const bytes = sof.width * sof.height * bytesPerSample;
  if (bytes > budget) {
    throw new ImageError('too_large', `This ${sof.width}x${sof.height} frame needs ${Math.ceil(bytes / 2 ** 20)} MiB to decode; the limit is ${Math.floor(budget / 2 ** 20)} MiB.`);
  }
}

/**
 * Stored samples -> 8-bit luminance through the grayscale pipeline's table, one pass. When `inPlace`, the
 * result is written over the samples' own memory (a 16-bit sample is read before its byte is overwritten),
 * so a decoded frame is never held at full resolution twice.
 */
function renderGrayscale(
  samples: Uint8Array | Uint16Array | UnalignedWords,
  module: PixelModule,
  ds: DataSet,
  inPlace: boolean,
): { plane: Uint8Array; window: WindowUsed } {
  const shift = module.highBit + 1 - module.bitsStored;
  const mask = 2 ** module.bitsStored - 1;
  const n = module.rows * module.columns;
  const words = ArrayBuffer.isView(samples) ? null : samples;
  const array = ArrayBuffer.isView(samples) ? samples : null;
  const histogram = () => {
    const counts = new Uint32Array(mask + 1);
    if (array) for (let i = 0; i < n; i++) counts[(array[i] >> shift) & mask]++;
    else for (let i = 0; i < n; i++) counts[(words!.view.getUint16(i * 2, words!.littleEndian) >> shift) & mask]++;
    return counts;
  };
  const { lut, window } = grayscaleLut(ds, module, histogram);
  // A 16-bit frame's first whole pair of samples starts 0 or 1 samples in; a new output is placed so that the byte of
  // that sample is 4-byte aligned too (lookUpWordsFourAtATime).
  const lead = array instanceof Uint16Array && array.byteOffset % 4 === 2 ? 1 : 0;
  const start = (4 - lead) % 4;
  const out = inPlace && array ? new Uint8Array(array.buffer, array.byteOffset, n) : new Uint8Array(start + n).subarray(start);
  if (array instanceof Uint16Array && PLATFORM_LITTLE_ENDIAN && (out.byteOffset + lead) % 4 === 0) {
    lookUpWordsFourAtATime(array, lut, out, shift, mask, n, lead);
  } else if (array) for (let i = 0; i < n; i++) out[i] = lut[(array[i] >> shift) & mask];
  else for (let i = 0; i < n; i++) out[i] = lut[(words!.view.getUint16(i * 2, words!.littleEndian) >> shift) & mask];
  return { plane: out, window };
}

/**
 * out[i] = lut[(samples[i] >> shift) & mask] for i < n: the `lead` samples before the first 4-byte aligned pair one
 * by one, then four pixels a step (two 32-bit reads of sample pairs, one 32-bit write of four bytes; a little-endian
 * platform, with out[lead] 4-byte aligned too), then the rest one by one. Half the time of a step per pixel in V8
 * on a 4-megapixel film. In place too (same buffer, same start): a step reads its samples' bytes before it writes
 * the lower bytes of the pixels they become.
 */
function lookUpWordsFourAtATime(samples: Uint16Array, lut: Uint8Array, out: Uint8Array, shift: number, mask: number, n: number, lead: number): void {
  for (let i = 0; i < lead && i < n; i++) out[i] = lut[(samples[i] >> shift) & mask];
  const steps = Math.max(0, (n - lead) >> 2);
  const pairs = new Uint32Array(samples.buffer, samples.byteOffset + 2 * lead, 2 * steps);
  const quads = new Uint32Array(out.buffer, out.byteOffset + lead, steps);
  const high = 16 + shift;
  for (let j = 0, p = 0; j < steps; j++, p += 2) {
    const a = pairs[p];
    const b = pairs[p + 1];
    quads[j] = lut[(a >>> shift) & mask] | (lut[(a >>> high) & mask] << 8) | (lut[(b >>> shift) & mask] << 16) | (lut[(b >>> high) & mask] << 24);
  }
  for (let i = lead + 4 * steps; i < n; i++) out[i] = lut[(samples[i] >> shift) & mask];
}

/** Native or JPEG-lossless colour samples (8-bit, interleaved or planar) -> BT.601 luminance. */
function colourLuma(samples: Uint8Array | Uint16Array, module: PixelModule, pixels: number): Uint8Array {
  if (module.photometric === 'YBR_FULL_422' && samples.length < pixels * 3) {
    // Native 4:2:2: Y0 Y1 Cb Cr per pair of pixels (an odd last column has its pair's slot).
    const y = new Uint8Array(pixels);
    for (let i = 0; i < pixels; i++) y[i] = samples[(i >> 1) * 4 + (i & 1)];
    return y;
  }
  if (module.planarConfiguration === 1) {
    return planesToLuma([0, 1, 2].map((p) => Uint8Array.from(samples.subarray(p * pixels, (p + 1) * pixels))), module.photometric, pixels);
  }
  const bytes = samples instanceof Uint8Array ? samples : Uint8Array.from(samples);
  if (module.photometric.startsWith('YBR')) {
    const y = new Uint8Array(pixels);
    for (let i = 0; i < pixels; i++) y[i] = bytes[i * 3];
    return y;
  }
  return rgbToLuma(bytes, pixels);
}

/** Three colour planes -> luminance (for YBR the first plane already is). */
function planesToLuma(planes: Uint8Array[], photometric: string, pixels: number): Uint8Array {
  if (photometric.startsWith('YBR')) return planes[0];
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    rgb[i * 3] = planes[0][i];
    rgb[i * 3 + 1] = planes[1][i];
    rgb[i * 3 + 2] = planes[2][i];
  }
  return rgbToLuma(rgb, pixels);
}
