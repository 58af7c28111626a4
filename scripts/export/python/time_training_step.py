"""Times one training step as `npm run export` takes it: a batch of augmented images, then forward, backward
and the optimiser's update, on the model train.py builds (pretrained weights, frozen blocks, memory format).

    scripts/export/.venv/bin/python scripts/export/python/time_training_step.py \\
        --pretrained ../shared/pretrained/mobilenet_v3_small_imagenet.pth [--device cpu] [--steps 12]

Prints the medians over the steps after two warm-ups. Run it in two checkouts (git worktree) to compare them;
random pixels stand in for X-rays, which changes nothing about the time a step takes."""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from augment import augment
from train import make_optimizer, pick_device, training_memory_format, training_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pretrained", required=True)
    parser.add_argument("--arch", default="mobilenet_v3_small")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--freeze-blocks", type=int, default=4)
    parser.add_argument("--augment", default="shift")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()

    device = pick_device(args.device)
    torch.manual_seed(0)
    model = training_model(args.arch, 5, 16, args.pretrained, args.freeze_blocks, device)
    model.train()
    optimizer, _ = make_optimizer(model, "adamw", 1, args.steps)
    generator = torch.Generator().manual_seed(0)
    images = (torch.rand(args.batch_size, 1, 256, 256, generator=generator) * 255).to(device)
    targets = torch.zeros(args.batch_size, dtype=torch.long, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    augmenting, learning = [], []
    for step in range(args.steps + 2):
        start = time.perf_counter()
        x = augment(images, generator, args.augment).contiguous(memory_format=training_memory_format(device))
        sync()
        augmented = time.perf_counter()
        logits, gate_logits, *_ = model.assess(x)
        loss = F.cross_entropy(logits, targets % logits.shape[1]) + F.cross_entropy(gate_logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync()
        if step >= 2:
            augmenting.append(augmented - start)
            learning.append(time.perf_counter() - augmented)
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"{device} ({torch.get_num_threads()} threads), batch {args.batch_size}, median of {args.steps} steps: "
          f"augmentation {ms(augmenting):.0f} ms, forward + backward + update {ms(learning):.0f} ms, "
          f"step {ms([a + b for a, b in zip(augmenting, learning)]):.0f} ms")


if __name__ == "__main__":
    main()
