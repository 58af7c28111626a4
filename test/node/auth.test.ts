/**
 * src/auth in Node, against in-memory bindings: the key format and store, the Bearer middleware, and the
 * per-address limit on failed authentications (what each costs in KV reads, and when an address is let go).
 * test/worker/access.test.ts checks the same through the real Worker in workerd.
 */
import { HTTPException } from 'hono/http-exception';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApiKeyRecord } from '../../src/auth/api-keys';
import { constantTimeEqual, findApiKey, hashApiKey, looksLikeApiKey, newApiKey, saveApiKey, storeKey } from '../../src/auth/api-keys';
import { appWithErrors, CountingLimiter, MemoryKV, problemOf, testEnv } from '../helpers/bindings';

const asKV = (kv: MemoryKV) => kv as unknown as KVNamespace;
const asLimiter = (limiter: CountingLimiter) => limiter as unknown as RateLimit;

describe('API keys', () => {
  it('hashes a presented key with SHA-256, as hex', async () => {
    // FIPS 180-2 test vector.
    expect(await hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('makes keys of 32 random bytes in base64url, ids of 6 random bytes in hex, and stores only the hash', async () => {
    const now = new Date('2026-11-30T12:34:56.789Z');
    const made = await Promise.all(Array.from({ length: 200 }, () => newApiKey('Clinic A', 250, now)));
    const alphabet = new Set<string>();
    for (const { key, record } of made) {
      expect(key).toMatch(/^cxr_[A-Za-z0-9_-]{43}$/);
      expect(record.id).toMatch(/^key_[0-9a-f]{12}$/);
      expect(record).toEqual({ id: record.id, name: 'Clinic A', created: '2026-11-30T12:34:56.789Z', quota: 250, revoked: false, sha256: await hashApiKey(key) });
      expect(looksLikeApiKey(key)).toBe(true);
      for (const ch of key.slice(4)) alphabet.add(ch);
    }
    // base64url, not base64: the two URL-safe characters occur (200 x 43 draws), '+', '/' and '=' never.
    expect(alphabet.has('-') && alphabet.has('_')).toBe(true);
    expect(new Set(made.map((m) => m.key)).size).toBe(200);
    expect(new Set(made.map((m) => m.record.id)).size).toBe(200);
    // Every byte value decodes back: a hex id keeps its leading zeros.
    expect(made.some((m) => /^key_0/.test(m.record.id) || /0[0-9a-f]/.test(m.record.id.slice(4)))).toBe(true);
  });

  it('compares in constant time and exactly: lengths, every position, and trailing NULs count', () => {
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('abcdef', 'abcdef')).toBe(true);
    expect(constantTimeEqual('abcdef', 'xbcdef')).toBe(false);
    expect(constantTimeEqual('abcdef', 'abcdex')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('abcd', 'abc')).toBe(false);
    // A missing byte reads as 0, so only the length tells these apart.
    expect(constantTimeEqual('a', 'a\u0000')).toBe(false);
    expect(constantTimeEqual('', 'a')).toBe(false);
  });

  it('accepts only cxr_ keys of 40 to 100 URL-safe characters', () => {
    const key = (n: number) => 'cxr_' + 'A'.repeat(n - 4);
    expect(looksLikeApiKey(key(40))).toBe(true);
    expect(looksLikeApiKey(key(39))).toBe(false);
    expect(looksLikeApiKey(key(100))).toBe(true);
    expect(looksLikeApiKey(key(101))).toBe(false);
    expect(looksLikeApiKey('xyz_' + 'A'.repeat(40))).toBe(false);
    expect(looksLikeApiKey(key(60) + '!')).toBe(false);
    expect(looksLikeApiKey('cxr_!' + 'A'.repeat(50))).toBe(false);
    expect(looksLikeApiKey('cxr_' + 'a-b_9Z'.repeat(7))).toBe(true);
  });

  it('stores a record under key:<sha256>, as value and list metadata, and finds it only by its own key', async () => {
    const kv = new MemoryKV();
    const { key, record } = await newApiKey('Clinic A', 10);
    await saveApiKey(asKV(kv), record);
    expect(storeKey(record.sha256)).toBe(`key:${record.sha256}`);
    expect(JSON.parse(kv.values.get(`key:${record.sha256}`)!)).toEqual(record);
    expect(kv.metadata.get(`key:${record.sha256}`)).toEqual(record);

    expect(await findApiKey(asKV(kv), key)).toEqual(record);
    const other = await newApiKey('Clinic B', 10);
    expect(await findApiKey(asKV(kv), other.key)).toBeNull();
  });

  it('reads nothing for a key that cannot be one, and refuses a record whose hash is not the key\'s', async () => {
    const kv = new MemoryKV();
    expect(await findApiKey(asKV(kv), 'not-a-key')).toBeNull();
    expect(kv.reads).toBe(0);

    const { key, record } = await newApiKey('Clinic A', 10);
    // A record under the key's slot that names another hash (tampered, or a bug in whoever wrote it).
    await kv.put(storeKey(record.sha256), JSON.stringify({ ...record, sha256: record.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
    expect(await findApiKey(asKV(kv), key)).toBeNull();
    await kv.put(storeKey(record.sha256), JSON.stringify({ ...record, sha256: 42 }));
    expect(await findApiKey(asKV(kv), key)).toBeNull();
    expect(kv.reads).toBe(2);
  });
});

describe('requireApiKey', () => {
  let kv: MemoryKV;
  let good: { key: string; record: ApiKeyRecord };
  let revoked: { key: string; record: ApiKeyRecord };

  beforeEach(async () => {
    vi.resetModules(); // the middleware's module state (the AUTH=off warning, blocked addresses) starts fresh
    kv = new MemoryKV();
    good = await newApiKey('Clinic A', 10);
    revoked = await newApiKey('Clinic B', 10);
    revoked.record.revoked = true;
    await saveApiKey(asKV(kv), good.record);
    await saveApiKey(asKV(kv), revoked.record);
  });
  afterEach(() => vi.restoreAllMocks());

  async function app() {
    const { requireApiKey } = await import('../../src/auth/require-api-key');
    const a = appWithErrors();
    a.use(requireApiKey);
    a.get('/', (c) => c.json({ key: c.get('apiKey') }));
    return a;
  }
  const get = async (headers: Record<string, string>, env = testEnv({ API_KEYS: asKV(kv) })) =>
    (await app()).request('/', { headers }, env);

  it('lets a valid key through and puts its record on the context', async () => {
    const response = await get({ authorization: `Bearer ${good.key}` });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ key: good.record });
  });

  it('reads the scheme case-insensitively and tolerates extra spaces, but nothing after the key', async () => {
    for (const header of [`bearer ${good.key}`, `BEARER   ${good.key}`, `Bearer ${good.key}  `]) {
      expect((await get({ authorization: header })).status, header).toBe(200);
    }
    for (const header of [`Basic ${good.key}`, `Bearer`, `Bearer ${good.key} extra`, `Token Bearer ${good.key}`, `Bearer${good.key}`]) {
      expect((await get({ authorization: header })).status, header).toBe(401);
    }
  });

  it('answers 401 with a Bearer challenge: without a key, and with error="invalid_token" for an unknown one', async () => {
    const missing = await get({});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="cxr-edge"');
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(await problemOf(missing)).toMatchObject({ code: 'unauthorized', detail: 'Send your API key as "Authorization: Bearer <key>".' });

    const unknown = await get({ authorization: `Bearer cxr_${'A'.repeat(43)}` });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toBe('Bearer realm="cxr-edge", error="invalid_token"');
    expect(await problemOf(unknown)).toMatchObject({ code: 'unauthorized', detail: 'The API key is not valid.' });
  });

  it('answers 403 for a revoked key, naming its id', async () => {
    const response = await get({ authorization: `Bearer ${revoked.key}` });
    expect(response.status).toBe(403);
    expect(await problemOf(response)).toMatchObject({ code: 'forbidden', detail: `The API key ${revoked.record.id} has been revoked.` });
  });

  it('with AUTH=off lets everything through as anonymous and warns once per isolate', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const a = await app();
    const env = testEnv({ AUTH: ' OFF ', API_KEYS: asKV(kv) });
    for (let i = 0; i < 3; i++) {
      const response = await a.request('/', {}, env);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ key: null });
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(warn.mock.calls[0][0]))).toEqual({
      level: 'warn',
      message: 'AUTH is off: every /v1 route is open to anyone who can reach it, and nothing is metered. For local trials only.',
    });
    expect(kv.reads).toBe(0);
  });

  it('charges every failed authentication to the client address, then refuses that address with 429 before reading KV', async () => {
    const limiter = new CountingLimiter(2);
    const env = testEnv({ API_KEYS: asKV(kv), AUTH_FAILURE_LIMITER: asLimiter(limiter), RATE_LIMIT_PERIOD_SECONDS: '30' });
    const a = await app();
    const from = (ip: string, authorization?: string) =>
      a.request('/', { headers: { 'cf-connecting-ip': ip, ...(authorization ? { authorization } : {}) } }, env);

    expect((await from('203.0.113.7')).status).toBe(401);
    expect((await from('203.0.113.7', `Bearer cxr_${'B'.repeat(43)}`)).status).toBe(401);
    expect(limiter.calls).toEqual(['203.0.113.7', '203.0.113.7']);
    const readsBefore = kv.reads;
    const refused = await from('203.0.113.7', `Bearer cxr_${'C'.repeat(43)}`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(await problemOf(refused)).toMatchObject({ code: 'rate_limited', detail: 'Too many requests without a valid API key from this address; retry after 30 s.' });
    const readsAtRefusal = kv.reads;
    expect(readsAtRefusal).toBe(readsBefore + 1); // the third failure still read KV once; from now on, none

    // Blocked: even a valid key from that address waits, and KV is not read.
    const blocked = await from('203.0.113.7', `Bearer ${good.key}`);
    expect(blocked.status).toBe(429);
    expect(kv.reads).toBe(readsAtRefusal);
    expect(limiter.calls).toHaveLength(3);

    // Another address is not affected; successes are not charged.
    expect((await from('198.51.100.1', `Bearer ${good.key}`)).status).toBe(200);
    expect(limiter.calls).toHaveLength(3);
    // Requests that do not say where they come from share one bucket.
    expect((await a.request('/', {}, env)).status).toBe(401);
    expect(limiter.calls.at(-1)).toBe('unknown');
  });

  it('without the address limiter binding, failures stay 401 however many', async () => {
    const env = testEnv({ API_KEYS: asKV(kv) });
    for (let i = 0; i < 5; i++) expect((await get({ 'cf-connecting-ip': '203.0.113.9' }, env)).status).toBe(401);
  });
});

describe('the per-address block', () => {
  beforeEach(() => vi.resetModules());
  const env = (period?: string) => testEnv({ AUTH_FAILURE_LIMITER: asLimiter(new CountingLimiter(0)), RATE_LIMIT_PERIOD_SECONDS: period as string });
  const unauthorized = () => new Error('401');

  it('lasts exactly one period from the refused failure, then the address is forgotten', async () => {
    const { chargeFailure, refuseBlockedAddress } = await import('../../src/auth/address-limit');
    const e = env('30');
    const refusal = await chargeFailure(e, 'a', unauthorized, 1_000);
    expect(refusal).toBeInstanceOf(HTTPException);
    expect((refusal as HTTPException).status).toBe(429);
    expect(refusal.message).toMatch(/retry after 30 s/);
    expect(() => refuseBlockedAddress(e, 'a', 1_000)).toThrow(/retry after 30 s/);
    expect(() => refuseBlockedAddress(e, 'a', 30_999)).toThrow();
    expect(() => refuseBlockedAddress(e, 'a', 31_000)).not.toThrow();
    // Forgotten, not merely expired: an earlier clock no longer finds it.
    expect(() => refuseBlockedAddress(e, 'a', 2_000)).not.toThrow();
    expect(() => refuseBlockedAddress(e, 'never-seen', 0)).not.toThrow();
  });

  it('uses a 60 s period when RATE_LIMIT_PERIOD_SECONDS is missing or not a positive integer', async () => {
    const { chargeFailure, refuseBlockedAddress } = await import('../../src/auth/address-limit');
    for (const period of [undefined, '0', '-5', '1.5', 'soon']) {
      const e = env(period);
      const address = `p-${period}`;
      const refusal = await chargeFailure(e, address, unauthorized, 0);
      expect(refusal.message).toMatch(/retry after 60 s/);
      expect(() => refuseBlockedAddress(e, address, 59_999)).toThrow();
      expect(() => refuseBlockedAddress(e, address, 60_000)).not.toThrow();
    }
  });

  it('returns the caller\'s 401 while the limiter allows, and never blocks then', async () => {
    const { chargeFailure, refuseBlockedAddress } = await import('../../src/auth/address-limit');
    const e = testEnv({ AUTH_FAILURE_LIMITER: asLimiter(new CountingLimiter(1)) });
    const mine = new Error('mine');
    expect(await chargeFailure(e, 'b', () => mine, 0)).toBe(mine);
    expect(() => refuseBlockedAddress(e, 'b', 1)).not.toThrow();
    expect(await chargeFailure(e, 'b', () => mine, 0)).not.toBe(mine);
  });

  it('tracks at most 10,000 addresses: expired entries go first, then the oldest', async () => {
    const { chargeFailure, refuseBlockedAddress } = await import('../../src/auth/address-limit');
    const e = env('60');
    for (let i = 0; i < 10_000; i++) await chargeFailure(e, `old-${i}`, unauthorized, 0); // blocked until 60,000
    // Full, nothing expired: the oldest entry makes room.
    await chargeFailure(e, 'new-1', unauthorized, 1);
    expect(() => refuseBlockedAddress(e, 'old-0', 2)).not.toThrow();
    expect(() => refuseBlockedAddress(e, 'old-1', 2)).toThrow();
    expect(() => refuseBlockedAddress(e, 'new-1', 2)).toThrow();
    // Full again, now all of the old ones have expired: they all go, the unexpired new-1 stays.
    await chargeFailure(e, 'new-2', unauthorized, 60_000);
    expect(() => refuseBlockedAddress(e, 'old-9999', 30_000)).not.toThrow();
    expect(() => refuseBlockedAddress(e, 'new-1', 30_000)).toThrow();
    expect(() => refuseBlockedAddress(e, 'new-2', 60_001)).toThrow();
  });
});
