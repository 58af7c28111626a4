import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { billingPeriod } from '../metering/usage-meter';
import type { UsageBody } from '../api/schemas';

/** `GET /v1/usage`: the calling key's billable requests this period, and what is left of its quota. */
export const usage = new Hono<AppEnv>().get('/', async (c) => {
  const key = c.get('apiKey');
  const { period, resetsAt } = billingPeriod();
  if (!key) return c.json<UsageBody>({ key: null, period, resetsAt, used: null, quota: null, remaining: null, byEndpoint: {}, metered: false });
  const counts = await c.env.USAGE_METER.get(c.env.USAGE_METER.idFromName(key.id)).usage(period);
  return c.json<UsageBody>({
    key: { id: key.id, name: key.name },
    period,
    resetsAt,
    used: counts.used,
    quota: key.quota,
    remaining: Math.max(0, key.quota - counts.used),
    byEndpoint: counts.byEndpoint,
    metered: true,
  });
});
