/**
 * The Worker: middleware, routes, and the mapping of every failure to application/problem+json.
 * Request bodies and pixels are never logged or stored.
 *
 * Order on /v1: request id -> access log -> CORS (preflights end here) -> API key -> rate limit ->
 * route (billable routes meter themselves: src/metering/billing.ts).
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { openApi } from './api/openapi';
import { requireApiKey } from './auth/require-api-key';
import type { AppEnv } from './env';
import { accessLog } from './http/access-log';
import { problemResponse } from './http/problem';
import { rateLimit } from './metering/rate-limit';
import { classify } from './routes/classify';
import { explain } from './routes/explain';
import { health, model } from './routes/model';
import { home } from './routes/page';
import { usage } from './routes/usage';

export { UsageMeter } from './metering/usage-meter';

const app = new Hono<AppEnv>();

// CORS_ORIGINS parsed once per distinct value, not on every request.
let corsOrigins = { source: '', allowed: [] as string[] };
function allowedOrigins(source = ''): string[] {
  if (source !== corsOrigins.source) corsOrigins = { source, allowed: source.split(',').map((o) => o.trim()).filter(Boolean) };
  return corsOrigins.allowed;
}

app.use(requestId());
app.use(accessLog);
// nosniff, Referrer-Policy, frame and opener isolation on every response, problems included; the page adds its CSP.
app.use(secureHeaders());
app.use(
  '/v1/*',
  cors({
    origin: (origin, c) => {
      const allowed = allowedOrigins(c.env.CORS_ORIGINS);
      return allowed.includes('*') ? '*' : allowed.includes(origin) ? origin : null;
    },
    allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'Accept', 'X-Request-Id', 'X-FHIR-Subject'],
    exposeHeaders: ['X-Request-Id', 'Retry-After', 'WWW-Authenticate', 'X-DICOM-Frame'],
    maxAge: 600,
  }),
);
app.use('/v1/*', requireApiKey);
app.use('/v1/*', rateLimit);

app.route('/', home);
app.route('/', health);
app.route('/', openApi);
app.route('/v1/model', model);
app.route('/v1/classify', classify);
app.route('/v1/explain', explain);
app.route('/v1/usage', usage);

// Known paths answer 405 (with Allow) rather than 404 for a wrong method.
const ALLOWED: Record<string, string> = {
  '/': 'GET, HEAD',
  '/healthz': 'GET, HEAD',
  '/readyz': 'GET, HEAD',
  '/openapi.json': 'GET, HEAD',
  '/docs': 'GET, HEAD',
  '/v1/model': 'GET, HEAD',
  '/v1/usage': 'GET, HEAD',
  '/v1/classify': 'POST',
  '/v1/explain': 'POST',
};
for (const [path, allow] of Object.entries(ALLOWED)) {
  app.all(path, (c) =>
    problemResponse('method_not_allowed', `${c.req.method} is not allowed on ${path}; use ${allow}.`, { allow }),
  );
}

app.notFound((c) => problemResponse('not_found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`));

app.onError((error, c) => {
  if (error instanceof HTTPException) return error.getResponse();
  const id = c.get('requestId');
  // The error class and message only: never the request body or pixels, never a stack trace to the client.
  console.error(JSON.stringify({ level: 'error', requestId: id, error: error.name, message: error.message.slice(0, 200) }));
  return problemResponse('internal_error', `An unexpected error occurred; quote request id ${id} when reporting it.`, {}, { requestId: id });
});

export default app;
