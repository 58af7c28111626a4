/**
 * The headline images of the speed measurements (`npm run bench`, scripts/bench/decoder-stages.ts,
 * scripts/bench/ab-decode.ts, scripts/bench/dicom.ts): the full-size films of ../shared/data/large as stored, the
 * same re-encoded as grayscale JPEG at quality 90 (as PACS exports usually look) by sharp in a temp folder, never
 * committed, and as 12-bit DICOM (in memory).
 * One component: sharp's `grayscale()` alone writes a 3-component JPEG whose chroma is flat (until 2026-12-02 the
 * q90 rows measured those), `toColourspace('b-w')` a grayscale one.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { nativeRadiograph } from '../../test/helpers/dicom';

/** The JPEG films of `dir`, sorted; throws when there are none. */
export function largeFilms(dir: string): string[] {
  const films = readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => join(dir, f));
  if (films.length === 0) throw new Error(`No full-size films in ${dir} (../shared/data/large, or set LARGE_DIR)`);
  return films;
}

/** `files` re-encoded as grayscale q90 into a new temp folder, in the same order. */
export function grayscaleQ90(files: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'films-q90-'));
  return Promise.all(files.map(async (file, i) => {
    const out = join(dir, `q90-${i}.jpg`);
    await sharp(file).toColourspace('b-w').jpeg({ quality: 90 }).toFile(out);
    return out;
  }));
}

/** A window (centre 2048, width 4096) over the whole 12-bit range, as the DICOM films carry. */
const WINDOW = [
  { tag: 0x00281050, vr: 'DS', value: '2048' },
  { tag: 0x00281051, vr: 'DS', value: '4096' },
];

/**
 * A film as a hospital's DICOM: 12 bits stored in 16 (each grey level spread over 16 values), with a window,
 * uncompressed (explicit VR little endian); `size` resizes it to a square first.
 */
export async function twelveBitDicom(file: string, size?: number): Promise<Uint8Array> {
  let image = sharp(file).grayscale();
  if (size) image = image.resize(size, size, { fit: 'fill' });
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  const samples = new Uint16Array(info.width * info.height).map((_, i) => data[i] * 16 + ((i * 5) % 16));
  return nativeRadiograph({ width: info.width, height: info.height, samples, bitsAllocated: 16, bitsStored: 12, extra: WINDOW });
}

/** A 16x16 DICOM with the films' window (for timing a tool's start-up). */
export function tinyDicom(): Uint8Array {
  return nativeRadiograph({ width: 16, height: 16, samples: new Uint16Array(256), bitsAllocated: 16, bitsStored: 12, extra: WINDOW });
}
