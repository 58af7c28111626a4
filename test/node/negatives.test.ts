/**
 * The generated negatives: which chest X-rays the chest-derived families are made from (never a held-out
 * source), what each new family does to a film, and the folder that keeps a seed's images apart from another's.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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
      expect(Math.min(width, height)).toBeGreaterThanOrEqual(153); // 256 wide at least, 0.6 as tall
      // Below the toolbar (at most 13 % of the height), the left or the right edge is page: the film is at most
      // 80 % of the width. The page is grey 90-255, dimmed by a colour cast to no less than 0.4 of that.
      const top = Math.ceil(height * 0.15);
      const edges = [0, width - 1].map((x) => Array.from({ length: height - top }, (_, k) => at(x, top + k)));
      const uniform = edges.find((column) => Math.max(...column) - Math.min(...column) <= 8);
      expect(uniform, file).toBeDefined();
      const page = uniform![Math.floor(uniform!.length / 2)];
      expect(page, file).toBeGreaterThanOrEqual(30);
      // The film (dark but for its top quarter, and at least 35 % of the shorter side) stands out from the page.
      let differing = 0;
      for (let y = top; y < height; y++) for (let x = 0; x < width; x++) if (Math.abs(at(x, y) - page) > 12) differing++;
      expect(differing, file).toBeGreaterThan(0.5 * (0.35 * Math.min(width, height * 0.87)) ** 2);
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

  it('finishes a folder a run left part-way exactly as a fresh run writes it', () => {
    // A run stopped after the first images of each family: the rest are drawn as if nothing had been skipped.
    const fresh = made.map((m) => readFileSync(m.file));
    const copy = join(dir, 'resumed');
    const folder = made[0].file.split('/').at(-3)!;
    made.forEach((m, i) => {
      if (i % 6 < 2) {
        mkdirSync(join(copy, folder, m.kind.replace('generated_', '')), { recursive: true });
        writeFileSync(join(copy, folder, ...m.file.split('/').slice(-2)), fresh[i]);
      }
    });
    const resumed = generateNegatives(copy, 6, [chest], 42);
    resumed.forEach((m, i) => expect(readFileSync(m.file).equals(fresh[i]), m.file).toBe(true));
    expect(readdirSync(join(copy, folder, 'blank')).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});
