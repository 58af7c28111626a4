/**
 * src/http in Node: problem details, the upload reader (types, limits, multipart, streams that break), the
 * access log line, and Server-Timing. The Worker tests send the same requests through workerd; these pin the
 * exact boundaries and messages.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AppEnv } from '../../src/env';
import { accessLog } from '../../src/http/access-log';
import { PROBLEMS, problem, problemResponse, quoted } from '../../src/http/problem';
import { StageTimer, stageTimer } from '../../src/http/server-timing';
import { MULTIPART_FIELD, readImageUpload } from '../../src/http/upload';
import { problemOf } from '../helpers/bindings';

describe('problem details', () => {
  it('builds RFC 9457 bodies with a stable type and code, extra members and headers', async () => {
    const response = problemResponse('image_too_large', 'Too big.', { 'retry-after': '5' }, { requestId: 'r-1' });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({
      type: 'urn:cxr-edge:problem:image_too_large',
      title: 'Image too large',
      status: 413,
      detail: 'Too big.',
      code: 'image_too_large',
      requestId: 'r-1',
    });
    expect(await problemResponse('not_found', 'Nothing.').json()).toEqual({ type: 'urn:cxr-edge:problem:not_found', title: 'Not found', status: 404, detail: 'Nothing.', code: 'not_found' });
  });

  it('throws as an HTTPException whose status, message and response agree', async () => {
    const error = problem('client_closed_request', 'Gone.', { 'x-a': 'b' }, { n: 1 });
    expect(error).toBeInstanceOf(HTTPException);
    expect(error.status).toBe(499);
    expect(error.message).toBe('Gone.');
    const response = error.getResponse();
    expect(response.status).toBe(499);
    expect(response.headers.get('x-a')).toBe('b');
    expect(await response.json()).toMatchObject({ code: 'client_closed_request', title: 'Client closed request', n: 1 });
  });

  it('has one status per code, all 4xx or 5xx, and titles for every one', () => {
    for (const [code, { status, title }] of Object.entries(PROBLEMS)) {
      expect(status >= 400 && status < 600, code).toBe(true);
      expect(title.length, code).toBeGreaterThan(0);
    }
    expect(PROBLEMS.unsupported_media_type.status).toBe(415);
    expect(PROBLEMS.rate_limited.status).toBe(429);
    expect(PROBLEMS.quota_exceeded.status).toBe(429);
    expect(PROBLEMS.model_unavailable.status).toBe(503);
  });

  it('quotes a client value as JSON, cut to 64 characters', () => {
    expect(quoted('Normal')).toBe('"Normal"');
    expect(quoted('a"b')).toBe('"a\\"b"');
    expect(quoted('x'.repeat(64))).toBe(`"${'x'.repeat(64)}"`);
    expect(quoted('x'.repeat(65))).toBe(`"${'x'.repeat(64)}…"`);
    expect(quoted('y'.repeat(8192))).toHaveLength(64 + 3);
  });
});

/**
 * A request whose body arrives as the given chunks (no Content-Length unless given): from a plain stream, or from a
 * byte stream (`bytes`), which is what a runtime's request bodies are and what readBody reads into one buffer.
 */
function streamed(chunks: Uint8Array[], headers: Record<string, string>, failAfter?: number, bytes = false): Request {
  let sent = 0;
  const source = {
    pull(controller: ReadableStreamDefaultController<Uint8Array> | ReadableByteStreamController) {
      if (failAfter !== undefined && sent === failAfter) return controller.error(new Error('Network connection lost.'));
      if (sent === chunks.length) {
        controller.close();
        // A byte stream's pending read into a buffer is answered only once it is told none of the view was filled.
        if ('byobRequest' in controller) controller.byobRequest?.respond(0);
        return;
      }
      controller.enqueue(chunks[sent++].slice());
    },
  };
  const body = bytes ? new ReadableStream({ type: 'bytes', ...source }) : new ReadableStream<Uint8Array>(source);
  return new Request('http://x/', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
}
const STREAM_KINDS = [false, true].map((bytes) => ({ bytes, name: bytes ? 'a byte stream' : 'a plain stream' }));
const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill);
const post = (body: BodyInit | null, headers: Record<string, string>) => new Request('http://x/', { method: 'POST', body, headers });

async function refusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HTTPException);
    const response = (error as HTTPException).getResponse();
    return { ...(await problemOf(response)), status: response.status };
  }
  throw new Error('expected a refusal');
}

describe('readImageUpload', () => {
  it('takes a raw JPEG or DICOM body and passes the declared format on, whatever the case and parameters', async () => {
    const cases: [string, string][] = [
      ['image/jpeg', 'jpeg'],
      ['IMAGE/JPEG; charset=binary', 'jpeg'],
      ['  image/jpg ', 'jpeg'],
      ['image/pjpeg', 'jpeg'],
      ['image/jpeg ; q=1', 'jpeg'],
      ['application/dicom', 'dicom'],
      ['Application/DICOM;transfer-syntax=1.2.840.10008.1.2.1', 'dicom'],
    ];
    for (const [type, format] of cases) {
      const upload = await readImageUpload(post(bytes(10), { 'content-type': type }), 100);
      expect(upload, type).toEqual({ bytes: bytes(10), declaredFormat: format });
    }
  });

  it('refuses other types with 415, quoting at most 64 characters of what was sent, or saying none was', async () => {
    const png = await refusal(readImageUpload(post(bytes(10), { 'content-type': 'image/png' }), 100));
    expect(png).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    expect(png.detail).toBe('Send the X-ray as "image/jpeg", as "application/dicom", or as "multipart/form-data" with the file in the field "image"; got "image/png".');
    const long = await refusal(readImageUpload(post(bytes(10), { 'content-type': `x/${'y'.repeat(200)}` }), 100));
    expect(long.detail).toContain(`got "x/${'y'.repeat(62)}".`);
    // Names of Object.prototype members are not types.
    for (const type of ['constructor', '__proto__', 'toString']) {
      expect((await refusal(readImageUpload(post(bytes(10), { 'content-type': type }), 100))).status, type).toBe(415);
    }
    const none = await refusal(readImageUpload(new Request('http://x/', { method: 'POST' }), 100));
    expect(none.detail).toMatch(/; the request has no Content-Type\.$/);
  });

  it('refuses an empty raw body with 400 empty_body', async () => {
    expect(await refusal(readImageUpload(post(new Uint8Array(0), { 'content-type': 'image/jpeg' }), 100))).toMatchObject({ status: 400, code: 'empty_body', detail: 'The request body is empty.' });
    expect((await refusal(readImageUpload(new Request('http://x/', { method: 'POST', headers: { 'content-type': 'image/jpeg' } }), 100))).code).toBe('empty_body');
  });

  it('enforces the byte limit: exactly the limit passes, one byte more is 413, before reading a declared length', async () => {
    expect((await readImageUpload(post(bytes(100), { 'content-type': 'image/jpeg' }), 100)).bytes).toHaveLength(100);
    expect((await readImageUpload(streamed([bytes(100)], { 'content-type': 'image/jpeg', 'content-length': '100' }), 100)).bytes).toHaveLength(100);
    const over = await refusal(readImageUpload(post(bytes(101), { 'content-type': 'image/jpeg' }), 100));
    expect(over).toMatchObject({ status: 413, code: 'payload_too_large', detail: 'The upload is larger than the limit of 100 bytes.' });
    // Declared too large: refused without pulling a single chunk.
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({ pull: (c) => void (pulled++, c.enqueue(bytes(1))) });
    const declared = new Request('http://x/', { method: 'POST', body, headers: { 'content-type': 'image/jpeg', 'content-length': '101' }, duplex: 'half' } as RequestInit);
    expect((await refusal(readImageUpload(declared, 100))).status).toBe(413);
    expect(pulled).toBeLessThanOrEqual(1); // at most the stream's own first pull on construction
  });

  it('joins a streamed body of several chunks in order, with or without a declared length', async () => {
    for (const { bytes: kind, name } of STREAM_KINDS) {
      const chunks = [bytes(3, 1), bytes(4, 2), bytes(5, 3)];
      const joined = new Uint8Array([...chunks[0], ...chunks[1], ...chunks[2]]);
      const read = async (headers: Record<string, string>, body = chunks) => (await readImageUpload(streamed(body, { 'content-type': 'image/jpeg', ...headers }, undefined, kind), 100)).bytes;
      expect(await read({}), name).toEqual(joined);
      expect(await read({ 'content-length': '12' }), name).toEqual(joined);
      // A declared length the body falls short of: what arrived, no zero padding.
      expect(await read({ 'content-length': '20' }), name).toEqual(joined);
      expect(await read({}, [bytes(4, 9)]), name).toEqual(bytes(4, 9));
      expect(await read({ 'content-length': '100' }, [bytes(60, 1), bytes(40, 2)]), name).toEqual(new Uint8Array([...bytes(60, 1), ...bytes(40, 2)]));
    }
  });

  it('refuses a body longer than its declared length, or than the limit while streaming', async () => {
    for (const { bytes: kind, name } of STREAM_KINDS) {
      const chunks = [bytes(3), bytes(4), bytes(5)];
      const read = (headers: Record<string, string>, limit = 100) => readImageUpload(streamed(chunks, { 'content-type': 'image/jpeg', ...headers }, undefined, kind), limit);
      expect((await refusal(read({ 'content-length': '11' }))).code, name).toBe('payload_too_large');
      expect((await refusal(read({}, 11))).code, name).toBe('payload_too_large');
      // "Content-Length: 0" is a declared length too.
      expect((await refusal(read({ 'content-length': '0' }))).code, name).toBe('payload_too_large');
      expect((await read({}, 12)).bytes, name).toHaveLength(12);
      expect((await read({ 'content-length': '12' }, 12)).bytes, name).toHaveLength(12);
    }
  });

  it('answers 499 client_closed_request when the body breaks mid-upload', async () => {
    for (const { bytes: kind, name } of STREAM_KINDS) {
      for (const headers of [{}, { 'content-length': '6' }] as Record<string, string>[]) {
        const broken = await refusal(readImageUpload(streamed([bytes(3), bytes(3)], { 'content-type': 'image/jpeg', ...headers }, 1, kind), 100));
        expect(broken, name).toMatchObject({ status: 499, code: 'client_closed_request', detail: 'The connection was closed before the upload was complete.' });
      }
    }
  });

  describe('multipart/form-data', () => {
    const form = (value: Blob | string | null, field = MULTIPART_FIELD) => {
      const f = new FormData();
      if (value !== null) f.append(field, value as Blob);
      return f;
    };
    const read = async (f: FormData, max = 100) => {
      const request = new Request('http://x/', { method: 'POST', body: f });
      return readImageUpload(request, max);
    };

    it('takes the file in the field "image" and the format its part declares (none for octet-stream or untyped)', async () => {
      expect(await read(form(new Blob([bytes(10)], { type: 'image/jpeg' })))).toEqual({ bytes: bytes(10), declaredFormat: 'jpeg' });
      expect(await read(form(new Blob([bytes(10)], { type: 'application/dicom' })))).toEqual({ bytes: bytes(10), declaredFormat: 'dicom' });
      expect(await read(form(new Blob([bytes(10)], { type: 'application/octet-stream' })))).toEqual({ bytes: bytes(10), declaredFormat: undefined });
      expect(await read(form(new Blob([bytes(10)])))).toEqual({ bytes: bytes(10), declaredFormat: undefined });
    });

    it('refuses a missing, textual or empty file with 400 empty_body naming the field', async () => {
      expect(await refusal(read(form(new Blob([bytes(3)]), 'file')))).toMatchObject({ status: 400, code: 'empty_body', detail: 'The multipart body has no file in the field "image".' });
      expect((await refusal(read(form('just text')))).detail).toBe('The multipart body has no file in the field "image".');
      expect((await refusal(read(form(new Blob([]))))).detail).toBe('The file in the field "image" is empty.');
    });

    it('allows 16 KiB of framing on the body, but holds the file itself to the limit', async () => {
      expect((await read(form(new Blob([bytes(100)])), 100)).bytes).toHaveLength(100);
      expect((await refusal(read(form(new Blob([bytes(101)])), 100))).code).toBe('payload_too_large');
      const big = bytes(20 * 1024);
      expect((await refusal(read(form(new Blob([big])), 1024))).detail).toBe('The upload is larger than the limit of 1024 bytes.');
    });

    it('refuses a body that does not parse as multipart with 400', async () => {
      const garbled = post('not multipart at all', { 'content-type': 'multipart/form-data; boundary=xyz' });
      expect(await refusal(readImageUpload(garbled, 100))).toMatchObject({ status: 400, code: 'empty_body', detail: 'The multipart body could not be parsed.' });
    });
  });
});

describe('accessLog', () => {
  afterEach(() => vi.restoreAllMocks());

  function loggedApp() {
    const app = new Hono<AppEnv>();
    app.use(async (c, next) => {
      c.set('requestId', 'req-1');
      c.set('apiKey', c.req.header('x-key') ? ({ id: 'key_abc' } as never) : null);
      await next();
    });
    app.use(accessLog);
    app.get('/items/:id', (c) => {
      c.set('modelVersion', 'm-7');
      return c.text(`item ${c.req.param('id')}`);
    });
    app.get('/own-id', (c) => c.text('x', 200, { 'x-request-id': 'own' }));
    app.get('/fail', () => {
      throw new Error('broken');
    });
    app.onError(() => new Response('no', { status: 500 }));
    return app;
  }

  it('logs one JSON line per request with the route pattern, never the path\'s values', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const response = await loggedApp().request('/items/secret-42', { headers: { 'x-key': '1' } });
    expect(await response.text()).toBe('item secret-42');
    expect(log).toHaveBeenCalledTimes(1);
    const line = String(log.mock.calls[0][0]);
    expect(line).not.toContain('secret-42');
    const entry = JSON.parse(line);
    expect(entry).toEqual({ level: 'info', requestId: 'req-1', keyId: 'key_abc', method: 'GET', route: '/items/:id', status: 200, ms: expect.any(Number), modelVersion: 'm-7' });
    expect(entry.ms).toBeGreaterThanOrEqual(0);
    expect(entry.ms).toBeLessThan(5_000);
  });

  it('logs 5xx as errors, with null key and model when there are none', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect((await loggedApp().request('/fail')).status).toBe(500);
    expect(JSON.parse(String(log.mock.calls[0][0]))).toMatchObject({ level: 'error', keyId: null, status: 500, modelVersion: null });
    await loggedApp().request('/nowhere');
    expect(JSON.parse(String(log.mock.calls[1][0]))).toMatchObject({ level: 'info', status: 404 });
  });

  it('adds X-Request-Id to responses that lack it, and keeps one a handler set', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const app = loggedApp();
    const notFound = await app.request('/nowhere');
    expect(notFound.headers.get('x-request-id')).toBe('req-1');
    expect(notFound.status).toBe(404);
    expect((await app.request('/items/1')).headers.get('x-request-id')).toBe('req-1');
    const own = await app.request('/own-id');
    expect(own.headers.get('x-request-id')).toBe('own');
    expect(await own.text()).toBe('x');
  });
});

describe('Server-Timing', () => {
  afterEach(() => vi.useRealTimers());

  it('is on only for "on" (any case, any surrounding space)', () => {
    expect(stageTimer('on')).toBeInstanceOf(StageTimer);
    expect(stageTimer(' ON ')).toBeInstanceOf(StageTimer);
    expect(stageTimer('off')).toBeNull();
    expect(stageTimer('')).toBeNull();
    expect(stageTimer(undefined)).toBeNull();
    expect(stageTimer('onn')).toBeNull();
  });

  it('times each stage from the previous mark, after yielding to the event loop', async () => {
    vi.useFakeTimers({ now: 1_000 });
    const timer = new StageTimer();
    expect(timer.header()).toBe('');
    vi.setSystemTime(1_012);
    let done = false;
    const read = timer.mark('read').then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false); // waits for a timer, so workerd's clock is current
    await vi.advanceTimersByTimeAsync(0);
    await read;
    vi.setSystemTime(1_012 + 30);
    const decode = timer.mark('decode');
    await vi.advanceTimersByTimeAsync(0);
    await decode;
    expect(timer.header()).toBe('read;dur=12, decode;dur=30');
  });
});
