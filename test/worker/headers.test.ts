/**
 * Response hardening: security headers on every response (problems included), the page's script-nonce CSP,
 * and request parameters echoed only in bounded length.
 */
import { describe, expect, it } from 'vitest';
import { BASE, api, xray, type ProblemBody, workerFetch } from './helpers';

describe('security headers', () => {
  it('sends nosniff, no-referrer and frame/opener isolation on pages, JSON answers and problems alike', async () => {
    const responses = [
      await workerFetch(`${BASE}/`),
      await workerFetch(`${BASE}/healthz`),
      await api('/v1/model'),
      await workerFetch(`${BASE}/v1/model`), // 401 problem
      await api('/v1/nothing'), // 404 problem
      await api('/v1/classify', { method: 'POST', body: 'not a jpeg', headers: { 'content-type': 'image/jpeg' } }), // 400 problem
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 401, 404, 400]);
    for (const res of responses) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      await res.body?.cancel();
    }
  });

  it('runs the page script by a fresh nonce: no unsafe-inline script, no framing, no base or form targets', async () => {
    const nonces: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await workerFetch(`${BASE}/`);
      const csp = res.headers.get('content-security-policy') ?? '';
      const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
      expect(scriptSrc).toMatch(/^'nonce-[A-Za-z0-9+/=]{16,}'$/);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("base-uri 'none'");
      expect(csp).toContain("default-src 'self'");
      const nonce = scriptSrc.slice("'nonce-".length, -1);
      const html = await res.text();
      // Every script element carries it (the page has exactly one).
      const scripts = html.match(/<script\b[^>]*>/g) ?? [];
      expect(scripts).toEqual([`<script type="module" nonce="${nonce}">`]);
      nonces.push(nonce);
    }
    expect(nonces[0]).not.toBe(nonces[1]);
  });
});

describe('echoed parameters', () => {
  it('quotes an unknown ?class= in the problem detail, cut to 64 characters', async () => {
    const long = 'A'.repeat(8192);
    const res = await api(`/v1/explain?class=${long}`, { method: 'POST', body: xray('gray-baseline'), headers: { 'content-type': 'image/jpeg' } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ProblemBody;
    expect(body.code).toBe('invalid_parameter');
    expect(body.detail).toContain(`"${'A'.repeat(64)}…"`);
    expect(body.detail).not.toContain('A'.repeat(65));
    expect(body.detail.length).toBeLessThan(300);
    const short = await api('/v1/explain?class=Pneumothorax', { method: 'POST', body: xray('gray-baseline'), headers: { 'content-type': 'image/jpeg' } });
    expect(((await short.json()) as ProblemBody).detail).toContain('"Pneumothorax"');
  });
});
