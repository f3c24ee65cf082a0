#!/usr/bin/env python3
"""PyTorch reference for `bottleneck bench`: the same models, data, batch size and optimiser,
timed the same way: the median of the per-step rates (samples in the step / the step's wall
time, a partial last batch counted with its real size) over the timed epochs, after a warm-up
epoch, on --threads threads (set explicitly; `bench/compare.sh` gives both sides the same).
The per-epoch median (samples / epoch wall time) is reported beside it.

    pip install torch numpy
    python3 bench/pytorch_reference.py [--threads 2] [--epochs 5] [--json]
    python3 bench/pytorch_reference.py --quality --epochs 3 --latent 2,32   # conv test MSE

Models (as in Bottleneck's presets, each with its preset's batch size and learning rate):
  dense: 784-256-128-32-128-256-784, ReLU hidden, linear code, sigmoid output, MSE,
         Adam 1e-3, batch 256
  vae:   784-256-128 trunk, mu/logvar heads (32), decoder 32-128-256-784, BCE + KL,
         Adam 1e-3, batch 256
  conv:  Conv(1→16, 3, s2, p1) → Conv(16→32, 3, s2, p1) → Linear(1568→32) and the mirror with
         ConvTranspose2d(…, output_padding=1), MSE, Adam 2e-3, batch 32 (at batch 256 it sat
         on the mean image for 3+ epochs: too few steps)
Data: the 10,000 embedded MNIST digits in assets/ (the first 8,000 are trained on; throughput
does not depend on which digits; --quality tests on the last 2,000). Glorot-uniform weights,
zero biases (Bottleneck's init).
"""
import argparse, gzip, json, os, statistics, struct, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(HERE, "..", "assets")


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    assert magic == 0x803, path
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(n, rows * cols).astype(np.float32) / 255.0


def glorot(m):
    if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


class Dense(nn.Module):
    def __init__(self, sizes=(784, 256, 128, 32)):
        super().__init__()
        enc, dec = [], []
        for a, b in zip(sizes, sizes[1:]):
            enc += [nn.Linear(a, b), nn.ReLU()]
        rs = sizes[::-1]
        for a, b in zip(rs, rs[1:]):
            dec += [nn.Linear(a, b), nn.ReLU()]
        self.enc = nn.Sequential(*enc[:-1])
        self.dec = nn.Sequential(*dec[:-1])

    def loss(self, x):
        return F.mse_loss(torch.sigmoid(self.dec(self.enc(x))), x)


class Vae(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU())
        self.mu = nn.Linear(128, 32)
        self.logvar = nn.Linear(128, 32)
        self.dec = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 784))

    def loss(self, x):
        h = self.trunk(x)
        mu, lv = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        logits = self.dec(z)
        rec = F.binary_cross_entropy_with_logits(logits, x)
        kl = -0.5 * torch.sum(1 + lv - mu * mu - lv.exp()) / (x.shape[0] * 784)
        return rec + kl


class Conv(nn.Module):
    def __init__(self, latent=32):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, 2, 1)
        self.c2 = nn.Conv2d(16, 32, 3, 2, 1)
        self.fc = nn.Linear(32 * 7 * 7, latent)
        self.dfc = nn.Linear(latent, 32 * 7 * 7)
        self.d1 = nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1)
        self.d2 = nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1)

    def recon(self, x):
        b = x.shape[0]
        h = F.relu(self.c2(F.relu(self.c1(x.view(b, 1, 28, 28)))))
        z = self.fc(h.flatten(1))
        h = F.relu(self.dfc(z)).view(b, 32, 7, 7)
        return torch.sigmoid(self.d2(F.relu(self.d1(h)))).view(b, 784)

    def loss(self, x):
        return F.mse_loss(self.recon(x), x)


# Each model's preset: (batch size, Adam learning rate), as TrainConfig::preset has them.
PRESETS = {"dense": (256, 1e-3), "vae": (256, 1e-3), "conv": (32, 2e-3)}


def bench(name, model, x, batch, epochs):
    model.apply(glorot)
    opt = torch.optim.Adam(model.parameters(), lr=PRESETS[name][1])
    step_rates, epoch_rates = [], []
    for epoch in range(epochs + 1):
        perm = torch.randperm(x.shape[0])
        t = time.perf_counter()
        for i in range(0, x.shape[0], batch):
            s = time.perf_counter()
            xb = x[perm[i:i + batch]]
            opt.zero_grad(set_to_none=True)
            loss = model.loss(xb)
            loss.backward()
            opt.step()
            if epoch > 0:  # the first epoch is a warm-up
                step_rates.append(xb.shape[0] / (time.perf_counter() - s))
        dt = time.perf_counter() - t
        if epoch > 0:
            epoch_rates.append(x.shape[0] / dt)
    median = statistics.median(step_rates)
    return {"samples_per_sec": median, "median_samples_per_sec": median,
            "epoch_median_samples_per_sec": statistics.median(epoch_rates),
            "steps_timed": len(step_rates), "epochs_timed": epochs, "batch": batch,
            "final_loss": loss.item()}


def quality(x, latent, epochs):
    """Trains the conv preset at `latent` on the first 8,000 digits; test MSE after each epoch."""
    model = Conv(latent)
    model.apply(glorot)
    batch, lr = PRESETS["conv"]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    train, test = x[:8000], x[8000:]
    out = []
    for _ in range(epochs):
        perm = torch.randperm(train.shape[0])
        for i in range(0, train.shape[0], batch):
            xb = train[perm[i:i + batch]]
            opt.zero_grad(set_to_none=True)
            model.loss(xb).backward()
            opt.step()
        with torch.no_grad():
            out.append(float(F.mse_loss(model.recon(test), test)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, help="override every preset's batch size")
    ap.add_argument("--only", default="dense,vae,conv")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quality", action="store_true", help="conv preset's test MSE per epoch instead")
    ap.add_argument("--latent", default="2,32", help="--quality: code sizes")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if torch.get_num_threads() != a.threads:
        raise SystemExit(f"asked for {a.threads} threads, torch runs {torch.get_num_threads()}")
    torch.manual_seed(a.seed)
    images = read_idx_images(os.path.join(ASSETS, "mnist-10k-images-idx3-ubyte.gz"))
    if a.quality:
        x = torch.from_numpy(images.copy())
        for k in [int(v) for v in a.latent.split(",")]:
            mses = quality(x, k, a.epochs)
            print(f"conv k={k:3d}  test MSE by epoch: " + " ".join(f"{m:.4f}" for m in mses))
        return
    x = torch.from_numpy(images[:8000].copy())
    out = {"torch": torch.__version__, "threads": a.threads}
    models = {"dense": Dense, "vae": Vae, "conv": Conv}
    for name in a.only.split(","):
        r = bench(name, models[name](), x, a.batch or PRESETS[name][0], a.epochs)
        out[name] = r
        if not a.json:
            print(f"{name:6s} {r['samples_per_sec']:10.0f} samples/s  (median of {r['steps_timed']} per-step "
                  f"rates; per-epoch median {r['epoch_median_samples_per_sec']:.0f}; final loss {r['final_loss']:.4f})")
    if a.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
