/**
 * DICOM RLE Lossless (PS3.5 annex G): a 64-byte header of up to 15 segment offsets, then one PackBits
 * segment per byte plane (most significant byte first, then per colour sample).
 */
import { ImageError } from '../../errors';

/**
 * Decodes one RLE frame. Monochrome: one sample a pixel (16-bit ones rebuilt from their high and low byte
 * segments without an intermediate plane). Colour (8-bit): three planes, R G B (or Y Cb Cr).
 * @throws ImageError `invalid` for a corrupt header or a segment that does not fill its plane
 */
export function decodeRleFrame(frame: Uint8Array, pixels: number, bitsAllocated: 8 | 16, samplesPerPixel: 1 | 3): Uint8Array | Uint16Array | Uint8Array[] {
  const planes = samplesPerPixel * (bitsAllocated / 8);
  if (frame.length < 64) throw new ImageError('invalid', 'Corrupt DICOM RLE: the frame is shorter than its header.');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  if (segments !== planes) {
    throw new ImageError('invalid', `Corrupt DICOM RLE: ${segments} segments where the pixel description needs ${planes}.`);
  }
  const offsets: number[] = [];
  for (let i = 0; i < segments; i++) offsets.push(view.getUint32(4 + 4 * i, true));
  offsets.push(frame.length);
  const segment = (i: number) => {
    const start = offsets[i];
    const end = offsets[i + 1];
    if (start < 64 || start > end || end > frame.length) throw new ImageError('invalid', 'Corrupt DICOM RLE: bad segment offsets.');
    return frame.subarray(start, end);
  };
  if (samplesPerPixel === 3) return [0, 1, 2].map((i) => unpackBits(segment(i), new Uint8Array(pixels), 0));
  if (bitsAllocated === 8) return unpackBits(segment(0), new Uint8Array(pixels), 0);
  const words = new Uint16Array(pixels);
  unpackBits(segment(0), words, 8);
  return unpackBits(segment(1), words, 0);
}

/**
 * PackBits (as TIFF and DICOM define it) into every element of `out`, each byte shifted left by `shift`
 * and OR-ed in (so a 16-bit sample's high and low byte segments land in one array). What a run writes past
 * the end is dropped.
 */
function unpackBits<T extends Uint8Array | Uint16Array>(input: Uint8Array, out: T, shift: number): T {
  const length = out.length;
  let i = 0;
  let o = 0;
  while (o < length) {
    if (i >= input.length) throw new ImageError('invalid', 'Corrupt DICOM RLE: a segment ends before its plane is full.');
    const header = input[i++];
    if (header < 128) {
      const count = header + 1;
      if (i + count > input.length) throw new ImageError('invalid', 'Corrupt DICOM RLE: a literal run is cut off.');
      // Some encoders let the last run go past the plane; what lies beyond it is ignored, as in other decoders.
      const end = Math.min(o + count, length);
      const from = i;
      while (o < end) out[o++] |= input[i++] << shift;
      i = from + count;
    } else if (header > 128) {
      if (i >= input.length) throw new ImageError('invalid', 'Corrupt DICOM RLE: a repeat run is cut off.');
      const value = input[i++] << shift;
      for (const end = Math.min(o + 257 - header, length); o < end; ) out[o++] |= value;
    }
    // 128 is a no-op.
  }
  return out;
}
