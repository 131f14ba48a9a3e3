//! Logistic regression by iteratively reweighted least squares (IRLS), with the inference a
//! paper reports: standard errors from the observed information, Wald z tests, the
//! likelihood-ratio test against the intercept-only model (or any nested model) and
//! McFadden's pseudo-R². Rows may carry frequency weights, so a table of counts is fitted
//! without expanding it into one row per observation (the same estimates as expanding).
//!
//! Checked against statsmodels (`Logit`, and `GLM(Binomial, freq_weights)`) on fixed data saved
//! by `scripts/make_stats_fixtures.py` (`tests/stats.rs`).

use nalgebra::{DMatrix, DVector};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::display::Table;
use crate::{Error, Result};

/// Data for one regression: a design matrix given by rows (include the intercept column
/// yourself, e.g. with [`DesignBuilder`]), a 0/1 outcome and frequency weights.
#[derive(Clone, Debug, Default)]
pub struct LogitData {
    pub names: Vec<String>,
    pub rows: Vec<Vec<f64>>,
    pub y: Vec<f64>,
    pub weights: Vec<f64>,
}

impl LogitData {
    /// Unweighted data (every weight 1).
    pub fn new(names: Vec<String>, rows: Vec<Vec<f64>>, y: Vec<f64>) -> LogitData {
        let weights = vec![1.0; y.len()];
        LogitData { names, rows, y, weights }
    }
    /// Total weight (the number of observations).
    pub fn n_obs(&self) -> f64 {
        self.weights.iter().sum()
    }
    /// The same data with only the named columns (for a nested model).
    pub fn select(&self, columns: &[&str]) -> Result<LogitData> {
        let idx: Vec<usize> = columns
            .iter()
            .map(|c| {
                self.names
                    .iter()
                    .position(|n| n == c)
                    .ok_or_else(|| Error::Data(format!("no column `{c}` in {:?}", self.names)))
            })
            .collect::<Result<_>>()?;
        Ok(LogitData {
            names: idx.iter().map(|&i| self.names[i].clone()).collect(),
            rows: self.rows.iter().map(|r| idx.iter().map(|&i| r[i]).collect()).collect(),
            y: self.y.clone(),
            weights: self.weights.clone(),
        })
    }
    fn validate(&self) -> Result<()> {
        let p = self.names.len();
        if self.y.is_empty() || p == 0 {
            return Err(Error::EmptyInput("logistic regression needs rows and at least one column".into()));
        }
        if self.rows.len() != self.y.len() || self.weights.len() != self.y.len() {
            return Err(Error::Shape(format!(
                "{} rows, {} outcomes, {} weights",
                self.rows.len(),
                self.y.len(),
                self.weights.len()
            )));
        }
        if let Some(r) = self.rows.iter().find(|r| r.len() != p) {
            return Err(Error::Shape(format!("a row has {} values for {p} columns", r.len())));
        }
        if self.y.iter().any(|&v| v != 0.0 && v != 1.0) {
            return Err(Error::Data("the outcome must be 0 or 1".into()));
        }
        if self.weights.iter().any(|&w| !(w.is_finite() && w >= 0.0)) || self.rows.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::Data("weights must be finite and ≥ 0, predictors finite".into()));
        }
        if self.n_obs() <= 0.0 {
            return Err(Error::EmptyInput("every weight is 0".into()));
        }
        Ok(())
    }
}

/// Options of the IRLS solver.
#[derive(Clone, Debug)]
pub struct LogitOptions {
    pub max_iter: usize,
    /// Converged when the deviance changes by less than this, relatively (statsmodels' GLM
    /// criterion).
    pub tol: f64,
    /// A fitted linear predictor beyond ±this on a row with weight is taken as separation (the
    /// probability is within 3e-7 of 0 or 1: the estimate is running off to infinity).
    pub separation_eta: f64,
}

impl Default for LogitOptions {
    fn default() -> Self {
        LogitOptions {
            max_iter: 100,
            tol: 1e-12,
            separation_eta: 15.0,
        }
    }
}

/// One coefficient with its Wald test.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub name: String,
    pub coef: f64,
    pub se: f64,
    pub z: f64,
    pub p_value: f64,
}

/// A likelihood-ratio test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrTest {
    /// 2 (ℓ_full − ℓ_reduced).
    pub stat: f64,
    pub df: usize,
    pub p_value: f64,
}

/// A fitted logistic regression.
#[derive(Clone, Debug)]
pub struct LogitFit {
    pub terms: Vec<Term>,
    /// Covariance of the estimates: (Xᵀ W X)⁻¹ at the optimum.
    pub cov: Vec<Vec<f64>>,
    pub log_likelihood: f64,
    /// Log-likelihood of the intercept-only model (statsmodels' `llnull`).
    pub null_log_likelihood: f64,
    pub n_obs: f64,
    pub iterations: usize,
}

impl LogitFit {
    pub fn coefficients(&self) -> Vec<f64> {
        self.terms.iter().map(|t| t.coef).collect()
    }
    pub fn term(&self, name: &str) -> Option<&Term> {
        self.terms.iter().find(|t| t.name == name)
    }
    /// McFadden's pseudo-R²: 1 − ℓ / ℓ_null.
    pub fn mcfadden_r2(&self) -> f64 {
        1.0 - self.log_likelihood / self.null_log_likelihood
    }
    /// The likelihood-ratio test of every slope at once (statsmodels' `llr`, `llr_pvalue`;
    /// df = parameters − 1, the model having an intercept).
    pub fn lr_test_null(&self) -> LrTest {
        lr_stat(self.log_likelihood, self.null_log_likelihood, self.terms.len().saturating_sub(1))
    }
    /// The coefficient table (coef, std err, z, p).
    pub fn table(&self) -> Result<Table> {
        let rows = self
            .terms
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    format!("{:.4}", t.coef),
                    format!("{:.4}", t.se),
                    format!("{:.3}", t.z),
                    format!("{:.3e}", t.p_value),
                ]
            })
            .collect();
        Table::from_rows(&["term", "coef", "std err", "z", "P>|z|"], rows)
    }
}

fn lr_stat(ll_full: f64, ll_reduced: f64, df: usize) -> LrTest {
    let stat = (2.0 * (ll_full - ll_reduced)).max(0.0);
    let p_value = if df == 0 {
        1.0
    } else {
        ChiSquared::new(df as f64).map(|c| c.sf(stat)).unwrap_or(f64::NAN)
    };
    LrTest { stat, df, p_value }
}

/// The likelihood-ratio test of a reduced model nested in a full one (fitted on the same rows).
pub fn lr_test(full: &LogitFit, reduced: &LogitFit) -> Result<LrTest> {
    if reduced.terms.len() >= full.terms.len() || (full.n_obs - reduced.n_obs).abs() > 1e-9 * full.n_obs.max(1.0) {
        return Err(Error::Data(format!(
            "likelihood-ratio test needs a reduced model with fewer terms on the same rows ({} vs {} terms, n {} vs {})",
            reduced.terms.len(),
            full.terms.len(),
            reduced.n_obs,
            full.n_obs
        )));
    }
    Ok(lr_stat(full.log_likelihood, reduced.log_likelihood, full.terms.len() - reduced.terms.len()))
}

/// Two-sided p-value of a standard-normal z.
pub fn normal_two_sided_p(z: f64) -> f64 {
    let n = Normal::new(0.0, 1.0).expect("the standard normal");
    2.0 * n.sf(z.abs())
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// ℓ = Σ w [y log μ + (1−y) log(1−μ)], computed from η without cancelling.
fn log_likelihood(eta: &[f64], y: &[f64], w: &[f64]) -> f64 {
    // log σ(η) = −log(1+e^{−η}); log(1−σ(η)) = −log(1+e^{η})
    let softplus = |x: f64| if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() };
    eta.iter()
        .zip(y)
        .zip(w)
        .map(|((&e, &yi), &wi)| {
            if wi == 0.0 {
                0.0
            } else {
                -wi * if yi == 1.0 { softplus(-e) } else { softplus(e) }
            }
        })
        .sum()
}

/// Fits `y ~ X` by IRLS (Newton's method on the log-likelihood). Typed errors: no rows, rows
/// of the wrong length, an outcome other than 0/1 ([`Error::Data`]), an outcome that is
/// constant or (quasi-)perfectly separated by the predictors ([`Error::PerfectSeparation`]),
/// an all-zero or collinear column ([`Error::SingularDesign`]).
pub fn fit_logit(data: &LogitData, opts: &LogitOptions) -> Result<LogitFit> {
    data.validate()?;
    let (n, p) = (data.y.len(), data.names.len());
    let n_obs = data.n_obs();
    let ybar = data.y.iter().zip(&data.weights).map(|(y, w)| y * w).sum::<f64>() / n_obs;
    if ybar == 0.0 || ybar == 1.0 {
        return Err(Error::PerfectSeparation(format!(
            "the outcome is always {ybar} (the intercept alone separates it)"
        )));
    }
    for (j, name) in data.names.iter().enumerate() {
        if data.rows.iter().zip(&data.weights).all(|(r, &w)| w == 0.0 || r[j] == 0.0) {
            return Err(Error::SingularDesign(format!(
                "column `{name}` is zero on every observed row (an empty group?)"
            )));
        }
    }
    let x = DMatrix::from_fn(n, p, |i, j| data.rows[i][j]);
    let (y, w) = (&data.y, &data.weights);
    let mut beta = DVector::<f64>::zeros(p);
    let mut eta = vec![0.0; n];
    let mut ll = log_likelihood(&eta, y, w);
    let mut iterations = 0;
    let mut converged = false;
    for it in 1..=opts.max_iter {
        iterations = it;
        // weights μ(1−μ) and the working response, as Newton's step: β ← (XᵀWX)⁻¹ XᵀW z
        let mut xtwx = DMatrix::<f64>::zeros(p, p);
        let mut xtwz = DVector::<f64>::zeros(p);
        for i in 0..n {
            if w[i] == 0.0 {
                continue;
            }
            let mu = sigmoid(eta[i]);
            let v = (mu * (1.0 - mu)).max(1e-300);
            let z = eta[i] + (y[i] - mu) / v;
            let wi = w[i] * v;
            let row = x.row(i);
            for a in 0..p {
                let xa = row[a] * wi;
                if xa == 0.0 {
                    continue;
                }
                xtwz[a] += xa * z;
                for b in 0..p {
                    xtwx[(a, b)] += xa * row[b];
                }
            }
        }
        // the weights μ(1−μ) underflow once fitted probabilities reach 0 or 1: then a failed
        // solve means separation, not a singular design
        let diverging = it > 1 && eta.iter().zip(w).any(|(e, &wi)| wi > 0.0 && e.abs() > opts.separation_eta);
        let fail = |names: &[String]| if diverging { separation(names, &beta, it, false) } else { singular(names) };
        let Some(chol) = xtwx.cholesky() else { return Err(fail(&data.names)) };
        let new_beta = chol.solve(&xtwz);
        if new_beta.iter().any(|v| !v.is_finite()) {
            return Err(fail(&data.names));
        }
        let new_eta: Vec<f64> = (&x * &new_beta).iter().copied().collect();
        let new_ll = log_likelihood(&new_eta, y, w);
        beta = new_beta;
        eta = new_eta;
        let change = (new_ll - ll).abs() / (new_ll.abs() + 1e-300);
        ll = new_ll;
        if change < opts.tol {
            converged = true;
            break;
        }
    }
    // separation: the MLE is at infinity; IRLS creeps towards it, with fitted probabilities
    // that collapse onto 0 or 1 for the rows the offending predictor separates
    let extreme = eta.iter().zip(w).any(|(e, &wi)| wi > 0.0 && e.abs() > opts.separation_eta);
    if extreme || !converged {
        return Err(separation(&data.names, &beta, iterations, converged));
    }
    // the information at the final β (the loop's matrix is one Newton step behind)
    let mut xtwx = DMatrix::<f64>::zeros(p, p);
    for i in 0..n {
        let mu = sigmoid(eta[i]);
        let wi = w[i] * mu * (1.0 - mu);
        let row = x.row(i);
        for a in 0..p {
            for b in 0..p {
                xtwx[(a, b)] += wi * row[a] * row[b];
            }
        }
    }
    let cov = xtwx.try_inverse().ok_or_else(|| singular(&data.names))?;
    let terms = (0..p)
        .map(|j| {
            let se = cov[(j, j)].max(0.0).sqrt();
            let z = beta[j] / se;
            Term {
                name: data.names[j].clone(),
                coef: beta[j],
                se,
                z,
                p_value: normal_two_sided_p(z),
            }
        })
        .collect();
    let null_ll = n_obs * (ybar * ybar.ln() + (1.0 - ybar) * (1.0 - ybar).ln());
    Ok(LogitFit {
        terms,
        cov: (0..p).map(|a| (0..p).map(|b| cov[(a, b)]).collect()).collect(),
        log_likelihood: ll,
        null_log_likelihood: null_ll,
        n_obs,
        iterations,
    })
}

fn separation(names: &[String], beta: &DVector<f64>, iterations: usize, converged: bool) -> Error {
    let (j, b) = beta
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .map(|(j, b)| (j, *b))
        .unwrap_or((0, f64::NAN));
    Error::PerfectSeparation(format!(
        "{} after {iterations} iterations; largest coefficient `{}` = {b:.1}",
        if converged { "fitted probabilities of 0 or 1" } else { "no convergence" },
        names[j]
    ))
}

fn singular(names: &[String]) -> Error {
    Error::SingularDesign(format!("XᵀWX is not positive definite: collinear columns among {names:?}"))
}

/// Builds a design matrix from categorical predictors with treatment (dummy) coding, the
/// first level of each factor being the reference, and products of them (interactions):
/// what a formula `y ~ a + b + a:b` means in statsmodels/patsy.
#[derive(Clone, Debug, Default)]
pub struct DesignBuilder {
    factors: Vec<(String, Vec<String>)>,
    interactions: Vec<(usize, usize)>,
}

impl DesignBuilder {
    pub fn new() -> DesignBuilder {
        DesignBuilder::default()
    }
    /// A categorical predictor with its levels; the first is the reference.
    pub fn factor(mut self, name: &str, levels: &[&str]) -> DesignBuilder {
        self.factors.push((name.to_string(), levels.iter().map(|s| s.to_string()).collect()));
        self
    }
    /// The interaction of two factors added earlier (by name).
    pub fn interaction(mut self, a: &str, b: &str) -> Result<DesignBuilder> {
        let find = |n: &str| {
            self.factors
                .iter()
                .position(|f| f.0 == n)
                .ok_or_else(|| Error::Data(format!("no factor `{n}`")))
        };
        let (i, j) = (find(a)?, find(b)?);
        self.interactions.push((i, j));
        Ok(self)
    }
    /// Column names: `Intercept`, each non-reference level (`woman`, `asian`), each product
    /// (`woman:asian`).
    pub fn names(&self) -> Vec<String> {
        let mut names = vec!["Intercept".to_string()];
        for (_, levels) in &self.factors {
            names.extend(levels[1..].iter().cloned());
        }
        for &(i, j) in &self.interactions {
            for a in &self.factors[i].1[1..] {
                for b in &self.factors[j].1[1..] {
                    names.push(format!("{a}:{b}"));
                }
            }
        }
        names
    }
    /// One design row for the given level of each factor (indices into its levels).
    pub fn row(&self, levels: &[usize]) -> Result<Vec<f64>> {
        if levels.len() != self.factors.len() {
            return Err(Error::Shape(format!("{} levels for {} factors", levels.len(), self.factors.len())));
        }
        let mut dummies: Vec<Vec<f64>> = vec![];
        for ((name, lv), &l) in self.factors.iter().zip(levels) {
            if l >= lv.len() {
                return Err(Error::Data(format!("level {l} of factor `{name}` (has {})", lv.len())));
            }
            dummies.push((1..lv.len()).map(|k| if k == l { 1.0 } else { 0.0 }).collect());
        }
        let mut row = vec![1.0];
        for d in &dummies {
            row.extend(d);
        }
        for &(i, j) in &self.interactions {
            for a in &dummies[i] {
                for b in &dummies[j] {
                    row.push(a * b);
                }
            }
        }
        Ok(row)
    }
    /// A regression from cell counts: `cells` lists (levels, successes, trials). A cell with no
    /// trials, or a level of a factor that no cell observes, is an [`Error::EmptyGroup`].
    pub fn from_counts(&self, cells: &[(Vec<usize>, f64, f64)]) -> Result<LogitData> {
        for (f, (name, lv)) in self.factors.iter().enumerate() {
            for (l, level) in lv.iter().enumerate() {
                if !cells.iter().any(|(ls, _, n)| ls.get(f) == Some(&l) && *n > 0.0) {
                    return Err(Error::EmptyGroup(format!("level `{level}` of `{name}` has no observations")));
                }
            }
        }
        let mut data = LogitData {
            names: self.names(),
            ..Default::default()
        };
        for (levels, k, n) in cells {
            if *n <= 0.0 {
                return Err(Error::EmptyGroup(format!("cell {levels:?} has no trials")));
            }
            if !(0.0..=*n).contains(k) {
                return Err(Error::Data(format!("cell {levels:?}: {k} successes of {n}")));
            }
            let row = self.row(levels)?;
            for (y, w) in [(1.0, *k), (0.0, n - k)] {
                if w > 0.0 {
                    data.rows.push(row.clone());
                    data.y.push(y);
                    data.weights.push(w);
                }
            }
        }
        Ok(data)
    }
}
