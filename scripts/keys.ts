/**
 * npm run keys -- create --name NAME [--quota N] | list | revoke KEY_ID   [--remote] [--persist-to DIR]
 *
 * Manages API keys in the API_KEYS KV namespace through wrangler: the local store that `wrangler dev`
 * and `npm start` read (.wrangler/state, or --persist-to), or with --remote the deployed one. A new key is
 * printed once; only its SHA-256 and the record (src/auth/api-keys.ts) are stored.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { newApiKey, STORE_PREFIX, storeKey, type ApiKeyRecord } from '../src/auth/api-keys';

const DEFAULT_QUOTA = 10_000;

function wrangler(args: string[], where: string[]): string {
  const result = spawnSync('npx', ['wrangler', 'kv', ...args, '--binding', 'API_KEYS', ...where], {
    encoding: 'utf8',
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
  });
  if (result.status !== 0) throw new Error(`wrangler kv ${args[0]} ${args[1]} failed:\n${result.stderr || result.stdout}`);
  return result.stdout;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      name: { type: 'string' },
      quota: { type: 'string', default: String(DEFAULT_QUOTA) },
      remote: { type: 'boolean', default: false },
      'persist-to': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const where = values.remote ? ['--remote'] : ['--local', ...(values['persist-to'] ? ['--persist-to', values['persist-to']] : [])];
  const [command, arg] = positionals;
  const list = (): ApiKeyRecord[] => {
    const rows = JSON.parse(wrangler(['key', 'list', '--prefix', STORE_PREFIX], where)) as { name: string; metadata?: ApiKeyRecord }[];
    return rows.map((row) => row.metadata).filter((m): m is ApiKeyRecord => Boolean(m?.id));
  };
  const put = (record: ApiKeyRecord) => {
    const json = JSON.stringify(record);
    wrangler(['key', 'put', storeKey(record.sha256), json, '--metadata', json], where);
  };

  if (command === 'create') {
    const quota = Number(values.quota);
    if (!values.name || !Number.isSafeInteger(quota) || quota < 0) {
      console.error('usage: npm run keys -- create --name NAME [--quota N]   (N a whole number of requests per month)');
      return 2;
    }
    const { key, record } = await newApiKey(values.name, quota);
    put(record);
    if (values.json) console.log(JSON.stringify({ key, ...record }));
    else console.log(`created ${record.id} "${record.name}", quota ${record.quota}/month\n\n  ${key}\n\nThis key is shown once; store it now. Send it as "Authorization: Bearer <key>".`);
    return 0;
  }
  if (command === 'list') {
    const records = list();
    if (values.json) console.log(JSON.stringify(records));
    else for (const r of records) console.log(`${r.id}  ${r.revoked ? 'REVOKED' : 'active '}  quota ${String(r.quota).padStart(8)}  ${r.created}  ${r.name}`);
    return 0;
  }
  if (command === 'revoke' && arg) {
    const record = list().find((r) => r.id === arg);
    if (!record) {
      console.error(`no key with id ${arg}`);
      return 1;
    }
    put({ ...record, revoked: true });
    console.log(`revoked ${record.id} "${record.name}"`);
    return 0;
  }
  console.error('usage: npm run keys -- create --name NAME [--quota N] | list | revoke KEY_ID   [--remote] [--persist-to DIR] [--json]');
  return 2;
}

main().then((code) => process.exit(code), (error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
