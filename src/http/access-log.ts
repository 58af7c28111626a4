/**
 * One structured JSON log line per request: request id, key id, route, status, duration, model version.
 * Never a body, a header value other than those, or anything from the image.
 * (workerd's clock only advances at I/O, so `ms` covers waiting, not synchronous decode/inference.)
 */
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import type { AppEnv } from '../env';

export const accessLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  await next();
  // requestId() sets the header on responses the handlers build; responses made elsewhere (not found,
  // some errors) get it here.
  if (!c.res.headers.has('x-request-id')) {
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set('x-request-id', c.get('requestId'));
  }
  console.log(
    JSON.stringify({
      level: c.res.status >= 500 ? 'error' : 'info',
      requestId: c.get('requestId'),
      keyId: c.get('apiKey')?.id ?? null,
      method: c.req.method,
      route: routePath(c, -1),
      status: c.res.status,
      ms: Date.now() - started,
      modelVersion: c.get('modelVersion') ?? null,
    }),
  );
});
