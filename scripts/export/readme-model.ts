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
  precision: number;
  f1: number;
}

const [cardPath = 'model.card.json', readmePath = 'README.md'] = process.argv.slice(2);
const card = JSON.parse(readFileSync(cardPath, 'utf8'));
const m = card.metrics;
const t = card.training;
const classes: string[] = m.confusion_matrix.rows_true_columns_predicted;
const counts: number[][] = m.confusion_matrix.counts;
const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
const meets = (ok: boolean) => (ok ? 'met' : '**missed**');

const lines: string[] = [
  `Shipped: **${card.name}** version \`${card.version}\` (${(card.size_bytes / 1e6).toFixed(1)} MB, sha256 \`${card.sha256.slice(0, 16)}…\`),`,
  `${t.architecture} with ImageNet weights (${t.pretrained ?? 'none'}), ${t.recipe} recipe, ${t.epochs} epochs (best epoch ${t.best_epoch} by`,
  `validation macro-F1), trained on ${t.device} in ${(t.duration_seconds / 60).toFixed(0)} min. Produced by:`,
  '',
  '```sh',
  t.command,
  '```',
  '',
  `Test split: ${m.images} images whose \`unit\` groups (patients, near-duplicates) appear in neither training nor`,
  'validation, never used for any choice.',
  '',
  '| | value | target |',
  '| --- | ---: | --- |',
  `| accuracy | ${pct(m.accuracy)} | ≥ 95.3 %: ${meets(m.accuracy >= 0.953)} |`,
  `| macro-F1 | ${m.macro_f1.toFixed(3)} | ≥ 0.92: ${meets(m.macro_f1 >= 0.92)} |`,
  `| lowest sensitivity | ${Math.min(...classes.map((c) => m.per_class[c].sensitivity)).toFixed(3)} | ≥ 0.85 for every class: ${meets(classes.every((c) => m.per_class[c].sensitivity >= 0.85))} |`,
  `| expected calibration error | ${m.ece_before_temperature.toFixed(3)} before, ${m.ece_after_temperature.toFixed(3)} after temperature scaling (T = ${card.temperature.toFixed(3)}) | ≤ 0.03: ${meets(m.ece_after_temperature <= 0.03)} |`,
  '',
  '| class | images | sensitivity | specificity | precision | F1 |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...classes.map((c) => {
    const k: PerClass = m.per_class[c];
    return `| ${c} | ${k.support} | ${k.sensitivity.toFixed(3)} | ${k.specificity.toFixed(3)} | ${k.precision.toFixed(3)} | ${k.f1.toFixed(3)} |`;
  }),
  '',
];
const bacterial = classes.indexOf('Bacterial Pneumonia');
const viral = classes.indexOf('Viral Pneumonia');
if (bacterial >= 0 && viral >= 0) {
  lines.push(
    'The hard pair, bacterial vs viral pneumonia (test images of these two classes; rows true, columns predicted;',
    'predictions of any other class counted in the last column):',
    '',
    '| | Bacterial | Viral | other |',
    '| --- | ---: | ---: | ---: |',
    ...[bacterial, viral].map((r) => {
      const row = counts[r];
      return `| ${classes[r]} | ${row[bacterial]} | ${row[viral]} | ${row.reduce((a, b) => a + b, 0) - row[bacterial] - row[viral]} |`;
    }),
    '',
  );
}
lines.push('![Confusion matrix on the test split](model.confusion.png)', '', '![Loss and accuracy per epoch](model.curves.png)', '');
lines.push(
  '**What these figures mean, and what they do not.** They measure how well the model separates these five',
  'public collections, on images from the same sources it was trained on. They are not an estimate of',
  'diagnostic accuracy in any clinic. Nearly all bacterial and viral pneumonia images are pediatric films',
  'from one hospital, while COVID and tuberculosis images are adults from other sources: a model can score well',
  'here by recognising age, hospital or image style rather than disease, and figures on new hospitals will be',
  'lower. The tuberculosis images mostly come from one anonymous compilation with weak provenance, 95 % stored',
  'at 224 px; many COVID images were cropped from papers and may carry arrows or captions. Several sources are',
  'research-only or non-commercial. A research artifact, not a medical device.',
);

const readme = readFileSync(readmePath, 'utf8');
const start = '<!-- model-section -->';
const end = '<!-- /model-section -->';
const before = readme.slice(0, readme.indexOf(start) + start.length);
const after = readme.includes(end) ? readme.slice(readme.indexOf(end)) : `${end}${readme.slice(readme.indexOf(start) + start.length)}`;
writeFileSync(readmePath, `${before}\n${lines.join('\n')}\n${after}`);
console.log(`updated the Model section of ${readmePath} from ${cardPath}`);
