/**
 * The committed mutation results (scripts/lib/mutation-results.ts) and the report rendered from them: a run of one
 * file must keep the other files' results, a stopped run must not be merged, and the report must add the files up.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMutationReport } from '../../scripts/lib/mutation-report';
import { mergeRun, readResults, sha256, summariseReport, writeResults, type ExplainedEquivalent, type StrykerMutant, type StrykerReport } from '../../scripts/lib/mutation-results';

const at = (line: number, column = 1) => ({ start: { line, column } });
const mutant = (status: StrykerMutant['status'], line: number, extra: Partial<StrykerMutant> = {}): StrykerMutant => ({ mutatorName: 'EqualityOperator', replacement: 'a <= b', status, location: at(line), ...extra });

const A = 'const a = 1;\nif (a < b) run();\nexport {};\n';
const B = 'export const b = 2;\n';
const firstRun: StrykerReport = {
  files: {
    'src/auth/a.ts': {
      source: A,
      mutants: [
        mutant('Killed', 2),
        mutant('Timeout', 2),
        mutant('Survived', 2, { mutatorName: 'ConditionalExpression', replacement: 'true' }),
        mutant('NoCoverage', 3, { replacement: '{}' }),
        mutant('Ignored', 1, { statusReason: 'Static mutant (and "ignoreStatic" was enabled)' }),
        mutant('Ignored', 2, { statusReason: 'a shortcut' }),
        mutant('Ignored', 2, { statusReason: 'a shortcut' }),
        mutant('CompileError', 1),
      ],
    },
    'src/http/b.ts': { source: B, mutants: [mutant('Killed', 1), mutant('Killed', 1)] },
  },
};

describe('mutation results', () => {
  it('counts each status per file and keeps each survivor with its line as it was', () => {
    const a = summariseReport(firstRun, '2026-12-01')['src/auth/a.ts'];
    expect(a).toMatchObject({ measured: '2026-12-01', sha256: sha256(A), killed: 1, timeout: 1, survived: 1, noCoverage: 1, ignoredStatic: 1, errors: 1, disabled: { 'a shortcut': 2 } });
    expect(a.survivors).toEqual([
      { line: 2, column: 1, status: 'survived', mutator: 'ConditionalExpression', original: 'if (a < b) run();', replacement: 'true' },
      { line: 3, column: 1, status: 'not covered', mutator: 'EqualityOperator', original: 'export {};', replacement: '{}' },
    ]);
  });

  it('replaces only the files a run measured, and drops files that left the group', () => {
    const first = mergeRun({}, 'service', firstRun, '2026-12-01', () => true);
    const onlyB: StrykerReport = { files: { 'src/http/b.ts': { source: B, mutants: [mutant('Survived', 1)] } } };
    const second = mergeRun(first, 'service', onlyB, '2026-12-02', () => true);
    expect(second.service['src/auth/a.ts']).toEqual(first.service['src/auth/a.ts']);
    expect(second.service['src/http/b.ts']).toMatchObject({ measured: '2026-12-02', killed: 0, survived: 1 });
    const moved = mergeRun(second, 'service', onlyB, '2026-12-02', (file) => file !== 'src/auth/a.ts');
    expect(Object.keys(moved.service)).toEqual(['src/http/b.ts']);
    // Another group's results are untouched.
    expect(mergeRun(first, 'preprocess', onlyB, '2026-12-02', () => true).service).toBe(first.service);
  });

  it('refuses a report with untested mutants (a stopped run) and merges nothing', () => {
    const stopped: StrykerReport = { files: { 'src/http/b.ts': { source: B, mutants: [mutant('Killed', 1), mutant('Pending', 1)] } } };
    const results = mergeRun({}, 'service', firstRun, '2026-12-01', () => true);
    expect(() => mergeRun(results, 'service', stopped, '2026-12-02', () => true)).toThrow(/Pending/);
    expect(results.service['src/http/b.ts'].killed).toBe(2);
  });

  it('writes and reads back the same results, and the report adds the files of a folder up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mutation-results-'));
    const results = mergeRun({}, 'service', firstRun, '2026-12-01', () => true);
    writeResults(join(dir, 'results.json'), results);
    expect(readResults(join(dir, 'results.json'))).toEqual(results);
    expect(readResults(join(dir, 'absent.json'))).toEqual({});

    const out = renderMutationReport(results, join(dir, 'report.md'), [{ group: 'image-formats', mutate: ['src/image/x.ts'] }], [{ group: 'service', files: ['src/http/b.ts'] }]);
    const md = readFileSync(out, 'utf8');
    expect(md).toContain('measured on 2026-12-01');
    // src/auth: 1 killed + 1 timeout of 4 scored (the ignored and the error are outside the score): 50 %, under 80.
    expect(md).toMatch(/\| src\/auth \| 8 \| 1 \| 1 \| 1 \| 1 \| \*\*50\.0 %\*\* \| \*\*no\*\* \| 1 \| 2 \|/);
    expect(md).toMatch(/\| src\/http \| 2 \| 2 \| 0 \| 0 \| 0 \| \*\*100\.0 %\*\* \| yes \| 0 \| 0 \|/);
    expect(md).toMatch(/\| src\/image \| not run \|/);
    expect(md).toContain('- `image-formats`: `src/image/x.ts`');
    expect(md).toContain('- `service`: `src/http/b.ts`');
    expect(md).toContain('| src/auth/a.ts | a shortcut | 2 |');
    expect(md).toContain('## Survivors (2)');
    expect(md).toContain('| src/auth/a.ts:2 | survived | ConditionalExpression | `if (a < b) run();` | `true` |');
  });
});

describe('survivors explained as equivalent', () => {
  const twoOnALine: StrykerReport = {
    files: {
      'src/auth/a.ts': {
        source: A,
        mutants: [
          mutant('Survived', 2, { mutatorName: 'ConditionalExpression', replacement: 'true', location: at(2, 4) }),
          mutant('Survived', 2, { mutatorName: 'ConditionalExpression', replacement: 'true', location: at(2, 8) }),
          mutant('Survived', 2, { mutatorName: 'EqualityOperator', replacement: 'a <= b', location: at(2, 4) }),
        ],
      },
    },
  };
  const render = (equivalents: ExplainedEquivalent[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'mutation-equivalents-'));
    return readFileSync(renderMutationReport(mergeRun({}, 'service', twoOnALine, '2026-12-01', () => true), join(dir, 'report.md'), [], [], equivalents), 'utf8');
  };
  const explain = (extra: Partial<ExplainedEquivalent>): ExplainedEquivalent =>
    ({ file: 'src/auth/a.ts', original: 'if (a < b) run();', mutator: 'EqualityOperator', replacement: 'a <= b', reason: 'b is never equal to a', ...extra });

  it('lists an explained survivor apart, with its reason, and leaves the score as Stryker counts it', () => {
    const md = render([explain({})]);
    expect(md).toContain("## Survivors explained: equivalent, or out of a test's reach (1)");
    expect(md).toContain('| src/auth/a.ts:2 | survived | EqualityOperator | `if (a < b) run();` | `a <= b` | b is never equal to a |');
    expect(md).toContain('## Survivors (2)');
    expect(md).toMatch(/\| src\/auth \| 3 \| 0 \| 0 \| 3 \| 0 \| \*\*0\.0 %\*\*/);
    expect(md).not.toContain('match no survivor');
  });

  it('tells same-looking mutants of one line apart by column, and names explanations that match nothing', () => {
    const md = render([explain({ mutator: 'ConditionalExpression', replacement: 'true', column: 8, reason: 'the second is implied' }), explain({ original: 'gone();' })]);
    expect(md).toContain("## Survivors explained: equivalent, or out of a test's reach (1)");
    expect(md).toContain('## Survivors (2)');
    expect(md).toContain('- src/auth/a.ts: `gone();` EqualityOperator `a <= b`');
  });
});

describe('vitest.mutate.config.ts', () => {
  it("splits the JPEG decoder between image-formats and jpeg-pixels just before chooseScale, with no line left out", async () => {
    const { MUTATION_GROUPS } = await import('../../vitest.mutate.config');
    const range = (patterns: readonly string[]) => patterns.find((p) => p.startsWith('src/image/jpeg/decoder.ts:'))!.split(':')[1].split('-').map(Number);
    const [firstStart, firstEnd] = range(MUTATION_GROUPS['image-formats'].mutate);
    const [secondStart] = range(MUTATION_GROUPS['jpeg-pixels'].mutate);
    expect(firstStart).toBe(1);
    expect(secondStart).toBe(firstEnd + 1);
    const lines = readFileSync(new URL('../../src/image/jpeg/decoder.ts', import.meta.url), 'utf8').split('\n');
    expect(lines[secondStart - 1]).toMatch(/^\/\*\* The DCT reduction/);
    expect(lines[secondStart]).toMatch(/^export function chooseScale/);
  });
});
