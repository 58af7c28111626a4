/**
 * client/ against the real Worker (SELF.fetch in workerd): every call, typed problem errors, and the
 * transport rules (retries that honour Retry-After, the timeout, cancellation) with a scripted fetch.
 */
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { CxrClient, ProblemError } from '../../client/src';
import { BASE, createKey, fromBase64, xray, workerFetch } from './helpers';

async function client(options: Partial<ConstructorParameters<typeof CxrClient>[0]> = {}) {
  const { key } = await createKey('client tests');
  // workerFetch checks every answer against the OpenAPI document.
  return new CxrClient({ baseUrl: BASE, apiKey: key, fetch: (input, init) => workerFetch(input as string, init), ...options });
}

describe('client/ against the Worker', () => {
  it.skipIf(inject('dicomFixtures') === null)('classifies a JPEG and a DICOM file, telling them apart from the bytes', async () => {
    const cxr = await client();
    const fromJpeg = await cxr.classify(xray('gray-baseline'));
    expect(fromJpeg.image.format).toBe('jpeg');
    const dicom = inject('dicomFixtures');
    if (!dicom) throw new Error('needs ../shared');
    const fromDicom = await cxr.classify(fromBase64(dicom.files.native8));
    expect(fromDicom.image.format).toBe('dicom');
    expect(fromDicom.prediction.label).toBe(fromJpeg.prediction.label);
  });

  it('explains as JSON (with the rendered radiograph) and as an image', async () => {
    const cxr = await client();
    const json = await cxr.explain(new Blob([xray('gray-baseline') as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }), { display: 'png' });
    expect(json.explanation.map.length).toBe(json.explanation.shape[0]);
    expect(json.display?.png).toMatch(/^data:image\/png;base64,/);
    const image = await cxr.explainImage(xray('gray-baseline'), { class: 'Normal' });
    expect(image.explainedClass).toBe('Normal');
    expect(image.image.type).toBe('image/png');
    expect(image.image.size).toBeGreaterThan(1000);
  });

  it('reads the model card and the key’s usage', async () => {
    const cxr = await client();
    const card = await cxr.model();
    expect(card.classes.length).toBe(5);
    await cxr.classify(xray('gray-baseline'));
    const usage = await cxr.usage();
    expect(usage.used).toBe(1);
    expect(usage.byEndpoint).toEqual({ classify: 1 });
  });

  it('throws a ProblemError with the code for an error answer', async () => {
    const cxr = await client();
    const error = await cxr.classify(new Uint8Array([0xff, 0xd8, 1, 2, 3])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_image', retryAfter: null });
    const unauthorised = await new CxrClient({ baseUrl: BASE, apiKey: 'cxr_not_a_key', fetch: (i, init) => workerFetch(i as string, init) }).model().catch((e: unknown) => e);
    expect(unauthorised).toMatchObject({ status: 401, code: 'unauthorized' });
  });
});

describe('client/ transport rules (scripted fetch)', () => {
  const problem = (status: number, code: string, retryAfter?: string) =>
    new Response(JSON.stringify({ type: `urn:cxr-edge:problem:${code}`, title: code, status, detail: code, code }), {
      status,
      headers: { 'content-type': 'application/problem+json', ...(retryAfter !== undefined && { 'retry-after': retryAfter }) },
    });

  it('retries a 429 or 503 after Retry-After, then gives up with the error', async () => {
    const answers = [problem(429, 'rate_limited', '0'), problem(503, 'metering_unavailable', '0'), new Response('{"status":"ok"}', { headers: { 'content-type': 'application/json' } })];
    let calls = 0;
    const cxr = new CxrClient({ baseUrl: BASE, fetch: async () => answers[calls++] });
    await cxr.usage();
    expect(calls).toBe(3);

    let more = 0;
    const stubborn = new CxrClient({ baseUrl: BASE, retries: 2, fetch: async () => (more++, problem(429, 'rate_limited', '0')) });
    await expect(stubborn.usage()).rejects.toMatchObject({ code: 'rate_limited', retryAfter: 0 });
    expect(more).toBe(3);

    let once = 0;
    const tooLong = new CxrClient({ baseUrl: BASE, maxRetryDelayMs: 1000, fetch: async () => (once++, problem(429, 'quota_exceeded', '86400')) });
    await expect(tooLong.usage()).rejects.toMatchObject({ code: 'quota_exceeded', retryAfter: 86400 });
    expect(once).toBe(1);
  });

  const hanging: typeof fetch = (_input, init) =>
    new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));

  it('gives up on an attempt after timeoutMs', async () => {
    const started = Date.now();
    await expect(new CxrClient({ baseUrl: BASE, timeoutMs: 50, fetch: hanging }).model()).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('keeps its defaults for options passed as undefined', async () => {
    const cxr = new CxrClient({ baseUrl: BASE, fetch: undefined, timeoutMs: undefined, retries: undefined });
    expect(cxr).toBeInstanceOf(CxrClient);
    let calls = 0;
    const answers = [problem(503, 'model_unavailable', '0'), new Response('{"status":"ok"}', { headers: { 'content-type': 'application/json' } })];
    await new CxrClient({ baseUrl: BASE, timeoutMs: undefined, retries: undefined, fetch: async () => answers[calls++] }).usage();
    expect(calls).toBe(2); // a retry (default 2) and no instant timeout
  });

  it('times out an answer whose body stalls after the headers', async () => {
    const stalled: typeof fetch = async (_input, init) =>
      new Response(
        new ReadableStream({ start: (controller) => init?.signal?.addEventListener('abort', () => controller.error(init.signal!.reason)) }),
        { headers: { 'content-type': 'application/json' } },
      );
    const started = Date.now();
    await expect(new CxrClient({ baseUrl: BASE, timeoutMs: 50, fetch: stalled }).model()).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('is cancelled by the caller’s signal', async () => {
    const controller = new AbortController();
    const pending = new CxrClient({ baseUrl: BASE, fetch: hanging }).model({ signal: controller.signal });
    controller.abort(new DOMException('stopped', 'AbortError'));
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });
});
