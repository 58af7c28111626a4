/**
 * One real chest X-ray in every JPEG flavour the Worker decodes, for the Worker tests that need an
 * accepted image (a gated model refuses the synthetic fixtures, rightly). Built in Node by global-setup
 * with sharp and jpeg-js, in memory, from a file in ../shared that is read in place: nothing derived
 * from it is written to disk or committed. Names and sizes mirror the synthetic fixtures
 * (test/helpers/fixtures.ts), so the tests keep their expectations; YCCK has no counterpart (sharp cannot
 * write it) and stays covered by the decoder's tests.
 */
import { encode } from 'jpeg-js';
import sharp, { type Sharp } from 'sharp';

/** Flavour name -> JPEG bytes, from the real X-ray `source`. */
export async function xrayVariants(source: Uint8Array): Promise<Record<string, Uint8Array>> {
  const at = (width: number, height: number) => sharp(source).resize(width, height, { fit: 'fill' });
  const grey = (s: Sharp) => s.toColourspace('b-w');
  const out = async (s: Sharp) => new Uint8Array(await s.toBuffer());
  const greyRaw = async (width: number, height: number) => new Uint8Array(await grey(at(width, height)).raw().toBuffer());
  /** A faint tint so the three channels differ, as in make_fixtures.py: a real 3-component image. */
  const tinted = async (width: number, height: number, channels: 3 | 4 = 3) => {
    const g = await greyRaw(width, height);
    const rgb = new Uint8Array(g.length * channels);
    for (let i = 0; i < g.length; i++) rgb.set([g[i], Math.round(g[i] * 0.9), Math.min(255, g[i] + 10), 255].slice(0, channels), i * channels);
    return { rgb, sharp: sharp(rgb, { raw: { width, height, channels } }) };
  };

  const variants: Record<string, Uint8Array> = {
    'gray-baseline': await out(grey(at(300, 400)).jpeg({ quality: 90 })),
    'gray-progressive': await out(grey(at(300, 400)).jpeg({ quality: 90, progressive: true })),
    'rgb-420': await out((await tinted(300, 400)).sharp.jpeg({ quality: 90, chromaSubsampling: '4:2:0' })),
    'rgb-444-progressive': await out((await tinted(300, 400)).sharp.jpeg({ quality: 92, chromaSubsampling: '4:4:4', progressive: true })),
    'cmyk-adobe': await out((await tinted(300, 400)).sharp.toColourspace('cmyk').jpeg({ quality: 92 })),
    'rgb-large': await out((await tinted(1600, 1400)).sharp.jpeg({ quality: 85 })),
    'rgb-jpegjs': new Uint8Array(encode({ width: 320, height: 256, data: (await tinted(320, 256, 4)).rgb }, 90).data),
  };
  // Stored turned, with the EXIF orientation that turns it upright again (sharp rotates clockwise):
  // 3 = turn 180° to display, 6 = turn 90° clockwise (so stored 90° anticlockwise), 8 = the reverse.
  const upright = await greyRaw(300, 400);
  for (const [orientation, stored] of [[3, 180], [6, 270], [8, 90]] as const) {
    const turned = sharp(upright, { raw: { width: 300, height: 400, channels: 1 } }).rotate(stored);
    variants[`gray-exif-${orientation}`] = withOrientation(await out(grey(turned).jpeg({ quality: 90 })), orientation);
  }
  return variants;
}

/**
 * Inserts, after SOI, an EXIF APP1 segment holding only the Orientation tag (sharp's own metadata writer
 * converts to sRGB, which would turn the grayscale file into a 3-component one).
 */
function withOrientation(jpeg: Uint8Array, orientation: number): Uint8Array {
  const tiff = [0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0];
  const payload = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff]; // "Exif\0\0" + big-endian TIFF with one IFD entry
  const length = payload.length + 2;
  return new Uint8Array([0xff, 0xd8, 0xff, 0xe1, length >> 8, length & 0xff, ...payload, ...jpeg.subarray(2)]);
}
