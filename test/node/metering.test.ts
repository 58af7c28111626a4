/**
 * src/metering in Node: the usage meter's arithmetic (reserve, commit, release against a quota), the billing
 * middleware's decisions (bill a 2xx, release everything else, refuse over quota, withhold a result that could
 * not be counted) and the per-key rate limit. test/worker/access.test.ts checks billing end to end in workerd
 * (concurrency, the real Durable Object).
 */
import { HTTPException } from 'hono/http-exception';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApiKeyRecord } from '../../src/auth/api-keys';
import type { Env } from '../../src/env';
import { meter } from '../../src/metering/billing';
import { rateLimit } from '../../src/metering/rate-limit';
import { billingPeriod, UsageMeter, type PeriodUsage } from '../../src/metering/usage-meter';
import { appWithErrors, CountingLimiter, problemOf, testEnv } from '../helpers/bindings';

const KEY: ApiKeyRecord = { id: 'key_0123456789ab', name: 'Clinic A', created: '2026-11-01T00:00:00.000Z', quota: 3, revoked: false, sha256: 'ab'.repeat(32) };

/** Durable Object storage over a Map. */
class MemoryStorage {
  readonly data = new Map<string, unknown>();
  async get<T>(key: string): Promise<T | undefined> {
    return structuredClone(this.data.get(key)) as T | undefined;
  }
  async put(key: string, value: unknown): Promise<void> {
    this.data.set(key, structuredClone(value));
  }
}
const newMeter = (storage = new MemoryStorage()) => new UsageMeter({ storage } as unknown as DurableObjectState, {} as never);

describe('UsageMeter', () => {
  it('reserves up to the quota, counting open reservations, and refuses beyond it', async () => {
    const m = newMeter();
    expect(await m.reserve('2026-11', 2)).toBe(true);
    expect(await m.reserve('2026-11', 2)).toBe(true);
    expect(await m.reserve('2026-11', 2)).toBe(false);
    m.release();
    expect(await m.reserve('2026-11', 2)).toBe(true);
    expect(await m.reserve('2026-11', 0)).toBe(false);
  });

  it('commits per period and endpoint, persists the counts, and frees the reservation', async () => {
    const storage = new MemoryStorage();
    const m = newMeter(storage);
    expect(await m.usage('2026-11')).toEqual({ period: '2026-11', used: 0, byEndpoint: {} });
    expect(await m.reserve('2026-11', 2)).toBe(true);
    expect(await m.commit('2026-11', 'classify')).toEqual({ period: '2026-11', used: 1, byEndpoint: { classify: 1 } });
    expect(await m.reserve('2026-11', 2)).toBe(true);
    await m.commit('2026-11', 'explain');
    expect(storage.data.get('usage:2026-11')).toEqual({ period: '2026-11', used: 2, byEndpoint: { classify: 1, explain: 1 } });
    expect(await m.reserve('2026-11', 2)).toBe(false); // used, not reserved, now fills the quota
    expect(await m.reserve('2026-11', 3)).toBe(true);
    // Another month starts from nothing; a restarted object reads the stored counts.
    expect(await m.usage('2026-12')).toEqual({ period: '2026-12', used: 0, byEndpoint: {} });
    expect(await newMeter(storage).usage('2026-11')).toMatchObject({ used: 2 });
    expect(await newMeter(storage).reserve('2026-11', 3)).toBe(true);
  });

  it('never lets a release or a commit without a reservation make room beyond the quota', async () => {
    const m = newMeter();
    m.release();
    m.release();
    expect(await m.reserve('2026-11', 1)).toBe(true);
    expect(await m.reserve('2026-11', 1)).toBe(false);

    const n = newMeter();
    await n.commit('2026-11', 'classify'); // after a restart: counted, and no reservation to free
    expect(await n.reserve('2026-11', 2)).toBe(true);
    expect(await n.reserve('2026-11', 2)).toBe(false);
  });
});

describe('billingPeriod', () => {
  it('is the calendar month in UTC, resetting at the next month\'s first instant', () => {
    expect(billingPeriod(new Date('2026-11-30T23:59:59.999Z'))).toEqual({ period: '2026-11', resetsAt: '2026-12-01T00:00:00.000Z' });
    expect(billingPeriod(new Date('2026-12-31T12:00:00.000Z'))).toEqual({ period: '2026-12', resetsAt: '2027-01-01T00:00:00.000Z' });
    expect(billingPeriod(new Date('2027-01-01T00:00:00.000Z'))).toEqual({ period: '2027-01', resetsAt: '2027-02-01T00:00:00.000Z' });
  });
});

/** A stand-in for the UsageMeter stub that records calls; each method can be made to fail. */
class FakeMeter {
  calls: string[] = [];
  reserveResult: boolean | Error = true;
  commitError: Error | null = null;
  releaseError: Error | null = null;
  async reserve(period: string, quota: number) {
    this.calls.push(`reserve ${period} ${quota}`);
    if (this.reserveResult instanceof Error) throw this.reserveResult;
    return this.reserveResult;
  }
  async commit(period: string, endpoint: string) {
    this.calls.push(`commit ${period} ${endpoint}`);
    if (this.commitError) throw this.commitError;
    return { period, used: 1, byEndpoint: {} } as PeriodUsage;
  }
  async release() {
    this.calls.push('release');
    if (this.releaseError) throw this.releaseError;
  }
}

function meteredApp(fake: FakeMeter, handler: (c: { text: (s: string, status?: number) => Response }) => Response | Promise<Response>) {
  const events: AnalyticsEngineDataPoint[] = [];
  const names: string[] = [];
  const env = testEnv({
    USAGE_METER: {
      idFromName: (name: string) => {
        names.push(name);
        return `id:${name}`;
      },
      get: (id: string) => {
        expect(id).toBe(`id:${KEY.id}`);
        return fake;
      },
    } as unknown as Env['USAGE_METER'],
    USAGE_EVENTS: { writeDataPoint: (point: AnalyticsEngineDataPoint) => void events.push(point) } as unknown as AnalyticsEngineDataset,
  });
  const app = appWithErrors();
  app.use(async (c, next) => {
    c.set('apiKey', c.req.header('x-anonymous') ? null : KEY);
    if (!c.req.header('x-no-model')) c.set('modelVersion', 'm-1');
    c.set('bytesIn', 1234);
    await next();
  });
  app.post('/classify', meter('classify'), (c) => handler(c as never));
  return { request: (headers: Record<string, string> = {}) => app.request('/classify', { method: 'POST', headers }, env), events, names };
}

describe('meter (billing middleware)', () => {
  afterEach(() => vi.useRealTimers());

  it('bills a 2xx: reserve, commit under the endpoint\'s name, one usage event of counts and sizes', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-15T10:00:00.000Z'), toFake: ['Date'] });
    const fake = new FakeMeter();
    const { request, events, names } = meteredApp(fake, (c) => c.text('ok', 200));
    const response = await request();
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok');
    expect(names).toEqual([KEY.id]);
    expect(fake.calls).toEqual(['reserve 2026-11 3', 'commit 2026-11 classify']);
    expect(events).toEqual([{ indexes: [KEY.id], blobs: [KEY.id, 'classify', '200', 'm-1'], doubles: [1234, 0] }]);
  });

  it('writes an empty model version when no model answered', async () => {
    const fake = new FakeMeter();
    const { request, events } = meteredApp(fake, (c) => c.text('ok'));
    expect((await request({ 'x-no-model': '1' })).status).toBe(200);
    expect(events[0].blobs).toEqual([KEY.id, 'classify', '200', '']);
  });

  it('releases, and writes no event, for anything but a 2xx', async () => {
    for (const status of [201, 299, 300, 302, 400, 422, 500]) {
      const fake = new FakeMeter();
      const { request, events } = meteredApp(fake, (c) => c.text('answer', status as never));
      const response = await request();
      expect(response.status).toBe(status);
      const billed = status < 300;
      expect(fake.calls.slice(1), String(status)).toEqual(billed ? [expect.stringMatching(/^commit /)] : ['release']);
      expect(events.length, String(status)).toBe(billed ? 1 : 0);
    }
  });

  it('releases when the handler throws, and the error answers', async () => {
    const fake = new FakeMeter();
    const { request, events } = meteredApp(fake, () => {
      throw new HTTPException(422, { res: new Response('refused', { status: 422 }) });
    });
    const response = await request();
    expect(response.status).toBe(422);
    expect(fake.calls.slice(1)).toEqual(['release']);
    expect(events).toEqual([]);
  });

  it('releases when the rest of the chain rejects (no error handler in between), and rethrows', async () => {
    const fake = new FakeMeter();
    const boom = new Error('boom');
    const env = testEnv({ USAGE_METER: { idFromName: () => 'id', get: () => fake } as unknown as Env['USAGE_METER'] });
    const c = { get: (name: string) => (name === 'apiKey' ? KEY : undefined), env, res: new Response('x') } as unknown as Parameters<ReturnType<typeof meter>>[0];
    await expect(meter('classify')(c, () => Promise.reject(boom))).rejects.toBe(boom);
    expect(fake.calls.slice(1)).toEqual(['release']);
    // A release that fails too does not hide the original error.
    fake.releaseError = new Error('release failed');
    await expect(meter('classify')(c, () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it('refuses over quota with 429 quota_exceeded, Retry-After until the month resets, and calls nothing else', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-30T23:58:00.000Z'), toFake: ['Date'] });
    const fake = new FakeMeter();
    fake.reserveResult = false;
    let handled = false;
    const { request, events } = meteredApp(fake, (c) => {
      handled = true;
      return c.text('ok');
    });
    const response = await request();
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('120');
    expect(await problemOf(response)).toMatchObject({
      code: 'quota_exceeded',
      detail: `Key ${KEY.id} has used its 3 requests for 2026-11; the quota resets at 2026-12-01T00:00:00.000Z.`,
    });
    expect(handled).toBe(false);
    expect(fake.calls).toEqual(['reserve 2026-11 3']);
    expect(events).toEqual([]);

    vi.setSystemTime(new Date('2026-11-30T23:59:59.400Z'));
    expect((await request()).headers.get('retry-after')).toBe('1');
  });

  it('answers 503 metering_unavailable, unbilled, when the meter cannot be reached', async () => {
    const fake = new FakeMeter();
    fake.reserveResult = new Error('DO unavailable');
    const { request } = meteredApp(fake, (c) => c.text('ok'));
    const response = await request();
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await problemOf(response)).toMatchObject({ code: 'metering_unavailable', detail: 'Usage could not be checked; nothing was billed. Retry shortly.' });
    expect(fake.calls).toHaveLength(1);
  });

  it('withholds a result that could not be counted: 503, reservation released, no event', async () => {
    const fake = new FakeMeter();
    fake.commitError = new Error('storage failed');
    fake.releaseError = new Error('and so did release');
    const { request, events } = meteredApp(fake, (c) => c.text('the answer'));
    const response = await request();
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await problemOf(response)).toMatchObject({ code: 'metering_unavailable', detail: 'The request could not be counted; nothing was billed. Retry shortly.' });
    expect(fake.calls.slice(1)).toEqual([expect.stringMatching(/^commit /), 'release']);
    expect(events).toEqual([]);
  });

  it('a failed release after a non-2xx still answers with the handler\'s response', async () => {
    const fake = new FakeMeter();
    fake.releaseError = new Error('release failed');
    const { request } = meteredApp(fake, (c) => c.text('bad', 400));
    const response = await request();
    expect(response.status).toBe(400);
    expect(await response.text()).toBe('bad');
  });

  it('meters nothing without a key (AUTH off)', async () => {
    const fake = new FakeMeter();
    const { request, events, names } = meteredApp(fake, (c) => c.text('ok'));
    expect((await request({ 'x-anonymous': '1' })).status).toBe(200);
    expect(names).toEqual([]);
    expect(fake.calls).toEqual([]);
    expect(events).toEqual([]);
  });
});

describe('rateLimit (per key)', () => {
  function limitedApp(limiter: CountingLimiter, key: ApiKeyRecord | null, period?: string) {
    const app = appWithErrors();
    app.use(async (c, next) => {
      c.set('apiKey', key);
      await next();
    });
    app.use(rateLimit);
    app.get('/', (c) => c.text('ok'));
    const env = testEnv({ RATE_LIMITER: limiter as unknown as RateLimit, RATE_LIMIT_PERIOD_SECONDS: period as string });
    return () => app.request('/', {}, env);
  }

  it('asks the limiter by key id and answers 429 rate_limited with the period as Retry-After once it refuses', async () => {
    const limiter = new CountingLimiter(2);
    const get = limitedApp(limiter, KEY, '30');
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(200);
    const refused = await get();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(await problemOf(refused)).toMatchObject({ code: 'rate_limited', detail: `Too many requests for key ${KEY.id}; slow down and retry after 30 s.` });
    expect(limiter.calls).toEqual([KEY.id, KEY.id, KEY.id]);
  });

  it('falls back to a 60 s Retry-After, and does not limit anonymous requests', async () => {
    const refused = await limitedApp(new CountingLimiter(0), KEY)();
    expect(refused.headers.get('retry-after')).toBe('60');
    const limiter = new CountingLimiter(0);
    expect((await limitedApp(limiter, null)()).status).toBe(200);
    expect(limiter.calls).toEqual([]);
  });
});
