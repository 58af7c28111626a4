/**
 * The command a model card records: what reproduces the model, pasteable into a shell.
 */

/** Options that change where a run writes, not what it makes. */
const WHERE = ['--work', '--out'];

/**
 * The `npm run export` command line that reproduces a run from its arguments (`process.argv.slice(2)`): `--resume`,
 * `--work` and `--out` are left out, and an argument a shell would split or expand (an explicit `--holdout` has
 * spaces and `;`) is single-quoted, so the line pastes.
 */
export function reproducingCommand(args: readonly string[]): string {
  const kept = args.filter(
    (arg, i, all) => arg !== '--resume' && !WHERE.includes(arg) && !WHERE.includes(all[i - 1]) && !WHERE.some((w) => arg.startsWith(`${w}=`)),
  );
  const quoted = kept.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`));
  return ['npm run export --', ...quoted].join(' ');
}
