//! A minimal row-major `f64` matrix and the two normalisations the metrics use.
//!
//! Storage is `f64` (not `f32`) so that the fixture inputs round-trip exactly and every cosine is
//! computed in double precision; `from_f32` widens model outputs once.

use crate::kernel::dot;
use anyhow::{bail, Result};

/// Row-major `[rows, cols]` matrix of `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    /// Checks the shape only; finiteness is checked (with the matrix's name) by the metrics.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if cols == 0 {
            bail!("matrix with {rows} rows has zero columns (vectors must have a dimension)");
        }
        if data.len() != rows * cols {
            bail!(
                "matrix [{rows}, {cols}] needs {} values, got {}",
                rows * cols,
                data.len()
            );
        }
        Ok(Self { rows, cols, data })
    }

    /// Widens row-major `f32` data (model hidden states) to `f64`.
    pub fn from_f32(rows: usize, cols: usize, data: &[f32]) -> Result<Self> {
        Self::new(rows, cols, data.iter().map(|&v| v as f64).collect())
    }

    /// From one `Vec` per row (tests, fixtures); all rows must have the same length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let cols = rows.first().map_or(0, |r| r.len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, r) in rows.iter().enumerate() {
            if r.len() != cols {
                bail!("row {i} has {} values but row 0 has {cols}", r.len());
            }
            data.extend_from_slice(r);
        }
        Self::new(rows.len(), cols, data)
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Errors on the first NaN/inf, naming the matrix (`what`), the row and the column.
    pub fn check_finite(&self, what: &str) -> Result<()> {
        if let Some(p) = self.data.iter().position(|v| !v.is_finite()) {
            bail!(
                "{what} row {} (column {}) is {} — the hidden states of that word are not finite",
                p / self.cols,
                p % self.cols,
                self.data[p]
            );
        }
        Ok(())
    }

    /// Every row divided by its L2 norm; a zero row is an error (its cosine is undefined).
    pub fn l2_normalised(&self, what: &str) -> Result<Matrix> {
        let mut out = self.clone();
        for i in 0..self.rows {
            let r = &mut out.data[i * self.cols..(i + 1) * self.cols];
            let norm = dot(r, r).sqrt();
            if !(norm > 0.0 && norm.is_finite()) {
                bail!("{what} row {i} has L2 norm {norm}; a cosine needs a non-zero finite vector");
            }
            r.iter_mut().for_each(|v| *v /= norm);
        }
        Ok(out)
    }

    /// MUSE/VecMap `renorm,center,renorm`: normalise, subtract the mean of all rows, normalise
    /// again. Centring removes the shared direction (anisotropy) that inflates every cosine.
    pub fn centred(&self, what: &str) -> Result<Matrix> {
        let mut out = self.l2_normalised(what)?;
        let mean = out.col_mean();
        for i in 0..out.rows {
            let r = &mut out.data[i * self.cols..(i + 1) * self.cols];
            r.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m);
        }
        out.l2_normalised(&format!("centred {what} (all its vectors equal?)"))
    }

    /// Mean over rows (NaN-free for `rows > 0`).
    pub fn col_mean(&self) -> Vec<f64> {
        let mut mean = vec![0.0; self.cols];
        for i in 0..self.rows {
            mean.iter_mut().zip(self.row(i)).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= self.rows as f64);
        mean
    }

    /// The rows listed in `idx`, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: idx.len(),
            cols: self.cols,
            data,
        }
    }
}
