//! The Hungarian algorithm: a minimum-cost one-to-one assignment of rows to columns.
//!
//! This is the O(rows^2 * cols) shortest-augmenting-path form (Jonker-Volgenant style, as
//! written on e-maxx.ru): rows are added one at a time; for each, a Dijkstra-like search
//! over columns with reduced costs `cost[i][j] - u[i] - v[j]` (the dual potentials u, v stay
//! feasible, so reduced costs are never negative) finds the cheapest way to give the new
//! row a column, possibly by moving earlier rows along an alternating path.

/// Minimum-cost assignment for the (rows, cols) row-major `cost` matrix, rectangular
/// allowed. Returns the min(rows, cols) matched `(row, col)` pairs, sorted by row, like
/// SciPy's `linear_sum_assignment`: when rows > cols some rows stay unmatched, and
/// when cols > rows some columns do.
///
/// Panics if `cost.len() != rows * cols` or a cost is not finite (callers build the
/// matrix from counts; this is a kernel, not a boundary).
#[track_caller]
pub fn hungarian(cost: &[f64], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    assert_eq!(
        cost.len(),
        rows * cols,
        "hungarian: {} costs for a ({rows}, {cols}) matrix",
        cost.len()
    );
    assert!(
        cost.iter().all(|c| c.is_finite()),
        "hungarian: costs must be finite"
    );
    if rows <= cols {
        shortest_augmenting_path(cost, rows, cols)
    } else {
        // The search below needs rows <= cols: solve the transpose and swap back.
        let transposed: Vec<f64> = (0..cols)
            .flat_map(|j| (0..rows).map(move |i| cost[i * cols + j]))
            .collect();
        let mut pairs: Vec<(usize, usize)> = shortest_augmenting_path(&transposed, cols, rows)
            .into_iter()
            .map(|(j, i)| (i, j))
            .collect();
        pairs.sort_unstable();
        pairs
    }
}

/// The search itself, for n rows <= m columns. Indices are 1-based inside, with column 0
/// a virtual column that holds the row being inserted.
fn shortest_augmenting_path(cost: &[f64], n: usize, m: usize) -> Vec<(usize, usize)> {
    debug_assert!(n <= m);
    let a = |i: usize, j: usize| cost[(i - 1) * m + (j - 1)];
    // Dual potentials of rows (u) and columns (v).
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    // row_of[j]: the row matched to column j (0 = none); row_of[0] is the row being inserted.
    let mut row_of = vec![0usize; m + 1];
    // prev[j]: the column before j on the shortest alternating path.
    let mut prev = vec![0usize; m + 1];
    let mut min_reduced = vec![f64::INFINITY; m + 1];
    let mut used = vec![false; m + 1];
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        min_reduced.fill(f64::INFINITY);
        used.fill(false);
        // Grow the shortest-path tree until it reaches a free column.
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let reduced = a(i0, j) - u[i0] - v[j];
                if reduced < min_reduced[j] {
                    min_reduced[j] = reduced;
                    prev[j] = j0;
                }
                if min_reduced[j] < delta {
                    delta = min_reduced[j];
                    j1 = j;
                }
            }
            // Shift the potentials so that the new tree edge has reduced cost 0.
            for j in 0..=m {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_reduced[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        // Augment: flip the matching along the path back to the virtual column.
        loop {
            let j1 = prev[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut pairs: Vec<(usize, usize)> = (1..=m)
        .filter(|&j| row_of[j] != 0)
        .map(|j| (row_of[j] - 1, j - 1))
        .collect();
    pairs.sort_unstable();
    pairs
}
