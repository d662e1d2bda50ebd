use deepcluster::linalg::{Matrix, Transpose, gemm};

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
