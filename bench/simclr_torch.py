#!/usr/bin/python3
"""Time SimCLR training steps in PyTorch on the CPU, as a peer of selfsup-pretrain.

The model, loss, optimiser, batch and input scaling copy the defaults of
`selfsup-pretrain simclr`: conv 3x3 1->32 (padding 1), ReLU, max-pool 2,
conv 3x3 32->64 (padding 1), ReLU, max-pool 2, linear 3136->128 (encoder),
then linear 128->128, ReLU, linear 128->64 (projection head); NT-Xent at
temperature 0.2 with 2N-2 negatives per view, in both directions; AdamW with
lr 1e-3 and weight decay 1e-4; pixels x in [0,255] enter as (x/255 - 0.5)/0.5.
Left out, because they do not change the cost of a step: the learning-rate
warmup and cosine schedule, selfsup's initialisation and its non-finite
checks.

The views file (from selfsup-augment, fields view0 and view1, uint8
[28,28,1]) is read with formats/tsf.py into one uint8 tensor before timing.
A timed step covers the uint8-to-float scaling, forward, loss, backward and
optimiser update, the same work that selfsup-pretrain times per step. The
OpenBLAS thread count comes from the environment (OPENBLAS_NUM_THREADS);
--threads sets PyTorch's intra-op pool.

Prints one JSON object: the median views/s over the steps after the warm-up,
every step's rate, and peak RSS (ru_maxrss). The peak includes the memory
that `import torch` itself takes, which rss_after_import_kib reports.

    OPENBLAS_NUM_THREADS=1 bench/simclr_torch.py --threads 2 --steps 20 views.tsf
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

RSS_AFTER_IMPORT_KIB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "formats"))
import tsf  # noqa: E402


def load_views(path, limit):
    """Return a uint8 tensor [2, N, 1, 28, 28] of the first `limit` records' view0 and view1."""
    view0, view1 = [], []
    for _, record in tsf.read(path):
        view0.append(record["view0"])
        view1.append(record["view1"])
        if len(view0) == limit:
            break
    if not view0:
        sys.exit("simclr_torch.py: %s: no records" % path)
    # The stream stores images as [H, W, C]; convolutions want [C, H, W].
    pairs = np.stack([np.stack(view0), np.stack(view1)]).transpose(0, 1, 4, 2, 3)
    return torch.from_numpy(np.ascontiguousarray(pairs))


def build_model():
    encoder = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128))
    head = torch.nn.Sequential(torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64))
    return torch.nn.Sequential(encoder, head)


def nt_xent(z, temperature):
    """NT-Xent (SimCLR) loss of z [2N, D], where rows i and i+N are the two views of one image.

    Each of the 2N rows is a query whose positive is its partner and whose
    negatives are the other 2N-2 rows. The loss is the mean cross-entropy
    over all 2N queries, so both directions of every pair count.
    """
    n2 = z.shape[0]
    z = F.normalize(z, dim=1)
    logits = z @ z.t() / temperature
    self_mask = torch.eye(n2, dtype=torch.bool)
    logits = logits.masked_fill(self_mask, float("-inf"))
    partner = torch.arange(n2).roll(n2 // 2)
    return F.cross_entropy(logits, partner)


def train_step(model, optimiser, pixels, temperature):
    """Run one step on uint8 pixels [2N, 1, 28, 28] and return the loss."""
    x = (pixels.float() / 255.0 - 0.5) / 0.5
    loss = nt_xent(model(x), temperature)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss.item()


def parse_args(argv):
    p = argparse.ArgumentParser(description="Time PyTorch SimCLR steps on a selfsup views stream.")
    p.add_argument("views", help="views stream from selfsup-augment (view0, view1 uint8 [28,28,1])")
    p.add_argument("--batch", type=int, default=256, help="images per step, two views each (default 256)")
    p.add_argument("--steps", type=int, default=20, help="steps to run, warm-up included (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="first steps left out of the median (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--temperature", type=float, default=0.2, help="NT-Xent temperature (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed (default 0)")
    args = p.parse_args(argv)
    if args.batch < 2 or args.steps <= args.warmup or args.warmup < 0 or args.threads < 1:
        p.error("need --batch >= 2, --threads >= 1 and --steps > --warmup >= 0")
    return args


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    views = load_views(args.views, args.batch * args.steps)
    images = views.shape[1]
    if images < args.batch:
        sys.exit("simclr_torch.py: %s: %d records, fewer than --batch %d" % (args.views, images, args.batch))
    batches_in_file = images // args.batch

    model = build_model()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    rates, losses = [], []
    for step in range(args.steps):
        # Steps beyond the file's last full batch start again from its first.
        first = (step % batches_in_file) * args.batch
        pixels = views[:, first:first + args.batch].reshape(2 * args.batch, 1, 28, 28)
        start = time.perf_counter()
        losses.append(train_step(model, optimiser, pixels, args.temperature))
        rates.append(2 * args.batch / (time.perf_counter() - start))

    result = {
        "views_per_s": statistics.median(rates[args.warmup:]),
        "step_views_per_s": [round(r, 1) for r in rates],
        "warmup_steps": args.warmup,
        "batch": args.batch,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "torch_threads": torch.get_num_threads(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "torch_version": torch.__version__,
        "rss_after_import_kib": RSS_AFTER_IMPORT_KIB,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
