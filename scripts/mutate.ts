/**
 * `npm run mutate [-- --shared ../shared] [-- --group GROUP [--only PATTERN]...]`: mutation testing (Stryker,
 * stryker.config.json) of src/image, src/preprocess, src/auth, src/metering and src/http, each group of folders
 * against the Node tests that exercise it (vitest.mutate.config.ts), then docs/mutation-report.md: the score per
 * folder and every surviving mutant. `--report-only` re-renders the report from the last results. `--only` narrows a
 * group's run to some of its files (Stryker patterns, e.g. `src/image/dicom/codecs/rle.ts` or
 * `src/image/jpeg/decoder.ts:198-300`): that run's results replace those files' results only (a line range
 * replaces its whole file's), and the group's other files keep theirs.
 *
 * Not part of `npm test`: instrumented code runs many times slower than the original. After each group's run its
 * results are folded into docs/mutation-results.json (committed: per file, counts and survivors), which the report
 * is rendered from, so a group or a file can be re-measured alone on a new machine. Survivors shown to be
 * equivalent are explained one by one in docs/mutation-equivalents.json (written by hand) and listed apart in the
 * report. On the same machine Stryker also keeps reports/mutation/<group>.incremental.json (git-ignored), so a later
 * run re-tests only the mutants whose
 * code or tests changed. Stryker runs the tests in a sandbox copy of the repository, where `../shared` does not resolve: the
 * real-X-ray tests get it from CXR5_DIR, and the Python-backed tests the training venv from CXR_EXPORT_VENV.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { MUTATION_GROUPS } from '../vitest.mutate.config';
import { renderMutationReport } from './lib/mutation-report';
import { mergeRun, readEquivalents, readResults, sha256, writeResults, type MutationResults, type StrykerReport } from './lib/mutation-results';

const ROOT = new URL('../', import.meta.url).pathname;
const REPORTS = resolve(ROOT, 'reports/mutation');
const RESULTS = resolve(ROOT, 'docs/mutation-results.json');
const EQUIVALENTS = resolve(ROOT, 'docs/mutation-equivalents.json');
type Group = keyof typeof MUTATION_GROUPS;

function option(args: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = args.indexOf(name); i >= 0; i = args.indexOf(name)) values.push(...args.splice(i, 2).slice(1));
  return values;
}

function runGroup(group: Group, shared: string, only: string[]): number {
  const base = JSON.parse(readFileSync(resolve(ROOT, 'stryker.config.json'), 'utf8')) as Record<string, unknown>;
  const config = {
    ...base,
    mutate: only.length ? only : MUTATION_GROUPS[group].mutate,
    incrementalFile: `reports/mutation/${group}.incremental.json`,
    jsonReporter: { fileName: `reports/mutation/${group}.json` },
    htmlReporter: { fileName: `reports/mutation/${group}.html` },
  };
  const configFile = resolve(REPORTS, `${group}.stryker.config.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const env: NodeJS.ProcessEnv = { ...process.env, MUTATE_GROUP: group, CXR_EXPORT_VENV: process.env.CXR_EXPORT_VENV ?? resolve(ROOT, 'scripts/export/.venv') };
  if (existsSync(`${shared}/data/cxr5`)) env.CXR5_DIR = `${shared}/data/cxr5/`;
  else console.warn(`No ${shared}/data/cxr5: the tests that read real X-rays run on generated images only.`);
  console.log(`\n== ${group}: ${config.mutate.join(', ')} against ${MUTATION_GROUPS[group].tests.join(', ')}`);
  return spawnSync('npx', ['stryker', 'run', configFile], { cwd: ROOT, env, stdio: 'inherit' }).status ?? 1;
}

/** Stryker's file patterns (`*`, `**`, `{a,b}`, an optional `:lines` suffix) as a test on repository paths. */
function patternTest(pattern: string): (path: string) => boolean {
  const glob = pattern.replace(/:\d+-\d+$/, '');
  const source = glob
    .replace(/[.+^$()|[\]\\]/g, '\\$&')
    .replace(/\{([^}]*)\}/g, (_, alternatives: string) => `(${alternatives.split(',').join('|')})`)
    .replace(/\*\*\//g, '\u0000')
    .replace(/\*/g, '[^/]*')
    .replace(/\u0000/g, '(.*/)?');
  const regex = new RegExp(`^${source}$`);
  return (path) => regex.test(path);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.ts$/.test(e.name) ? [relative(ROOT, join(dir, e.name))] : []));
}

/** Whether `file` is mutated by `group` (one of its patterns matches it). */
function inGroup(group: Group, file: string): boolean {
  return MUTATION_GROUPS[group].mutate.some((pattern) => patternTest(pattern)(file));
}

/**
 * The patterns of a group's `mutate` with no committed results: all of them when the group never ran, else the files
 * it lacks (a run narrowed with --only, or a file moved into the group since).
 */
function unmeasured(results: MutationResults, group: Group): string[] {
  const measured = new Set(Object.keys(results[group] ?? {}));
  const files = sourceFiles(resolve(ROOT, 'src'));
  return MUTATION_GROUPS[group].mutate.flatMap((pattern) => {
    const test = patternTest(pattern);
    const left = files.filter((f) => test(f) && !measured.has(f));
    const ranged = /:\d+-\d+$/.test(pattern);
    return left.map((f) => (ranged ? `${f}${pattern.match(/:\d+-\d+$/)![0]}` : f));
  });
}

/** The files of a group whose source is not what their committed results were measured on. */
function changedSince(results: MutationResults, group: Group): string[] {
  return Object.entries(results[group] ?? {}).flatMap(([file, r]) => {
    const path = resolve(ROOT, file);
    return existsSync(path) && sha256(readFileSync(path, 'utf8')) === r.sha256 ? [] : [file];
  });
}

function main(): number {
  const args = process.argv.slice(2);
  const shared = resolve(option(args, '--shared')[0] ?? resolve(ROOT, '../shared'));
  const asked = option(args, '--group') as Group[];
  const groups = asked.length ? asked : (Object.keys(MUTATION_GROUPS) as Group[]);
  for (const g of groups) if (!(g in MUTATION_GROUPS)) throw new Error(`Unknown group ${g}; the groups: ${Object.keys(MUTATION_GROUPS).join(', ')}`);
  mkdirSync(REPORTS, { recursive: true });
  let results = readResults(RESULTS);
  if (!args.includes('--report-only')) {
    const only = option(args, '--only');
    for (const group of groups) {
      const status = runGroup(group, shared, only);
      if (status !== 0) return status;
      // Folded into the committed results at once, so a later group's failure keeps this one's.
      const report = JSON.parse(readFileSync(resolve(REPORTS, `${group}.json`), 'utf8')) as StrykerReport;
      results = mergeRun(results, group, report, new Date().toISOString().slice(0, 10), (file) => inGroup(group, file));
      writeResults(RESULTS, results);
    }
  }
  const all = Object.keys(MUTATION_GROUPS) as Group[];
  const missing = all.map((group) => ({ group, mutate: unmeasured(results, group) })).filter((m) => m.mutate.length > 0);
  const changed = all.map((group) => ({ group, files: changedSince(results, group) })).filter((c) => c.files.length > 0);
  console.log(`Wrote ${renderMutationReport(results, resolve(ROOT, 'docs/mutation-report.md'), missing, changed, readEquivalents(EQUIVALENTS))}`);
  return 0;
}

process.exit(main());
