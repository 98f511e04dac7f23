#!/usr/bin/python3
"""The default two-point experiment in PyTorch, for speed and agreement comparisons.

Same network (MLP, `depth` hidden layers of `width`, leaky ReLU slope 0.01, Xavier-normal
init with `gain`, zero biases), same data (docs/theory.md section 7), same loss
(1/2 mean over examples of the squared error summed over outputs), full-batch SGD, and the
same all-layer probe (h per hidden layer, y, w, ybar, loss before every update).

  /usr/bin/python3 benchmarks/torch_two_point.py --steps 500 --threads 1
prints one line "torch steps_per_second=<x> ms_per_step=<y> steps=<n> threads=<t>".
--curves FILE also writes the recorded curves in replearn's curves.csv format.
--save-init FILE writes the initial weights as an .npz in replearn's architecture.init_npz
layout (W<l> [out, in] and b<l> [out] per Linear layer, in the --dtype); --init FILE starts from
such a file instead of this script's own initialisation (benchmarks/torch_agreement.sh).
--dtype float64 trains in double precision (the reference trajectory for rounding errors).
"""
import argparse
import math
import time

import numpy as np
import torch


def init_layout(layers):
    """Key -> parameter tensor: W<l> (nn.Linear.weight, [out, in]) and b<l> ([out])."""
    named = {}
    for i, lin in enumerate(layers):
        named[f"W{i}"] = lin.weight
        named[f"b{i}"] = lin.bias
    return named


def save_init(path, layers):
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a name
        np.savez(f, **{k: t.detach().numpy() for k, t in init_layout(layers).items()})


def load_init(path, layers):
    named = init_layout(layers)
    with np.load(path) as npz:
        problems = [f"missing key {k} (shape {list(t.shape)})" for k, t in named.items()
                    if k not in npz.files]
        problems += [f"unexpected key {k} (shape {list(npz[k].shape)})" for k in npz.files
                     if k not in named]
        for k, t in named.items():
            if k in npz.files:
                a = npz[k]
                if a.shape != tuple(t.shape) or a.dtype not in (np.float32, np.float64):
                    problems.append(f"key {k}: {a.dtype} of shape {list(a.shape)}; expected "
                                    f"float32 or float64 of shape {list(t.shape)}")
        if problems:
            raise SystemExit(f"--init {path}: " + "; ".join(problems))
        with torch.no_grad():
            for k, t in named.items():
                t.copy_(torch.from_numpy(npz[k]).to(t.dtype))


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
    p.add_argument("--save-init", metavar="FILE",
                   help="write the initial weights here (.npz, W<l> [out, in], b<l> [out])")
    p.add_argument("--init", metavar="FILE",
                   help="load the initial weights from this .npz instead of initialising")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="parameter and activation precision")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_default_dtype(getattr(torch, args.dtype))
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
    if args.init:
        load_init(args.init, layers)
    if args.save_init:
        save_init(args.save_init, layers)
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
