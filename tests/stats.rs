//! gpt2lab::stats against statsmodels / scipy / numpy (fixtures written by
//! `scripts/make_stats_fixtures.py`) and against closed forms.

use gpt2lab::stats::*;
use gpt2lab::Error;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let p = format!("{}/tests/fixtures/stats/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}
fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}
fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12) + 1e-12
}
fn assert_all_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(close(*g, *w, rel), "{what}: got {got:?}, want {want:?}");
    }
}

#[test]
fn logit_matches_statsmodels() {
    let f = fixture("logit.json");
    let rows: Vec<Vec<f64>> = f["rows"].as_array().unwrap().iter().map(floats).collect();
    let names: Vec<String> = f["names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    let fit = fit_logit(&LogitData::new(names, rows, floats(&f["y"])), &LogitOptions::default()).unwrap();
    assert_all_close(&fit.coefficients(), &floats(&f["params"]), 1e-7, "params");
    assert_all_close(&fit.terms.iter().map(|t| t.se).collect::<Vec<_>>(), &floats(&f["bse"]), 1e-6, "bse");
    assert_all_close(&fit.terms.iter().map(|t| t.z).collect::<Vec<_>>(), &floats(&f["z"]), 1e-6, "z");
    assert_all_close(
        &fit.terms.iter().map(|t| t.p_value).collect::<Vec<_>>(),
        &floats(&f["pvalues"]),
        1e-5,
        "p-values",
    );
    assert!(close(fit.log_likelihood, f["llf"].as_f64().unwrap(), 1e-10));
    assert!(close(fit.null_log_likelihood, f["llnull"].as_f64().unwrap(), 1e-10));
    let lr = fit.lr_test_null();
    assert!(close(lr.stat, f["llr"].as_f64().unwrap(), 1e-8) && lr.df == 2);
    assert!(
        close(lr.p_value, f["llr_pvalue"].as_f64().unwrap(), 1e-5),
        "{} vs {}",
        lr.p_value,
        f["llr_pvalue"]
    );
    assert!(close(fit.mcfadden_r2(), f["prsquared"].as_f64().unwrap(), 1e-8));
}

fn count_design(inter: bool) -> DesignBuilder {
    let d = DesignBuilder::new().factor("gender", &["man", "woman"]).factor("group", &["g0", "g1", "g2"]);
    if inter {
        d.interaction("gender", "group").unwrap()
    } else {
        d
    }
}
fn cells(f: &Value) -> Vec<(Vec<usize>, f64, f64)> {
    f["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let c = floats(c);
            (vec![c[0] as usize, c[1] as usize], c[2], c[3])
        })
        .collect()
}

#[test]
fn weighted_counts_match_statsmodels_glm_and_expanded_logit() {
    let f = fixture("counts.json");
    for (label, inter) in [("full", true), ("additive", false)] {
        let d = count_design(inter);
        let data = d.from_counts(&cells(&f)).unwrap();
        let fit = fit_logit(&data, &LogitOptions::default()).unwrap();
        let m = &f["models"][label];
        let names: Vec<String> = m["glm"]["names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
        assert_eq!(fit.terms.iter().map(|t| t.name.clone()).collect::<Vec<_>>(), names);
        for src in ["glm", "logit"] {
            assert_all_close(&fit.coefficients(), &floats(&m[src]["params"]), 1e-7, &format!("{label} {src} params"));
            assert_all_close(
                &fit.terms.iter().map(|t| t.se).collect::<Vec<_>>(),
                &floats(&m[src]["bse"]),
                1e-6,
                &format!("{label} {src} bse"),
            );
            assert_all_close(
                &fit.terms.iter().map(|t| t.p_value).collect::<Vec<_>>(),
                &floats(&m[src]["pvalues"]),
                1e-5,
                &format!("{label} {src} p"),
            );
            assert!(close(fit.log_likelihood, m[src]["llf"].as_f64().unwrap(), 1e-10));
        }
        assert!(close(fit.null_log_likelihood, m["logit"]["llnull"].as_f64().unwrap(), 1e-10));
        assert!(close(fit.mcfadden_r2(), m["logit"]["prsquared"].as_f64().unwrap(), 1e-8));
        assert!(close(fit.lr_test_null().p_value, m["logit"]["llr_pvalue"].as_f64().unwrap(), 1e-5));
    }
}

#[test]
fn saturated_model_has_closed_form_estimates_and_lr_test() {
    // a saturated model fits every cell's proportion exactly: the coefficients are differences
    // of cell log-odds, and the LR statistic against the additive model is the fixture's
    let f = fixture("counts.json");
    let c = cells(&f);
    let lo = |g: usize, w: usize| {
        let (_, k, n) = c.iter().find(|(l, _, _)| l[0] == w && l[1] == g).unwrap();
        (k / (n - k)).ln()
    };
    let full = fit_logit(&count_design(true).from_counts(&c).unwrap(), &LogitOptions::default()).unwrap();
    let want = [
        lo(0, 0),
        lo(0, 1) - lo(0, 0),
        lo(1, 0) - lo(0, 0),
        lo(2, 0) - lo(0, 0),
        lo(1, 1) - lo(1, 0) - lo(0, 1) + lo(0, 0),
        lo(2, 1) - lo(2, 0) - lo(0, 1) + lo(0, 0),
    ];
    assert_all_close(&full.coefficients(), &want, 1e-9, "saturated coefficients");
    // closed-form log-likelihood of the saturated model: Σ k log p̂ + (n−k) log(1−p̂)
    let ll: f64 = c.iter().map(|(_, k, n)| k * (k / n).ln() + (n - k) * (1.0 - k / n).ln()).sum();
    assert!(close(full.log_likelihood, ll, 1e-10));
    let add = fit_logit(&count_design(false).from_counts(&c).unwrap(), &LogitOptions::default()).unwrap();
    let lr = lr_test(&full, &add).unwrap();
    assert!(close(lr.stat, f["lr_stat"].as_f64().unwrap(), 1e-8) && lr.df == 2);
    assert!(close(lr.p_value, f["lr_pvalue"].as_f64().unwrap(), 1e-6));
    assert!(matches!(lr_test(&add, &full), Err(Error::Data(_))));
}

#[test]
fn bad_regressions_are_typed_errors() {
    let names = vec!["Intercept".to_string(), "x".to_string()];
    // complete separation: y = 1 exactly when x > 0
    let rows: Vec<Vec<f64>> = (-5..5).map(|i| vec![1.0, i as f64 + 0.5]).collect();
    let y: Vec<f64> = (-5..5).map(|i| if i >= 0 { 1.0 } else { 0.0 }).collect();
    let e = fit_logit(&LogitData::new(names.clone(), rows.clone(), y), &LogitOptions::default());
    assert!(matches!(e, Err(Error::PerfectSeparation(_))), "{e:?}");
    // quasi-complete separation: a group whose outcome is always 0 (a zero cell)
    let d = count_design(false);
    let cells = vec![
        (vec![0, 0], 10.0, 50.0),
        (vec![0, 1], 0.0, 50.0),
        (vec![0, 2], 9.0, 50.0),
        (vec![1, 0], 20.0, 50.0),
        (vec![1, 1], 0.0, 50.0),
        (vec![1, 2], 15.0, 50.0),
    ];
    let e = fit_logit(&d.from_counts(&cells).unwrap(), &LogitOptions::default());
    assert!(matches!(e, Err(Error::PerfectSeparation(_))), "{e:?}");
    // a constant outcome
    let e = fit_logit(&LogitData::new(names.clone(), rows.clone(), vec![0.0; 10]), &LogitOptions::default());
    assert!(matches!(e, Err(Error::PerfectSeparation(_))));
    // an empty group: a level nobody observed, and a cell with no trials
    let e = d.from_counts(&[(vec![0, 0], 1.0, 5.0), (vec![1, 1], 2.0, 5.0)]);
    assert!(matches!(e, Err(Error::EmptyGroup(_))), "{e:?}");
    let mut with_empty = cells.clone();
    with_empty.push((vec![1, 2], 0.0, 0.0));
    assert!(matches!(d.from_counts(&with_empty), Err(Error::EmptyGroup(_))));
    // collinear columns, an all-zero column, bad outcomes and shapes
    let col: Vec<Vec<f64>> = (0..10).map(|i| vec![1.0, i as f64, 2.0 * i as f64]).collect();
    let y: Vec<f64> = (0..10).map(|i| (i % 3 == 0) as u8 as f64).collect();
    let three = vec!["Intercept".into(), "x".into(), "2x".into()];
    assert!(matches!(
        fit_logit(&LogitData::new(three.clone(), col, y.clone()), &LogitOptions::default()),
        Err(Error::SingularDesign(_))
    ));
    let zero: Vec<Vec<f64>> = (0..10).map(|i| vec![1.0, i as f64, 0.0]).collect();
    assert!(matches!(
        fit_logit(&LogitData::new(three, zero, y.clone()), &LogitOptions::default()),
        Err(Error::SingularDesign(_))
    ));
    assert!(matches!(
        fit_logit(&LogitData::new(names.clone(), rows.clone(), vec![2.0; 10]), &LogitOptions::default()),
        Err(Error::Data(_))
    ));
    assert!(matches!(
        fit_logit(&LogitData::new(names.clone(), rows[..3].to_vec(), y), &LogitOptions::default()),
        Err(Error::Shape(_))
    ));
    assert!(matches!(
        fit_logit(&LogitData::new(names, vec![], vec![]), &LogitOptions::default()),
        Err(Error::EmptyInput(_))
    ));
}

#[test]
fn gini_and_lorenz_match_numpy_and_the_extremes() {
    for case in fixture("gini.json").as_array().unwrap() {
        let v = floats(&case["values"]);
        assert!(close(gini(&v).unwrap(), case["gini"].as_f64().unwrap(), 1e-12), "{v:?}");
        let l = lorenz_curve(&v).unwrap();
        assert_all_close(&l.iter().map(|p| p.1).collect::<Vec<_>>(), &floats(&case["lorenz_y"]), 1e-12, "lorenz");
        assert!(close(l.last().unwrap().0, 1.0, 0.0));
    }
    // uniform: 0; a point mass over n categories: (n − 1)/n
    assert_eq!(gini(&[3.0; 9]).unwrap(), 0.0);
    for n in [2usize, 5, 40] {
        let mut v = vec![0.0; n];
        v[n / 2] = 7.0;
        assert!(close(gini(&v).unwrap(), (n as f64 - 1.0) / n as f64, 1e-12));
    }
    assert!(matches!(gini(&[]), Err(Error::EmptyGroup(_))));
    assert!(matches!(gini(&[0.0, 0.0]), Err(Error::EmptyGroup(_))));
    assert!(matches!(gini(&[1.0, -1.0]), Err(Error::Data(_))));
    assert!(matches!(lorenz_curve(&[f64::NAN]), Err(Error::Data(_))));
}

#[test]
fn quantiles_match_numpy_and_the_bootstrap_matches_scipy() {
    let f = fixture("bootstrap.json");
    let v = floats(&f["values"]);
    for (q, want) in floats(&f["q"]).iter().zip(floats(&f["quantiles"])) {
        assert!(close(quantile(&v, *q).unwrap(), want, 1e-12), "q = {q}");
    }
    // both are Monte Carlo (different generators): the ends agree to within a few percent of
    // the interval's width, the point estimate exactly
    let data = floats(&f["data"]);
    let ci = bootstrap_ci(&data, &mean, 20_000, 0.95, 1).unwrap();
    let (lo, hi) = (f["ci_low"].as_f64().unwrap(), f["ci_high"].as_f64().unwrap());
    let width = hi - lo;
    assert!(
        (ci.low - lo).abs() < 0.03 * width && (ci.high - hi).abs() < 0.03 * width,
        "{ci} vs [{lo}, {hi}]"
    );
    assert!(close(ci.estimate, mean(&data), 1e-15) && ci.contains(ci.estimate));
    // seeded: the same seed gives the same interval
    assert_eq!(
        bootstrap_ci(&data, &mean, 500, 0.9, 7).unwrap(),
        bootstrap_ci(&data, &mean, 500, 0.9, 7).unwrap()
    );
    assert!(matches!(bootstrap_ci(&[], &mean, 100, 0.95, 0), Err(Error::EmptyGroup(_))));
    assert!(matches!(bootstrap_ci(&data, &mean, 100, 1.5, 0), Err(Error::Data(_))));
    assert!(quantile(&[], 0.5).is_err() && quantile(&v, 1.2).is_err());
}
