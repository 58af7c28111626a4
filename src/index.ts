/**
 * The Worker: routes, and the mapping of every failure to application/problem+json.
 * Request bodies and pixels are never logged or stored.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Env } from './env';
import { problemResponse } from './http/problem';
import { classify } from './routes/classify';
import { explain } from './routes/explain';
import { health, model } from './routes/model';
import { home } from './routes/page';

const app = new Hono<{ Bindings: Env }>();

app.route('/', home);
app.route('/', health);
app.route('/v1/model', model);
app.route('/v1/classify', classify);
app.route('/v1/explain', explain);

// Known paths answer 405 (with Allow) rather than 404 for a wrong method.
const ALLOWED: Record<string, string> = {
  '/': 'GET, HEAD',
  '/healthz': 'GET, HEAD',
  '/readyz': 'GET, HEAD',
  '/v1/model': 'GET, HEAD',
  '/v1/classify': 'POST',
  '/v1/explain': 'POST',
};
for (const [path, allow] of Object.entries(ALLOWED)) {
  app.all(path, (c) =>
    problemResponse('method_not_allowed', `${c.req.method} is not allowed on ${path}; use ${allow}.`, { allow }),
  );
}

app.notFound((c) => problemResponse('not_found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`));

app.onError((error) => {
  if (error instanceof HTTPException) return error.getResponse();
  // Log the error class and message only: never the request body or pixels.
  console.error(JSON.stringify({ level: 'error', error: error.name, message: error.message.slice(0, 200) }));
  return problemResponse('internal_error', 'An unexpected error occurred.');
});

export default app;
