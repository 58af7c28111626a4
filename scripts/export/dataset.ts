/**
 * Finds the labelled images: one sub-folder per class (as Keras's image_dataset_from_directory reads
 * them, classes in alphanumeric order), optionally described by a manifest CSV with a grouping column.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Dataset {
  root: string;
  classes: string[];
  /** Paths relative to `root`. */
  files: string[];
  labels: number[];
  /** Images sharing a group (a patient, a near-duplicate set) always land on the same side of the split. */
  groups: string[];
  groupBy: string;
}

const IMAGE_EXTENSIONS = /\.(jpe?g|jfif)$/i;

export class DatasetError extends Error {}

/** Reads class folders under `root`; with `manifest`, takes files, classes and groups from the CSV. */
export function loadDataset(root: string, manifest?: string, groupColumn = 'unit'): Dataset {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(`data folder not found: ${root}`);
  const classes = readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
  if (classes.length < 2) throw new DatasetError(`${root} needs at least two class sub-folders, found ${classes.length}`);

  const files: string[] = [];
  const labels: number[] = [];
  const groups: string[] = [];
  if (manifest) {
    const rows = parseCsv(readFileSync(manifest, 'utf8'));
    for (const column of ['file', 'class', groupColumn]) {
      if (rows.length && !(column in rows[0])) throw new DatasetError(`${manifest} has no "${column}" column`);
    }
    for (const row of rows) {
      const label = classes.indexOf(row.class);
      if (label < 0) throw new DatasetError(`${manifest}: class "${row.class}" has no folder in ${root}`);
      files.push(row.file);
      labels.push(label);
      groups.push(row[groupColumn]);
    }
  } else {
    classes.forEach((name, label) => {
      for (const file of listImages(join(root, name))) {
        const path = relative(root, file);
        files.push(path);
        labels.push(label);
        groups.push(path); // each file is its own group
      }
    });
  }
  classes.forEach((name, label) => {
    if (!labels.includes(label)) throw new DatasetError(`class folder "${name}" has no images`);
  });
  return { root, classes, files, labels, groups, groupBy: manifest ? groupColumn : 'file' };
}

function listImages(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listImages(path));
    else if (IMAGE_EXTENSIONS.test(entry.name)) out.push(path);
  }
  return out;
}

/** Minimal RFC 4180 CSV reader (quoted fields, doubled quotes); the first row is the header. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  const [header, ...body] = rows;
  return body.map((cells) => Object.fromEntries(header.map((name, i) => [name, cells[i] ?? ''])));
}
