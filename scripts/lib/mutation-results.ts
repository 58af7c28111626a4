/**
 * The mutation results that outlive a machine: docs/mutation-results.json, committed.
 *
 * Stryker's own reports (reports/mutation/, git-ignored) hold every mutant with the whole source and are lost with
 * the machine, and a full `npm run mutate` takes hours on 2 cores. So after each group's run, scripts/mutate.ts folds
 * that run's report into this file: per group and file, the counts by status, the reasons of the mutants disabled
 * as equivalent, and every survivor with its line as it was. A later run of one group, or of one file
 * (`--only`), replaces only those entries; docs/mutation-report.md is rendered from this file alone. Each entry
 * keeps the sha256 of the source it was measured on, so the report can say which files changed since.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** One mutant of Stryker's JSON report (mutation-testing-report-schema), the fields used here. */
export interface StrykerMutant {
  mutatorName: string;
  replacement?: string;
  status: 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';
  statusReason?: string;
  location: { start: { line: number; column: number } };
}
export interface StrykerReport {
  files: Record<string, { source: string; mutants: StrykerMutant[] }>;
}

export interface Survivor {
  line: number;
  /** Where on the line the mutant starts (Stryker's column, from 1); tells apart same-looking mutants of one line. */
  column?: number;
  status: 'survived' | 'not covered';
  mutator: string;
  /** The source line as it was when measured. */
  original: string;
  replacement: string;
}

/** What one group's run measured on one file. */
export interface FileResult {
  /** YYYY-MM-DD of the run. */
  measured: string;
  /** sha256 of the file's source that run mutated. */
  sha256: string;
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  ignoredStatic: number;
  /** Compile or runtime errors: mutants Stryker could not judge. */
  errors: number;
  /** Mutants disabled in the source as equivalent, by the reason their comment gives. */
  disabled: Record<string, number>;
  survivors: Survivor[];
}

/** Per group of vitest.mutate.config.ts, per repository path. */
export type MutationResults = Record<string, Record<string, FileResult>>;

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The per-file results of one Stryker JSON report, measured on `day` (YYYY-MM-DD). */
export function summariseReport(report: StrykerReport, day: string): Record<string, FileResult> {
  const out: Record<string, FileResult> = {};
  for (const [file, { source, mutants }] of Object.entries(report.files)) {
    const lines = source.split('\n');
    const r: FileResult = { measured: day, sha256: sha256(source), killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignoredStatic: 0, errors: 0, disabled: {}, survivors: [] };
    const ordered = [...mutants].sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column);
    for (const m of ordered) {
      const line = m.location.start.line;
      switch (m.status) {
        case 'Killed':
          r.killed++;
          break;
        case 'Timeout':
          r.timeout++;
          break;
        case 'Survived':
        case 'NoCoverage':
          if (m.status === 'Survived') r.survived++;
          else r.noCoverage++;
          r.survivors.push({
            line, column: m.location.start.column, status: m.status === 'Survived' ? 'survived' : 'not covered', mutator: m.mutatorName,
            original: (lines[line - 1] ?? '').trim(), replacement: m.replacement ?? '',
          });
          break;
        case 'Ignored':
          if ((m.statusReason ?? '').startsWith('Static mutant')) r.ignoredStatic++;
          else {
            const reason = m.statusReason ?? '(no reason given)';
            r.disabled[reason] = (r.disabled[reason] ?? 0) + 1;
          }
          break;
        default:
          // Pending (a run stopped early) is refused by mergeRun; CompileError and RuntimeError are counted here.
          r.errors++;
      }
    }
    out[file] = r;
  }
  return out;
}

/**
 * `results` with one group's run folded in: the files that run measured replace their entries; entries of files the
 * group no longer mutates (`stillInGroup` false: moved or deleted) are dropped; the group's other files keep theirs.
 * Throws on a report with Pending mutants: Stryker writes those when it is stopped, and they were never tested.
 */
export function mergeRun(results: MutationResults, group: string, report: StrykerReport, day: string, stillInGroup: (file: string) => boolean): MutationResults {
  for (const [file, { mutants }] of Object.entries(report.files)) {
    if (mutants.some((m) => m.status === 'Pending')) throw new Error(`${file}: the report has untested (Pending) mutants; was the run stopped? Nothing merged.`);
  }
  const kept = Object.entries(results[group] ?? {}).filter(([file]) => stillInGroup(file));
  return { ...results, [group]: Object.fromEntries([...kept, ...Object.entries(summariseReport(report, day))].sort(([a], [b]) => a.localeCompare(b))) };
}

export function readResults(path: string): MutationResults {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { groups: MutationResults }).groups : {};
}

export function writeResults(path: string, results: MutationResults): void {
  const about = 'Written by npm run mutate (scripts/lib/mutation-results.ts): per group and file, the last run\'s counts, equivalent-mutant reasons and survivors. docs/mutation-report.md is rendered from it.';
  writeFileSync(path, `${JSON.stringify({ about, groups: results }, null, 1)}\n`);
}

/**
 * A surviving mutant shown to be equivalent (or one only an allocation failure Node never has would reach), where a
 * `// Stryker disable` comment cannot say so (it would disable every mutant of that mutator on the line, killed ones
 * too): docs/mutation-equivalents.json, written by hand.
 * It matches survivors by file, source line text, mutator and replacement (and column, when those are not enough).
 */
export interface ExplainedEquivalent {
  file: string;
  original: string;
  mutator: string;
  replacement: string;
  column?: number;
  /** Why no input can tell the mutant from the original (or why no test can reach it). */
  reason: string;
}

export function readEquivalents(path: string): ExplainedEquivalent[] {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { equivalents: ExplainedEquivalent[] }).equivalents : [];
}

/** The explanation that matches survivor `s` of `file`, if any. */
export function explanationOf(file: string, s: Survivor, equivalents: readonly ExplainedEquivalent[]): ExplainedEquivalent | undefined {
  return equivalents.find(
    (e) => e.file === file && e.original === s.original && e.mutator === s.mutator && e.replacement === s.replacement && (e.column === undefined || e.column === s.column),
  );
}
