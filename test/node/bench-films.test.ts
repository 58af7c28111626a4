import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { grayscaleQ90 } from '../../scripts/bench/films';
import { readJpegHeader } from '../../src/image/jpeg-header';

describe("npm run bench's q90 films", () => {
  it('are one-component (grayscale) JPEGs at quality 90, made from 3-component ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'films-test-'));
    const source = join(dir, 'colour.jpg');
    const info = { width: 96, height: 64, channels: 3 as const };
    const data = Buffer.alloc(96 * 64 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
    writeFileSync(source, await sharp(data, { raw: info }).jpeg({ quality: 95 }).toBuffer());
    expect(readJpegHeader(new Uint8Array(readFileSync(source))).components).toBe(3);
    const [q90] = await grayscaleQ90([source]);
    const header = readJpegHeader(new Uint8Array(readFileSync(q90)));
    expect([header.components, header.width, header.height]).toEqual([1, 96, 64]);
  });
});
