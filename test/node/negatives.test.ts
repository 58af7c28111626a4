/**
 * The generated negatives: which chest X-rays the chest-derived families are made from (never a held-out
 * source), what each new family does to a film, and the folder that keeps a seed's images apart from another's.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { GENERATED_FAMILIES, chestXraysForNegatives, gateKindOf, generateNegatives } from '../../scripts/export/negatives';
import { encodeJpeg } from '../helpers/synthetic';

const files = (source: string, className: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ file: `${source}/${className}/${i}.jpg`, source, className }));

describe('chestXraysForNegatives', () => {
  it("takes each class's largest source that is not held out, in turn, spread evenly over it", () => {
    const images = [...files('s1', 'A', 10), ...files('s2', 'A', 5), ...files('s3', 'B', 3), ...files('s4', 'B', 8)];
    expect(chestXraysForNegatives(images, new Set(['s4 :: B']), 6)).toEqual(
      ['s1/A/0.jpg', 's3/B/0.jpg', 's1/A/3.jpg', 's3/B/1.jpg', 's1/A/6.jpg', 's3/B/2.jpg']);
    // Not held out, s4 is B's largest source.
    expect(chestXraysForNegatives(images, new Set(), 4)).toEqual(['s1/A/0.jpg', 's4/B/0.jpg', 's1/A/5.jpg', 's4/B/4.jpg']);
    // A class whose only source is held out gives none.
    expect(chestXraysForNegatives(files('s1', 'A', 4), new Set(['s1 :: A']))).toEqual([]);
  });
});

describe('generateNegatives', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cxr-negatives-'));
  // A "film" bright in its top quarter and dark below: where the bright band ends up shows the turn.
  const chest = join(dir, 'chest.jpg');
  writeFileSync(chest, encodeJpeg(200, 200, (_, y) => (y < 50 ? 230 : 30)));
  const made = generateNegatives(join(dir, 'out'), 6, [chest], 42);
  const pixels = (file: string) => {
    const { width, height, data } = decode(readFileSync(file));
    return { width, height, at: (x: number, y: number) => data[(y * width + x) * 4] };
  };
  // Mean of a band of the image: top, bottom, left or right quarter.
  const band = (file: string, side: 'top' | 'bottom' | 'left' | 'right') => {
    const { width, height, at } = pixels(file);
    let sum = 0;
    let n = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inside = { top: y < height / 4, bottom: y >= (3 * height) / 4, left: x < width / 4, right: x >= (3 * width) / 4 }[side];
        if (inside) {
          sum += at(x, y);
          n++;
        }
      }
    }
    return sum / n;
  };

  it('makes every family, the chest-derived ones refused under their own gate kinds', () => {
    expect(made).toHaveLength(6 * GENERATED_FAMILIES.length);
    expect(new Set(made.map((m) => m.kind))).toEqual(new Set(GENERATED_FAMILIES.map((f) => `generated_${f}`)));
    expect(gateKindOf('generated_cxr_rotated')).toBe('rotated_or_inverted_chest_xray');
    expect(gateKindOf('generated_cxr_inverted')).toBe('rotated_or_inverted_chest_xray');
    expect(gateKindOf('generated_cxr_tiled')).toBe('photo_document_chart');
    expect(gateKindOf('generated_cxr_framed')).toBe('photo_document_chart');
  });

  it('frames a film in a larger page that is not dark', () => {
    for (const { file } of made.filter((m) => m.kind === 'generated_cxr_framed')) {
      const { width, height, at } = pixels(file);
      // The page is the most common grey level: at least a fifth of the image, never darker than 0.4 x 90.
      const counts = new Array<number>(256).fill(0);
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) counts[at(x, y)]++;
      const near = (level: number) => counts.slice(Math.max(0, level - 3), level + 4).reduce((a, b) => a + b, 0);
      const page = counts.indexOf(Math.max(...counts));
      expect(page, file).toBeGreaterThanOrEqual(30);
      expect(near(page) / (width * height), file).toBeGreaterThan(0.2);
      expect(Math.min(width, height)).toBeGreaterThanOrEqual(153); // 256 wide at least, 0.6 as tall
    }
  });

  it('turns, inverts and tiles the film', () => {
    for (const { file } of made.filter((m) => m.kind === 'generated_cxr_rotated')) {
      // The bright band is never on top any more: it is at the bottom, the left or the right.
      expect(Math.max(band(file, 'bottom'), band(file, 'left'), band(file, 'right'))).toBeGreaterThan(band(file, 'top') + 60);
    }
    for (const { file } of made.filter((m) => m.kind === 'generated_cxr_inverted')) {
      expect(band(file, 'bottom')).toBeGreaterThan(band(file, 'top') + 60);
    }
    for (const { file } of made.filter((m) => m.kind === 'generated_cxr_tiled')) {
      const { width, height } = pixels(file);
      const tiles = [width, height].map((side) => (side >= 2 * 128 ? 2 : 1));
      expect(tiles[0] * tiles[1]).toBeGreaterThanOrEqual(2);
    }
  });

  it('passes over a film that does not decode, and says so when none does', () => {
    const broken = join(dir, 'broken.jpg');
    writeFileSync(broken, 'not a jpeg');
    expect(generateNegatives(join(dir, 'with-broken'), 3, [broken, chest], 42)).toHaveLength(3 * GENERATED_FAMILIES.length);
    expect(() => generateNegatives(join(dir, 'only-broken'), 3, [broken], 42)).toThrow(/none of the chest X-rays .* could be decoded/);
  });

  it('keeps each seed in its own folder and reuses a folder it made', () => {
    const again = generateNegatives(join(dir, 'out'), 6, [chest], 42);
    expect(again.map((m) => m.file)).toEqual(made.map((m) => m.file));
    const other = generateNegatives(join(dir, 'out'), 6, [chest], 43);
    expect(other[0].file).not.toBe(made[0].file);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual([made[0].file, other[0].file].map((f) => f.split('/').at(-3)).sort());
  });
});
