//! How a tensor is cut into chunks: a matrix into `tile x tile` tiles (edge tiles smaller), a
//! vector into runs of `chunk` elements (the last shorter). A chunk is a list of flat positions.

/// One tensor as the codec sees it: a name and a shape of rank 1 or 2.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
}

impl TensorSpec {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// One chunk: `rows x cols` elements starting at flat `offset`, rows `stride` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub stride: usize,
}

impl Chunk {
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Flat position of the chunk's `i`-th element (row-major within the chunk).
    pub fn position(&self, i: usize) -> usize {
        self.offset + (i / self.cols) * self.stride + i % self.cols
    }
}

/// The chunks of a tensor, in a fixed order (tiles row by row).
pub(crate) fn chunks(shape: &[usize], tile: usize, chunk: usize) -> Vec<Chunk> {
    match *shape {
        [rows, cols] if rows > 1 && cols > 1 => {
            let mut out = Vec::with_capacity(rows.div_ceil(tile) * cols.div_ceil(tile));
            for r in (0..rows).step_by(tile) {
                for c in (0..cols).step_by(tile) {
                    out.push(Chunk {
                        offset: r * cols + c,
                        rows: tile.min(rows - r),
                        cols: tile.min(cols - c),
                        stride: cols,
                    });
                }
            }
            out
        }
        _ => {
            let n: usize = shape.iter().product();
            (0..n)
                .step_by(chunk)
                .map(|start| Chunk {
                    offset: start,
                    rows: 1,
                    cols: chunk.min(n - start),
                    stride: 0,
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_element_exactly_once() {
        for (shape, tile, chunk) in [
            (vec![130, 70], 64, 4096),
            (vec![10_000], 64, 4096),
            (vec![1, 5], 64, 4),
        ] {
            let n: usize = shape.iter().product();
            let mut seen = vec![0u8; n];
            for c in chunks(&shape, tile, chunk) {
                for i in 0..c.len() {
                    seen[c.position(i)] += 1;
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "{shape:?}");
        }
        assert_eq!(chunks(&[130, 70], 64, 4096).len(), 3 * 2);
        assert_eq!(chunks(&[10_000], 64, 4096).len(), 3);
    }
}
