/**
 * `--arch mobilenet_v3_small_dw3`: MobileNetV3-Small with its 5x5 depthwise convolutions made 3x3, which
 * onnxruntime-web runs faster (scripts/export/python/model.py). It must start from the ImageNet weights of the
 * network it shrinks: every weight as in the pretrained file, the shrunk kernels their centre 3x3, and the feature
 * maps the same size and alignment as the base network's, so the head, the gate and Grad-CAM need no change.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXPORT_DIR, ensurePythonEnv } from '../../scripts/export/python-env';

const work = mkdtempSync(join(tmpdir(), 'cxr-arch-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function python(code: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(ensurePythonEnv(() => undefined), ['-c', code, join(EXPORT_DIR, 'python'), work], { encoding: 'utf8' });
}

describe('mobilenet_v3_small_dw3', () => {
  it('has only 3x3 depthwise kernels, loads the base network\'s ImageNet weights with the 5x5 ones cut to their centre', () => {
    const result = python(`
import sys, os, torch
sys.path.insert(0, sys.argv[1])
from torchvision import models
from model import Classifier, load_pretrained, depthwise_convolutions
torch.manual_seed(3)
base = models.mobilenet_v3_small(weights=None)
path = os.path.join(sys.argv[2], "v3small.pth")
torch.save(base.state_dict(), path)
print(len(depthwise_convolutions(base, 5)), len(depthwise_convolutions(base, 3)))
m = Classifier("mobilenet_v3_small_dw3", 5, 3)
print(len(depthwise_convolutions(m.imagenet, 5)), len(depthwise_convolutions(m.imagenet, 3)))
load_pretrained(m.imagenet, "mobilenet_v3_small_dw3", path)
loaded, source = m.imagenet.state_dict(), base.state_dict()
same = cut = 0
for k, v in source.items():
    if loaded[k].shape == v.shape:
        same += bool(torch.equal(loaded[k], v))
    elif torch.equal(loaded[k], v[:, :, 1:4, 1:4]):
        cut += 1
print(len(source), same, cut)
b = Classifier("mobilenet_v3_small", 5, 3)
b.imagenet.load_state_dict(source)
x = torch.rand(2, 1, 256, 256) * 255
m.eval(); b.eval()
with torch.no_grad():
    fm, fb = m(x)[1], b(x)[1]
print(tuple(fm.shape) == tuple(fb.shape) == (2, 576, 8, 8))
torch.save(models.mobilenet_v2(weights=None).state_dict(), path + ".v2")
try:
    load_pretrained(Classifier("mobilenet_v3_small_dw3", 5).imagenet, "mobilenet_v3_small_dw3", path + ".v2")
except ValueError as error:
    print("refused:", "does not fit mobilenet_v3_small_dw3" in str(error))
`);
    expect(result.status, result.stderr).toBe(0);
    const [base, shrunk, weights, shapes, refused] = result.stdout.trim().split('\n');
    expect(base).toBe('8 3'); // torchvision's V3-Small: eight 5x5 depthwise layers and three 3x3
    expect(shrunk).toBe('0 11');
    const [total, same, cut] = weights.split(' ').map(Number);
    expect(cut).toBe(8);
    expect(same).toBe(total - 8); // every other tensor (BatchNorm statistics included) exactly as in the file
    expect(shapes).toBe('True');
    expect(refused).toBe('refused: True');
  }, 120_000);
});
