/**
 * Training folders may hold DICOM: the export lists .dcm files beside JPEGs and preprocesses them with the
 * Worker's own code (src/preprocess), so a film as DICOM and as JPEG give the model the same tensor.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { buildPixelCache } from '../../scripts/export/cache';
import { loadDataset } from '../../scripts/export/dataset';
import { seededRandom } from '../../scripts/export/split';
import { IN_CI } from '../helpers/ci';
import { haveDicomTools, jpegToDicom } from '../helpers/dicom';
import { encodeJpeg, syntheticXray } from '../helpers/synthetic';

// img2dcm (dcmtk) writes the DICOM: skipped where it is missing, a failure in CI (which installs it).
if (IN_CI && !haveDicomTools()) throw new Error('CI needs dcmtk (apt-get install dcmtk libgdcm-tools)');

it.skipIf(!haveDicomTools())('lists .dcm files in class folders and caches the same pixels for a film as JPEG and as DICOM', () => {
  const root = mkdtempSync(join(tmpdir(), 'dicom-export-'));
  const jpeg = encodeJpeg(300, 260, syntheticXray(260, 1, 3, seededRandom(9)));
  for (const name of ['Normal', 'COVID']) mkdirSync(join(root, name));
  writeFileSync(join(root, 'Normal', 'film.jpg'), jpeg);
  writeFileSync(join(root, 'COVID', 'film.dcm'), jpegToDicom(jpeg));
  const data = loadDataset(root);
  expect([...data.files].sort()).toEqual(['COVID/film.dcm', 'Normal/film.jpg']);
  const cache = buildPixelCache(data, 256, mkdtempSync(join(tmpdir(), 'dicom-export-work-')), () => {});
  expect(cache.skipped).toEqual([]);
  const pixels = readFileSync(cache.pixels);
  const rowOf = (file: string) => cache.kept.indexOf(data.files.indexOf(file));
  const row = (r: number) => pixels.subarray(r * 256 * 256, (r + 1) * 256 * 256);
  expect(Buffer.compare(row(rowOf('COVID/film.dcm')), row(rowOf('Normal/film.jpg')))).toBe(0);
});
