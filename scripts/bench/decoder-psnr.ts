/**
 * Worst-case PSNR of the production decoder (src/image/jpeg) against jpeg-js at full resolution and
 * against libjpeg-turbo's `djpeg -scale 1/N -grayscale` at N = 1, 2, 4, 8, over the JPEG corpus the
 * tests build under test/.fixtures (run `npm test` once first). Writes the `decoder-psnr` section of BENCHMARKS.md.
 *
 * Usage: npx tsx scripts/bench/decoder-psnr.ts
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSection } from '../lib/report-sections';
import { decodeScaledLuma } from '../../src/image/jpeg/decoder';
import { FIXTURE_DIR } from '../../test/helpers/fixtures';
import { djpegLuma, jpegJsLuma, psnr } from '../../test/helpers/jpeg-oracle';

const worst: Record<string, [number, string]> = {};
const note = (key: string, value: number, file: string) => {
  if (!worst[key] || value < worst[key][0]) worst[key] = [value, file];
};
let files = 0;
for (const dir of ['pillow', 'sizes', 'real'].map((d) => join(FIXTURE_DIR, d)).filter(existsSync)) {
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.jpg'))) {
    const file = join(dir, name);
    // Real X-rays are named by kind only: nothing of ../shared goes into the committed report.
    const label = dir.endsWith('real') ? 'a real X-ray' : name;
    const bytes = new Uint8Array(readFileSync(file));
    const oracle = jpegJsLuma(bytes);
    note('vs jpeg-js, full size', psnr(decodeScaledLuma(bytes, oracle.width, oracle.height).data, oracle.data), label);
    files++;
    if (/cmyk|ycck/.test(name)) continue; // djpeg -grayscale cannot convert CMYK
    for (const scale of [1, 2, 4, 8]) {
      const reference = djpegLuma(file, scale);
      if (!reference) continue;
      note(`vs djpeg, scale 1/${scale}`, psnr(decodeScaledLuma(bytes, reference.width, reference.height).data, reference.data), label);
    }
  }
}
const section = `## Decoder PSNR (\`npx tsx scripts/bench/decoder-psnr.ts\`)

${new Date().toISOString().slice(0, 10)}: the production decoder's luminance against jpeg-js at full resolution and against libjpeg-turbo's
\`djpeg -scale 1/N -grayscale\` at the same scale, worst case over ${files} JPEGs (the test corpus: Pillow fixtures, generated
1024²–3000×4000 images, real X-rays). Target: ≥ 40 dB against djpeg.

| against | worst PSNR (dB) | file |
| --- | ---: | --- |
${Object.entries(worst).map(([key, [value, file]]) => `| ${key} | ${Number.isFinite(value) ? value.toFixed(1) : 'identical'} | ${file} |`).join('\n')}`;
writeSection('decoder-psnr', section);
console.log(section);
