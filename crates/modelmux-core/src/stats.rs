//! Statistics with their uncertainty, for reports, analytics and (later) experiments and
//! promotion: a rate is never shown without its confidence interval and sample size.
//!
//! - a proportion (a boolean metric, an error rate): the Wilson score interval, which stays
//!   inside [0, 1] and behaves at 0 and n successes where the normal approximation does not;
//! - a mean (a float metric, cost per episode): Student's t interval, or a seeded percentile
//!   bootstrap where the sample is skewed (`bootstrap_mean`);
//! - a difference between two groups (route B against a baseline route A): Newcombe's
//!   hybrid score interval for proportions with the pooled two-proportion z test, and
//!   Welch's t interval and test for means.
//!
//! Quantiles of the normal and t distributions come from `statrs`. Every function returns
//! `None` where the sample cannot support an interval (no data; one value for a t interval).

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// An estimate with its interval at `confidence` and the sample behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    pub n: u64,
    pub confidence: f64,
}

/// A difference `b − a` with its interval and the p-value of "no difference".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    pub delta: f64,
    pub lo: f64,
    pub hi: f64,
    pub p_value: f64,
    pub confidence: f64,
}

/// The two-sided normal quantile for `confidence` (1.96 at 95 %).
fn z(confidence: f64) -> Option<f64> {
    let n = Normal::standard();
    Some(n.inverse_cdf(1.0 - (1.0 - valid(confidence)?) / 2.0))
}

fn valid(confidence: f64) -> Option<f64> {
    (confidence > 0.0 && confidence < 1.0).then_some(confidence)
}

/// The two-sided t quantile for `confidence` with `df` degrees of freedom.
fn t(confidence: f64, df: f64) -> Option<f64> {
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(dist.inverse_cdf(1.0 - (1.0 - valid(confidence)?) / 2.0))
}

/// Wilson's score interval of `successes` out of `n`.
pub fn wilson(successes: u64, n: u64, confidence: f64) -> Option<Estimate> {
    if n == 0 || successes > n {
        return None;
    }
    let z = z(confidence)?;
    let (lo, hi) = wilson_bounds(successes as f64, n as f64, z);
    Some(Estimate {
        mean: successes as f64 / n as f64,
        lo,
        hi,
        n,
        confidence,
    })
}

fn wilson_bounds(s: f64, n: f64, z: f64) -> (f64, f64) {
    let p = s / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

fn mean_and_var(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((mean, var))
}

/// Student's t interval of the mean of `values`.
pub fn mean_t(values: &[f64], confidence: f64) -> Option<Estimate> {
    let (mean, var) = mean_and_var(values)?;
    let n = values.len() as f64;
    let half = t(confidence, n - 1.0)? * (var / n).sqrt();
    Some(Estimate {
        mean,
        lo: mean - half,
        hi: mean + half,
        n: values.len() as u64,
        confidence,
    })
}

/// A percentile bootstrap interval of the mean: `resamples` resamples drawn with a
/// generator seeded by `seed`, so the same data gives the same interval.
pub fn bootstrap_mean(
    values: &[f64],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Option<Estimate> {
    valid(confidence)?;
    if values.is_empty() || resamples == 0 {
        return None;
    }
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.usize(..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some(Estimate {
        mean,
        lo: quantile(&means, tail),
        hi: quantile(&means, 1.0 - tail),
        n: n as u64,
        confidence,
    })
}

/// The `q` quantile (0..=1) of sorted values, linearly interpolated (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The difference of two proportions `b − a`: Newcombe's hybrid score interval (from the
/// two Wilson intervals) and the pooled two-proportion z test.
pub fn diff_proportions(a: (u64, u64), b: (u64, u64), confidence: f64) -> Option<Difference> {
    let ((sa, na), (sb, nb)) = (a, b);
    if na == 0 || nb == 0 || sa > na || sb > nb {
        return None;
    }
    let z = z(confidence)?;
    let (pa, pb) = (sa as f64 / na as f64, sb as f64 / nb as f64);
    let (la, ua) = wilson_bounds(sa as f64, na as f64, z);
    let (lb, ub) = wilson_bounds(sb as f64, nb as f64, z);
    let delta = pb - pa;
    let lo = delta - ((pb - lb).powi(2) + (ua - pa).powi(2)).sqrt();
    let hi = delta + ((ub - pb).powi(2) + (pa - la).powi(2)).sqrt();
    let pooled = (sa + sb) as f64 / (na + nb) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / na as f64 + 1.0 / nb as f64)).sqrt();
    let p_value = if se == 0.0 {
        if delta == 0.0 { 1.0 } else { 0.0 }
    } else {
        2.0 * (1.0 - Normal::standard().cdf((delta / se).abs()))
    };
    Some(Difference {
        delta,
        lo,
        hi,
        p_value,
        confidence,
    })
}

/// The difference of two means `b − a`: Welch's t interval and test (unequal variances).
pub fn diff_means(a: &[f64], b: &[f64], confidence: f64) -> Option<Difference> {
    let (ma, va) = mean_and_var(a)?;
    let (mb, vb) = mean_and_var(b)?;
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (qa, qb) = (va / na, vb / nb);
    let se = (qa + qb).sqrt();
    let delta = mb - ma;
    if se == 0.0 {
        return Some(Difference {
            delta,
            lo: delta,
            hi: delta,
            p_value: if delta == 0.0 { 1.0 } else { 0.0 },
            confidence,
        });
    }
    let df = (qa + qb).powi(2) / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
    let half = t(confidence, df)? * se;
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let p_value = 2.0 * (1.0 - dist.cdf((delta / se).abs()));
    Some(Difference {
        delta,
        lo: delta - half,
        hi: delta + half,
        p_value,
        confidence,
    })
}

/// Σx / Σy over paired units (cost per resolved episode) with a delta-method interval:
/// the large-sample normal approximation, for samples where a bootstrap would cost
/// resamples × n draws. `None` when Σy is 0 or fewer than two units.
pub fn ratio_delta(pairs: &[(f64, f64)], confidence: f64) -> Option<Estimate> {
    let n = pairs.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / nf;
    if my <= 0.0 {
        return None;
    }
    let (mut vx, mut vy, mut cxy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        vx += (x - mx).powi(2);
        vy += (y - my).powi(2);
        cxy += (x - mx) * (y - my);
    }
    let d = nf - 1.0;
    let (vx, vy, cxy) = (vx / d, vy / d, cxy / d);
    let r = mx / my;
    let var = (vx - 2.0 * r * cxy + r * r * vy) / (my * my * nf);
    let half = z(confidence)? * var.max(0.0).sqrt();
    Some(Estimate {
        mean: r,
        lo: r - half,
        hi: r + half,
        n: n as u64,
        confidence,
    })
}

/// (mean(a) / mean(b) − 1) × 100 for independent samples, with a delta-method interval
/// (the large-sample counterpart of a bootstrap of the two means).
pub fn relative_difference_delta(a: &[f64], b: &[f64], confidence: f64) -> Option<Estimate> {
    let (ma, va) = mean_and_var(a)?;
    let (mb, vb) = mean_and_var(b)?;
    if mb <= 0.0 {
        return None;
    }
    let q = ma / mb;
    let rel_var = if ma == 0.0 {
        va / (a.len() as f64 * mb * mb)
    } else {
        q * q * (va / (a.len() as f64 * ma * ma) + vb / (b.len() as f64 * mb * mb))
    };
    let half = z(confidence)? * rel_var.max(0.0).sqrt() * 100.0;
    let point = (q - 1.0) * 100.0;
    Some(Estimate {
        mean: point,
        lo: point - half,
        hi: point + half,
        n: a.len() as u64,
        confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    // Reference values: statsmodels `proportion_confint(method="wilson")`,
    // `confint_proportions_2indep(method="newcomb")`, `proportions_ztest`, and scipy's
    // `t.ppf` / `ttest_ind(equal_var=False)`.

    #[test]
    fn wilson_matches_the_reference() {
        let e = wilson(81, 100, 0.95).unwrap();
        assert!(close(e.lo, 0.722_211_546_209_356_2), "{e:?}");
        assert!(close(e.hi, 0.874_852_484_902_312_6), "{e:?}");
        let zero = wilson(0, 12, 0.95).unwrap();
        assert!(close(zero.lo, 0.0) && close(zero.hi, 0.242_494_006_655_240_96));
        let all = wilson(12, 12, 0.95).unwrap();
        assert!(close(all.lo, 0.757_505_993_344_758_9) && close(all.hi, 1.0));
        assert!(wilson(0, 0, 0.95).is_none());
        assert!(wilson(3, 2, 0.95).is_none());
    }

    #[test]
    fn t_interval_matches_the_reference() {
        let e = mean_t(&[0.2, 0.5, 0.9, 0.4, 0.7, 0.3, 0.8], 0.95).unwrap();
        assert!(close(e.mean, 0.542_857_142_857_142_8));
        assert!(close(e.lo, 0.298_999_660_967_406_27), "{e:?}");
        assert!(close(e.hi, 0.786_714_624_746_879_4), "{e:?}");
        assert!(mean_t(&[1.0], 0.95).is_none());
    }

    #[test]
    fn welch_matches_the_reference() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 4.0, 6.0, 8.0, 10.0, 12.0];
        let d = diff_means(&a, &b, 0.95).unwrap();
        assert!(close(d.delta, 4.0));
        assert!(close(d.p_value, 0.049_284_338_206_730_53), "{d:?}");
        assert!(close(d.lo, 0.016_531_304_371_169_675), "{d:?}");
        assert!(close(d.hi, 7.983_468_695_628_83), "{d:?}");
    }

    #[test]
    fn newcombe_and_z_match_the_reference() {
        // 84 % of 100 against a baseline of 81 %.
        let d = diff_proportions((81, 100), (84, 100), 0.95).unwrap();
        assert!(close(d.delta, 0.03));
        assert!(close(d.lo, -0.076_282_352_518_152_5), "{d:?}");
        assert!(close(d.hi, 0.135_798_744_898_019_07), "{d:?}");
        assert!(close(d.p_value, 0.576_646_013_079_190_8), "{d:?}");
    }

    #[test]
    fn bootstrap_is_seeded_and_covers_the_mean() {
        let v: Vec<f64> = (0..200).map(|i| f64::from(i % 17) * 0.01).collect();
        let a = bootstrap_mean(&v, 0.95, 2000, 7).unwrap();
        let b = bootstrap_mean(&v, 0.95, 2000, 7).unwrap();
        assert_eq!(a, b, "same seed, same interval");
        assert!(a.lo < a.mean && a.mean < a.hi, "{a:?}");
        // Close to the t interval on a well-behaved sample.
        let t = mean_t(&v, 0.95).unwrap();
        assert!(
            (a.lo - t.lo).abs() < 0.01 && (a.hi - t.hi).abs() < 0.01,
            "{a:?} {t:?}"
        );
    }

    #[test]
    fn delta_intervals_agree_with_the_bootstrap_on_large_samples() {
        let mut rng = fastrand::Rng::with_seed(3);
        let pairs: Vec<(f64, f64)> = (0..4000)
            .map(|_| (rng.f64() * 0.02, f64::from(u8::from(rng.f64() < 0.7))))
            .collect();
        let d = ratio_delta(&pairs, 0.95).unwrap();
        // The bootstrap of the same ratio, by hand.
        let n = pairs.len();
        let mut draws: Vec<f64> = (0..2000)
            .map(|_| {
                let (c, r) = (0..n).fold((0.0, 0.0), |(c, r), _| {
                    let p = pairs[rng.usize(..n)];
                    (c + p.0, r + p.1)
                });
                c / r
            })
            .collect();
        draws.sort_by(f64::total_cmp);
        let (lo, hi) = (quantile(&draws, 0.025), quantile(&draws, 0.975));
        let width = hi - lo;
        assert!((d.lo - lo).abs() < width * 0.1, "{d:?} vs [{lo}, {hi}]");
        assert!((d.hi - hi).abs() < width * 0.1, "{d:?} vs [{lo}, {hi}]");
        let a: Vec<f64> = (0..3000).map(|_| rng.f64() * 0.03).collect();
        let b: Vec<f64> = (0..3000).map(|_| rng.f64() * 0.01).collect();
        let rel = relative_difference_delta(&a, &b, 0.95).unwrap();
        assert!(rel.lo < rel.mean && rel.mean < rel.hi);
        assert!((rel.mean - 200.0).abs() < 15.0, "{rel:?}");
        assert!(ratio_delta(&[(1.0, 0.0), (2.0, 0.0)], 0.95).is_none());
    }

    #[test]
    fn quantiles_interpolate() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert!(close(quantile(&s, 0.5), 2.5));
        assert!(close(quantile(&s, 0.95), 3.85));
        assert!(quantile(&[], 0.5).is_nan());
    }
}
