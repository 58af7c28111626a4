/**
 * scripts/export/command.ts: the command a model card records must give back, through a real shell, the arguments
 * the run had (less those that only say where it wrote).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { reproducingCommand } from '../../scripts/export/command';

/** The arguments bash hands `npm run export --` when the command line is pasted. */
function argumentsAfterPasting(command: string): string[] {
  const prefix = 'npm run export -- ';
  expect(command.startsWith(prefix)).toBe(true);
  const result = spawnSync('bash', ['-c', `printf '%s\\0' ${command.slice(prefix.length)}`], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.split('\0').slice(0, -1);
}

describe('reproducingCommand', () => {
  it('leaves plain arguments bare and quotes what a shell would split, expand or glob, so the line pastes', () => {
    const args = [
      '--data', '../shared/data/cxr5', '--negatives', '150', '--arch', 'mobilenet_v3_small_dw3',
      // An explicit split: spaces, ';', '/' and '::' (the shipped model's kind of --holdout).
      '--holdout', 'val=org/a :: Normal; org/b :: COVID / test=org/c :: Bacterial Pneumonia',
      '--model-name', "it's $HOME `date` *.onnx \"x\" \\ !",
      '--recipe-card=docs/recipe-run.card.json',
    ];
    const command = reproducingCommand(args);
    expect(command).toContain(' --data ../shared/data/cxr5 --negatives 150 --arch mobilenet_v3_small_dw3 ');
    expect(command).toContain(` --holdout 'val=org/a :: Normal; org/b :: COVID / test=org/c :: Bacterial Pneumonia' `);
    expect(argumentsAfterPasting(command)).toEqual(args);
  });

  it('leaves out where the run wrote (--work, --out, in either form) and --resume', () => {
    const command = reproducingCommand(['--work', '/tmp/w', '--data', 'd', '--out=/tmp/m.onnx', '--resume', '--out', 'x.onnx', '--work=/tmp/v', '--epochs', '8']);
    expect(command).toBe('npm run export -- --data d --epochs 8');
    expect(argumentsAfterPasting(command)).toEqual(['--data', 'd', '--epochs', '8']);
  });
});
