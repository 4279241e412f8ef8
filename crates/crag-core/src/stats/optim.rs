//! A small derivative-free minimiser: Nelder–Mead with adaptive coefficients and restarts.

/// Settings of one Nelder–Mead run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NmOptions {
    /// Size of the initial simplex along each coordinate.
    pub step: f64,
    /// Stop when `f_max - f_min ≤ ftol · (1 + |f_min|)` …
    pub ftol: f64,
    /// … and every vertex is within `xtol` (max-norm) of the best one (`inf` disables this).
    pub xtol: f64,
    /// Evaluation budget.
    pub max_evals: usize,
}

/// Outcome of a minimisation.
#[derive(Debug, Clone)]
pub(crate) struct NmResult {
    pub x: Vec<f64>,
    pub f: f64,
    /// Nelder–Mead iterations (reflection steps) performed.
    pub iterations: usize,
    /// Objective evaluations performed.
    pub evaluations: usize,
    /// The tolerance test was met (rather than the budget running out).
    pub converged: bool,
}

/// Minimises `f` from `x0` with the Nelder–Mead simplex method (Nelder & Mead 1965,
/// *Comput J* 7:308) using the dimension-adaptive coefficients of Gao & Han (2012,
/// *Comput Optim Appl* 51:259): reflection 1, expansion `1 + 2/d`, contraction
/// `0.75 − 1/(2d)`, shrink `1 − 1/d`. Non-finite objective values are treated as `+inf`.
pub(crate) fn nelder_mead(
    f: &mut impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    opts: NmOptions,
) -> NmResult {
    let d = x0.len();
    let df = d as f64;
    let (c_refl, c_exp, c_con, c_shr) =
        (1.0, 1.0 + 2.0 / df, 0.75 - 1.0 / (2.0 * df), 1.0 - 1.0 / df);
    let mut evals = 0usize;
    let mut eval = |x: &[f64], evals: &mut usize| -> f64 {
        *evals += 1;
        let v = f(x);
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    };

    let mut simplex: Vec<Vec<f64>> = Vec::with_capacity(d + 1);
    simplex.push(x0.to_vec());
    for i in 0..d {
        let mut v = x0.to_vec();
        v[i] += opts.step;
        simplex.push(v);
    }
    let mut fv: Vec<f64> = simplex.iter().map(|x| eval(x, &mut evals)).collect();
    let mut order: Vec<usize> = (0..=d).collect();
    let mut iterations = 0usize;
    let mut converged = false;
    let mut centroid = vec![0.0; d];
    let mut xr = vec![0.0; d];
    let mut xe = vec![0.0; d];
    let mut xc = vec![0.0; d];

    loop {
        order.sort_by(|&i, &j| fv[i].total_cmp(&fv[j]));
        let (best, worst, second) = (order[0], order[d], order[d - 1]);
        let spread_f = fv[worst] - fv[best];
        let spread_x = simplex
            .iter()
            .flat_map(|v| v.iter().zip(&simplex[best]).map(|(a, b)| (a - b).abs()))
            .fold(0.0f64, f64::max);
        if fv[best].is_finite()
            && spread_f <= opts.ftol * (1.0 + fv[best].abs())
            && spread_x <= opts.xtol
        {
            converged = true;
            break;
        }
        if evals >= opts.max_evals {
            break;
        }
        iterations += 1;

        centroid.iter_mut().for_each(|c| *c = 0.0);
        for &i in &order[..d] {
            for (c, v) in centroid.iter_mut().zip(&simplex[i]) {
                *c += v / df;
            }
        }
        let lerp = |out: &mut [f64], t: f64, w: &[f64], c: &[f64]| {
            for ((o, cv), wv) in out.iter_mut().zip(c).zip(w) {
                *o = cv + t * (cv - wv);
            }
        };
        lerp(&mut xr, c_refl, &simplex[worst], &centroid);
        let fr = eval(&xr, &mut evals);
        if fr < fv[best] {
            lerp(&mut xe, c_refl * c_exp, &simplex[worst], &centroid);
            let fe = eval(&xe, &mut evals);
            if fe < fr {
                simplex[worst].copy_from_slice(&xe);
                fv[worst] = fe;
            } else {
                simplex[worst].copy_from_slice(&xr);
                fv[worst] = fr;
            }
            continue;
        }
        if fr < fv[second] {
            simplex[worst].copy_from_slice(&xr);
            fv[worst] = fr;
            continue;
        }
        // Contraction: outside if the reflected point beats the worst, inside otherwise.
        let (t, target) = if fr < fv[worst] {
            (c_refl * c_con, fr)
        } else {
            (-c_con, fv[worst])
        };
        lerp(&mut xc, t, &simplex[worst], &centroid);
        let fc = eval(&xc, &mut evals);
        if fc.is_finite() && fc <= target {
            simplex[worst].copy_from_slice(&xc);
            fv[worst] = fc;
            continue;
        }
        // Shrink towards the best vertex.
        let xb = simplex[best].clone();
        for &i in &order[1..] {
            for (v, b) in simplex[i].iter_mut().zip(&xb) {
                *v = b + c_shr * (*v - b);
            }
            fv[i] = eval(&simplex[i], &mut evals);
        }
    }
    let best = (0..=d)
        .min_by(|&i, &j| fv[i].total_cmp(&fv[j]))
        .unwrap_or(0);
    NmResult {
        x: simplex[best].clone(),
        f: fv[best],
        iterations,
        evaluations: evals,
        converged,
    }
}

/// Nelder–Mead followed by restarts from the best point with a fresh, smaller simplex
/// until a restart no longer improves the objective (guards against the well-known
/// premature collapse of the simplex; cf. Lagarias et al. 1998, *SIAM J Optim* 9:112).
pub(crate) fn nelder_mead_restarts(
    f: &mut impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    opts: NmOptions,
    max_restarts: usize,
) -> NmResult {
    let mut res = nelder_mead(f, x0, opts);
    let mut step = opts.step;
    for _ in 0..max_restarts {
        step = (step * 0.5).max(1e-6);
        let again = nelder_mead(f, &res.x, NmOptions { step, ..opts });
        let improved = res.f - again.f;
        let total_iter = res.iterations + again.iterations;
        let total_evals = res.evaluations + again.evaluations;
        let small = improved <= opts.ftol * (1.0 + res.f.abs());
        if again.f <= res.f {
            res = NmResult {
                iterations: total_iter,
                evaluations: total_evals,
                ..again
            };
        } else {
            res.iterations = total_iter;
            res.evaluations = total_evals;
            res.converged = again.converged;
        }
        if small {
            break;
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64]) -> f64 {
        x.windows(2)
            .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
            .sum()
    }

    #[test]
    fn stats_nelder_mead_rosenbrock_5d() {
        let opts = NmOptions {
            step: 0.5,
            ftol: 1e-14,
            xtol: 1e-9,
            max_evals: 40_000,
        };
        let r = nelder_mead_restarts(
            &mut |x: &[f64]| rosenbrock(x),
            &[-1.2, 1.0, -0.5, 0.3, 0.9],
            opts,
            5,
        );
        assert!(r.converged, "{r:?}");
        for v in &r.x {
            assert!((v - 1.0).abs() < 1e-5, "{r:?}");
        }
    }

    #[test]
    fn stats_nelder_mead_handles_nan() {
        // NaN outside the unit ball: treated as +inf, the minimiser stays inside.
        let mut f = |x: &[f64]| {
            let r2: f64 = x.iter().map(|v| v * v).sum();
            if r2 > 1.0 {
                f64::NAN
            } else {
                (x[0] - 0.5).powi(2) + (x[1] + 0.25).powi(2)
            }
        };
        let opts = NmOptions {
            step: 0.1,
            ftol: 1e-14,
            xtol: 1e-10,
            max_evals: 5000,
        };
        let r = nelder_mead_restarts(&mut f, &[0.0, 0.0], opts, 3);
        assert!((r.x[0] - 0.5).abs() < 1e-6 && (r.x[1] + 0.25).abs() < 1e-6);
    }
}
