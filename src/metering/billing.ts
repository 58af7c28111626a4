/**
 * Metering of billable routes: before the handler, reserve one request against the key's quota
 * (429 quota_exceeded when used up); after it, count the request if it succeeded (2xx) and write its
 * usage event, or release the reservation if it did not. Rejected requests are never billed.
 */
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';
import { problem } from '../http/problem';
import { billingPeriod } from './usage-meter';

/** @param endpoint the name the usage counts and events use for this route */
export function meter(endpoint: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = c.get('apiKey');
    if (!key) return next(); // AUTH off: nothing to meter
    const started = Date.now();
    const { period, resetsAt } = billingPeriod();
    const usageMeter = c.env.USAGE_METER.get(c.env.USAGE_METER.idFromName(key.id));
    let reserved: boolean;
    try {
      reserved = await usageMeter.reserve(period, key.quota);
    } catch {
      throw problem('metering_unavailable', 'Usage could not be checked; nothing was billed. Retry shortly.', { 'retry-after': '1' });
    }
    if (!reserved) {
      throw problem('quota_exceeded', `Key ${key.id} has used its ${key.quota} requests for ${period}; the quota resets at ${resetsAt}.`, {
        'retry-after': String(Math.max(1, Math.ceil((Date.parse(resetsAt) - Date.now()) / 1000))),
      });
    }
    try {
      await next(); // a failing handler has already become its error response here
    } catch (error) {
      await usageMeter.release().catch(() => undefined);
      throw error;
    }
    if (!c.res.ok) {
      await usageMeter.release().catch(() => undefined);
      return;
    }
    try {
      await usageMeter.commit(period, endpoint);
    } catch {
      await usageMeter.release().catch(() => undefined);
      // The result exists but could not be counted: withhold it rather than give it away unbilled.
      throw problem('metering_unavailable', 'The request could not be counted; nothing was billed. Retry shortly.', { 'retry-after': '1' });
    }
    // Counts and sizes only: never anything from the image.
    c.env.USAGE_EVENTS.writeDataPoint({
      indexes: [key.id],
      blobs: [key.id, endpoint, String(c.res.status), c.get('modelVersion') ?? ''],
      doubles: [c.get('bytesIn') ?? 0, Date.now() - started],
    });
  });
}
