/**
 * Rewrites the README's "Model" section (between <!-- model-section --> markers) from the shipped
 * model's card, so the figures there are always the measured ones.
 *
 * Usage: npx tsx scripts/export/readme-model.ts [model.card.json] [README.md]
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface PerClass {
  support: number;
  sensitivity: number;
  specificity: number;
}
interface SplitFigures {
  images: number;
  accuracy: number;
  macro_f1: number;
  ece: number;
  per_class: Record<string, PerClass>;
  prediction_set?: { coverage: number; mean_size: number };
  false_refusals: number;
  flagged_unlike_training?: number;
  abstain?: number;
}

const [cardPath = 'model.card.json', readmePath = 'README.md'] = process.argv.slice(2);
const card = JSON.parse(readFileSync(cardPath, 'utf8'));
const m = card.metrics;
const t = card.training;
const recipe = t.recipe_evaluation;
const classes: string[] = card.classes;
const seen: SplitFigures = m;
const unseen: SplitFigures | undefined = t.holdout?.final ? recipe?.unseen_test : m.unseen_test;
// A --final model under the one-role rule never trained on a validation source, so its own unseen-source validation
// figures are honest; a model trained before the rule shares some (model.card.md names them): the recipe run's are unseen.
// The list is empty unless --final.
const valSharesSource = (t.holdout?.val_sharing_training ?? []).length > 0;
const unseenVal: SplitFigures | undefined = valSharesSource ? recipe?.unseen_val : m.unseen_val;
const unseenValName = t.holdout?.final && !valSharesSource ? 'unseen sources, validation (this model: sources it never trained on)' : undefined;
const gate = m.gate ?? recipe?.gate;
const pct = (v: number | undefined | null) => (v == null ? '–' : `${(100 * v).toFixed(1)} %`);
const num = (v: number | undefined | null, d = 3) => (v == null ? '–' : v.toFixed(d));
const meets = (ok: boolean) => (ok ? 'met' : '**missed**');
const lowest = (f: SplitFigures) => Math.min(...classes.filter((c) => f.per_class[c]?.support).map((c) => f.per_class[c].sensitivity));
const loko = Object.entries((gate?.leave_one_kind_out ?? {}) as Record<string, { refused: number }>);
const lokoMin = loko.length ? Math.min(...loko.map(([, v]) => v.refused)) : undefined;
const fromRecipe = t.holdout?.final ? ` (recipe run \`${recipe?.model_version}\`)` : '';

const lines: string[] = [
  `Shipped: **${card.name}** version \`${card.version}\` (${(card.size_bytes / 1e6).toFixed(1)} MB, sha256 \`${card.sha256.slice(0, 16)}…\`),`,
  `${t.architecture} with ImageNet weights (${t.pretrained ?? 'none'}), ${t.recipe} recipe with \`${t.augment}\` augmentation,`,
  `${t.epochs} epochs of ${t.epoch_samples} sampled images (best epoch ${t.best_epoch}), trained on ${t.device} in ${(t.duration_seconds / 60).toFixed(0)} min. Produced by:`,
  '',
  '```sh',
  t.command,
  '```',
  '',
];
if (t.holdout?.final && recipe) {
  lines.push(
    'It was trained with the unseen-source **test** groups added (`--final`); the unseen-source figures below',
    'are those of the same recipe run with them held out (`' + recipe.command + '`).',
    ...(valSharesSource
      ? ['Its temperature, thresholds and prediction sets were calibrated on the held-out validation groups, some of which',
          'share a source with the joined groups (model.card.md names them).']
      : ['Its temperature, thresholds and prediction sets were calibrated on the seen-source validation split and on the',
          'unseen-source validation groups, sources it never trained on (a source split by unit between the two unseen sets',
          'has its validation half in the seen-source validation split, since its test half joined training).']),
    '',
  );
}
lines.push(
  '| target | value | |',
  '| --- | ---: | --- |',
  `| seen sources: accuracy ≥ 95.3 % | ${pct(seen.accuracy)} | ${meets(seen.accuracy >= 0.953)} |`,
  `| seen sources: every class's sensitivity ≥ 0.85 | lowest ${num(lowest(seen))} | ${meets(lowest(seen) >= 0.85)} |`,
  `| seen sources: ECE ≤ 0.03 | ${num(seen.ece)} | ${meets(seen.ece <= 0.03)} |`,
);
if (unseen) {
  lines.push(
    `| unseen sources: accuracy ≥ 85 % | ${pct(unseen.accuracy)} | ${meets(unseen.accuracy >= 0.85)} |`,
    `| unseen sources: ECE ≤ 0.08 | ${num(unseen.ece)} | ${meets(unseen.ece <= 0.08)} |`,
  );
}
if (gate) {
  lines.push(
    `| held-out not-cxr images refused ≥ 99 % | ${pct(gate.test_not_cxr_refused)} | ${meets(gate.test_not_cxr_refused >= 0.99)} |`,
    `| held-out generated negatives refused ≥ 99 % | ${pct(gate.test_generated_refused)} | ${meets(gate.test_generated_refused >= 0.99)} |`,
    `| leave-one-kind-out: every kind ≥ 90 % refused | lowest ${pct(lokoMin)} | ${meets((lokoMin ?? 0) >= 0.9)} |`,
    `| test split chest X-rays refused ≤ 0.5 % | ${pct(seen.false_refusals)} | ${meets(seen.false_refusals <= 0.005)} |`,
  );
  if (unseen) lines.push(`| unseen-source chest X-rays refused ≤ 2 % | ${pct(unseen.false_refusals)} | ${meets(unseen.false_refusals <= 0.02)} |`);
}
if (seen.prediction_set) {
  lines.push(
    `| 95 % sets: coverage ≥ 94 %, seen sources | ${pct(seen.prediction_set.coverage)} | ${meets(seen.prediction_set.coverage >= 0.94)} |`,
    `| 95 % sets: mean size ≤ 1.3, seen sources | ${num(seen.prediction_set.mean_size, 2)} | ${meets(seen.prediction_set.mean_size <= 1.3)} |`,
  );
  if (unseen?.prediction_set) {
    lines.push(`| 95 % sets: coverage ≥ 94 %, unseen sources | ${pct(unseen.prediction_set.coverage)} | ${meets(unseen.prediction_set.coverage >= 0.94)} |`);
  }
}
const columns: [string, SplitFigures | undefined][] = [
  ['test split (seen sources)', seen],
  [unseenValName ?? `unseen sources, validation${fromRecipe}`, unseenVal],
  [`unseen sources, test${fromRecipe}`, unseen],
];
const shown = columns.filter((c): c is [string, SplitFigures] => !!c[1]);
lines.push(
  '',
  'Side by side (sensitivity / specificity per class; partial labels are left out of accuracy):',
  '',
  `| | ${shown.map(([name]) => name).join(' | ')} |`,
  `| --- |${' ---: |'.repeat(shown.length)}`,
  `| images | ${shown.map(([, f]) => f.images).join(' | ')} |`,
  `| accuracy | ${shown.map(([, f]) => pct(f.accuracy)).join(' | ')} |`,
  `| macro-F1 | ${shown.map(([, f]) => num(f.macro_f1)).join(' | ')} |`,
  `| expected calibration error | ${shown.map(([, f]) => num(f.ece)).join(' | ')} |`,
  `| 95 % set coverage / mean size | ${shown.map(([, f]) => `${pct(f.prediction_set?.coverage)} / ${num(f.prediction_set?.mean_size, 2)}`).join(' | ')} |`,
  `| refused / flagged / abstains | ${shown.map(([, f]) => `${pct(f.false_refusals)} / ${pct(f.flagged_unlike_training)} / ${pct(f.abstain)}`).join(' | ')} |`,
  ...classes.map((c) => `| ${c} | ${shown.map(([, f]) => (f.per_class[c]?.support ? `${num(f.per_class[c].sensitivity)} / ${num(f.per_class[c].specificity)} (${f.per_class[c].support})` : '–')).join(' | ')} |`),
  '',
  ...operatingPointLines(),
  'Per unseen source, gate refusals per kind, leave-one-kind-out and the shortcut probe: [model.card.md](model.card.md).',
  '',
  '![Confusion matrix on the test split](model.confusion.png)',
  '',
);
if (unseen) lines.push('![Confusion matrix on unseen sources](model.confusion-unseen.png)', '');
lines.push('![Loss and accuracy per epoch](model.curves.png)', '');

/** Thresholds per operating point, with sensitivity / specificity on the test split and unseen sources. */
function operatingPointLines(): string[] {
  const points = card.assessment?.operating_points;
  const figures = m.operating_points;
  if (!points || !figures) return [];
  type Cell = { sensitivity: number | null; specificity: number | null };
  const unseenPoints: Record<string, Record<string, Cell>> | undefined = t.holdout?.final ? recipe?.operating_points?.unseen_test : figures.unseen_test;
  const cols: [string, Record<string, Record<string, Cell>> | undefined][] = [
    ['test split (seen sources)', figures.test],
    [`unseen sources, test${fromRecipe}${t.holdout?.final ? ', its own thresholds' : ''}`, unseenPoints],
  ];
  const present = cols.filter((c): c is [string, Record<string, Record<string, Cell>>] => !!c[1]);
  const tb = unseenPoints?.screening?.Tuberculosis;
  return [
    `Decision thresholds (\`decision\` in every answer; \`?operatingPoint=\`, default \`${points.default}\`), chosen by the export on ${points.chosen_on}:`,
    `\`screening\` keeps validation sensitivity ≥ ${points.target_sensitivity} for ${points.screened.join(', ')} at the best specificity that allows; \`balanced\` maximises Youden's J.`,
    '',
    `| operating point | class | threshold | ${present.map(([n]) => `${n}: sens / spec`).join(' | ')} |`,
    `| --- | --- | ---: |${' ---: |'.repeat(present.length)}`,
    ...Object.entries(points.thresholds as Record<string, Record<string, number>>).flatMap(([point, byClass]) =>
      classes.map((c) => `| ${point} | ${c} | ${byClass[c].toFixed(4)} | ${present.map(([, f]) => `${num(f[point]?.[c]?.sensitivity)} / ${num(f[point]?.[c]?.specificity)}`).join(' | ')} |`),
    ),
    '',
    ...(valSharesSource
      ? ['The shipped model\'s thresholds were chosen on validation groups of which some share a source with its training',
          '(the `--final` caveat above), so on sources it never saw expect lower sensitivity at them than on its test split; the',
          'unseen-source column is the recipe run at its own thresholds, chosen on groups it never trained on.', '']
      : []),
    ...(tb
      ? [`Against the WHO's minimum for a tuberculosis triage test (sensitivity 0.90 at specificity 0.70), on unseen sources at \`screening\`: ` +
          `sensitivity ${num(tb.sensitivity)}, specificity ${num(tb.specificity)} — ${tb.sensitivity !== null && tb.specificity !== null && tb.sensitivity >= 0.9 && tb.specificity >= 0.7 ? 'met' : '**not met**'}.`, '']
      : []),
  ];
}

const readme = readFileSync(readmePath, 'utf8');
const start = '<!-- model-section -->';
const end = '<!-- /model-section -->';
const before = readme.slice(0, readme.indexOf(start) + start.length);
const after = readme.includes(end) ? readme.slice(readme.indexOf(end)) : `${end}${readme.slice(readme.indexOf(start) + start.length)}`;
writeFileSync(readmePath, `${before}\n${lines.join('\n')}\n${after}`);
console.log(`updated the Model section of ${readmePath} from ${cardPath}`);
