/**
 * Two changes that make CPU training about twice as fast (README "Training and export") must not change what is
 * trained: the augmentation's blur, now a weighted sum of shifted views, is the replicate-padded separable
 * convolution it replaced; and a network held in NHWC (channels_last) on the CPU computes what it computes in NCHW,
 * while the trained model goes to the figures and the export in NCHW.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXPORT_DIR, ensurePythonEnv } from '../../scripts/export/python-env';

function python(code: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(ensurePythonEnv(() => undefined), ['-c', code, join(EXPORT_DIR, 'python')], { encoding: 'utf8' });
}

describe('CPU training speed-ups', () => {
  it("blur_separable equals PyTorch's replicate-padded 1-D convolutions along rows then columns", () => {
    const result = python(`
import sys, torch, torch.nn.functional as F
sys.path.insert(0, sys.argv[1])
from augment import blur_separable
g = torch.Generator().manual_seed(7)
x = torch.rand(3, 1, 37, 29, generator=g) * 255
for k in (torch.tensor([0.05, 0.2, 0.5, 0.2, 0.05]), torch.tensor([0.1, 0.3, 0.6, 0.0, 0.0]), torch.tensor([0.25, 0.5, 0.25])):
    r = k.numel() // 2
    ref = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    ref = F.conv2d(F.pad(ref, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    out = blur_separable(x, k)
    print(tuple(out.shape) == tuple(x.shape), float((out - ref).abs().max()))
`);
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      const [sameShape, diff] = line.split(' ');
      expect(sameShape).toBe('True');
      // 0..255 values: float32 rounding only (an asymmetric kernel would show a flipped or shifted filter).
      expect(Number(diff)).toBeLessThan(1e-3);
    }
  }, 60_000);

  it('trains in channels_last on the CPU only, with the same outputs and gradients as NCHW, and exports in NCHW', () => {
    const result = python(`
import sys, torch
sys.path.insert(0, sys.argv[1])
from model import Classifier
from train import training_memory_format, training_model
print(training_memory_format(torch.device("cpu")) == torch.channels_last, training_memory_format(torch.device("cuda")) == torch.contiguous_format)
torch.manual_seed(0)
a = Classifier("mobilenet_v3_small", 5, 3).train()
b = training_model("mobilenet_v3_small", 5, 3, None, 4, torch.device("cpu")).train()  # what train.py trains
b.load_state_dict(a.state_dict())  # copies values, keeps b's layout
stem = b.backbone[0][0].weight  # 16x3x3x3: a layout that NCHW and NHWC do not share (depthwise and 1x1 kernels do)
print(stem.is_contiguous(memory_format=torch.channels_last), not stem.is_contiguous(),
      not any(p.requires_grad for p in b.backbone[3].parameters()), all(p.requires_grad for p in b.backbone[4].parameters()))
x = torch.rand(4, 1, 96, 96) * 255
outs = []
for m, f in ((a, torch.contiguous_format), (b, torch.channels_last)):
    torch.manual_seed(1)  # the same dropout mask for both
    outs.append(m.assess(x.contiguous(memory_format=f)))
for m, (logits, gate, *_) in zip((a, b), outs):
    (logits.square().sum() + gate.square().sum()).backward()
rel = lambda p, q: float((p - q).detach().abs().max() / q.detach().abs().max())
print(max(rel(p, q) for p, q in zip(outs[1], outs[0])))
# Per parameter, against that parameter's gradient scale; the dense layer's bias feeds a training-mode BatchNorm, so
# its true gradient is zero and what is there is rounding: leave out gradients under 1e-6 of the largest.
grads = [(pa.grad, pb.grad) for pa, pb in zip(a.parameters(), b.parameters()) if pb.grad is not None]  # b: frozen blocks have none
top = max(float(ga.abs().max()) for ga, _ in grads)
print(max(rel(gb, ga) for ga, gb in grads if float(ga.abs().max()) > 1e-6 * top))
b.to("cpu", memory_format=torch.contiguous_format)
print(all(p.is_contiguous() for p in b.parameters()))
`);
    expect(result.status, result.stderr).toBe(0);
    // training_model logs what it froze; the rest are this script's lines.
    const [formats, trainsNhwc, outputs, gradients, back] = result.stdout.trim().split('\n').filter((line) => !line.startsWith('backbone blocks'));
    expect(formats).toBe('True True');
    // train.py's model: NHWC weights (not NCHW ones), blocks before --freeze-blocks frozen, the rest trained.
    expect(trainsNhwc).toBe('True True True True');
    expect(Number(outputs)).toBeLessThan(1e-4);
    expect(Number(gradients)).toBeLessThan(1e-3);
    expect(back).toBe('True');
  }, 120_000);
});
