/**
 * DICOM RLE Lossless frames (src/image/dicom/codecs/rle.ts, PS3.5 annex G) written byte by byte: every PackBits
 * header class at its edges (127 = a literal of 128, 128 = no-op, 129 = a repeat of 128, 255 = a repeat of 2), 16-bit
 * samples from two byte planes, colour planes, and each refusal with its exact reason. dicom.test.ts decodes dcmtk's
 * RLE files against the uncompressed originals.
 */
import { describe, expect, it } from 'vitest';
import { decodeRleFrame } from '../../src/image/dicom/codecs/rle';
import { rleFrame, rleLiteral as literal, rleRepeat as repeat } from '../helpers/dicom';
import { expectImageError } from '../helpers/image-errors';

const invalid = (fn: () => unknown, message: string) => expectImageError(fn, 'invalid', message);

describe('RLE frames', () => {
  it('decode literal runs, repeat runs and no-ops at the edges of each header class', () => {
    const long = Array.from({ length: 128 }, (_, i) => i);
    const segment = [...literal(...long), 128, ...repeat(200, 128), ...repeat(7, 2), ...literal(9)];
    const pixels = decodeRleFrame(rleFrame([segment]), 128 + 128 + 2 + 1, 8, 1);
    expect(Array.from(pixels as Uint8Array)).toEqual([...long, ...new Array(128).fill(200), 7, 7, 9]);
  });

  it('rebuild 16-bit samples from the high-byte segment and then the low-byte one', () => {
    const words = decodeRleFrame(rleFrame([literal(0x12, 0xff, 0x00), [...repeat(0x34, 2), ...literal(0x56)]]), 3, 16, 1);
    expect(words).toBeInstanceOf(Uint16Array);
    expect(Array.from(words as Uint16Array)).toEqual([0x1234, 0xff34, 0x0056]);
  });

  it('decode colour frames as three planes, in segment order', () => {
    const planes = decodeRleFrame(rleFrame([repeat(10, 2), repeat(20, 2), literal(30, 31)]), 2, 8, 3) as Uint8Array[];
    expect(planes.map((p) => Array.from(p))).toEqual([[10, 10], [20, 20], [30, 31]]);
  });

  it('drop what the last run writes past the plane (some encoders do), literal or repeat', () => {
    expect(Array.from(decodeRleFrame(rleFrame([literal(1, 2, 3, 4)]), 2, 8, 1) as Uint8Array)).toEqual([1, 2]);
    expect(Array.from(decodeRleFrame(rleFrame([[...literal(5), ...repeat(6, 100)]]), 3, 8, 1) as Uint8Array)).toEqual([5, 6, 6]);
  });

  it('refuse a corrupt header, naming why', () => {
    invalid(() => decodeRleFrame(new Uint8Array(63), 1, 8, 1), 'Corrupt DICOM RLE: the frame is shorter than its header.');
    // Exactly a header, with its one segment empty: the header is fine, the segment is not.
    invalid(() => decodeRleFrame(rleFrame([[]]), 1, 8, 1), 'Corrupt DICOM RLE: a segment ends before its plane is full.');
    invalid(() => decodeRleFrame(rleFrame([literal(1)]), 1, 16, 1), 'Corrupt DICOM RLE: 1 segments where the pixel description needs 2.');
    invalid(() => decodeRleFrame(rleFrame([literal(1)], [63]), 1, 8, 1), 'Corrupt DICOM RLE: bad segment offsets.');
    invalid(() => decodeRleFrame(rleFrame([literal(1), literal(2)], [66, 65]), 1, 16, 1), 'Corrupt DICOM RLE: bad segment offsets.');
    // The last segment runs to the end of the frame; an offset past it is bad.
    invalid(() => decodeRleFrame(rleFrame([literal(1)], [67]), 1, 8, 1), 'Corrupt DICOM RLE: bad segment offsets.');
    // A segment before the last ends where the next begins, which may not lie past the frame either (68 bytes here).
    invalid(() => decodeRleFrame(rleFrame([literal(1), literal(2)], [68, 100]), 1, 16, 1), 'Corrupt DICOM RLE: bad segment offsets.');
    expect(Array.from(decodeRleFrame(rleFrame([literal(1), literal(2)], [64, 66]), 1, 16, 1) as Uint16Array)).toEqual([0x0102]);
  });

  it('refuse segments that end before their plane is full, naming why', () => {
    invalid(() => decodeRleFrame(rleFrame([literal(1, 2)]), 3, 8, 1), 'Corrupt DICOM RLE: a segment ends before its plane is full.');
    invalid(() => decodeRleFrame(rleFrame([[2, 1, 2]]), 3, 8, 1), 'Corrupt DICOM RLE: a literal run is cut off.');
    invalid(() => decodeRleFrame(rleFrame([[...literal(1), 0xfe]]), 3, 8, 1), 'Corrupt DICOM RLE: a repeat run is cut off.');
    invalid(() => decodeRleFrame(rleFrame([[128, 128]]), 1, 8, 1), 'Corrupt DICOM RLE: a segment ends before its plane is full.');
  });
});
