//! The crate's one argmin and argmax: which entry of a sequence is smallest or largest.
//!
//! Semantics, the same everywhere they are used (the nearest centre, the most probable
//! component, the hard clustering argmax_j q_ij, the best restart, the k of lowest BIC):
//!
//! - **ties go to the lowest index**: a later entry replaces the best so far only when it
//!   is strictly better (scikit-learn's and NumPy's `argmin` / `argmax` choice);
//! - **NaN is passed over**: an entry that does not compare equal to itself is never the
//!   answer, wherever it stands, so a NaN cannot hide a number after it; `None` when the
//!   sequence is empty or holds nothing but NaN, and the caller says what that means.
//!
//! On sequences without NaN this is the textbook loop `best = 0; if x[j] < x[best] { best
//! = j }` and its `best = (INFINITY, 0)` form, so replacing either by it changes no result.

/// The index and value of the smallest entry: the first of equal ones, NaN passed over;
/// None when there is no number.
pub fn argmin<T: PartialOrd + Copy>(values: impl IntoIterator<Item = T>) -> Option<(usize, T)> {
    best_by(values, |x, best| x < best)
}

/// The index and value of the largest entry: the first of equal ones, NaN passed over;
/// None when there is no number.
pub fn argmax<T: PartialOrd + Copy>(values: impl IntoIterator<Item = T>) -> Option<(usize, T)> {
    best_by(values, |x, best| x > best)
}

/// argmax_j of each row of `m` (N, K), (N,); a row without a number gives 0.
pub fn argmax_rows(m: &super::Matrix) -> Vec<usize> {
    m.iter_rows()
        .map(|row| argmax(row.iter().copied()).map_or(0, |(j, _)| j))
        .collect()
}

/// The first entry that no later one `beats`.
fn best_by<T: PartialOrd + Copy>(
    values: impl IntoIterator<Item = T>,
    beats: impl Fn(T, T) -> bool,
) -> Option<(usize, T)> {
    let mut best: Option<(usize, T)> = None;
    for (j, x) in values.into_iter().enumerate() {
        #[allow(clippy::eq_op)] // x != x is the test for NaN that works for any PartialOrd
        let is_nan = x != x;
        if !is_nan && best.is_none_or(|(_, b)| beats(x, b)) {
            best = Some((j, x));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::Matrix;

    #[test]
    fn ties_go_to_the_lowest_index() {
        assert_eq!(argmin([3.0, 1.0, 2.0, 1.0]), Some((1, 1.0)));
        assert_eq!(argmax([3.0, 1.0, 3.0, 2.0]), Some((0, 3.0)));
        assert_eq!(argmax([2u64, 5, 5, 1]), Some((1, 5)));
        assert_eq!(argmin([7i32; 4]), Some((0, 7)));
        assert_eq!(
            argmin([f32::INFINITY, f32::INFINITY]),
            Some((0, f32::INFINITY))
        );
        assert_eq!(argmax([-0.0f64, 0.0]), Some((0, -0.0))); // -0 == 0: a tie
    }

    #[test]
    fn nan_is_passed_over_wherever_it_stands() {
        let nan = f64::NAN;
        assert_eq!(argmin([nan, 2.0, 1.0]), Some((2, 1.0)));
        assert_eq!(argmin([2.0, nan, 1.0, nan]), Some((2, 1.0)));
        assert_eq!(argmax([nan, -1.0, nan]), Some((1, -1.0)));
        assert_eq!(argmin([nan, nan]), None);
        assert_eq!(argmax(Vec::<f32>::new()), None);
    }

    #[test]
    fn agrees_with_the_textbook_loops_on_numbers() {
        // The two loops the crate used to write out: start at entry 0, or at +infinity.
        let rows: [&[f32]; 4] = [
            &[0.5, 0.25, 0.25, 1.0],
            &[2.0],
            &[-1.0, -3.0, -3.0],
            &[9.0; 3],
        ];
        for row in rows {
            let mut first = 0;
            let mut sentinel = (f32::INFINITY, 0);
            for (j, &v) in row.iter().enumerate() {
                if v < row[first] {
                    first = j;
                }
                if v < sentinel.0 {
                    sentinel = (v, j);
                }
            }
            assert_eq!(argmin(row.iter().copied()).unwrap().0, first);
            assert_eq!(argmin(row.iter().copied()).unwrap().0, sentinel.1);
        }
    }

    #[test]
    fn argmax_of_every_row() {
        let q = Matrix::from_vec(3, 3, vec![0.2, 0.5, 0.3, 0.4, 0.4, 0.2, f32::NAN, 0.1, 0.9]);
        assert_eq!(argmax_rows(&q), vec![1, 0, 2]);
        let empty_rows = Matrix::from_vec(2, 1, vec![f32::NAN, 1.0]);
        assert_eq!(argmax_rows(&empty_rows), vec![0, 0]);
    }
}
