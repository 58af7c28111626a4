/** Per-key request rate limit (the Workers rate-limiting binding): 429 rate_limited with Retry-After. */
import { createMiddleware } from 'hono/factory';
import { positiveInt, type AppEnv } from '../env';
import { problem } from '../http/problem';

export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const key = c.get('apiKey');
  if (key) {
    const { success } = await c.env.RATE_LIMITER.limit({ key: key.id });
    if (!success) {
      const period = positiveInt(c.env.RATE_LIMIT_PERIOD_SECONDS, 60);
      throw problem('rate_limited', `Too many requests for key ${key.id}; slow down and retry after ${period} s.`, { 'retry-after': String(period) });
    }
  }
  return next();
});
