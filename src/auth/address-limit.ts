/**
 * Requests without a valid key, limited per client address (`CF-Connecting-IP`) before any KV read.
 *
 * Every failed authentication (no key, a malformed one, or one KV does not know) is charged to the
 * address on the Workers rate-limiting binding `AUTH_FAILURE_LIMITER`. Once an address has spent that
 * budget, this isolate refuses its requests with 429 before reading KV, until the period ends: a flood of
 * random keys costs one KV read per failure up to the budget, then none. A valid key from an address that
 * is blocked waits out the period too (one misbehaving client behind a shared NAT delays its neighbours).
 */
import { positiveInt, type Env } from '../env';
import { problem } from '../http/problem';

/** Address -> time (ms) until which this isolate refuses it. Bounded: expired entries go first. */
const blockedUntil = new Map<string, number>();
const MAX_TRACKED = 10_000;

/** The client address Cloudflare reports; one bucket for requests that do not say. */
export function clientAddress(request: Request): string {
  return request.headers.get('cf-connecting-ip') ?? 'unknown';
}

function refusal(env: Env) {
  const period = positiveInt(env.RATE_LIMIT_PERIOD_SECONDS, 60);
  return problem('rate_limited', `Too many requests without a valid API key from this address; retry after ${period} s.`, { 'retry-after': String(period) });
}

/** Throws 429 rate_limited when this address has spent its budget of failed authentications (no KV read). */
export function refuseBlockedAddress(env: Env, address: string, now = Date.now()): void {
  if ((blockedUntil.get(address) ?? 0) > now) throw refusal(env);
  blockedUntil.delete(address); // expired (or never blocked): forget it
}

/**
 * Charges one failed authentication to `address`. Returns the problem to throw: 401 `unauthorized` while the
 * address is within its budget, 429 `rate_limited` once it is not (and from then on, before any KV read).
 */
export async function chargeFailure(env: Env, address: string, unauthorized: () => Error, now = Date.now()): Promise<Error> {
  if (!env.AUTH_FAILURE_LIMITER) return unauthorized();
  const { success } = await env.AUTH_FAILURE_LIMITER.limit({ key: address });
  if (success) return unauthorized();
  // Stryker disable next-line ConditionalExpression: sweeping expired entries on every call changes nothing a caller sees (expired entries no longer block); the guard keeps the O(n) sweep off the common path
  if (blockedUntil.size >= MAX_TRACKED) {
    for (const [key, until] of blockedUntil) if (until <= now) blockedUntil.delete(key);
    if (blockedUntil.size >= MAX_TRACKED) blockedUntil.delete(blockedUntil.keys().next().value!);
  }
  blockedUntil.set(address, now + positiveInt(env.RATE_LIMIT_PERIOD_SECONDS, 60) * 1000);
  return refusal(env);
}
