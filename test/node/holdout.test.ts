import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDatasets } from '../../scripts/export/dataset';
import { chooseHoldout, finalSplit, groupKey, groupSource, parseGroupList, parseHoldout, valGroupsSharingTraining, type SourceGroup } from '../../scripts/export/holdout';
import { writeSourcedDataset, writeSyntheticDataset } from '../helpers/synthetic';

const group = (source: string, className: string, size: number): SourceGroup => ({ key: groupKey(source, className), source, className, size });

describe('source-held-out split', () => {
  it('keeps each class’s largest source in training, tests on the next largest and validates on the one after', () => {
    const choice = chooseHoldout([
      group('big', 'COVID', 2000), group('mid', 'COVID', 900), group('small', 'COVID', 400), group('tiny', 'COVID', 6),
      group('big', 'Normal', 5000), group('other', 'Normal', 300),
      group('only', 'Tuberculosis', 1000),
      group('adults', 'Bacterial Pneumonia|Viral Pneumonia', 350),
    ]);
    expect(choice.test).toEqual([groupKey('mid', 'COVID')]);
    expect(choice.val).toEqual([groupKey('small', 'COVID')]);
    // One source to spare: shared by unit between validation and test.
    expect(choice.shared).toEqual([groupKey('other', 'Normal')]);
    // A single source, and a partial label, are never held out.
    expect(choice.reasons.Tuberculosis).toMatch(/no unseen source/);
    expect([...choice.val, ...choice.test, ...choice.shared].some((k) => k.includes('|'))).toBe(false);
  });

  it('gives each source one role, so that --final (test groups back in training) leaves validation unseen', () => {
    const choice = chooseHoldout([
      group('big', 'A', 3000), group('s1', 'A', 500), group('s2', 'A', 400),
      group('big', 'B', 3000), group('s2', 'B', 600), group('s1', 'B', 300), group('s3', 'B', 200),
      group('big', 'C', 3000), group('s1', 'C', 90),
      group('big', 'D', 3000), group('s2', 'D', 80),
      group('big', 'E', 3000), group('s4', 'E', 700),
      group('big', 'F', 3000), group('s4', 'F', 70), group('s2', 'F', 50),
    ]);
    // A: s1 tests, s2 validates. B: its largest spare source, s2, is a validation source by then, so s1 tests
    // and s2 validates. C and D have one spare source each, already given a role: it keeps that role.
    expect(choice.test).toEqual(['A', 'B', 'C'].map((c) => groupKey('s1', c)));
    expect(choice.val).toEqual([groupKey('s2', 'A'), groupKey('s2', 'B'), groupKey('s2', 'D'), groupKey('s2', 'F')]);
    // E's only spare source is shared by unit, and so not available to F, which gets no test source.
    expect(choice.shared).toEqual([groupKey('s4', 'E')]);
    expect(choice.reasons.F).toMatch(/^test: none .*validation: s2 \(50\)/);
    const sourceOf = (key: string) => key.split(' :: ')[0];
    const testSources = new Set(choice.test.map(sourceOf));
    expect(choice.val.map(sourceOf).filter((s) => testSources.has(s))).toEqual([]);
  });

  it('--final: test images join training, and a shared source\'s validation half becomes seen validation', () => {
    const sides = ['train', 'val', 'test', 'unseen_val', 'unseen_test', 'unseen_val', 'unseen_test'];
    // Rows 5 and 6 are the two halves of a source shared by unit; row 3 is a validation-only source.
    expect(finalSplit(sides, (row) => row >= 5)).toEqual(['train', 'val', 'test', 'unseen_val', 'train', 'val', 'train']);
  });

  it('--final: names the validation groups whose source then has images in training (a split made before the one-role rule)', () => {
    // org/a's normals validate while its pneumonias are a test group; org/b's tuberculosis is split by unit.
    const choice = {
      val: ['org/a :: Normal', 'org/b :: Normal', 'org/c :: COVID'],
      test: ['org/a :: Pneumonia', 'org/d :: COVID'],
      shared: ['org/b :: Tuberculosis'],
    };
    expect(valGroupsSharingTraining(choice, true)).toEqual(['org/a :: Normal', 'org/b :: Normal']);
    expect(valGroupsSharingTraining(choice, false)).toEqual([]); // nothing joins training without --final
    // Under the one-role rule (every split chooseHoldout and parseHoldout make) there are none.
    expect(valGroupsSharingTraining(parseHoldout('val=org/c :: COVID/test=org/a :: Pneumonia/shared=org/b :: Tuberculosis'), true)).toEqual([]);
  });

  it('ignores sources below the minimum size', () => {
    const choice = chooseHoldout([group('a', 'X', 100), group('b', 'X', 20), group('c', 'X', 25)], 30);
    expect([...choice.val, ...choice.test, ...choice.shared]).toEqual([]);
    expect(chooseHoldout([group('a', 'X', 100), group('b', 'X', 20), group('c', 'X', 25)], 10).test).toEqual([groupKey('c', 'X')]);
  });

  it('parses explicit group lists and rejects malformed ones', () => {
    expect(parseGroupList('org/repo :: COVID; other::Normal')).toEqual([groupKey('org/repo', 'COVID'), groupKey('other', 'Normal')]);
    expect(() => parseGroupList('no separator')).toThrow(/source :: class/);
  });

  it('reads an explicit --holdout with validation, test and shared groups, and refuses a source in two roles', () => {
    const choice = parseHoldout('val=a/b :: Normal; a/b::COVID / test=c :: Normal / shared=d :: Tuberculosis');
    expect(choice.val).toEqual([groupKey('a/b', 'Normal'), groupKey('a/b', 'COVID')]);
    expect(choice.test).toEqual([groupKey('c', 'Normal')]);
    expect(choice.shared).toEqual([groupKey('d', 'Tuberculosis')]);
    expect(choice.val.map(groupSource)).toEqual(['a/b', 'a/b']);
    expect(parseHoldout('test=c :: Normal').val).toEqual([]);
    expect(() => parseHoldout('val=a :: Normal/test=a :: COVID')).toThrow(/"a" is named for both val and test/);
    expect(() => parseHoldout('test=a :: Normal/shared=a :: COVID')).toThrow(/one role/);
    expect(() => parseHoldout('train=a :: Normal')).toThrow(/does not start with "val="/);
  });
});

describe('several data folders', () => {
  it('takes the union of classes, keeps partial labels as label sets, and never lets unit names collide', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-folders-'));
    const a = writeSyntheticDataset(join(dir, 'a'), ['COVID', 'Normal'], 2);
    const b = writeSourcedDataset(join(dir, 'b'), ['Bacterial Pneumonia', 'COVID', 'Normal', 'Viral Pneumonia'], [
      { className: 'Bacterial Pneumonia', source: 'h1', count: 2 },
      { className: 'Viral Pneumonia', source: 'h1', count: 2 },
      { className: 'Bacterial Pneumonia|Viral Pneumonia', source: 'h2', count: 2 },
    ]);
    const data = loadDatasets([{ root: a.root, manifest: a.manifest }, { root: b.root, manifest: b.manifest }]);
    expect(data.classes).toEqual(['Bacterial Pneumonia', 'COVID', 'Normal', 'Viral Pneumonia']);
    expect(data.labelSets.slice(-2)).toEqual([[0, 3], [0, 3]]);
    expect(data.sources.slice(0, 1)).toEqual(['a']);
    expect(data.sources.slice(-1)).toEqual(['h2']);
    expect(new Set(data.groups).size).toBe(new Set(data.groups.map((g, i) => `${data.folder[i]}|${g}`)).size);
    expect(data.groups.every((g) => /^[01]:/.test(g))).toBe(true);
    expect(data.files.every((f) => f.startsWith(dir))).toBe(true);
  });
});
