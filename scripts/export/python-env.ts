/** Finds Python and keeps a project-local virtual environment with the pinned requirements. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const EXPORT_DIR = new URL('.', import.meta.url).pathname;
const REQUIREMENTS = join(EXPORT_DIR, 'requirements.txt');

export class PythonError extends Error {}

/**
 * Returns the venv's python, creating or updating the venv when the requirements changed.
 * `CXR_EXPORT_PYTHON` names an interpreter to use as it is instead (a GPU machine's own PyTorch, a
 * conda env, an offline box): no venv is made and nothing is installed; its versions are printed.
 */
export function ensurePythonEnv(log: (line: string) => void, basePython = process.env.PYTHON ?? 'python3'): string {
  const own = process.env.CXR_EXPORT_PYTHON;
  if (own) {
    const probe = spawnSync(own, ['-c', 'import torch, torchvision, onnx, onnxruntime, numpy, matplotlib; print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}, numpy {numpy.__version__}")'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new PythonError(`CXR_EXPORT_PYTHON=${own} cannot import the training packages (${REQUIREMENTS}):\n${probe.stderr ?? probe.error}`);
    }
    log(`python: ${own} as it is (CXR_EXPORT_PYTHON): ${probe.stdout.trim()}; the pinned versions are in ${REQUIREMENTS}`);
    return own;
  }
  const venv = process.env.CXR_EXPORT_VENV ?? join(EXPORT_DIR, '.venv');
  const python = join(venv, 'bin', 'python');
  const stamp = join(venv, '.requirements.sha256');
  const wanted = createHash('sha256').update(readFileSync(REQUIREMENTS)).digest('hex');
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === wanted) return python;

  const probe = spawnSync(basePython, ['-c', 'import sys; print(sys.version_info >= (3, 10))'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new PythonError(`Python 3.10 or newer is needed to train, and "${basePython}" could not be run. Install Python 3 or set PYTHON=/path/to/python3.`);
  }
  if (probe.stdout.trim() !== 'True') throw new PythonError(`${basePython} is older than Python 3.10.`);
  if (!existsSync(python)) {
    log(`Creating a Python virtual environment in ${venv} (one time)...`);
    run(basePython, ['-m', 'venv', venv]);
  }
  log(`Installing the pinned training requirements (${REQUIREMENTS}) into ${venv}; the first time this downloads PyTorch...`);
  run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS]);
  writeFileSync(stamp, wanted + '\n');
  return python;
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) throw new PythonError(`"${command} ${args.join(' ')}" failed (exit ${result.status}).`);
}
