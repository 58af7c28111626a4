/**
 * Writes docs/page.png, the README's screenshot of the web page with what the service does to a
 * real-looking input. The radiograph in it is synthetic (scripts/bench/make_images.py): no real X-ray is
 * ever committed, and the model's gate now refuses this one as unlike any chest X-ray, which is what the
 * picture shows (a result with bars, when a model accepts it).
 *
 * Usage: npm run screenshot
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePythonEnv } from './export/python-env';
import { createLocalKey, launchChromium, startDevServer } from './lib/local-browser';

const PORT = 8797;
const dir = mkdtempSync(join(tmpdir(), 'screenshot-'));
const python = ensurePythonEnv((line) => console.log(line));
spawnSync(python, [new URL('./bench/make_images.py', import.meta.url).pathname, dir, '1100x1300:gray'], { stdio: 'inherit' });
const image = join(dir, readdirSync(dir)[0]);

const state = join(dir, 'state');
const { key } = createLocalKey(state, 'screenshot');
const stop = await startDevServer(PORT, ['--persist-to', state]);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(`http://127.0.0.1:${PORT}/`);
  await page.fill('#apikey', key);
  await page.dispatchEvent('#apikey', 'change'); // a password field: the picture shows dots only
  await page.waitForFunction(() => document.getElementById('metrics')?.querySelector('tr'));
  await page.setInputFiles('#file', image);
  await page.waitForSelector('#result:not([hidden]) .bar, #error:not([hidden])');
  mkdirSync(new URL('../docs/', import.meta.url).pathname, { recursive: true });
  const out = new URL('../docs/page.png', import.meta.url).pathname;
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  stop();
}
