#!/usr/bin/env python3
"""Reference numbers for crates/engine/tests/analysis.rs, computed with scikit-learn in float64.

The split is exactly the test's: the embedded MNIST subset in assets/ (10,000 digits, IDX,
gzipped), pixels / 255, the first 8,000 images to fit PCA and the last 2,000 to measure the
test error. For k in (2, 8, 16, 32) it prints the test MSE per element (mean over images and
pixels of the squared error of reconstructing with k components) and the explained variance
ratios the test checks. Run from anywhere:

    pip install numpy scikit-learn
    python3 crates/engine/tests/reference/pca_reference.py
"""

import gzip
import pathlib
import struct

import numpy as np
import sklearn
from sklearn.decomposition import PCA

ASSETS = pathlib.Path(__file__).resolve().parents[4] / "assets"
N_TRAIN = 8000


def idx(name):
    data = gzip.open(ASSETS / name).read()
    magic = struct.unpack(">I", data[:4])[0]
    dims = struct.unpack(">" + "I" * (magic & 0xFF), data[4 : 4 + 4 * (magic & 0xFF)])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def main():
    images = idx("mnist-10k-images-idx3-ubyte.gz")
    labels = idx("mnist-10k-labels-idx1-ubyte.gz")
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)
    x = images.reshape(10_000, 784).astype(np.float64) / 255.0
    train, test = x[:N_TRAIN], x[N_TRAIN:]

    pca = PCA(n_components=784, svd_solver="full").fit(train)
    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}")
    centred = test - pca.mean_
    for k in (2, 8, 16, 32):
        w = pca.components_[:k]
        recon = centred @ w.T @ w
        mse = np.mean((centred - recon) ** 2)
        print(f"k = {k:>2}: test MSE {mse:.8f}")
    ratio = pca.explained_variance_ratio_
    print(f"explained variance ratio: first {ratio[0]:.8f}, first 10 {ratio[:10].sum():.8f}, "
          f"first 50 {ratio[:50].sum():.8f}")

    # Cross-check without scikit-learn: eigenvalues of the covariance (n - 1), as the Rust fit.
    cov = np.cov(train, rowvar=False)
    eig = np.sort(np.linalg.eigvalsh(cov))[::-1]
    assert np.allclose(eig[:50], pca.explained_variance_[:50], rtol=1e-9, atol=1e-12)
    assert np.isclose(np.trace(cov), pca.explained_variance_.sum(), rtol=1e-9)


if __name__ == "__main__":
    main()
