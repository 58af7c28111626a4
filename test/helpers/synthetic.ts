/**
 * Generated test images (no real X-rays are ever committed): JPEGs encoded with jpeg-js from
 * synthetic patterns, and tiny labelled data sets in class folders for the export pipeline.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'jpeg-js';
import { seededRandom } from '../../scripts/export/split';

/** RGBA pixels from a per-pixel grey-level function (all three channels equal unless `rgb` is given). */
export function makeRgba(width: number, height: number, grey: (x: number, y: number) => number, rgb?: (x: number, y: number) => [number, number, number]): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const [r, g, b] = rgb ? rgb(x, y) : [grey(x, y), grey(x, y), grey(x, y)];
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
      data[i + 3] = 255;
    }
  }
  return data;
}

/** A baseline 3-component JPEG (jpeg-js's encoder) of the given pattern. */
export function encodeJpeg(width: number, height: number, grey: (x: number, y: number) => number, quality = 90): Uint8Array {
  const { data } = encode({ width, height, data: makeRgba(width, height, grey) }, quality);
  return new Uint8Array(data);
}

/** A chest-X-ray-like synthetic pattern: two dark "lungs" on a bright field, plus a class-specific blob. */
export function syntheticXray(size: number, label: number, classes: number, random: () => number): (x: number, y: number) => number {
  const blobX = (0.2 + 0.6 * (label / Math.max(1, classes - 1))) * size;
  const blobY = (0.3 + 0.4 * random()) * size;
  const noise = 10 + 10 * random();
  return (x, y) => {
    const lung = (cx: number) => Math.exp(-(((x - cx) / (0.16 * size)) ** 2 + ((y - 0.5 * size) / (0.3 * size)) ** 2));
    const blob = Math.exp(-(((x - blobX) ** 2 + (y - blobY) ** 2) / (0.01 * size * size)));
    const v = 200 - 120 * (lung(0.32 * size) + lung(0.68 * size)) + 90 * blob + noise * (random() - 0.5);
    return Math.max(0, Math.min(255, Math.round(v)));
  };
}

/**
 * Writes `perClass` synthetic JPEGs into one folder per class, plus a manifest grouping images in
 * pairs (two images per "patient"), and returns the paths.
 */
export function writeSyntheticDataset(root: string, classes: string[], perClass: number, seed = 7): { root: string; manifest: string } {
  const random = seededRandom(seed);
  const rows = ['file,class,unit'];
  classes.forEach((name, label) => {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const size = 96 + Math.floor(random() * 64);
      const file = `${name}/img${String(i).padStart(3, '0')}.jpg`;
      writeFileSync(join(root, file), encodeJpeg(size, size, syntheticXray(size, label, classes.length, random)));
      rows.push(`${file},${name},u-${name}-${Math.floor(i / 2)}`);
    }
  });
  const manifest = join(root, 'MANIFEST.csv');
  writeFileSync(manifest, rows.join('\n') + '\n');
  return { root, manifest };
}

/**
 * A data folder whose manifest names a source per image (`source_repo`), for the source-held-out split:
 * `spec` lists, per (class text, source), how many images; a class text `A|B` is a partial label.
 */
export function writeSourcedDataset(root: string, classes: string[], spec: { className: string; source: string; count: number }[], seed = 11): { root: string; manifest: string } {
  const random = seededRandom(seed);
  const rows = ['file,class,unit,source_repo,orig_width,orig_height'];
  spec.forEach(({ className, source, count }, k) => {
    const folder = className.replace('|', ' or ');
    mkdirSync(join(root, folder), { recursive: true });
    const label = classes.indexOf(className.split('|')[0]);
    for (let i = 0; i < count; i++) {
      const size = 96 + Math.floor(random() * 64);
      const file = `${folder}/s${k}-${String(i).padStart(3, '0')}.jpg`;
      writeFileSync(join(root, file), encodeJpeg(size, size, syntheticXray(size, label, classes.length, random)));
      rows.push(`${file},${className},u${k}-${Math.floor(i / 2)},${source},${size},${size}`);
    }
  });
  const manifest = join(root, 'MANIFEST.csv');
  writeFileSync(manifest, rows.join('\n') + '\n');
  return { root, manifest };
}

/** A not-cxr folder: `perKind` generated images of each kind, with a `file,kind,source_repo` manifest. */
export function writeNotCxr(root: string, kinds: Record<string, (x: number, y: number) => number>, perKind: number): string {
  const rows = ['file,kind,source_repo'];
  for (const [kind, pattern] of Object.entries(kinds)) {
    mkdirSync(join(root, kind), { recursive: true });
    for (let i = 0; i < perKind; i++) {
      const file = `${kind}/${i}.jpg`;
      writeFileSync(join(root, file), encodeJpeg(100 + 7 * i, 120, (x, y) => pattern(x + i, y)));
      rows.push(`${file},${kind},generated-for-test`);
    }
  }
  writeFileSync(join(root, 'MANIFEST.csv'), rows.join('\n') + '\n');
  return root;
}
