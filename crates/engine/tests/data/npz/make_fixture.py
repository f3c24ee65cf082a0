"""Makes the real NumPy fixtures read by crates/engine/tests/npy.rs, from the digits
embedded in Bottleneck (assets/mnist-10k-*-ubyte.gz):

- mnist50.npz: np.savez_compressed with Keras' names, like ~/.keras/datasets/mnist.npz:
  x_train uint8 (40, 28, 28), y_train uint8 (40,), x_test uint8 (10, 28, 28), y_test uint8 (10,)
  (the first 40 embedded digits, then the next 10).
- digits10.npy: np.save of the first 10 digits as float32 (10, 784) in 0-1.

Run from this folder: python3 make_fixture.py (numpy 2.4.6 made the committed files).
"""

import gzip
import pathlib

import numpy as np

assets = pathlib.Path(__file__).resolve().parents[5] / "assets"
with gzip.open(assets / "mnist-10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
with gzip.open(assets / "mnist-10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)

np.savez_compressed(
    "mnist50.npz",
    x_train=images[:40],
    y_train=labels[:40],
    x_test=images[40:50],
    y_test=labels[40:50],
)
np.save("digits10.npy", (images[:10].reshape(10, 784) / 255.0).astype(np.float32))
