/**
 * Reference Grad-CAM maps (PyTorch autograd, python/gradcam_reference.py) for JPEGs, preprocessed by
 * the Worker's own TypeScript code. Used by `npm run export -- --gradcam-reference` and the tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelInfo } from '../../src/inference/model-info';
import { preprocessJpeg } from '../../src/preprocess';
import { EXPORT_DIR, ensurePythonEnv } from './python-env';

export interface ReferenceMap {
  classIndex: number;
  /** rows of the map, values in [0, 1] */
  map: number[][];
}

/** @param classIndices the class to explain per image; omitted: each image's predicted class */
export async function gradCamReference(modelPath: string, jpegs: Uint8Array[], classIndices?: number[]): Promise<ReferenceMap[]> {
  const info = await readModelInfo(new Uint8Array(readFileSync(modelPath)));
  const dir = mkdtempSync(join(tmpdir(), 'gradcam-'));
  try {
    const size = info.inputSize;
    const pixels = new Uint8Array(jpegs.length * size * size);
    jpegs.forEach((jpeg, i) => pixels.set(preprocessJpeg(jpeg, size, { maxPixels: 100_000_000 }).pixels, i * size * size));
    writeFileSync(join(dir, 'pixels.u8'), pixels);
    const python = ensurePythonEnv(() => undefined);
    const result = spawnSync(
      python,
      [join(EXPORT_DIR, 'python', 'gradcam_reference.py'), modelPath, join(dir, 'pixels.u8'), String(jpegs.length), join(dir, 'out.json'), ...(classIndices ?? []).map(String)],
      { encoding: 'utf8' },
    );
    if (result.status !== 0) throw new Error(`gradcam_reference.py failed: ${result.stderr}`);
    const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { classes: number[]; maps: number[][][] };
    return out.maps.map((map, i) => ({ classIndex: out.classes[i], map }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
