/**
 * Access control, quotas, metering, request ids, logs and privacy, through the Worker in workerd with its
 * real local bindings (KV, the UsageMeter Durable Object, the rate limiter, Analytics Engine).
 * Tests that need another configuration (AUTH off, CORS origins, failing bindings, recorded writes) call
 * the same Worker's fetch with a changed env.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import worker from '../../src/index';
import { constantTimeEqual, saveApiKey } from '../../src/auth/api-keys';
import type { Env } from '../../src/env';
import { BASE, createKey, fixture, fromBase64, xray, type ProblemBody, workerFetch } from './helpers';

// A real X-ray (test/worker/xray-variants.ts): the model refuses synthetic images, and these requests must succeed.
const jpeg = () => xray('gray-baseline');

function post(path: string, key: string | null, body: Uint8Array | string, headers: Record<string, string> = {}) {
  return workerFetch(`${BASE}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'image/jpeg', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
  });
}

async function usageOf(key: string) {
  const res = await workerFetch(`${BASE}/v1/usage`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as { used: number; quota: number; remaining: number; byEndpoint: Record<string, number>; key: { id: string } };
}

async function expectProblem(res: Response, status: number, code: string): Promise<ProblemBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as ProblemBody;
  expect(body.code).toBe(code);
  return body;
}

/** The Worker's fetch with a changed env (same code, same bindings unless replaced). */
async function fetchWith(overrides: Partial<Env>, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

afterEach(() => vi.restoreAllMocks());

describe('API keys', () => {
  it('answers 401 unauthorized with WWW-Authenticate when the key is missing, malformed or unknown', async () => {
    for (const authorization of [undefined, 'Basic abc', 'Bearer', 'Bearer cxr_short', `Bearer cxr_${'A'.repeat(43)}`]) {
      const res = await workerFetch(`${BASE}/v1/model`, { headers: authorization ? { authorization } : {} });
      await expectProblem(res, 401, 'unauthorized');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="cxr-edge"/);
    }
  });

  it('answers 403 forbidden for a revoked key, on every /v1 route', async () => {
    const { key } = await createKey('revoked', 100, true);
    await expectProblem(await workerFetch(`${BASE}/v1/model`, { headers: { authorization: `Bearer ${key}` } }), 403, 'forbidden');
    await expectProblem(await post('/v1/classify', key, jpeg()), 403, 'forbidden');
    await expectProblem(await workerFetch(`${BASE}/v1/usage`, { headers: { authorization: `Bearer ${key}` } }), 403, 'forbidden');
  });

  it('accepts a valid key, case-insensitive scheme, on every /v1 route; /healthz, /readyz and / stay open', async () => {
    const { key } = await createKey('valid');
    expect((await workerFetch(`${BASE}/v1/model`, { headers: { authorization: `bearer ${key}` } })).status).toBe(200);
    expect((await post('/v1/classify', key, jpeg())).status).toBe(200);
    for (const path of ['/healthz', '/readyz', '/']) expect((await workerFetch(`${BASE}${path}`)).status).toBe(200);
  });

  it('compares the stored hash in constant time, so a record only matches the key it was made for', async () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('', 'a')).toBe(false);
    // A record stored under one key's hash but carrying another hash must not authenticate.
    const { key, record } = await createKey('tampered');
    await env.API_KEYS.put(`key:${record.sha256}`, JSON.stringify({ ...record, sha256: '0'.repeat(64) }));
    await expectProblem(await workerFetch(`${BASE}/v1/model`, { headers: { authorization: `Bearer ${key}` } }), 401, 'unauthorized');
  });

  it('with AUTH=off lets requests through unauthenticated and unmetered, and warns in the log', async () => {
    const warn = vi.spyOn(console, 'warn');
    const res = await fetchWith({ AUTH: 'off' }, new Request(`${BASE}/v1/classify`, { method: 'POST', body: jpeg(), headers: { 'content-type': 'image/jpeg' } }));
    expect(res.status).toBe(200);
    const usage = await fetchWith({ AUTH: 'off' }, new Request(`${BASE}/v1/usage`));
    expect(await usage.json()).toMatchObject({ key: null, metered: false });
    // Printed once per isolate (module instance), and this file's only AUTH=off requests are these two: exactly once.
    const lines = warn.mock.calls.map((call) => String(call[0]));
    expect(lines.filter((line) => /AUTH is off/.test(line))).toHaveLength(1);
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    new Request(`${BASE}/v1/classify`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });

  it('answers preflights without a key, allowing only the configured origins', async () => {
    const allowed = await fetchWith({ CORS_ORIGINS: 'https://app.example, https://other.example' }, preflight('https://app.example'));
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const denied = await fetchWith({ CORS_ORIGINS: 'https://app.example' }, preflight('https://evil.example'));
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    // The shipped configuration allows no cross-origin caller.
    const none = await workerFetch(preflight('https://app.example'));
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('marks real responses for allowed origins and exposes X-Request-Id', async () => {
    const { key } = await createKey('cors');
    const res = await fetchWith({ CORS_ORIGINS: '*' }, new Request(`${BASE}/v1/model`, { headers: { origin: 'https://any.example', authorization: `Bearer ${key}` } }));
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/X-Request-Id/i);
  });
});

describe('rate limit and quota', () => {
  it('answers 429 rate_limited with Retry-After once a key passes its per-minute limit, and other keys are unaffected', async () => {
    // The shipped limiter allows 600 a minute; the same Worker with a limiter of 20 a minute (vitest.config.ts)
    // shows the behaviour in 21 requests. The binding is the same kind, so the code path is the same.
    const limitedEnv = { RATE_LIMITER: env.SMALL_RATE_LIMITER };
    const get = (key: string, path: string) => fetchWith(limitedEnv, new Request(`${BASE}${path}`, { headers: { authorization: `Bearer ${key}` } }));
    // The limiter counts per fixed minute. A run that crosses a minute boundary (a second or so of requests, so
    // rarely) proves nothing exact: it is repeated with a fresh key rather than judged more loosely.
    for (let attempt = 1; ; attempt++) {
      const { key } = await createKey(`busy ${attempt}`);
      const startMinute = Math.floor(Date.now() / 60_000);
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) statuses.push((await get(key, '/v1/nothing')).status);
      const limited = await get(key, '/v1/model');
      if (Math.floor(Date.now() / 60_000) !== startMinute && attempt < 3) continue;
      // The cheapest authenticated request (an unknown /v1 path: the limit is checked before routing) passes 20 times.
      expect(statuses).toEqual([...Array(20).fill(404), 429]);
      expect(limited.headers.get('retry-after')).toBe(env.RATE_LIMIT_PERIOD_SECONDS);
      await expectProblem(limited, 429, 'rate_limited');
      break;
    }
    const { key: other } = await createKey('quiet');
    expect((await get(other, '/v1/model')).status).toBe(200);
  });

  it('limits failed authentications per client address, then refuses that address before reading KV', async () => {
    // The shipped budget is 60 a minute (wrangler.toml); the same code with the 20-a-minute limiter shows it.
    let reads = 0;
    const countingKv = { get: (...args: Parameters<KVNamespace['get']>) => (reads++, env.API_KEYS.get(...args)) } as unknown as KVNamespace;
    const overrides = { AUTH_FAILURE_LIMITER: env.SMALL_RATE_LIMITER, API_KEYS: countingKv };
    const randomKey = () => `cxr_${Array.from(crypto.getRandomValues(new Uint8Array(43)), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[b & 63]).join('')}`;
    const from = (address: string, key: string) =>
      fetchWith(overrides, new Request(`${BASE}/v1/model`, { headers: { authorization: `Bearer ${key}`, 'cf-connecting-ip': address } }));
    const { key: valid } = await createKey('behind a noisy address');
    for (let attempt = 1; ; attempt++) {
      // A run that crosses a minute boundary (the limiter's fixed window) is repeated from a fresh address.
      const address = `198.51.100.${attempt}`;
      const startMinute = Math.floor(Date.now() / 60_000);
      reads = 0;
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) statuses.push((await from(address, randomKey())).status);
      if (Math.floor(Date.now() / 60_000) !== startMinute && attempt < 3) continue;
      expect(statuses).toEqual([...Array(20).fill(401), 429]);
      expect(reads).toBe(21);
      // From now on this address is refused before KV is read, whatever key it sends, valid ones included.
      const blocked = await from(address, valid);
      expect(blocked.headers.get('retry-after')).toBe(env.RATE_LIMIT_PERIOD_SECONDS);
      expect(((await expectProblem(blocked, 429, 'rate_limited')).detail)).toMatch(/from this address/);
      for (let i = 0; i < 5; i++) expect((await from(address, randomKey())).status).toBe(429);
      expect(reads).toBe(21);
      break;
    }
    // Other addresses are unaffected.
    expect((await from('198.51.100.200', randomKey())).status).toBe(401);
    expect((await from('198.51.100.201', valid)).status).toBe(200);
  });

  it('bills only successful classifications, and answers 429 quota_exceeded once the quota is used', async () => {
    const { key, record } = await createKey('small plan', 3);
    await expectProblem(await post('/v1/classify', key, 'not a jpeg'), 400, 'invalid_image');
    await expectProblem(await post('/v1/classify', key, jpeg(), { 'content-type': 'image/png' }), 415, 'unsupported_media_type');
    expect((await usageOf(key)).used).toBe(0);
    for (let i = 0; i < 2; i++) expect((await post('/v1/classify', key, jpeg())).status).toBe(200);
    expect((await post('/v1/explain', key, jpeg())).status).toBe(200);
    const exhausted = await expectProblem(await post('/v1/classify', key, jpeg()), 429, 'quota_exceeded');
    expect(exhausted.detail).toContain(record.id);
    expect(await usageOf(key)).toMatchObject({ used: 3, quota: 3, remaining: 0, byEndpoint: { classify: 2, explain: 1 }, key: { id: record.id } });
  });

  it('counts many concurrent requests from one key exactly once each', async () => {
    const { key } = await createKey('concurrent');
    const requests = [
      ...Array.from({ length: 30 }, () => post('/v1/classify', key, jpeg())),
      ...Array.from({ length: 10 }, () => post('/v1/explain', key, jpeg(), { accept: 'application/json' })),
      ...Array.from({ length: 10 }, () => post('/v1/classify', key, 'garbage')),
    ];
    const statuses = (await Promise.all(requests)).map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBe(40);
    expect(statuses.filter((s) => s === 400).length).toBe(10);
    expect(await usageOf(key)).toMatchObject({ used: 40, byEndpoint: { classify: 30, explain: 10 } });
  });

  it('never lets concurrent requests exceed the quota', async () => {
    const { key } = await createKey('boundary', 7);
    const statuses = (await Promise.all(Array.from({ length: 20 }, () => post('/v1/classify', key, jpeg())))).map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBe(7);
    expect(statuses.filter((s) => s === 429).length).toBe(13);
    expect((await usageOf(key)).used).toBe(7);
  });

  it('answers 503 metering_unavailable, and bills nothing, when the meter cannot be reached', async () => {
    const { key } = await createKey('meter down');
    const broken = { get: () => ({ reserve: () => Promise.reject(new Error('unreachable')) }), idFromName: () => ({}) } as unknown as Env['USAGE_METER'];
    const res = await fetchWith({ USAGE_METER: broken }, new Request(`${BASE}/v1/classify`, { method: 'POST', body: jpeg(), headers: { 'content-type': 'image/jpeg', authorization: `Bearer ${key}` } }));
    await expectProblem(res, 503, 'metering_unavailable');
    expect((await usageOf(key)).used).toBe(0);
  });
});

describe('request ids, logs and errors', () => {
  it('puts X-Request-Id on every response: echoing a valid incoming one, replacing an invalid one', async () => {
    const { key } = await createKey('ids');
    const responses = [
      await workerFetch(`${BASE}/healthz`),
      await workerFetch(`${BASE}/nope`),
      await workerFetch(`${BASE}/v1/model`),
      await post('/v1/classify', key, 'garbage'),
      await post('/v1/classify', key, jpeg()),
      await workerFetch(`${BASE}/v1/classify`, { headers: { authorization: `Bearer ${key}` } }),
    ];
    for (const res of responses) expect(`${res.status} ${res.headers.get('x-request-id')}`).toMatch(/^\d+ [\w=-]{8,}$/);
    const echoed = await workerFetch(`${BASE}/healthz`, { headers: { 'x-request-id': 'client-abc_123' } });
    expect(echoed.headers.get('x-request-id')).toBe('client-abc_123');
    const replaced = await workerFetch(`${BASE}/healthz`, { headers: { 'x-request-id': 'has spaces <script>' } });
    expect(replaced.headers.get('x-request-id')).not.toContain(' ');
  });

  it('logs an upload the client broke off as 499 client_closed_request, not a 500, and bills nothing', async () => {
    const { key } = await createKey('aborts');
    const logs: string[] = [];
    for (const level of ['log', 'warn', 'error'] as const) vi.spyOn(console, level).mockImplementation((line: unknown) => void logs.push(String(line)));
    const head = jpeg().subarray(0, 4096);
    // A body that delivers its first bytes and then fails, as workerd's does when the connection is lost.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(head);
      },
      pull(controller) {
        controller.error(new Error('Network connection lost.'));
      },
    });
    const res = await fetchWith({}, new Request(`${BASE}/v1/classify`, { method: 'POST', body, headers: { 'content-type': 'image/jpeg', authorization: `Bearer ${key}` }, duplex: 'half' } as RequestInit));
    await expectProblem(res, 499, 'client_closed_request');
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.route === '/v1/classify');
    expect(line).toMatchObject({ level: 'info', status: 499, keyId: expect.any(String) });
    expect(logs.join('\n')).not.toMatch(/internal_error|"level":"error"/);
    expect((await usageOf(key)).used).toBe(0);
  });

  it('logs one JSON line per request with id, key id, route, status, duration and model version', async () => {
    const { key, record } = await createKey('logged');
    const log = vi.spyOn(console, 'log');
    const res = await post('/v1/classify', key, jpeg(), { 'x-request-id': 'log-test-1' });
    expect(res.status).toBe(200);
    const lines = log.mock.calls.map((c) => JSON.parse(String(c[0]))).filter((l) => l.requestId === 'log-test-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', keyId: record.id, method: 'POST', route: '/v1/classify', status: 200 });
    expect(typeof lines[0].ms).toBe('number');
    expect(lines[0].modelVersion).toMatch(/\S/);
  });

  it('turns an unexpected failure into 500 internal_error with the request id and no stack trace', async () => {
    const error = vi.spyOn(console, 'error');
    const failingStore = { get: () => Promise.reject(new TypeError('kv exploded')) } as unknown as KVNamespace;
    const res = await fetchWith(
      { API_KEYS: failingStore },
      new Request(`${BASE}/v1/model`, { headers: { authorization: `Bearer cxr_${'A'.repeat(43)}`, 'x-request-id': 'boom-1' } }),
    );
    const body = await expectProblem(res, 500, 'internal_error');
    expect(body).toMatchObject({ requestId: 'boom-1' });
    expect(JSON.stringify(body)).not.toMatch(/at |kv exploded|\.ts:/);
    expect(res.headers.get('x-request-id')).toBe('boom-1');
    expect(error.mock.calls.map((c) => String(c[0])).join('\n')).toContain('boom-1');
  });
});

describe('privacy', () => {
  it('writes no image bytes, pixels or decoded data to logs, KV, the usage meter or Analytics Engine', async () => {
    const { key } = await createKey('privacy');
    const writes: unknown[] = [];
    const record = (what: string) => (...args: unknown[]) => writes.push([what, ...args]);
    const recordingKv = new Proxy(env.API_KEYS, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (prop !== 'get') record(`kv.${String(prop)}`)(...args);
          return value.apply(target, args);
        };
      },
    });
    const recordingMeter = {
      idFromName: (name: string) => env.USAGE_METER.idFromName(name),
      get: (id: DurableObjectId) => {
        const stub = env.USAGE_METER.get(id);
        const call = <T,>(name: string, args: unknown[], run: () => T) => (record(`meter.${name}`)(...args), run());
        return {
          reserve: (period: string, quota: number) => call('reserve', [period, quota], () => stub.reserve(period, quota)),
          commit: (period: string, endpoint: string) => call('commit', [period, endpoint], () => stub.commit(period, endpoint)),
          release: () => call('release', [], () => stub.release()),
          usage: (period: string) => call('usage', [period], () => stub.usage(period)),
        };
      },
    } as unknown as Env['USAGE_METER'];
    const recordingEvents = { writeDataPoint: record('analytics.writeDataPoint') } as unknown as AnalyticsEngineDataset;
    const logs: string[] = [];
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(' ')));
    }

    const real = inject('realXrays')?.filter((x) => !x.refused).slice(0, 8).map((x) => fromBase64(x.jpeg)) ?? [];
    const images = [jpeg(), xray('rgb-420'), xray('gray-progressive'), ...real];
    const sent: Uint8Array[] = [];
    for (const image of images) {
      for (const accept of ['application/json', 'image/png']) {
        for (const path of ['/v1/classify', '/v1/explain']) {
          const res = await fetchWith(
            { API_KEYS: recordingKv, USAGE_METER: recordingMeter, USAGE_EVENTS: recordingEvents },
            new Request(`${BASE}${path}`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg', accept, authorization: `Bearer ${key}` } }),
          );
          if (res.status !== 200) throw new Error(await res.text());
          await res.arrayBuffer();
          sent.push(image);
        }
      }
    }
    // And failures, which are logged too.
    // The synthetic pattern is refused as not a chest X-ray: its problem body must carry nothing of the image either.
    for (const bad of [fixture('truncated'), fixture('not-a-jpeg'), fixture('gray-baseline')]) {
      await fetchWith({ API_KEYS: recordingKv, USAGE_METER: recordingMeter, USAGE_EVENTS: recordingEvents }, new Request(`${BASE}/v1/classify`, { method: 'POST', body: bad, headers: { 'content-type': 'image/jpeg', authorization: `Bearer ${key}` } }));
      sent.push(bad);
    }

    expect(writes.filter((w) => (w as string[])[0] === 'analytics.writeDataPoint')).toHaveLength(images.length * 4);
    expect(writes.some((w) => (w as string[])[0] === 'meter.commit')).toBe(true);
    // Nothing binary went out, and no run of image bytes appears in any form.
    const isBinary = (v: unknown): boolean => v instanceof ArrayBuffer || ArrayBuffer.isView(v) || (Array.isArray(v) && (v.length > 64 || v.some(isBinary))) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).some(isBinary));
    expect(writes.filter((w) => (w as unknown[]).some(isBinary))).toEqual([]);
    const text = JSON.stringify(writes) + '\n' + logs.join('\n');
    expect(logs.length).toBeGreaterThanOrEqual(sent.length);
    for (const line of logs) expect(line.length).toBeLessThan(600);
    const latin1 = (b: Uint8Array) => String.fromCharCode(...b);
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    for (const image of sent) {
      // Offsets are multiples of 3 so the window's base64 lines up with the whole image's.
      for (let offset = 3; offset + 12 <= image.length; offset += 3 * Math.max(4, Math.floor(image.length / 48))) {
        const window = image.subarray(offset, offset + 12);
        for (const encoded of [btoa(latin1(window)), hex(window), latin1(window)]) {
          if (/^[\x20-\x7e]*$/.test(encoded) && /^(.)\1*$/.test(encoded)) continue; // runs of one character prove nothing
          expect(text.includes(encoded)).toBe(false);
        }
      }
    }
  });
});
