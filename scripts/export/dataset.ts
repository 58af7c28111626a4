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
  /**
   * Every class the image may belong to: one for an ordinary label, several for a partial label
   * (manifest class `A|B`: A or B, unknown which). `labels[i]` is the first of them.
   */
  labelSets: number[][];
  /** Images sharing a group (a patient, a near-duplicate set) always land on the same side of the split. */
  groups: string[];
  groupBy: string;
  /** Where each image came from (manifest `source_repo`; the data folder's name without one). */
  sources: string[];
  /** Stored size before the data set's own resizing (manifest `orig_width`/`orig_height`; 0 when unknown). */
  originalSizes: [number, number][];
}

/** The separator of a partial label in a manifest's `class` column. */
export const PARTIAL_LABEL_SEPARATOR = '|';

// JPEG and DICOM (src/preprocess decides which from the bytes).
const IMAGE_EXTENSIONS = /\.(jpe?g|jfif|dcm|dicom)$/i;

export class DatasetError extends Error {}

/**
 * Reads class folders under `root`; with `manifest`, takes files, classes (the union of the `class`
 * column's names, partial labels split), groups and sources from the CSV.
 * @param classes the class list to use (e.g. the union over several folders); by default this folder's own
 */
export function loadDataset(root: string, manifest?: string, groupColumn = 'unit', classes?: string[]): Dataset {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(`data folder not found: ${root}`);
  const folderName = root.split('/').filter(Boolean).pop() ?? root;
  const files: string[] = [];
  const labelSets: number[][] = [];
  const groups: string[] = [];
  const sources: string[] = [];
  const originalSizes: [number, number][] = [];
  if (manifest) {
    const rows = readManifest(manifest, ['file', 'class', groupColumn]);
    classes ??= manifestClasses(rows);
    for (const row of rows) {
      const set = row.class.split(PARTIAL_LABEL_SEPARATOR).map((name) => classes!.indexOf(name));
      if (set.some((label) => label < 0)) throw new DatasetError(`${manifest}: class "${row.class}" is not one of ${classes.join(', ')}`);
      files.push(row.file);
      labelSets.push(set);
      groups.push(row[groupColumn]);
      sources.push(row.source_repo || folderName);
      originalSizes.push([Number(row.orig_width) || 0, Number(row.orig_height) || 0]);
    }
  } else {
    const folders = classFolders(root);
    classes ??= folders;
    for (const name of folders) {
      const label = classes.indexOf(name);
      if (label < 0) throw new DatasetError(`class folder "${name}" in ${root} is not one of ${classes.join(', ')}`);
      for (const file of listImages(join(root, name))) {
        const path = relative(root, file);
        files.push(path);
        labelSets.push([label]);
        groups.push(path); // each file is its own group
        sources.push(folderName);
        originalSizes.push([0, 0]);
      }
    }
  }
  if (classes.length < 2) throw new DatasetError(`${root} needs at least two classes, found ${classes.length}`);
  const labels = labelSets.map((set) => set[0]);
  return { root, classes, files, labels, labelSets, groups, groupBy: manifest ? groupColumn : 'file', sources, originalSizes };
}

/**
 * Loads several data folders (each with its optional manifest) as one data set: classes are the union,
 * files become absolute paths, and groups are prefixed by folder so that unit names never collide.
 * Every class must have at least one image with it as an ordinary (not partial) label.
 */
export function loadDatasets(folders: { root: string; manifest?: string }[], groupColumn = 'unit'): Dataset & { folder: number[] } {
  const union = new Set<string>();
  for (const { root, manifest } of folders) {
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(`data folder not found: ${root}`);
    const names = manifest ? manifestClasses(readManifest(manifest, ['file', 'class', groupColumn])) : classFolders(root);
    for (const name of names) union.add(name);
  }
  const classes = [...union].sort();
  const parts = folders.map(({ root, manifest }) => loadDataset(root, manifest, groupColumn, classes));
  const merged: Dataset & { folder: number[] } = {
    root: '',
    classes,
    files: parts.flatMap((d) => d.files.map((file) => join(d.root, file))),
    labels: parts.flatMap((d) => d.labels),
    labelSets: parts.flatMap((d) => d.labelSets),
    groups: parts.flatMap((d, k) => d.groups.map((g) => (parts.length > 1 ? `${k}:${g}` : g))),
    groupBy: parts[0]?.groupBy ?? 'file',
    sources: parts.flatMap((d) => d.sources),
    originalSizes: parts.flatMap((d) => d.originalSizes),
    folder: parts.flatMap((d, k) => d.files.map(() => k)),
  };
  classes.forEach((name, label) => {
    if (!merged.labelSets.some((set) => set.length === 1 && set[0] === label)) throw new DatasetError(`class folder "${name}" has no images`);
  });
  return merged;
}

function classFolders(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

/** The class names a manifest uses, partial labels split into their parts, sorted. */
function manifestClasses(rows: Record<string, string>[]): string[] {
  return [...new Set(rows.flatMap((row) => row.class.split(PARTIAL_LABEL_SEPARATOR)))].sort();
}

/** Parses a manifest and checks that it has `columns`. */
export function readManifest(manifest: string, columns: string[]): Record<string, string>[] {
  if (!existsSync(manifest)) throw new DatasetError(`manifest not found: ${manifest}`);
  const rows = parseCsv(readFileSync(manifest, 'utf8'));
  for (const column of columns) {
    if (rows.length && !(column in rows[0])) throw new DatasetError(`${manifest} has no "${column}" column`);
  }
  return rows;
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
