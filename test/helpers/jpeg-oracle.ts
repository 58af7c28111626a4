/**
 * Reference decoders the production decoder (src/image/jpeg) is checked against: jpeg-js at full
 * resolution, and libjpeg-turbo's djpeg (Debian's libjpeg-turbo-progs) at the same DCT scale.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import decodeWithJpegJs from 'jpeg-js/lib/decoder.js';
import { rgbToLuma } from '../../src/image/decode';

export const DJPEG = process.env.DJPEG ?? '/usr/bin/djpeg';

/** jpeg-js's full-resolution decode, collapsed to BT.601 luminance. */
export function jpegJsLuma(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } {
  const image = decodeWithJpegJs(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 4096, maxResolutionInMP: 500 });
  return { width: image.width, height: image.height, data: rgbToLuma(image.data, image.width * image.height) };
}

/** djpeg -scale 1/scale -grayscale, or null when djpeg is not installed. */
export function djpegLuma(file: string, scale: number): { width: number; height: number; data: Uint8Array } | null {
  if (!existsSync(DJPEG)) return null;
  const run = spawnSync(DJPEG, ['-scale', `1/${scale}`, '-grayscale', '-pnm', file], { maxBuffer: 1 << 30 });
  if (run.status !== 0) throw new Error(`djpeg failed: ${run.stderr}`);
  const pgm = run.stdout as Buffer;
  // Header: "P5\n<w> <h>\n255\n"
  const header = pgm.subarray(0, 64).toString('latin1').match(/^P5\s+(\d+)\s+(\d+)\s+255\s/);
  if (!header) throw new Error('djpeg did not write a PGM');
  return { width: Number(header[1]), height: Number(header[2]), data: new Uint8Array(pgm.subarray(header[0].length)) };
}

/** Peak signal-to-noise ratio in dB between two 8-bit planes of equal size (Infinity when identical). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`sizes differ: ${a.length} vs ${b.length}`);
  let sse = 0;
  for (let i = 0; i < a.length; i++) sse += (a[i] - b[i]) ** 2;
  return sse === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.length) / sse);
}
