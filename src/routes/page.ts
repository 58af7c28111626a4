import { Hono } from 'hono';
import { NONCE, secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../env';
import page from '../web/index.html';

// The page's one inline script runs by a per-response nonce, so no other script can (no 'unsafe-inline').
const SCRIPT_TAG = '<script type="module">';
if (page.split(SCRIPT_TAG).length !== 2) throw new Error(`src/web/index.html must hold exactly one ${SCRIPT_TAG}`);

/** `GET /`: the single-page client (inline CSS and JS, no external resources, works offline). */
export const home = new Hono<AppEnv>().get(
  '/',
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: [NONCE],
      styleSrc: ["'unsafe-inline'"],
      imgSrc: ["'self'", 'blob:', 'data:'],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  }),
  (c) => c.html(page.replace(SCRIPT_TAG, `<script type="module" nonce="${c.get('secureHeadersNonce')}">`)),
);
