/**
 * Runs the Worker's own preprocessing (src/preprocess) over every image and stores the results as
 * one raw uint8 array [N, size, size] that PyTorch memory-maps. Reused while the images, their
 * order and the preprocessing version are unchanged.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { PREPROCESSING_ID, preprocessImage } from '../../src/preprocess';
import type { Dataset } from './dataset';

export interface PixelCache {
  /** Raw uint8 file, `kept.length` x size x size. */
  pixels: string;
  size: number;
  /** Indices into the dataset of the images that decoded; the cache's row i is dataset item kept[i]. */
  kept: number[];
  skipped: { file: string; reason: string }[];
  reused: boolean;
}

// Training images can be as large as users have them; the Worker's request limits do not apply here.
const TRAINING_PIXEL_LIMIT = 100_000_000;

/** Preprocesses the dataset into `workDir/cache/<key>/`, or reuses an identical earlier run. */
export function buildPixelCache(data: Pick<Dataset, 'root' | 'files'>, size: number, workDir: string, log: (line: string) => void): PixelCache {
  const hash = createHash('sha256').update(`${PREPROCESSING_ID}\n${size}\n`);
  for (const file of data.files) {
    const path = join(data.root, file);
    const stat = existsSync(path) ? statSync(path) : null;
    hash.update(`${file}\t${stat?.size ?? -1}\t${stat?.mtimeMs ?? -1}\n`);
  }
  const dir = join(workDir, 'cache', hash.digest('hex').slice(0, 16));
  const indexPath = join(dir, 'index.json');
  if (existsSync(indexPath)) {
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as Omit<PixelCache, 'reused'>;
    log(`preprocessing: reusing ${index.kept.length} cached images from ${dir}`);
    return { ...index, reused: true };
  }

  mkdirSync(dir, { recursive: true });
  const pixelsPath = join(dir, 'pixels.u8');
  const fd = openSync(pixelsPath + '.partial', 'w');
  const kept: number[] = [];
  const skipped: PixelCache['skipped'] = [];
  const started = Date.now();
  let lastLog = started;
  data.files.forEach((file, i) => {
    try {
      const bytes = readFileSync(join(data.root, file));
      const image = preprocessImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), size, {
        maxPixels: TRAINING_PIXEL_LIMIT,
      });
      writeSync(fd, image.pixels);
      kept.push(i);
    } catch (error) {
      skipped.push({ file, reason: error instanceof Error ? error.message : String(error) });
    }
    const now = Date.now();
    if (now - lastLog > 5000 || i === data.files.length - 1) {
      lastLog = now;
      const rate = (i + 1) / ((now - started) / 1000);
      log(`preprocessing: ${i + 1}/${data.files.length} images (${rate.toFixed(0)}/s, ${skipped.length} unreadable)`);
    }
  });
  closeSync(fd);
  renameSync(pixelsPath + '.partial', pixelsPath);
  const index = { pixels: pixelsPath, size, kept, skipped };
  writeFileSync(indexPath, JSON.stringify(index));
  for (const s of skipped.slice(0, 10)) log(`  skipped ${s.file}: ${s.reason}`);
  if (skipped.length > 10) log(`  ... and ${skipped.length - 10} more`);
  return { ...index, reused: false };
}
