/**
 * API keys: what a key looks like, how it is stored, how a presented one is checked.
 *
 * A key is `cxr_` + 32 random bytes (base64url, 256 bits), shown once when created. Only its SHA-256 is
 * stored, as the KV key `key:<hex sha256>`, with the record below as both value and list metadata (so
 * `keys list` needs one call). The same functions serve the Worker and `npm run keys`.
 */

/** What the store holds for a key. Never the key itself. */
export interface ApiKeyRecord {
  /** Public identifier (`key_` + 12 hex), safe to log and to show on invoices. */
  id: string;
  name: string;
  /** ISO 8601 creation time. */
  created: string;
  /** Billable requests allowed per calendar month (UTC). */
  quota: number;
  revoked: boolean;
  /** Hex SHA-256 of the key, compared in constant time with the presented key's. */
  sha256: string;
}

// Stryker disable next-line StringLiteral: static (fixed at import, before any test can switch it); the key-format tests pin it
export const KEY_PREFIX = 'cxr_';
export const STORE_PREFIX = 'key:';

const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  // Stryker disable next-line Regex: keys are 32 bytes, whose base64 ends in exactly one '=' and has none elsewhere
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Hex SHA-256 of a presented key. */
export async function hashApiKey(key: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key))));
}

/** The KV key a record is stored under. */
export const storeKey = (sha256: string) => `${STORE_PREFIX}${sha256}`;

/** A new random key and the record to store for it. */
export async function newApiKey(name: string, quota: number, now = new Date()): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = KEY_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(32)));
  const id = 'key_' + toHex(crypto.getRandomValues(new Uint8Array(6)));
  return { key, record: { id, name, created: now.toISOString(), quota, revoked: false, sha256: await hashApiKey(key) } };
}

/**
 * Compares two strings in time that depends only on their lengths, not on where they differ.
 * (workerd has crypto.subtle.timingSafeEqual, Node does not; this one runs in both.)
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  if (x.length !== y.length) return false; // lengths are no secret: stored and presented hashes are 64 hex digits
  let diff = 0;
  // Stryker disable next-line EqualityOperator: one step past the end reads undefined on both sides, and undefined ^ undefined is 0
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/** A syntactically plausible key (anything else is rejected without touching the store). */
export const looksLikeApiKey = (key: string) => key.startsWith(KEY_PREFIX) && /^[A-Za-z0-9_-]{40,100}$/.test(key);

/**
 * Looks a presented key up: its hash is the store key, and the stored hash is compared in constant time
 * as well, so a record can only match the exact key it was made for. Null when unknown.
 */
export async function findApiKey(store: KVNamespace, key: string): Promise<ApiKeyRecord | null> {
  if (!looksLikeApiKey(key)) return null;
  const sha256 = await hashApiKey(key);
  const record = await store.get<ApiKeyRecord>(storeKey(sha256), 'json');
  if (!record || !constantTimeEqual(record.sha256, sha256)) return null; // a non-string hash encodes to something else
  return record;
}

/** Writes a record to the store (value and list metadata), as `npm run keys` does through wrangler. */
export async function saveApiKey(store: KVNamespace, record: ApiKeyRecord): Promise<void> {
  await store.put(storeKey(record.sha256), JSON.stringify(record), { metadata: record });
}
