//! The E-step with Hamerly's bounds (Hamerly 2010): every active run assigns every point
//! to its nearest centre, skipping the points whose centre provably cannot have changed,
//! and reports the label changes block by block, in block order.

use rayon::prelude::*;

use crate::linalg::{MatRef, Matrix};

use super::distances::{Centres, Points, exact_sq_distance, for_each_chunk};
use super::lloyd::{Move, Run, UNASSIGNED};
use super::{BLOCK, CHUNK};

/// What the E-step of one run needs to know about its centres.
struct RunCentres<'a> {
    centres: Centres<'a>,
    /// half_gap is (k,): half the distance from each centre to its nearest other centre.
    half_gap: Vec<f64>,
    /// max_j ||c_j||^2, for the rounding bound.
    max_sq_norm: f64,
}

/// One run's per-point state, for the points of one block.
struct BlockState<'a> {
    labels: &'a mut [usize],
    upper: &'a mut [f64],
    lower: &'a mut [f64],
}

/// The E-step of every active run over all points: updates labels and bounds and returns,
/// per block (in block order) and per active run, the label changes.
pub(super) fn assign(points: &Points<'_>, active: &mut [&mut Run]) -> Vec<Vec<Vec<Move>>> {
    let d = points.x.cols();
    let mut views = Vec::with_capacity(active.len());
    let mut per_block: Vec<Vec<BlockState<'_>>> =
        (0..points.blocks()).map(|_| Vec::new()).collect();
    for run in active.iter_mut() {
        let Run {
            centres,
            labels,
            upper,
            lower,
            ..
        } = &mut **run;
        let half_gap = half_gaps(centres);
        let centres = Centres::new(centres);
        let max_sq_norm = centres
            .sq_norms
            .iter()
            .fold(0.0f64, |m, &c| m.max(c as f64));
        views.push(RunCentres {
            centres,
            half_gap,
            max_sq_norm,
        });
        let blocks = labels
            .chunks_mut(BLOCK)
            .zip(upper.chunks_mut(BLOCK))
            .zip(lower.chunks_mut(BLOCK));
        for (b, ((labels, upper), lower)) in blocks.enumerate() {
            per_block[b].push(BlockState {
                labels,
                upper,
                lower,
            });
        }
    }
    // A bound on the rounding of ||x||^2 - 2 x.c + ||c||^2 in f32 with D-term dot products:
    // |error| <= (D + 4) eps (||x||^2 + ||c||^2).
    let rounding = (d as f64 + 4.0) * f32::EPSILON as f64;
    per_block
        .into_par_iter()
        .enumerate()
        .map(|(b, mut states)| {
            let mut moves: Vec<Vec<Move>> = states.iter().map(|_| Vec::new()).collect();
            let k_max = views.iter().map(|v| v.centres.k()).max().unwrap_or(0);
            // gathered is (rows, D): the chunk's points a run must re-assign; scores (rows, k).
            let mut gathered = Vec::with_capacity(CHUNK * d);
            let mut scores = vec![0.0f32; CHUNK * k_max];
            let mut todo = Vec::with_capacity(CHUNK);
            for_each_chunk(points, b, |i0, x_chunk, x_sq| {
                for ((st, view), moves) in states.iter_mut().zip(&views).zip(&mut moves) {
                    todo.clear();
                    for i in 0..x_chunk.rows() {
                        let p = i0 + i;
                        let keep = st.labels[p] != UNASSIGNED
                            && st.upper[p] <= view.half_gap[st.labels[p]].max(st.lower[p]);
                        if !keep {
                            todo.push(i);
                        }
                    }
                    if todo.is_empty() {
                        continue;
                    }
                    let rows = if todo.len() == x_chunk.rows() {
                        x_chunk
                    } else {
                        gathered.clear();
                        for &i in &todo {
                            gathered.extend_from_slice(x_chunk.row(i));
                        }
                        MatRef::from_slice(&gathered, todo.len(), d)
                    };
                    let k = view.centres.k();
                    view.centres.scores(rows, &mut scores);
                    for (row, &i) in scores.chunks_exact(k).zip(&todo) {
                        let p = i0 + i;
                        let (j, first, second) = two_nearest(row);
                        let xx = x_sq[i] as f64;
                        let slack = rounding * (xx + view.max_sq_norm);
                        st.upper[p] = (xx + first as f64 + slack).max(0.0).sqrt();
                        st.lower[p] = (xx + second as f64 - slack).max(0.0).sqrt();
                        let old = st.labels[p];
                        if old != j {
                            st.labels[p] = j;
                            moves.push((b * BLOCK + p, old, j));
                        }
                    }
                }
            });
            moves
        })
        .collect()
}

/// The index of the smallest score (the first on ties), the smallest and the second
/// smallest (infinite when there is one score).
fn two_nearest(scores: &[f32]) -> (usize, f32, f32) {
    let (mut j, mut first, mut second) = (0, scores[0], f32::INFINITY);
    for (c, &s) in scores.iter().enumerate().skip(1) {
        if s < first {
            second = first;
            first = s;
            j = c;
        } else if s < second {
            second = s;
        }
    }
    (j, first, second)
}

/// Half the distance from each centre to its nearest other centre, (k,), slightly shrunk
/// so that rounding in the square root never overstates it.
fn half_gaps(centres: &Matrix) -> Vec<f64> {
    let k = centres.rows();
    (0..k)
        .map(|j| {
            let nearest = (0..k)
                .filter(|&o| o != j)
                .map(|o| exact_sq_distance(centres.row(j), centres.row(o)))
                .fold(f64::INFINITY, f64::min);
            0.5 * nearest.sqrt() * (1.0 - 1e-12)
        })
        .collect()
}

/// After the centres move from `old` to `new`: u grows by its own centre's move, l shrinks
/// by the largest move among the other centres.
pub(super) fn widen_bounds(
    old: &Matrix,
    new: &Matrix,
    labels: &[usize],
    upper: &mut [f64],
    lower: &mut [f64],
) {
    let delta: Vec<f64> = old
        .iter_rows()
        .zip(new.iter_rows())
        .map(|(a, b)| exact_sq_distance(a, b).sqrt() * (1.0 + 1e-12))
        .collect();
    // The largest move, its centre, and the second largest.
    let (mut top, mut top_j, mut next) = (0.0f64, usize::MAX, 0.0f64);
    for (j, &dj) in delta.iter().enumerate() {
        if dj > top {
            next = top;
            top = dj;
            top_j = j;
        } else if dj > next {
            next = dj;
        }
    }
    for ((&label, u), l) in labels.iter().zip(upper).zip(lower) {
        *u += delta[label];
        *l -= if label == top_j { next } else { top };
    }
}
