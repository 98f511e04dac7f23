#!/usr/bin/python3
"""The default two-point experiment in PyTorch, for speed and agreement comparisons.

Same network (MLP, `depth` hidden layers of `width`, leaky ReLU slope 0.01, Xavier-normal
init with `gain`, zero biases), same data (THEORY.md section 7), same loss
(1/2 mean over examples of the squared error summed over outputs), full-batch SGD, and the
same all-layer probe (h per hidden layer, y, w, ybar, loss before every update).

  /usr/bin/python3 benchmarks/torch_two_point.py --steps 500 --threads 1
prints one line "torch steps_per_second=<x> ms_per_step=<y> steps=<n> threads=<t>".
--curves FILE also writes the recorded curves in replearn's curves.csv format.
"""
import argparse
import math
import time

import numpy as np
import torch


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--gain", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--dx2", type=float, default=1.0)
    p.add_argument("--dy2", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-probe", action="store_true", help="skip the all-layer probe")
    p.add_argument("--curves", help="write curves.csv (step,layer,quantity,value) here")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x = torch.tensor([[-1.0], [-1.0 + math.sqrt(args.dx2)]])
    y = torch.tensor([[0.6], [0.6 + math.sqrt(args.dy2)]])
    dims = [1] + [args.width] * args.depth + [1]
    layers = []
    for i in range(len(dims) - 1):
        lin = torch.nn.Linear(dims[i], dims[i + 1])
        torch.nn.init.xavier_normal_(lin.weight, gain=args.gain)
        torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
    params = [t for lin in layers for t in (lin.weight, lin.bias)]
    opt = torch.optim.SGD(params, lr=args.lr)
    dy = y[1] - y[0]

    records = []
    start = time.perf_counter()
    for step in range(args.steps + 1):
        a = x
        hs = []
        for lin in layers[:-1]:
            a = torch.nn.functional.leaky_relu(lin(a), 0.01)
            if not args.no_probe:
                hs.append((a[1] - a[0]).detach().pow(2).sum())
        out = layers[-1](a)
        loss = 0.5 * (out - y).pow(2).sum(1).mean()
        if not args.no_probe:
            d = (out[1] - out[0]).detach()
            yv = d.pow(2).sum()
            w = yv - (dy * d).sum()
            ybar = ((out[0] + out[1]) / 2 - (y[0] + y[1]) / 2).detach().pow(2).sum()
            records.append(torch.stack(hs + [yv, w, ybar, loss.detach()]))
        if step == args.steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    elapsed = time.perf_counter() - start
    print(f"torch steps_per_second={args.steps / elapsed:.2f} "
          f"ms_per_step={1e3 * elapsed / args.steps:.3f} steps={args.steps} "
          f"threads={args.threads}")

    if args.curves and records:
        rec = torch.stack(records).numpy().astype(np.float64)
        names = ["y", "w", "ybar", "loss"]
        with open(args.curves, "w") as f:
            f.write("step,layer,quantity,value\n")
            for step, row in enumerate(rec):
                for l in range(args.depth):
                    f.write(f"{step},{l},h,{row[l]:.10g}\n")
                for k, name in enumerate(names):
                    f.write(f"{step},,{name},{row[args.depth + k]:.10g}\n")


if __name__ == "__main__":
    main()
