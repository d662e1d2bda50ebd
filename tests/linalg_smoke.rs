use deepcluster::linalg::{MatMut, Matrix, Transpose, gemm};
use rayon::prelude::*;

#[test]
fn gemm_multiplies_a_2x2() {
    let a = Matrix::from_vec(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
    let b = Matrix::from_vec(2, 2, vec![5.0, 6.0, 7.0, 8.0]);
    let mut c = Matrix::filled(2, 2, f32::NAN);
    gemm(
        1.0,
        a.view(),
        Transpose::No,
        b.view(),
        Transpose::No,
        0.0,
        c.view_mut(),
    );
    assert_eq!(c.as_slice(), &[19.0, 22.0, 43.0, 50.0]);
}

/// `par_row_blocks` cuts a strided view into disjoint blocks of whole rows, in order,
/// the last one shorter, and never touches the padding between rows.
#[test]
fn par_row_blocks_cover_every_row_once() {
    for (rows, cols, stride, per_block) in [
        (7, 3, 5, 2),
        (6, 4, 4, 3),
        (1, 4, 2, 5),
        (0, 3, 3, 2),
        (5, 2, 9, 1),
    ] {
        let len = if rows == 0 {
            0
        } else {
            (rows - 1) * stride + cols
        };
        let mut data = vec![f32::NAN; len];
        let view = MatMut::new(&mut data, rows, cols, stride);
        let blocks: Vec<usize> = view
            .par_row_blocks(per_block)
            .enumerate()
            .map(|(t, mut block)| {
                for r in 0..block.rows() {
                    for (j, v) in block.row_mut(r).iter_mut().enumerate() {
                        *v = ((t * per_block + r) * 10 + j) as f32;
                    }
                }
                block.rows()
            })
            .collect();
        assert_eq!(
            blocks.iter().sum::<usize>(),
            rows,
            "({rows}, {cols}) stride {stride}"
        );
        assert!(blocks.iter().all(|&b| b > 0 && b <= per_block));
        for (k, &v) in data.iter().enumerate() {
            let (i, j) = (k / stride.max(cols), k % stride.max(cols));
            if j < cols {
                assert_eq!(v, (i * 10 + j) as f32, "element ({i}, {j})");
            } else {
                assert!(v.is_nan(), "padding at {k} was written");
            }
        }
    }
}
