//! A safe, shape-checked front for the `gemm` crate (the same GEMM burn's flex backend uses) on
//! row-major `f32` slices, for the host LM-head kernel.

/// A row-major matrix view, optionally read transposed.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a> Mat<'a> {
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "matrix data does not match its shape"
        );
        Self {
            data,
            rows,
            cols,
            transposed: false,
        }
    }

    pub(crate) fn t(self) -> Self {
        Self {
            transposed: !self.transposed,
            ..self
        }
    }

    /// (rows, cols) as read, and (row stride, column stride) of the read view.
    fn view(&self) -> ((usize, usize), (isize, isize)) {
        let stride = self.cols as isize;
        if self.transposed {
            ((self.cols, self.rows), (1, stride))
        } else {
            ((self.rows, self.cols), (stride, 1))
        }
    }
}

/// `dst = a @ b` (`accumulate`: `dst += a @ b`), `dst` row-major `[a.rows, b.cols]`.
pub(crate) fn matmul(dst: &mut [f32], a: Mat, b: Mat, accumulate: bool) {
    let ((m, k), (a_rs, a_cs)) = a.view();
    let ((k2, n), (b_rs, b_cs)) = b.view();
    assert_eq!(k, k2, "inner dimensions differ");
    assert_eq!(
        dst.len(),
        m * n,
        "destination does not match the product's shape"
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts above and in `Mat::new` guarantee that every index gemm forms from
    // these shapes and strides stays inside the three slices, and `dst` is borrowed mutably
    // while `a` and `b` are shared borrows, so they cannot alias.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        (0..m * n)
            .map(|ij| (0..k).map(|p| a[ij / n * k + p] * b[p * n + ij % n]).sum())
            .collect()
    }

    #[test]
    fn matches_a_naive_product_in_every_orientation() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let mut got = vec![0.0; m * n];
        matmul(&mut got, Mat::new(&a, m, k), Mat::new(&b, k, n), false);
        assert!(got.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-5));

        // a^T stored as [k, m], b^T stored as [n, k].
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut twice = got.clone();
        matmul(
            &mut twice,
            Mat::new(&at, k, m).t(),
            Mat::new(&bt, n, k).t(),
            true,
        );
        assert!(
            twice
                .iter()
                .zip(&want)
                .all(|(x, y)| (x - 2.0 * y).abs() < 1e-5)
        );
    }
}
