/**
 * `npm run mutate [-- --shared ../shared] [-- --group service|preprocess|image]...`: mutation testing (Stryker,
 * stryker.config.json) of src/image, src/preprocess, src/auth, src/metering and src/http, each group of folders
 * against the Node tests that exercise it (vitest.mutate.config.ts), then docs/mutation-report.md: the score per
 * folder and every surviving mutant. `--report-only` re-renders the report from the last results.
 *
 * Not part of `npm test`: instrumented code runs many times slower than the original. Results are kept per group
 * in reports/mutation/<group>.incremental.json, so a later run re-tests only the mutants whose code or tests
 * changed. Stryker runs the tests in a sandbox copy of the repository, where `../shared` does not resolve: the
 * real-X-ray tests get it from CXR5_DIR, and the Python-backed tests the training venv from CXR_EXPORT_VENV.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MUTATION_GROUPS } from '../vitest.mutate.config';
import { renderMutationReport } from './lib/mutation-report';

const ROOT = new URL('../', import.meta.url).pathname;
const REPORTS = resolve(ROOT, 'reports/mutation');
type Group = keyof typeof MUTATION_GROUPS;

function option(args: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = args.indexOf(name); i >= 0; i = args.indexOf(name)) values.push(...args.splice(i, 2).slice(1));
  return values;
}

function runGroup(group: Group, shared: string): number {
  const base = JSON.parse(readFileSync(resolve(ROOT, 'stryker.config.json'), 'utf8')) as Record<string, unknown>;
  const config = {
    ...base,
    mutate: MUTATION_GROUPS[group].mutate,
    incrementalFile: `reports/mutation/${group}.incremental.json`,
    jsonReporter: { fileName: `reports/mutation/${group}.json` },
    htmlReporter: { fileName: `reports/mutation/${group}.html` },
  };
  const configFile = resolve(REPORTS, `${group}.stryker.config.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const env: NodeJS.ProcessEnv = { ...process.env, MUTATE_GROUP: group, CXR_EXPORT_VENV: process.env.CXR_EXPORT_VENV ?? resolve(ROOT, 'scripts/export/.venv') };
  if (existsSync(`${shared}/data/cxr5`)) env.CXR5_DIR = `${shared}/data/cxr5/`;
  else console.warn(`No ${shared}/data/cxr5: the tests that read real X-rays run on generated images only.`);
  console.log(`\n== ${group}: ${MUTATION_GROUPS[group].mutate.join(', ')} against ${MUTATION_GROUPS[group].tests.join(', ')}`);
  return spawnSync('npx', ['stryker', 'run', configFile], { cwd: ROOT, env, stdio: 'inherit' }).status ?? 1;
}

function main(): number {
  const args = process.argv.slice(2);
  const shared = resolve(option(args, '--shared')[0] ?? resolve(ROOT, '../shared'));
  const asked = option(args, '--group') as Group[];
  const groups = asked.length ? asked : (Object.keys(MUTATION_GROUPS) as Group[]);
  for (const g of groups) if (!(g in MUTATION_GROUPS)) throw new Error(`Unknown group ${g}; the groups: ${Object.keys(MUTATION_GROUPS).join(', ')}`);
  mkdirSync(REPORTS, { recursive: true });
  if (!args.includes('--report-only')) {
    for (const group of groups) {
      const status = runGroup(group, shared);
      if (status !== 0) return status;
    }
  }
  const all = Object.keys(MUTATION_GROUPS) as Group[];
  const results = all.map((g) => resolve(REPORTS, `${g}.json`)).filter((f) => existsSync(f));
  const missing = all.filter((g) => !existsSync(resolve(REPORTS, `${g}.json`))).map((group) => ({ group, mutate: MUTATION_GROUPS[group].mutate }));
  console.log(`Wrote ${renderMutationReport(results, resolve(ROOT, 'docs/mutation-report.md'), missing)}`);
  return 0;
}

process.exit(main());
