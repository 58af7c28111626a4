import { env } from 'cloudflare:workers';
import { readLimits } from '../../src/env';
import { describe, expect, it } from 'vitest';
import { baselineEntropyBomb, progressiveEntropyBomb, tableFlood } from '../helpers/bombs';
import { BASE, api, classify, fixture, xray, type ProblemBody, workerFetch } from './helpers';

async function expectProblem(res: Response, status: number, code: string): Promise<ProblemBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as ProblemBody;
  expect(body).toMatchObject({ status, code, type: `urn:cxr-edge:problem:${code}` });
  expect(body.title).toBeTruthy();
  expect(body.detail).toBeTruthy();
  expect(JSON.stringify(body)).not.toMatch(/\bat \S+:\d+:\d+/); // no stack traces
  return body;
}

describe('errors are application/problem+json with a stable code', () => {
  it('415 unsupported_media_type for a PNG content type and for no content type', async () => {
    await expectProblem(await classify(fixture('gray-baseline'), 'image/png'), 415, 'unsupported_media_type');
    const bare = await api(`/v1/classify`, { method: 'POST', body: fixture('gray-baseline') });
    // fetch labels a Uint8Array body with no type at all
    await expectProblem(bare, 415, 'unsupported_media_type');
  });

  it('400 empty_body for an empty body and for multipart without an image field', async () => {
    await expectProblem(await classify(new Uint8Array(0)), 400, 'empty_body');
    const form = new FormData();
    form.append('file', new Blob([fixture('gray-baseline')]), 'x.jpg');
    await expectProblem(await api(`/v1/classify`, { method: 'POST', body: form }), 400, 'empty_body');
  });

  it.each(['not-a-jpeg', 'truncated', 'header-only', 'corrupt-markers'])('400 invalid_image for %s', async (name) => {
    await expectProblem(await classify(fixture(name)), 400, 'invalid_image');
  });

  it('400 invalid_image for text sent as image/jpeg', async () => {
    await expectProblem(await classify('hello, this is not an image'), 400, 'invalid_image');
  });

  it.each(['arithmetic', 'lossless', 'twelve-bit', 'sixteen-bit'])('422 unsupported_image for %s', async (name) => {
    const body = await expectProblem(await classify(fixture(name)), 422, 'unsupported_image');
    expect(body.detail).toMatch(/not supported/);
  });

  it('413 payload_too_large for a body over MAX_UPLOAD_BYTES', async () => {
    const huge = new Uint8Array(readLimits(env).maxUploadBytes + 1);
    huge.set(fixture('gray-baseline'));
    await expectProblem(await classify(huge), 413, 'payload_too_large');
  });

  it('413 image_too_large for a decompression bomb, from the header alone', async () => {
    const body = await expectProblem(await classify(fixture('bomb')), 413, 'image_too_large');
    expect(body.detail).toMatch(/60000x60000/);
  });

  it('400 invalid_image for entropy bombs and 422 unsupported_image for a table flood, none of them billed', async () => {
    const before = ((await (await api('/v1/usage')).json()) as { used: number }).used;
    // 2040x10000: under MAX_DECODE_MEMORY_BYTES (40 MiB at 1/4 scale), so it reaches the decoder's padding cap (2040x12000 is now 413 from its header).
    await expectProblem(await classify(progressiveEntropyBomb(2040, 10000, 63)), 400, 'invalid_image');
    await expectProblem(await classify(baselineEntropyBomb(2040, 24500, Math.ceil((255 * 3063 * 2) / 8))), 400, 'invalid_image');
    const flood = await expectProblem(await classify(tableFlood(xray('gray-baseline'), 300)), 422, 'unsupported_image');
    expect(flood.detail).toMatch(/more than 256 quantisation and Huffman tables/);
    expect(((await (await api('/v1/usage')).json()) as { used: number }).used).toBe(before);
  });

  it('413 image_too_large for a progressive JPEG whose coefficients would not fit the decode memory budget', async () => {
    const body = await expectProblem(await classify(fixture('progressive-narrow-26mp')), 413, 'image_too_large');
    expect(body.detail).toMatch(/progressive 2000x13000 JPEG needs 50 MiB/);
  });

  it('404 not_found and 405 method_not_allowed', async () => {
    await expectProblem(await workerFetch(`${BASE}/v2/nothing`), 404, 'not_found');
    const res = await api(`/v1/classify`);
    await expectProblem(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')).toBe('POST');
    await expectProblem(await api(`/v1/model`, { method: 'DELETE' }), 405, 'method_not_allowed');
  });

  it('keeps serving after every kind of bad upload', async () => {
    const expected = { bomb: 413, truncated: 400, arithmetic: 422, 'not-a-jpeg': 400 };
    for (const [name, status] of Object.entries(expected)) {
      const res = await classify(fixture(name));
      expect(res.status, name).toBe(status);
      await res.body?.cancel();
    }
    expect((await classify(xray('gray-baseline'))).status).toBe(200);
  });
});
