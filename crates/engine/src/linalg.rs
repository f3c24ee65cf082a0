//! Dense linear algebra shared by the models and the training engine: the `gemm` matrix
//! product behind the convolution ops (`model::convops`) and the fused dense engine
//! (`train::fused`). Sits below both, so neither has to reach into the other for it.

/// Let gemm run on one thread (the caller already splits the work across threads).
pub const SERIAL: gemm::Parallelism = gemm::Parallelism::None;

#[allow(clippy::too_many_arguments)]
/// `c[m×n] = a·b` (or `c += a·b` when `accumulate`), row-major, where `a` is `[m×k]` (or its
/// transpose is stored, `a_t`) and `b` is `[k×n]` (or transposed, `b_t`).
pub fn matmul(
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    assert!(c.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let (a_rs, a_cs) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the asserts above bound every index gemm touches: rows/columns of a, b and c
    // with the given strides stay inside the slices, and c does not alias a or b (distinct
    // borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
