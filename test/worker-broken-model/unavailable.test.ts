import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api } from '../worker/helpers';

// This project bundles test/fixtures/broken.onnx in place of model.onnx (see vitest.config.ts).
describe('a model that cannot load', () => {
  it('answers 503 model_unavailable on /readyz and /v1/classify, on every retry, while /healthz stays up', async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const res of [
        await SELF.fetch('http://cxr.test/readyz'),
        await api('/v1/classify', {
          method: 'POST',
          body: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]),
          headers: { 'content-type': 'image/jpeg' },
        }),
      ]) {
        expect(res.status).toBe(503);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(res.headers.get('retry-after')).toBe('5');
        expect(await res.json()).toMatchObject({ code: 'model_unavailable', status: 503 });
      }
    }
    expect((await SELF.fetch('http://cxr.test/healthz')).status).toBe(200);
  });

  it('reports an upload that fails on its own first, although the model now loads while the body arrives', async () => {
    const untyped = await api('/v1/classify', { method: 'POST', body: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), headers: { 'content-type': 'text/plain' } });
    expect(untyped.status).toBe(415);
    const declared = await api('/v1/classify', {
      method: 'POST',
      body: new Uint8Array(64),
      headers: { 'content-type': 'image/jpeg', 'content-length': String(100 * 1024 * 1024) },
    });
    expect(declared.status).toBe(413);
    const empty = await api('/v1/classify', { method: 'POST', body: new Uint8Array(0), headers: { 'content-type': 'image/jpeg' } });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ code: 'empty_body' });
    // And the failed load is still reported once the body is in.
    const whole = await api('/v1/classify', { method: 'POST', body: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), headers: { 'content-type': 'image/jpeg' } });
    expect(whole.status).toBe(503);
  });
});
