/**
 * The web page in a real browser: Debian's headless Chromium driven by playwright-core, against the
 * Worker served by `wrangler dev` on loopback.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, createLocalKey, launchChromium, startDevServer } from '../../scripts/lib/local-browser';
import { realXrays } from '../helpers/fixtures';

const PORT = 8800 + Math.floor(Math.random() * 100);
const BASE = `http://127.0.0.1:${PORT}`;

if (process.env.CI && !existsSync(CHROMIUM_PATH)) throw new Error(`CI needs Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`);
const real = realXrays(1);

// Skipped only where Chromium or ../shared is missing; CI has both (see above and test/worker/global-setup.ts).
describe.skipIf(!existsSync(CHROMIUM_PATH) || real === null)('web page in headless Chromium', () => {
  let stopServer: () => void;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'cxr-page-'));
  const xray = join(dir, 'xray.jpg');
  const notJpeg = join(dir, 'scan.png');
  let key = '';
  let auth: Record<string, string> = {};

  beforeAll(async () => {
    writeFileSync(xray, real![0].bytes);
    writeFileSync(notJpeg, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    key = createLocalKey(join(dir, 'state'), 'browser test').key;
    auth = { authorization: `Bearer ${key}` };
    stopServer = await startDevServer(PORT, ['--persist-to', join(dir, 'state')]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${BASE}/`);
  });

  afterAll(async () => {
    await browser?.close();
    stopServer?.();
  });

  it('asks for an API key, then shows the disclaimer and the model name, version and headline metrics from /v1/model', async () => {
    await expect.poll(() => page.textContent('#model')).toMatch(/unavailable.*API key/i);
    await page.fill('#apikey', key);
    await page.dispatchEvent('#apikey', 'change');
    const card = (await (await fetch(`${BASE}/v1/model`, { headers: auth })).json()) as { name: string; version: string; classes: string[] };
    await expect.poll(() => page.textContent('#model')).toContain(card.version);
    expect(await page.textContent('#model')).toContain(card.name);
    expect(await page.textContent('#model')).toMatch(/test accuracy \d+\.\d%/);
    expect(await page.textContent('.disclaimer')).toMatch(/not a medical device/i);
    expect(await page.locator('#metrics tr').count()).toBe(card.classes.length + 1);
  });

  it('uploads a real X-ray and shows the API’s probabilities as bars and the heatmap overlay', async () => {
    await page.setInputFiles('#file', xray);
    await page.waitForSelector('#result:not([hidden]) .bar');
    const api = (await (await fetch(`${BASE}/v1/classify`, { method: 'POST', body: real![0].bytes as Uint8Array<ArrayBuffer>, headers: { ...auth, 'content-type': 'image/jpeg' } })).json()) as {
      prediction: { label: string };
      probabilities: Record<string, number>;
    };
    const bars = await page.$$eval('.bar', (els) => els.map((e) => [(e as HTMLElement).dataset.class, Number((e as HTMLElement).dataset.probability)]));
    expect(Object.fromEntries(bars)).toEqual(api.probabilities);
    expect(await page.textContent('.bar.top .label span')).toBe(api.prediction.label);
    expect(await page.getAttribute('#overlay', 'data-explained-class')).toBe(api.prediction.label);
    const painted = await page.$eval('#overlay', (c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n / (data.length / 4);
    });
    expect(painted).toBeGreaterThan(0.9);
    // The opacity slider changes the overlay.
    await page.fill('#opacity', '0');
    const cleared = await page.$eval('#overlay', (c) => {
      const canvas = c as HTMLCanvasElement;
      return canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data.some((v, i) => i % 4 === 3 && v > 0);
    });
    expect(cleared).toBe(false);
    await page.fill('#opacity', '45');
  });

  it('explains an API error in words for a file that is not a JPEG', async () => {
    await page.setInputFiles('#file', notJpeg);
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/JPEG/);
  });

  it('fits a phone-sized screen without sideways scrolling', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await phone.goto(`${BASE}/`);
    await phone.fill('#apikey', key);
    await phone.setInputFiles('#file', xray);
    await phone.waitForSelector('#result:not([hidden]) .bar');
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await phone.close();
  });
});
