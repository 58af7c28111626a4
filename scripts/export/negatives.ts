/**
 * Images the gate must refuse: the `not-cxr` folder (real kinds, by manifest `kind`) and negatives
 * generated here (blank, gradients, noise, shapes, rendered "text", tiny images, crops of a chest X-ray
 * that show no lungs, and chest X-rays turned sideways or upside down, with inverted grey levels, tiled
 * several to an image, or shown small on a larger page as in a screenshot). Generated images are written as JPEGs and then go through the Worker's own
 * preprocessing like every other training image, so the gate learns what the Worker will actually see.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'jpeg-js';
import { preprocessJpeg } from '../../src/preprocess';
import { DatasetError, readManifest } from './dataset';
import { groupKey } from './holdout';
import { seededRandom } from './split';

/** The gate's classes: what an upload looks like, and what the Worker tells the user when it refuses one. */
export const GATE_KINDS: Record<string, string> = {
  frontal_chest_xray: 'a frontal chest radiograph',
  lateral_chest_xray: 'a lateral chest view: send a frontal PA or AP view',
  ct_slice: 'a CT slice: send a plain frontal chest radiograph, not a CT image',
  other_radiograph: 'a radiograph of another body part, or a crop that does not show the lungs: send a frontal chest radiograph',
  ultrasound: 'an ultrasound image: send a frontal chest radiograph',
  photo_document_chart: 'a photograph, screenshot, document or chart: send the radiograph image file itself',
  blank_or_synthetic: 'a blank, uniform, synthetic or very small image: send a frontal chest radiograph',
  rotated_or_inverted_chest_xray:
    'a chest X-ray turned sideways or upside down, or with inverted grey levels (bones dark): send the film upright, as it was taken',
  other_image: 'not a frontal chest radiograph: send a frontal PA or AP chest X-ray',
};
export const ACCEPTED_KIND = 'frontal_chest_xray';

/** Which gate class each raw kind (not-cxr manifest `kind`, or a generated family) belongs to. */
const GATE_KIND_OF: Record<string, string> = {
  lateral_chest_xray: 'lateral_chest_xray',
  ct_slice: 'ct_slice',
  radiograph_hand: 'other_radiograph',
  radiograph_knee: 'other_radiograph',
  radiograph_spine: 'other_radiograph',
  ultrasound: 'ultrasound',
  natural_photo: 'photo_document_chart',
  document_scan: 'photo_document_chart',
  chart_or_diagram: 'photo_document_chart',
  generated_text: 'photo_document_chart',
  generated_blank: 'blank_or_synthetic',
  generated_gradient: 'blank_or_synthetic',
  generated_noise: 'blank_or_synthetic',
  generated_shapes: 'blank_or_synthetic',
  generated_tiny: 'blank_or_synthetic',
  generated_cxr_crop: 'other_radiograph',
  generated_cxr_rotated: 'rotated_or_inverted_chest_xray',
  generated_cxr_inverted: 'rotated_or_inverted_chest_xray',
  // Several films in one image: what a screenshot of a viewer or a collage shows.
  generated_cxr_tiled: 'photo_document_chart',
  // One film inside a larger page: a screenshot of a viewer or a web page, a photo of a film on a lightbox.
  generated_cxr_framed: 'photo_document_chart',
};

/** The gate class of a raw kind; kinds nobody mapped become `other_image`. */
export function gateKindOf(kind: string): string {
  return GATE_KIND_OF[kind] ?? 'other_image';
}

export interface NegativeImage {
  /** Absolute path of the JPEG. */
  file: string;
  /** The raw kind (manifest `kind` or `generated_*`). */
  kind: string;
  source: string;
}

/** Reads a not-cxr folder: `MANIFEST.csv` with `file` and `kind` (and `source_repo`). */
export function loadNotCxr(root: string): NegativeImage[] {
  const manifest = join(root, 'MANIFEST.csv');
  if (!existsSync(manifest)) throw new DatasetError(`--not-cxr needs ${manifest} (columns file, kind)`);
  return readManifest(manifest, ['file', 'kind']).map((row) => ({ file: join(root, row.file), kind: row.kind, source: row.source_repo || 'not-cxr' }));
}

// New families go last: the images of the earlier ones then stay what they were for the same seed.
export const GENERATED_FAMILIES = ['blank', 'gradient', 'noise', 'shapes', 'text', 'tiny', 'cxr_crop', 'cxr_rotated', 'cxr_inverted', 'cxr_tiled', 'cxr_framed'] as const;
const FROM_CHEST_XRAYS = new Set<string>(['cxr_crop', 'cxr_rotated', 'cxr_inverted', 'cxr_tiled', 'cxr_framed']);
/** Bumped when what a family draws changes, so that images written by older code are not reused. */
const GENERATOR_VERSION = 2;
type Rgb = [number, number, number];

/**
 * Writes `perFamily` generated negatives of every family into a folder of `dir` named after everything that
 * decides them (seed, count, chest X-rays, generator version), reused when already there, and returns them.
 * `chestXrays` are the JPEG paths that the chest-derived families crop, turn, invert and tile.
 */
export function generateNegatives(dir: string, perFamily: number, chestXrays: string[], seed: number): NegativeImage[] {
  const random = seededRandom(seed);
  const key = createHash('sha256').update(JSON.stringify({ GENERATOR_VERSION, GENERATED_FAMILIES, perFamily, seed, chestXrays })).digest('hex').slice(0, 12);
  dir = join(dir, `s${seed}-${key}`);
  const out: NegativeImage[] = [];
  for (const family of GENERATED_FAMILIES) {
    if (FROM_CHEST_XRAYS.has(family) && chestXrays.length === 0) continue;
    mkdirSync(join(dir, family), { recursive: true });
    for (let i = 0; i < perFamily; i++) {
      const file = join(dir, family, `${String(i).padStart(4, '0')}.jpg`);
      const image = makeNegative(family, random, chestXrays);
      // Encoded even when the file exists: encoding draws from `random` too, and a run that stopped part-way must
      // draw the images after it exactly as a fresh run would. Written whole or not at all (renamed into place).
      const bytes = encodeRgb(image.width, image.height, image.rgb, 60 + Math.floor(random() * 36));
      if (!existsSync(file)) {
        writeFileSync(`${file}.partial`, bytes);
        renameSync(`${file}.partial`, file);
      }
      out.push({ file, kind: `generated_${family}`, source: 'generated' });
    }
  }
  return out;
}

/**
 * The chest X-rays the chest-derived negatives are made from: `count` of them, taken in turn from the largest
 * source of each class (which a source-held-out split always keeps for training) and evenly spread over each,
 * less any group in `heldOut`, so that no held-out source's films reach training through the gate.
 */
export function chestXraysForNegatives(images: { file: string; source: string; className: string }[], heldOut: ReadonlySet<string>, count = 400): string[] {
  const bySource = new Map<string, Map<string, string[]>>();
  for (const { file, source, className } of images) {
    if (heldOut.has(groupKey(source, className))) continue;
    const sources = bySource.get(className) ?? new Map<string, string[]>();
    sources.set(source, [...(sources.get(source) ?? []), file]);
    bySource.set(className, sources);
  }
  const largest = [...bySource.keys()].sort().map((c) => [...bySource.get(c)!.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))[0][1]);
  const per = Math.ceil(count / Math.max(1, largest.length));
  const spread = largest.map((files) => Array.from({ length: Math.min(per, files.length) }, (_, i) => files[Math.floor((i * files.length) / Math.min(per, files.length))]));
  const out: string[] = [];
  for (let i = 0; out.length < count && spread.some((s) => i < s.length); i++) for (const s of spread) if (i < s.length && out.length < count) out.push(s[i]);
  return out;
}

interface RgbImage {
  width: number;
  height: number;
  rgb: (x: number, y: number) => Rgb;
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

function makeNegative(family: (typeof GENERATED_FAMILIES)[number], random: () => number, chestXrays: string[]): RgbImage {
  const width = 64 + Math.floor(random() * 480);
  const height = Math.max(32, Math.round(width * (0.6 + random() * 0.9)));
  const colour = random() < 0.5;
  const tint: Rgb = colour ? [random(), random(), random()].map((v) => 0.4 + 0.6 * v) as Rgb : [1, 1, 1];
  const grey = (v: number): Rgb => [clamp(v * tint[0]), clamp(v * tint[1]), clamp(v * tint[2])];
  switch (family) {
    case 'blank': {
      const level = [0, 255, random() * 255][Math.floor(random() * 3)];
      const jitter = random() * 4;
      return { width, height, rgb: () => grey(level + jitter * (random() - 0.5)) };
    }
    case 'gradient': {
      const radial = random() < 0.4;
      const angle = random() * Math.PI * 2;
      const [a, b] = [random() * 255, random() * 255];
      return {
        width,
        height,
        rgb: (x, y) => {
          const t = radial
            ? Math.min(1, Math.hypot(x / width - 0.5, y / height - 0.5) * 1.6)
            : ((x / width - 0.5) * Math.cos(angle) + (y / height - 0.5) * Math.sin(angle) + 0.7) / 1.4;
          return grey(a + (b - a) * t);
        },
      };
    }
    case 'noise': {
      // White noise, or smooth noise from a coarse grid bilinearly interpolated.
      const cell = random() < 0.4 ? 1 : 4 + Math.floor(random() * 40);
      const gw = Math.ceil(width / cell) + 2;
      const grid = Array.from({ length: gw * (Math.ceil(height / cell) + 2) }, () => random() * 255);
      return {
        width,
        height,
        rgb: (x, y) => {
          const fx = x / cell;
          const fy = y / cell;
          const x0 = Math.floor(fx);
          const y0 = Math.floor(fy);
          const tx = fx - x0;
          const ty = fy - y0;
          const v = (1 - ty) * ((1 - tx) * grid[y0 * gw + x0] + tx * grid[y0 * gw + x0 + 1]) + ty * ((1 - tx) * grid[(y0 + 1) * gw + x0] + tx * grid[(y0 + 1) * gw + x0 + 1]);
          return grey(v);
        },
      };
    }
    case 'shapes': {
      // Rectangles and discs on a plain background: a stand-in for screenshots, icons and slides.
      const background: Rgb = [random() * 255, random() * 255, random() * 255].map(clamp) as Rgb;
      const shapes = Array.from({ length: 3 + Math.floor(random() * 12) }, () => ({
        x: random() * width, y: random() * height, w: 10 + random() * width * 0.5, h: 10 + random() * height * 0.5,
        disc: random() < 0.4, fill: [random() * 255, random() * 255, random() * 255].map(clamp) as Rgb,
      }));
      return {
        width,
        height,
        rgb: (x, y) => {
          let c = background;
          for (const s of shapes) {
            const inside = s.disc ? ((x - s.x) / s.w) ** 2 + ((y - s.y) / s.h) ** 2 < 0.25 : x >= s.x && x < s.x + s.w && y >= s.y && y < s.y + s.h;
            if (inside) c = s.fill;
          }
          return c;
        },
      };
    }
    case 'text': {
      // Lines of glyph-like strokes on paper: a page of text without needing a font.
      const line = 10 + Math.floor(random() * 18);
      const ink = random() * 80;
      const paper = 200 + random() * 55;
      const seedBits = Math.floor(random() * 1e9);
      const margin = Math.floor(width * 0.08);
      return {
        width,
        height,
        rgb: (x, y) => {
          const row = Math.floor(y / line);
          const inLine = y % line;
          if (x < margin || x > width - margin || inLine < line * 0.3 || inLine > line * 0.85) return grey(paper);
          const glyph = Math.floor(x / (line * 0.6));
          const h = hash(seedBits, row, glyph);
          if (h % 7 === 0) return grey(paper); // a space between words
          const gx = (x % (line * 0.6)) / (line * 0.6);
          const gy = (inLine - line * 0.3) / (line * 0.55);
          const stroke = (h >> 3) % 4 === 0 ? gx > 0.2 && gx < 0.4 : (h >> 5) % 3 === 0 ? gy > 0.4 && gy < 0.6 : Math.abs(gx - gy) < 0.18 || gx < 0.2;
          return grey(stroke ? ink : paper);
        },
      };
    }
    case 'tiny': {
      // A 2-24 px image: whatever it shows, it is too small to judge.
      const w = 2 + Math.floor(random() * 23);
      const h = 2 + Math.floor(random() * 23);
      const cells = Array.from({ length: w * h }, () => random() * 255);
      return { width: w, height: h, rgb: (x, y) => grey(cells[y * w + x]) };
    }
    case 'cxr_crop': {
      // A strip or corner of a real chest X-ray that misses the lungs: neck and shoulders, the abdomen,
      // the arm at one side, or a corner.
      const { pixels, size } = chestPixels(random, chestXrays);
      const pick = Math.floor(random() * 4);
      const f = 0.12 + random() * 0.1;
      const [x0, y0, w, h] = [
        [0, 0, size, Math.round(size * f)],
        [0, Math.round(size * (1 - f)), size, Math.round(size * f)],
        [random() < 0.5 ? 0 : Math.round(size * (1 - f)), 0, Math.round(size * f), size],
        [random() < 0.5 ? 0 : Math.round(size * 0.75), random() < 0.5 ? 0 : Math.round(size * 0.75), Math.round(size * 0.25), Math.round(size * 0.25)],
      ][pick];
      return { width: w, height: h, rgb: (x, y) => grey(pixels[(y0 + y) * size + x0 + x]) };
    }
    case 'cxr_rotated': {
      // A quarter turn either way, a half turn, or flipped top to bottom.
      const { pixels, size } = chestPixels(random, chestXrays);
      const turn = Math.floor(random() * 4);
      const at = [
        (x: number, y: number) => pixels[(size - 1 - x) * size + y],
        (x: number, y: number) => pixels[x * size + size - 1 - y],
        (x: number, y: number) => pixels[(size - 1 - y) * size + size - 1 - x],
        (x: number, y: number) => pixels[(size - 1 - y) * size + x],
      ][turn];
      return { width: size, height: size, rgb: (x, y) => grey(at(x, y)) };
    }
    case 'cxr_inverted': {
      // A negative of the film (as a MONOCHROME1 image looks when its photometric interpretation is ignored),
      // upright or mirrored.
      const { pixels, size } = chestPixels(random, chestXrays);
      const mirrored = random() < 0.5;
      return { width: size, height: size, rgb: (x, y) => grey(255 - pixels[y * size + (mirrored ? size - 1 - x : x)]) };
    }
    case 'cxr_tiled': {
      // Two films side by side or stacked, or four in a grid, with a gap of a uniform grey between them.
      const [columns, rows] = [[2, 1], [1, 2], [2, 2]][Math.floor(random() * 3)];
      const tiles = Array.from({ length: columns * rows }, () => chestPixels(random, chestXrays));
      const tile = 128 + Math.floor(random() * 129);
      const gap = Math.floor(random() * 9);
      const fill = random() < 0.5 ? 0 : 255 * random();
      const [w, h] = [columns * tile + (columns - 1) * gap, rows * tile + (rows - 1) * gap];
      return {
        width: w,
        height: h,
        rgb: (x, y) => {
          const [cx, cy] = [Math.floor(x / (tile + gap)), Math.floor(y / (tile + gap))];
          const [tx, ty] = [x - cx * (tile + gap), y - cy * (tile + gap)];
          if (tx >= tile || ty >= tile) return grey(fill);
          const { pixels, size } = tiles[cy * columns + cx];
          return grey(pixels[Math.floor((ty * size) / tile) * size + Math.floor((tx * size) / tile)]);
        },
      };
    }
    case 'cxr_framed': {
      // One film at 35-80 % of a page of uniform grey, never dark (a film with black borders is still a chest
      // X-ray; a colour cast dims the page to no less than 0.4 of its level), with a toolbar along the top half the time.
      const { pixels, size } = chestPixels(random, chestXrays);
      const pageWidth = 256 + Math.floor(random() * 385);
      const pageHeight = Math.round(pageWidth * (0.6 + random() * 0.9));
      const bar = random() < 0.5 ? Math.round(pageHeight * (0.05 + random() * 0.08)) : 0;
      const side = Math.min(Math.round(Math.min(pageWidth, pageHeight) * (0.35 + random() * 0.45)), pageHeight - bar);
      const [x0, y0] = [Math.floor(random() * (pageWidth - side + 1)), bar + Math.floor(random() * (pageHeight - bar - side + 1))];
      const [page, barLevel, button] = [90 + random() * 165, random() * 255, 12 + Math.floor(random() * 20)];
      return {
        width: pageWidth,
        height: pageHeight,
        rgb: (x, y) => {
          if (y < bar) return grey(x % (button + 6) < button && y > bar * 0.2 && y < bar * 0.8 ? 255 - barLevel : barLevel);
          if (x < x0 || x >= x0 + side || y < y0 || y >= y0 + side) return grey(page);
          return grey(pixels[Math.floor(((y - y0) * size) / side) * size + Math.floor(((x - x0) * size) / side)]);
        },
      };
    }
  }
}

/**
 * One of `chestXrays`, chosen by `random`, through the Worker's preprocessing: [size * size] luminance. A file that
 * does not decode (the data may hold a few; the pixel cache skips them) gives way to the next in the list.
 */
function chestPixels(random: () => number, chestXrays: string[]): { pixels: Uint8Array; size: number } {
  const first = Math.floor(random() * chestXrays.length);
  for (let k = 0; k < chestXrays.length; k++) {
    try {
      const bytes = readFileSync(chestXrays[(first + k) % chestXrays.length]);
      return preprocessJpeg(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 256, { maxPixels: 1e8 });
    } catch {
      // Unreadable: try the next one.
    }
  }
  throw new DatasetError('none of the chest X-rays picked for the generated negatives could be decoded');
}

function hash(seed: number, a: number, b: number): number {
  let h = Math.imul(seed ^ Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b), 0xc2b2ae35) >>> 0;
  h ^= h >>> 15;
  return Math.imul(h, 0x27d4eb2f) >>> 0;
}

function encodeRgb(width: number, height: number, rgb: (x: number, y: number) => Rgb, quality: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb(x, y);
      const i = (y * width + x) * 4;
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
      data[i + 3] = 255;
    }
  }
  return new Uint8Array(encode({ width, height, data }, quality).data);
}
