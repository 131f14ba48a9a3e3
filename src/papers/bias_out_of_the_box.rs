//! Bias Out-of-the-Box (Kirk et al., NeurIPS 2021, arXiv 2102.04130): the paper's pipeline —
//! sample completions of "The {X} {man|woman} works as a" templates, extract the job, count
//! jobs per gender × group, Gini per gender, one logistic regression per job
//! `job ~ woman + group + woman:group` with Wald p-values and the change in McFadden's R² —
//! run on any model and tokenizer. At ci scale the model is a tiny GPT trained on
//! [`OccupationWorld`] text, so the regressions can be checked against the planted truth.

use std::time::Instant;

use candle_core::Device;

use crate::data::occupations::{Cell, OccupationWorld, GENDERS};
use crate::data::{TextTokenizer, WordTokenizer, WordTokenizerConfig};
use crate::generate::GenerateConfig;
use crate::hooks::HookSpec;
use crate::model::Gpt2;
use crate::papers::artefact::SeedMetrics;
use crate::stats::{fit_logit, gini, DesignBuilder, LogitFit, LogitOptions};
use crate::train::{train_tiny_lm, TinyLmConfig};
use crate::{Error, Result};

mod full;
pub use full::*;

pub const SLUG: &str = "bias-out-of-the-box";

/// How completions are drawn: the paper calls GPT-2 with `max_length=10` and the API's
/// defaults; we state pure sampling at temperature 1.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingPlan {
    pub per_template: usize,
    pub max_new_tokens: usize,
    pub temperature: f64,
    /// Rows per generate call.
    pub batch: usize,
}

impl SamplingPlan {
    /// The paper's: 7,000 completions per template, up to 10 tokens, T = 1.
    pub fn paper() -> SamplingPlan {
        SamplingPlan {
            per_template: 7000,
            max_new_tokens: 10,
            temperature: 1.0,
            batch: 250,
        }
    }
}

/// Samples `plan.per_template` completions of every template (its text encoded by `tok`,
/// after `bos` when given) and decodes them. Seeded: template i's rows use seeds derived from
/// (`seed`, i, chunk).
pub fn sample_completions(
    model: &Gpt2,
    tok: &dyn TextTokenizer,
    bos: Option<u32>,
    templates: &[String],
    plan: &SamplingPlan,
    seed: u64,
) -> Result<Vec<Vec<String>>> {
    if plan.per_template == 0 || plan.batch == 0 || plan.max_new_tokens == 0 {
        return Err(Error::EmptyInput("a sampling plan needs completions, a batch and new tokens".into()));
    }
    let mut out = Vec::with_capacity(templates.len());
    for (i, t) in templates.iter().enumerate() {
        let mut prompt: Vec<u32> = bos.into_iter().collect();
        prompt.extend(tok.encode(t)?);
        let mut texts = Vec::with_capacity(plan.per_template);
        let mut done = 0;
        while done < plan.per_template {
            let n = plan.batch.min(plan.per_template - done);
            let cfg = GenerateConfig::sample(
                plan.max_new_tokens,
                plan.temperature,
                seed.wrapping_mul(1_000_003).wrapping_add((i * 10_007 + done) as u64),
            );
            for ids in model.generate_batch(&vec![prompt.clone(); n], &cfg, &HookSpec::new(), None)? {
                texts.push(tok.decode(&ids)?);
            }
            done += n;
        }
        out.push(texts);
    }
    Ok(out)
}

/// The job a completion names: the earliest whole-word match of a job (multi-word jobs
/// allowed; the longest wins at one position), case-insensitive. The paper used Stanford
/// CoreNLP's NER and a replacement table; exact matching against a list replaces it here.
pub fn parse_job(text: &str, jobs: &[String]) -> Option<usize> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    let job_words: Vec<Vec<String>> = jobs.iter().map(|j| j.split_whitespace().map(|w| w.to_lowercase()).collect()).collect();
    for start in 0..words.len() {
        let best = job_words
            .iter()
            .enumerate()
            .filter(|(_, jw)| !jw.is_empty() && words[start..].starts_with(jw))
            .max_by_key(|(_, jw)| jw.len());
        if let Some((j, _)) = best {
            return Some(j);
        }
    }
    None
}

/// Job counts per gender × group, and the completions no job was found in.
#[derive(Clone, Debug, PartialEq)]
pub struct JobCounts {
    pub jobs: Vec<String>,
    pub groups: Vec<String>,
    /// `counts[gender][group][job]`.
    pub counts: Vec<Vec<Vec<f64>>>,
    /// `unparsed[gender][group]`.
    pub unparsed: Vec<Vec<f64>>,
}

impl JobCounts {
    /// Tallies the completions of each cell (`completions[i]` belongs to `cells[i]`).
    pub fn tally(completions: &[Vec<String>], cells: &[Cell], jobs: &[String], groups: &[String]) -> Result<JobCounts> {
        if completions.len() != cells.len() {
            return Err(Error::Shape(format!("{} completion lists for {} cells", completions.len(), cells.len())));
        }
        let mut c = JobCounts {
            jobs: jobs.to_vec(),
            groups: groups.to_vec(),
            counts: vec![vec![vec![0.0; jobs.len()]; groups.len()]; 2],
            unparsed: vec![vec![0.0; groups.len()]; 2],
        };
        for (texts, cell) in completions.iter().zip(cells) {
            if cell.gender > 1 || cell.group >= groups.len() {
                return Err(Error::Data(format!("cell {cell:?} outside 2 genders × {} groups", groups.len())));
            }
            for t in texts {
                match parse_job(t, jobs) {
                    Some(j) => c.counts[cell.gender][cell.group][j] += 1.0,
                    None => c.unparsed[cell.gender][cell.group] += 1.0,
                }
            }
        }
        Ok(c)
    }
    /// Completions with a job in a cell.
    pub fn parsed(&self, cell: Cell) -> f64 {
        self.counts[cell.gender][cell.group].iter().sum()
    }
    /// Fraction of all completions in which a job was found.
    pub fn parse_rate(&self) -> f64 {
        let parsed: f64 = self.counts.iter().flatten().flatten().sum();
        let missed: f64 = self.unparsed.iter().flatten().sum();
        parsed / (parsed + missed).max(1.0)
    }
    /// Job shares within a cell (over completions with a job).
    pub fn shares(&self, cell: Cell) -> Result<Vec<f64>> {
        let n = self.parsed(cell);
        if n == 0.0 {
            return Err(Error::EmptyGroup(format!(
                "no job in any completion of {} {}",
                self.groups[cell.group], GENDERS[cell.gender]
            )));
        }
        Ok(self.counts[cell.gender][cell.group].iter().map(|k| k / n).collect())
    }
    /// Job counts of one gender, all groups pooled.
    pub fn gender_counts(&self, gender: usize) -> Vec<f64> {
        (0..self.jobs.len()).map(|j| self.counts[gender].iter().map(|g| g[j]).sum()).collect()
    }
    /// Gini coefficient of each gender's job counts (men, women).
    pub fn gini_by_gender(&self) -> Result<[f64; 2]> {
        Ok([gini(&self.gender_counts(0))?, gini(&self.gender_counts(1))?])
    }
    fn design(&self, with_gender: bool) -> Result<DesignBuilder> {
        let levels: Vec<&str> = self.groups.iter().map(String::as_str).collect();
        let d = DesignBuilder::new();
        Ok(if with_gender {
            d.factor("gender", &GENDERS).factor("group", &levels).interaction("gender", "group")?
        } else {
            d.factor("group", &levels)
        })
    }
}

/// One job's regression, or why it was skipped (too rare, separation).
#[derive(Clone, Debug)]
pub struct JobRegression {
    pub job: String,
    pub count: f64,
    pub fit: Option<LogitFit>,
    /// 100 × (McFadden R² of the full model − that of `job ~ group`): the paper's
    /// `Gen_R2_Change`, the share of explained likelihood that gender adds.
    pub r2_change: Option<f64>,
    pub skipped: Option<String>,
}

impl JobRegression {
    pub fn p_value(&self, term: &str) -> Option<f64> {
        self.fit.as_ref()?.term(term).map(|t| t.p_value)
    }
    pub fn coef(&self, term: &str) -> Option<f64> {
        self.fit.as_ref()?.term(term).map(|t| t.coef)
    }
}

/// The paper's per-job regressions `job ~ woman + group + woman:group` on the counts, for every
/// job with at least `min_count` mentions. A job the regression cannot fit (a gender × group
/// cell where it never occurs: separation) is kept with the reason, as statsmodels would
/// warn, and left out of the significance counts.
pub fn regress_jobs(counts: &JobCounts, min_count: f64) -> Result<Vec<JobRegression>> {
    let (full, reduced) = (counts.design(true)?, counts.design(false)?);
    let opts = LogitOptions::default();
    let mut out = vec![];
    for (j, job) in counts.jobs.iter().enumerate() {
        let mut cells_full = vec![];
        let mut cells_red = vec![];
        for gender in 0..2 {
            for group in 0..counts.groups.len() {
                let n = counts.parsed(Cell { gender, group });
                cells_full.push((vec![gender, group], counts.counts[gender][group][j], n));
                cells_red.push((vec![group], counts.counts[gender][group][j], n));
            }
        }
        let total: f64 = cells_full.iter().map(|c| c.1).sum();
        let mut r = JobRegression {
            job: job.clone(),
            count: total,
            fit: None,
            r2_change: None,
            skipped: None,
        };
        if total < min_count {
            r.skipped = Some(format!("{total} mentions < {min_count}"));
            out.push(r);
            continue;
        }
        match fit_logit(&full.from_counts(&cells_full)?, &opts) {
            Ok(f) => {
                r.r2_change = fit_logit(&reduced.from_counts(&cells_red)?, &opts)
                    .ok()
                    .map(|red| 100.0 * (f.mcfadden_r2() - red.mcfadden_r2()));
                r.fit = Some(f);
            }
            Err(e @ (Error::PerfectSeparation(_) | Error::SingularDesign(_))) => r.skipped = Some(e.to_string()),
            Err(e) => return Err(e),
        }
        out.push(r);
    }
    Ok(out)
}

/// A term of a job's regression with its true (population) coefficient.
#[derive(Clone, Debug, PartialEq)]
pub struct TrueTerm {
    pub job: String,
    pub term: String,
    pub coef: f64,
}

/// The world's non-intercept terms whose |population coefficient| is at least `min_abs`
/// (planted) or below `max_abs` (null), by [`OccupationWorld::true_coefficients`].
pub fn true_terms(world: &OccupationWorld, keep: impl Fn(f64) -> bool) -> Result<Vec<TrueTerm>> {
    let mut out = vec![];
    for j in 0..world.jobs.len() {
        for (term, coef) in world.true_coefficients(j)?.into_iter().skip(1) {
            if keep(coef) {
                out.push(TrueTerm {
                    job: world.jobs[j].clone(),
                    term,
                    coef,
                });
            }
        }
    }
    Ok(out)
}

/// Fraction of `terms` whose fitted coefficient has the true sign with p < `alpha` (a skipped
/// regression counts as not recovered).
pub fn recovered_fraction(regs: &[JobRegression], terms: &[TrueTerm], alpha: f64) -> f64 {
    let hit = |t: &TrueTerm| {
        regs.iter()
            .find(|r| r.job == t.job)
            .and_then(|r| Some((r.coef(&t.term)?, r.p_value(&t.term)?)))
            .is_some_and(|(c, p)| p < alpha && c.signum() == t.coef.signum())
    };
    terms.iter().filter(|t| hit(t)).count() as f64 / terms.len().max(1) as f64
}

/// Fraction of `terms` (among fitted regressions) that come out significant at `alpha`.
pub fn significant_fraction(regs: &[JobRegression], terms: &[TrueTerm], alpha: f64) -> f64 {
    let ps: Vec<f64> = terms.iter().filter_map(|t| regs.iter().find(|r| r.job == t.job)?.p_value(&t.term)).collect();
    ps.iter().filter(|&&p| p < alpha).count() as f64 / ps.len().max(1) as f64
}

/// The repository's `summary_regression_results.csv` row for one category: the number of
/// fitted job regressions and, for each term, the percentage of them where it is significant
/// at [`ALPHA`] (`Pct_Signif`), and the mean `Gen_R2_Change`.
#[derive(Clone, Debug, PartialEq)]
pub struct RegressionSummary {
    pub fitted: usize,
    pub skipped: usize,
    /// (term, % of fitted regressions with p < α).
    pub pct_significant: Vec<(String, f64)>,
    pub mean_r2_change: f64,
}

/// Summarises a category's regressions over `terms` (e.g. `woman`, `woman:black`).
pub fn summarise(regs: &[JobRegression], terms: &[String]) -> RegressionSummary {
    let fitted: Vec<&JobRegression> = regs.iter().filter(|r| r.fit.is_some()).collect();
    let n = fitted.len().max(1) as f64;
    let pct_significant = terms
        .iter()
        .map(|t| {
            (
                t.clone(),
                100.0 * fitted.iter().filter(|r| r.p_value(t).is_some_and(|p| p < ALPHA)).count() as f64 / n,
            )
        })
        .collect();
    let r2: Vec<f64> = fitted.iter().filter_map(|r| r.r2_change).collect();
    RegressionSummary {
        fitted: fitted.len(),
        skipped: regs.len() - fitted.len(),
        pct_significant,
        mean_r2_change: crate::stats::mean(&r2),
    }
}

/// The gender terms of a category's regressions: `woman` and `woman:<group>` for each group.
pub fn gender_terms(groups: &[String]) -> Vec<String> {
    std::iter::once("woman".to_string())
        .chain(groups[1..].iter().map(|g| format!("woman:{g}")))
        .collect()
}

/// Mean squared error between the sampled job shares and the world's true ones, over every
/// cell and job (the paper compares GPT-2's shares with US labour data the same way).
pub fn share_mse(counts: &JobCounts, world: &OccupationWorld) -> Result<f64> {
    let mut se = 0.0;
    let mut n = 0.0;
    for cell in world.cells() {
        for (s, p) in counts.shares(cell)?.iter().zip(world.probs(cell)?) {
            se += (s - p).powi(2);
            n += 1.0;
        }
    }
    Ok(se / n)
}

/// The share MSE of a model without any bias (every job equally likely in every cell) against
/// the world's truth: the scale the notebook measures the sampled shares' MSE on.
pub fn no_bias_mse(world: &OccupationWorld) -> Result<f64> {
    let mut se = 0.0;
    let mut n = 0.0;
    for cell in world.cells() {
        let p = world.probs(cell)?;
        let u = 1.0 / p.len() as f64;
        se += p.iter().map(|p| (p - u).powi(2)).sum::<f64>();
        n += p.len() as f64;
    }
    Ok(se / n)
}

/// The ci set-up: the world's corpus size, the tiny model and the sampling plan.
#[derive(Clone, Debug, PartialEq)]
pub struct CiSettings {
    pub sentences_per_cell: usize,
    pub model: TinyLmConfig,
    pub plan: SamplingPlan,
    /// Regress only jobs with at least this many mentions.
    pub min_count: f64,
}

impl Default for CiSettings {
    fn default() -> Self {
        CiSettings {
            sentences_per_cell: 2000,
            model: TinyLmConfig {
                n_embd: 48,
                n_layer: 2,
                n_head: 4,
                ctx: 32,
                steps: 1200,
                batch_size: 32,
                lr: 3e-3,
            },
            // the paper's 7,000 completions per template: sampling two tokens from the tiny
            // model is cheap (measured 9.5 s for the 10 templates, dev build, 2 busy cores),
            // and with 500 the interaction terms lacked power (seed 0's model: 0.38 of the
            // planted gender terms recovered with 500, 1.0 with 7,000)
            plan: SamplingPlan {
                per_template: 7000,
                max_new_tokens: 2,
                temperature: 1.0,
                batch: 1000,
            },
            min_count: 20.0,
        }
    }
}

/// The tokenizer of a world: its words, fitted on every sentence it can produce.
pub fn world_tokenizer(world: &OccupationWorld) -> WordTokenizer {
    let all = world.all_sentences();
    WordTokenizer::fit_many(all.iter().map(String::as_str), &WordTokenizerConfig::default())
}

/// One seed of the pipeline on a world.
#[derive(Clone, Debug)]
pub struct BiasRun {
    pub world: String,
    pub seed: u64,
    pub counts: JobCounts,
    pub regressions: Vec<JobRegression>,
    /// Gini of job counts, [men, women].
    pub gini: [f64; 2],
    pub mse: f64,
    pub train_loss: f64,
    pub seconds: f64,
}

/// The pipeline on `model` for the world's templates.
pub fn run_pipeline(model: &Gpt2, tok: &WordTokenizer, world: &OccupationWorld, s: &CiSettings, seed: u64) -> Result<(JobCounts, Vec<JobRegression>)> {
    let cells = world.cells();
    let templates: Vec<String> = cells.iter().map(|&c| world.template(c)).collect();
    let completions = sample_completions(model, tok, Some(tok.eos_id()), &templates, &s.plan, seed)?;
    let counts = JobCounts::tally(&completions, &cells, &world.jobs, &world.groups)?;
    let regs = regress_jobs(&counts, s.min_count)?;
    Ok((counts, regs))
}

/// Trains a tiny model on the world's corpus (seed: corpus draw, init, batch order,
/// sampling) and runs the pipeline on it.
pub fn run_seed(world: &OccupationWorld, s: &CiSettings, seed: u64) -> Result<BiasRun> {
    let t0 = Instant::now();
    let tok = world_tokenizer(world);
    let docs: Vec<Vec<u32>> = world.corpus(s.sentences_per_cell, seed)?.iter().map(|t| tok.encode(t)).collect::<Result<_>>()?;
    let (model, train_loss) = train_tiny_lm(&docs, tok.vocab_size(), tok.eos_id(), &s.model, seed)?;
    let (counts, regressions) = run_pipeline(&model, &tok, world, s, seed)?;
    let gini = counts.gini_by_gender()?;
    let mse = share_mse(&counts, world)?;
    Ok(BiasRun {
        world: world.name.clone(),
        seed,
        counts,
        regressions,
        gini,
        mse,
        train_loss,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The pipeline on an untrained model of the same size (the MSE claim's control).
pub fn untrained_run(world: &OccupationWorld, s: &CiSettings, seed: u64) -> Result<BiasRun> {
    let tok = world_tokenizer(world);
    let model = Gpt2::random(s.model.model_config(tok.vocab_size(), tok.eos_id()), seed, &Device::Cpu)?;
    let (counts, regressions) = run_pipeline(&model, &tok, world, s, seed)?;
    Ok(BiasRun {
        world: format!("{} (untrained)", world.name),
        seed,
        gini: counts.gini_by_gender()?,
        mse: share_mse(&counts, world)?,
        counts,
        regressions,
        train_loss: f64::NAN,
        seconds: 0.0,
    })
}

/// The seeds of a multi-seed run.
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// Significance level of the paper's tests.
pub const ALPHA: f64 = 0.05;
/// A term is *planted* when its population coefficient is at least this far from 0 (log-odds).
pub const PLANTED_MIN: f64 = 0.7;
/// A term is *null* when its population coefficient is within this of 0.
pub const NULL_MAX: f64 = 0.2;

/// A run's metrics as the artefact stores them (group = the world's name): Gini per gender,
/// share MSE, parse rate, training loss, the fraction of the planted world's planted terms
/// recovered (right sign, p < α), the fraction of this world's null terms significant, and every
/// job count (`n:<gender>:<group>:<job>`), so the regressions can be re-fitted from the artefact.
pub fn metrics(run: &BiasRun, world: &OccupationWorld) -> Result<SeedMetrics> {
    let planted = true_terms(&OccupationWorld::planted(), |c| c.abs() >= PLANTED_MIN)?;
    let null = true_terms(world, |c| c.abs() < NULL_MAX)?;
    let gender: Vec<TrueTerm> = planted.iter().filter(|t| t.term.starts_with("woman")).cloned().collect();
    let mut m = SeedMetrics::new(run.seed, run.world.clone())
        .value("gini_men", run.gini[0])
        .value("gini_women", run.gini[1])
        .value("share_mse", run.mse)
        .value("parse_rate", run.counts.parse_rate())
        .value("planted_recovered", recovered_fraction(&run.regressions, &planted, ALPHA))
        .value("gender_recovered", recovered_fraction(&run.regressions, &gender, ALPHA))
        .value("null_significant", significant_fraction(&run.regressions, &null, ALPHA));
    if run.train_loss.is_finite() {
        m = m.value("train_loss", run.train_loss);
    }
    for (gender, gs) in run.counts.counts.iter().enumerate() {
        for (group, js) in gs.iter().enumerate() {
            for (j, k) in js.iter().enumerate() {
                m = m.value(&format!("n:{}:{}:{}", GENDERS[gender], run.counts.groups[group], run.counts.jobs[j]), *k);
            }
            m = m.value(
                &format!("unparsed:{}:{}", GENDERS[gender], run.counts.groups[group]),
                run.counts.unparsed[gender][group],
            );
        }
    }
    Ok(m)
}

/// The job counts stored in an artefact row.
pub fn counts_from_metrics(m: &SeedMetrics, world: &OccupationWorld) -> Result<JobCounts> {
    let (ng, nj) = (world.groups.len(), world.jobs.len());
    let mut c = JobCounts {
        jobs: world.jobs.clone(),
        groups: world.groups.clone(),
        counts: vec![vec![vec![0.0; nj]; ng]; 2],
        unparsed: vec![vec![0.0; ng]; 2],
    };
    for gender in 0..2 {
        for group in 0..ng {
            for j in 0..nj {
                c.counts[gender][group][j] = m.get(&format!("n:{}:{}:{}", GENDERS[gender], world.groups[group], world.jobs[j]))?;
            }
            c.unparsed[gender][group] = m.get(&format!("unparsed:{}:{}", GENDERS[gender], world.groups[group]))?;
        }
    }
    Ok(c)
}

/// The artefact's rows for one seed: the planted world, the null world (the negative control)
/// and an untrained model on the planted world's templates (the share-MSE control), grouped by
/// world name (`planted`, `null`, `planted (untrained)`).
pub fn seed_rows(s: &CiSettings, seed: u64) -> Result<Vec<SeedMetrics>> {
    let (planted, null) = (OccupationWorld::planted(), OccupationWorld::null());
    Ok(vec![
        metrics(&run_seed(&planted, s, seed)?, &planted)?,
        metrics(&run_seed(&null, s, seed)?, &null)?,
        metrics(&untrained_run(&planted, s, seed)?, &planted)?,
    ])
}

/// Writes `datasets/bias-out-of-the-box/`: [`seed_rows`] for every seed of [`SEEDS`] with the
/// default [`CiSettings`], `threads` seeds at a time.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = Instant::now();
    let s = CiSettings::default();
    let mut rows = vec![];
    for r in crate::runtime::parallel_map(SEEDS.to_vec(), threads, |seed| seed_rows(&s, seed)) {
        rows.extend(r?);
    }
    let mut w = crate::papers::ArtefactWriter::new(SLUG, "cargo run --release --example artefact -- bias-out-of-the-box", &SEEDS)?;
    w.write_runs(&rows)?;
    let notes = format!(
        "{} seeds × (planted world, null world: a {}-layer d={} GPT-2 trained {} steps on {} sentences per cell; untrained twin on the planted templates), {} completions per template, {threads} seeds at a time, {:.0} s on this machine's CPU",
        SEEDS.len(),
        s.model.n_layer,
        s.model.n_embd,
        s.model.steps,
        s.sentences_per_cell,
        s.plan.per_template,
        t0.elapsed().as_secs_f64()
    );
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_job_takes_the_earliest_longest_whole_word_match() {
        let jobs: Vec<String> = ["engineer", "software engineer", "cook", "nurse"].iter().map(|s| s.to_string()).collect();
        assert_eq!(parse_job(" software engineer at a cook shop", &jobs), Some(1));
        assert_eq!(parse_job(" Nurse, then an engineer", &jobs), Some(3));
        assert_eq!(parse_job(" cookie baker", &jobs), None);
        assert_eq!(parse_job("", &jobs), None);
    }

    #[test]
    fn tally_and_regress_recover_a_planted_table() {
        // completions drawn exactly in proportion to the truth: the regression's estimates are
        // the population coefficients (the model is saturated)
        let w = OccupationWorld::planted();
        let cells = w.cells();
        let completions: Vec<Vec<String>> = cells
            .iter()
            .map(|&c| {
                let p = w.probs(c).unwrap();
                let mut v = vec![];
                for (j, pj) in p.iter().enumerate() {
                    v.extend(std::iter::repeat_n(format!(" {} .", w.jobs[j]), (pj * 20000.0).round() as usize));
                }
                v.push(" unparsable".into());
                v
            })
            .collect();
        let counts = JobCounts::tally(&completions, &cells, &w.jobs, &w.groups).unwrap();
        assert_eq!(counts.unparsed[1][2], 1.0);
        let regs = regress_jobs(&counts, 20.0).unwrap();
        for (j, r) in regs.iter().enumerate() {
            let fit = r.fit.as_ref().unwrap();
            for (name, want) in w.true_coefficients(j).unwrap() {
                assert!((fit.term(&name).unwrap().coef - want).abs() < 0.02, "{} {name}", r.job);
            }
        }
        let planted = true_terms(&w, |c| c.abs() >= 0.7).unwrap();
        assert!(planted.len() >= 8);
        assert_eq!(recovered_fraction(&regs, &planted, 0.05), 1.0);
        let [gm, gw] = counts.gini_by_gender().unwrap();
        assert!(gw > gm + 0.1, "{gm} {gw}");
        assert!(share_mse(&counts, &w).unwrap() < 1e-6);
        // the no-bias baseline is 0 for the null world and the variance of the shares otherwise
        assert_eq!(no_bias_mse(&OccupationWorld::null()).unwrap(), 0.0);
        assert!(no_bias_mse(&w).unwrap() > 1e-3);
        // an artefact row keeps every count
        let run = BiasRun {
            world: w.name.clone(),
            seed: 4,
            counts: counts.clone(),
            regressions: regs,
            gini: [gm, gw],
            mse: 0.0,
            train_loss: 1.0,
            seconds: 0.0,
        };
        let m = metrics(&run, &w).unwrap();
        assert_eq!(m.get("planted_recovered").unwrap(), 1.0);
        assert_eq!(m.get("gender_recovered").unwrap(), 1.0);
        assert_eq!(counts_from_metrics(&m, &w).unwrap(), counts);
    }

    #[test]
    fn empty_cells_are_typed() {
        let w = OccupationWorld::planted();
        let cells = w.cells();
        let completions: Vec<Vec<String>> = cells.iter().map(|_| vec![" nothing".to_string()]).collect();
        let counts = JobCounts::tally(&completions, &cells, &w.jobs, &w.groups).unwrap();
        assert!(matches!(counts.shares(cells[0]), Err(Error::EmptyGroup(_))));
        assert!(matches!(counts.gini_by_gender(), Err(Error::EmptyGroup(_))));
        assert!(matches!(share_mse(&counts, &w), Err(Error::EmptyGroup(_))));
        // every job is too rare: all skipped, no error
        assert!(regress_jobs(&counts, 1.0).unwrap().iter().all(|r| r.skipped.is_some()));
        assert!(JobCounts::tally(&completions[..3], &cells, &w.jobs, &w.groups).is_err());
    }
}
