import { Hono } from 'hono';
import type { AppEnv } from '../env';
import page from '../web/index.html';

/** `GET /`: the single-page client (inline CSS and JS, no external resources, works offline). */
export const home = new Hono<AppEnv>().get('/', (c) =>
  c.html(page, 200, {
    'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:",
  }),
);
