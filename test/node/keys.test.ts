/**
 * `npm run keys` against a local KV store (what `wrangler dev --persist-to` reads): create shows the key
 * once and stores only its hash; list shows records; revoke marks one revoked.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashApiKey, type ApiKeyRecord } from '../../src/auth/api-keys';

const ROOT = new URL('../../', import.meta.url).pathname;
const persist = mkdtempSync(join(tmpdir(), 'cxr-keys-'));
const keys = (...args: string[]) => spawnSync('npx', ['tsx', join(ROOT, 'scripts/keys.ts'), ...args, '--persist-to', persist], { cwd: ROOT, encoding: 'utf8' });

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? allFiles(join(dir, name)) : [join(dir, name)]));
}

describe('npm run keys', () => {
  it('creates, lists and revokes keys, storing only the SHA-256 of each', async () => {
    const created = keys('create', '--name', 'Clinic A', '--quota', '250', '--json');
    expect(created.status, created.stderr).toBe(0);
    const { key, id, sha256 } = JSON.parse(created.stdout.trim().split('\n').pop()!) as ApiKeyRecord & { key: string };
    expect(key).toMatch(/^cxr_[A-Za-z0-9_-]{43}$/); // 32 random bytes
    expect(sha256).toBe(await hashApiKey(key));
    const human = keys('create', '--name', 'Clinic B');
    expect(human.stdout).toMatch(/shown once/);

    const listed = JSON.parse(keys('list', '--json').stdout) as ApiKeyRecord[];
    expect(listed.map((r) => r.name).sort()).toEqual(['Clinic A', 'Clinic B']);
    expect(listed.find((r) => r.id === id)).toMatchObject({ quota: 250, revoked: false });

    // The secret itself is nowhere in the store.
    const stored = allFiles(persist).map((f) => readFileSync(f).toString('latin1')).join('\n');
    expect(stored).toContain(sha256);
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(4, 24));

    expect(keys('revoke', id).status).toBe(0);
    expect((JSON.parse(keys('list', '--json').stdout) as ApiKeyRecord[]).find((r) => r.id === id)?.revoked).toBe(true);
    expect(keys('revoke', 'key_000000000000').status).toBe(1);
    expect(keys('create').status).toBe(2);
  }, 120_000);
});
