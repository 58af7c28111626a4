/**
 * `Authorization: Bearer <key>` on /v1 routes: 401 unauthorized (with WWW-Authenticate) for a missing
 * or unknown key, 403 forbidden for a revoked one. Sets `apiKey` on the context.
 * With AUTH=off every request passes as anonymous, and the isolate says so once in its log.
 * Failed authentications are limited per client address (src/auth/address-limit.ts).
 */
import { createMiddleware } from 'hono/factory';
import { authRequired, type AppEnv } from '../env';
import { problem } from '../http/problem';
import { chargeFailure, clientAddress, refuseBlockedAddress } from './address-limit';
import { findApiKey } from './api-keys';

const REALM = 'Bearer realm="cxr-edge"';
let warnedOpen = false;

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  if (!authRequired(c.env)) {
    if (!warnedOpen) {
      warnedOpen = true;
      console.warn(JSON.stringify({ level: 'warn', message: 'AUTH is off: every /v1 route is open to anyone who can reach it, and nothing is metered. For local trials only.' }));
    }
    c.set('apiKey', null);
    return next();
  }
  // An address that has spent its budget of failed authentications is refused before any KV read.
  const address = clientAddress(c.req.raw);
  refuseBlockedAddress(c.env, address);
  // Header values arrive trimmed (Fetch normalises them), so nothing may follow the key.
  // Stryker disable next-line StringLiteral: any default that is not a Bearer credential gives the same 401
  const match = /^Bearer +(\S+)$/i.exec(c.req.header('authorization') ?? '');
  if (!match) {
    throw await chargeFailure(c.env, address, () =>
      problem('unauthorized', 'Send your API key as "Authorization: Bearer <key>".', { 'www-authenticate': REALM }),
    );
  }
  const record = await findApiKey(c.env.API_KEYS, match[1]);
  if (!record) {
    throw await chargeFailure(c.env, address, () =>
      problem('unauthorized', 'The API key is not valid.', { 'www-authenticate': `${REALM}, error="invalid_token"` }),
    );
  }
  if (record.revoked) throw problem('forbidden', `The API key ${record.id} has been revoked.`);
  c.set('apiKey', record);
  return next();
});
