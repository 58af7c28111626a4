/**
 * The web page in a real browser: Debian's headless Chromium driven by playwright-core, against the
 * Worker served by `wrangler dev` on loopback.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, createLocalKey, launchChromium, startDevServer } from '../../scripts/lib/local-browser';
import { realXrays } from '../helpers/fixtures';
import { haveDicomTools, jpegToDicom } from '../helpers/dicom';
import { generatedNegatives } from '../worker/negatives';
import { IN_CI } from '../helpers/ci';

// A port the system says is free (a random one could collide with another server on the machine).
let BASE = '';
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

if (IN_CI && !existsSync(CHROMIUM_PATH)) throw new Error(`CI needs Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`);
const real = realXrays(1);
if (IN_CI && real === null) throw new Error('CI must have ../shared/data/cxr5 (or CXR5_DIR) for the page tests');
if (IN_CI && !haveDicomTools()) throw new Error('CI needs dcmtk for the DICOM page test (apt-get install dcmtk libgdcm-tools)');

// Skipped only where Chromium or ../shared is missing; CI has both (see above and test/worker/global-setup.ts).
describe.skipIf(!existsSync(CHROMIUM_PATH) || real === null)('web page in headless Chromium', () => {
  let stopServer: () => void;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'cxr-page-'));
  const xray = join(dir, 'xray.jpg');
  const notJpeg = join(dir, 'scan.png');
  const documentJpeg = join(dir, 'document.jpg');
  let key = '';
  let auth: Record<string, string> = {};

  beforeAll(async () => {
    writeFileSync(xray, real![0].bytes);
    writeFileSync(notJpeg, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    writeFileSync(documentJpeg, generatedNegatives().document);
    key = createLocalKey(join(dir, 'state'), 'browser test').key;
    auth = { authorization: `Bearer ${key}` };
    const port = await freePort();
    BASE = `http://127.0.0.1:${port}`;
    stopServer = await startDevServer(port, ['--persist-to', join(dir, 'state')]);
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
      abstain: boolean;
      decision: { operatingPoint: string; positives: string[] };
    };
    const bars = await page.$$eval('.bar', (els) => els.map((e) => [(e as HTMLElement).dataset.class, Number((e as HTMLElement).dataset.probability)]));
    expect(Object.fromEntries(bars)).toEqual(api.probabilities);
    expect(await page.textContent('.bar.top .label span')).toBe(api.prediction.label);
    expect(await page.textContent('#decision')).toBe(
      `Positive at the “${api.decision.operatingPoint}” operating point: ${api.decision.positives.length ? api.decision.positives.join(', ') : 'none'}.`,
    );
    expect(await page.isVisible('#abstain')).toBe(api.abstain);
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

  it.skipIf(!haveDicomTools())('takes a DICOM file (.dcm, no type from the browser) and draws the rendering the service returns', async () => {
    const dcm = join(dir, 'film.dcm');
    writeFileSync(dcm, jpegToDicom(real![0].bytes));
    await page.setInputFiles('#file', dcm);
    await page.waitForFunction(() => document.querySelector('#overlay')?.getAttribute('data-explained-class') !== null && !document.querySelector<HTMLElement>('#result')!.hidden);
    const api = (await (await fetch(`${BASE}/v1/classify`, { method: 'POST', body: real![0].bytes as Uint8Array<ArrayBuffer>, headers: { ...auth, 'content-type': 'image/jpeg' } })).json()) as {
      probabilities: Record<string, number>;
    };
    await expect.poll(async () => Object.fromEntries(await page.$$eval('.bar', (els) => els.map((e) => [(e as HTMLElement).dataset.class, Number((e as HTMLElement).dataset.probability)])))).toEqual(api.probabilities);
    // The radiograph canvas holds the service's PNG rendering: drawn, and grey (R = G = B).
    const drawn = await page.$eval('#image', (c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let nonBlack = 0;
      let grey = true;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i] > 10) nonBlack++;
        if (data[i] !== data[i + 1] || data[i] !== data[i + 2]) grey = false;
      }
      return { width: canvas.width, fraction: nonBlack / (data.length / 4), grey };
    });
    expect(drawn.width).toBeGreaterThan(100);
    expect(drawn.fraction).toBeGreaterThan(0.3);
    expect(drawn.grey).toBe(true);
  });

  it('explains an API error in words for a file that is not a JPEG', async () => {
    await page.setInputFiles('#file', notJpeg);
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/JPEG/);
  });

  it('says in words that an image is not a chest X-ray, with the API’s reason, and shows no result', async () => {
    const bytes = generatedNegatives().document;
    const api = (await (await fetch(`${BASE}/v1/classify`, { method: 'POST', body: bytes as Uint8Array<ArrayBuffer>, headers: { ...auth, 'content-type': 'image/jpeg' } })).json()) as {
      code: string;
      detail: string;
    };
    expect(api.code).toBe('not_a_chest_xray');
    await page.setInputFiles('#file', documentJpeg);
    await page.waitForSelector('#error:not([hidden])');
    const text = await page.textContent('#error');
    expect(text).toMatch(/does not look like a frontal chest X-ray/);
    expect(text).toContain(api.detail);
    expect(await page.isHidden('#result')).toBe(true);
  });

  it('shows why the model abstains, in words, above the probability bars', async () => {
    // A real X-ray the model abstains on (a prediction set of several classes, or unlike the training data).
    let found: { bytes: Uint8Array; abstainReasons: string[] } | null = null;
    for (const candidate of realXrays(10) ?? []) {
      const res = await fetch(`${BASE}/v1/classify`, { method: 'POST', body: candidate.bytes as Uint8Array<ArrayBuffer>, headers: { ...auth, 'content-type': 'image/jpeg' } });
      const body = (await res.json()) as { abstain?: boolean; abstainReasons?: string[] };
      if (res.status === 200 && body.abstain) {
        found = { bytes: candidate.bytes, abstainReasons: body.abstainReasons! };
        break;
      }
    }
    expect(found, 'no real X-ray among 50 made the model abstain').not.toBeNull();
    const file = join(dir, 'unsure.jpg');
    writeFileSync(file, found!.bytes);
    await page.setInputFiles('#file', file);
    await page.waitForSelector('#result:not([hidden]) #abstain:not([hidden])');
    const shown = await page.$$eval('#abstain-reasons li', (els) => els.map((e) => e.textContent));
    expect(shown).toEqual(found!.abstainReasons);
    expect(await page.textContent('#abstain')).toMatch(/^Not sure:/);
    expect(shown.join(' ')).toMatch(/cannot tell .* apart|unlike the training data/);
    const abstainBox = (await page.locator('#abstain').boundingBox())!;
    const firstBar = (await page.locator('.bar').first().boundingBox())!;
    expect(abstainBox.y + abstainBox.height).toBeLessThanOrEqual(firstBar.y);
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
