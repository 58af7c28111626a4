/**
 * The source-held-out split: whole (source, class) groups that never enter training, so that the
 * figures say how the model does at a hospital it has never seen. One set chooses the model (early
 * stopping, calibration, prediction-set thresholds); a second one is touched only for the final figures.
 */

/** A (source, class) group: every image of one class from one source. */
export interface SourceGroup {
  key: string;
  source: string;
  /** The manifest's class text; a partial label (`A|B`) is never held out (see chooseHoldout). */
  className: string;
  size: number;
}

export interface HoldoutChoice {
  /** Group keys whose images all go to the unseen-source validation set. */
  val: string[];
  /** Group keys whose images all go to the unseen-source test set. */
  test: string[];
  /** Group keys split by unit between the two (a class with a single source to spare). */
  shared: string[];
  /** Why each class got what it got, for the log and the model card. */
  reasons: Record<string, string>;
}

/** The key of a (source, class) group. */
export function groupKey(source: string, className: string): string {
  return `${source} :: ${className}`;
}

/** The source of a group key (sources may contain "/", classes never contain " :: "). */
export function groupSource(key: string): string {
  return key.slice(0, key.lastIndexOf(' :: '));
}

/**
 * After `--final`, the validation groups whose source also has images in training (the joined test groups, and the
 * test halves of groups split by unit): their figures no longer describe an unseen source. None under the one-role
 * rule; a model trained before it can have some. A split group's own validation half is not among them: finalSplit
 * moves it to the seen-source validation split. The card records the list (`training.holdout.val_sharing_training`),
 * which its Markdown (report.py) and the README section (readme-model.ts) read.
 */
export function valGroupsSharingTraining(choice: Pick<HoldoutChoice, 'val' | 'test' | 'shared'>, final: boolean): string[] {
  if (!final) return [];
  const joined = new Set([...choice.test, ...choice.shared].map(groupSource));
  return choice.val.filter((key) => joined.has(groupSource(key)));
}

/** Groups smaller than this say little about a source and are left in training. */
export const MIN_HELD_OUT_GROUP = 30;

/**
 * Chooses held-out groups per class: the class's largest source always stays in training (the model
 * must learn the class somewhere); of the others with at least `minGroup` images, the largest goes
 * to the test set and the next to validation. A class with only one such source shares it, by unit,
 * between the two: still a source the model never saw. Partial labels stay in training: they are the only
 * adult pneumonias, and there is no accuracy to measure on them.
 *
 * A source plays one role only: once any of its groups is a test group, none of its groups is validation, and
 * the other way round (a source shared by unit is taken by that). `--final` puts the test groups back into
 * training, and the validation groups must still be sources it has never seen, or the temperature, the
 * operating points and the prediction sets are tuned on a hospital the model knows.
 */
export function chooseHoldout(groups: SourceGroup[], minGroup = MIN_HELD_OUT_GROUP): HoldoutChoice {
  const choice: HoldoutChoice = { val: [], test: [], shared: [], reasons: {} };
  const role = new Map<string, 'val' | 'test' | 'shared'>();
  const free = (group: SourceGroup | undefined, as: 'val' | 'test') => group !== undefined && (role.get(group.source) ?? as) === as;
  const byClass = new Map<string, SourceGroup[]>();
  for (const group of groups) {
    if (group.className.includes('|')) continue;
    byClass.set(group.className, [...(byClass.get(group.className) ?? []), group]);
  }
  for (const [className, list] of [...byClass].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sorted = [...list].sort((a, b) => b.size - a.size || (a.source < b.source ? -1 : 1));
    const candidates = sorted.slice(1).filter((g) => g.size >= minGroup);
    const kept = `training keeps ${sorted[0].source} (${sorted[0].size})`;
    if (candidates.length === 0) {
      choice.reasons[className] = `no unseen source: ${sorted.length} source(s), none but the largest with ${minGroup}+ images`;
      continue;
    }
    if (candidates.length === 1 && !role.has(candidates[0].source)) {
      role.set(candidates[0].source, 'shared');
      choice.shared.push(candidates[0].key);
      choice.reasons[className] = `only one source to spare: ${candidates[0].source} (${candidates[0].size}) split by unit between validation and test; ${kept}`;
      continue;
    }
    const test = candidates.find((g) => free(g, 'test'));
    const val = candidates.find((g) => g !== test && free(g, 'val'));
    const named = (g: SourceGroup | undefined) => (g ? `${g.source} (${g.size})` : 'none (its other sources have a role elsewhere)');
    for (const [g, as] of [[test, 'test'], [val, 'val']] as const) {
      if (!g) continue;
      role.set(g.source, as);
      choice[as].push(g.key);
    }
    choice.reasons[className] = `test: ${named(test)}, validation: ${named(val)}; ${kept}`;
  }
  return choice;
}

/**
 * The split of a `--final` run, from the recipe's: the unseen-source test images join training (their figures come
 * from the recipe run). A source shared by unit between the two unseen sets then has its test half in training, so
 * its validation half is no longer a source the model has never seen: it becomes ordinary validation, and the
 * unseen-source validation that chooses the epoch and calibrates keeps only sources never trained on.
 * @param sides per row, its side: train, val, test, unseen_val or unseen_test
 * @param inSharedGroup whether a row's (source, class) group is one of HoldoutChoice.shared
 */
export function finalSplit(sides: readonly string[], inSharedGroup: (row: number) => boolean): string[] {
  return sides.map((side, row) => (side === 'unseen_test' ? 'train' : side === 'unseen_val' && inSharedGroup(row) ? 'val' : side));
}

/**
 * Parses an explicit `--holdout`: `val=GROUPS/test=GROUPS[/shared=GROUPS]`, each GROUPS a `;`-separated list of
 * `source :: class` (see parseGroupList). `shared` groups are split by unit between validation and test, as
 * chooseHoldout does for a class with one source to spare. The one-role rule of chooseHoldout holds here too: a
 * source named in two roles is refused, since `--final` would then train on a source that validation calls unseen.
 */
export function parseHoldout(text: string): HoldoutChoice {
  const choice: HoldoutChoice = { val: [], test: [], shared: [], reasons: {} };
  // Sources are "owner/repo", so a "/" separates roles only where a role name and "=" follow it.
  const starts = [...text.matchAll(/(?:^|\/)\s*(val|test|shared)\s*=/g)];
  if (starts.length === 0 || starts[0].index !== 0) throw new Error(`"${text.trim()}" does not start with "val=", "test=" or "shared="`);
  starts.forEach((start, n) => {
    const end = n + 1 < starts.length ? starts[n + 1].index : text.length;
    choice[start[1] as 'val' | 'test' | 'shared'].push(...parseGroupList(text.slice(start.index + start[0].length, end)));
  });
  const roleOf = new Map<string, string>();
  for (const role of ['val', 'test', 'shared'] as const) {
    for (const key of choice[role]) {
      const source = groupSource(key);
      const before = roleOf.get(source);
      if (before !== undefined && before !== role) throw new Error(`source "${source}" is named for both ${before} and ${role}: a source plays one role`);
      roleOf.set(source, role);
    }
  }
  choice.reasons.all = 'chosen with --holdout';
  return choice;
}

/** Parses `--holdout` values of the form `source :: class` (or `source::class`), several separated by `;`. */
export function parseGroupList(text: string): string[] {
  return text
    .split(';')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const at = part.lastIndexOf('::');
      if (at < 0) throw new Error(`"${part}" is not "source :: class"`);
      return groupKey(part.slice(0, at).trim(), part.slice(at + 2).trim());
    });
}
