//! `papermap topics`: cluster the index into topics, print them, save `topics.json`.

use std::path::PathBuf;

use anyhow::Context;
use papermap::index::Index;
use papermap::topics::keywords::{KeywordOptions, TermEmbedder};
use papermap::topics::{self, KChoice, Params, Topics, Trend};
use papermap::workspace::Workspace;

use super::options::ModelOpts;
use super::options::DEFAULT_INDEX;

/// `papermap topics [--k N|auto] [--seed S]`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
    /// Number of topics, or `auto`: the k of --k-range with the highest reader score (coherence ×
    /// diversity of the keywords × papers in topics of readable size; see docs/topics.md).
    #[arg(long, default_value = "auto")]
    k: String,
    /// Range `--k auto` scans, both ends included.
    #[arg(long, default_value = "8..60", value_name = "MIN..MAX")]
    k_range: String,
    /// Seed of the k-means starts and of the silhouette sample.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// k-means++ starts per k; the lowest objective wins (default: 3, or 1 for an index of
    /// more than 200,000 papers, where one start costs minutes on a CPU and the starts differ
    /// by a fraction of a percent: scikit-learn's `n_init="auto"` also makes one).
    #[arg(long, value_parser = super::options::at_least_one)]
    runs: Option<usize>,
    /// Papers in the silhouette sample of `--k auto`.
    #[arg(long, default_value_t = topics::kmeans::DEFAULT_SILHOUETTE_SAMPLE, value_parser = super::options::at_least_one)]
    silhouette_sample: usize,
    /// Keywords per topic.
    #[arg(long, default_value_t = 10, value_parser = super::options::at_least_one)]
    keywords: usize,
    /// MMR diversity of keywords, 0 (relevance only) to 1.
    #[arg(long, default_value_t = 0.5, value_parser = super::options::unit_interval)]
    diversity: f32,
    /// Centred centroid cosine above which a topic keeps the id of a previous run's topic.
    #[arg(long, default_value_t = topics::stable::DEFAULT_THRESHOLD, value_parser = super::options::cosine_threshold)]
    threshold: f32,
    /// Days at the end of the archive that count as recent for the trend.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..))]
    recent_days: i64,
    /// Ignore the saved topics: fresh ids and labels.
    #[arg(long)]
    fresh: bool,
    /// Do not write topics.json.
    #[arg(long)]
    no_save: bool,
    /// Keywords by c-TF-IDF alone, without loading the model for MMR.
    #[arg(long)]
    no_model: bool,
    /// Skip the 2-D map (t-SNE); the report then draws a PCA map.
    #[arg(long)]
    no_map: bool,
    /// Also show the topics grouped into N by cutting their hierarchy (no refit).
    #[arg(long, value_name = "N", value_parser = super::options::at_least_one)]
    merge_to: Option<usize>,
    /// Cluster every paper by its vector, even one whose summary the summary check finds does
    /// not describe it (by default such a paper is clustered by its title; the check embeds
    /// every title, and every summary of a title+summary index, once, then caches them).
    #[arg(long)]
    no_summary_check: bool,
    #[command(flatten)]
    model: ModelOpts,
}

/// Runs `papermap topics`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let mut k: KChoice = args.k.parse()?;
    if let KChoice::Auto(_) = k {
        k = KChoice::Auto(topics::parse_k_range(&args.k_range)?);
    }
    // k-means on the device of --device: a GPU does the distance work as matrix products.
    let ws = Workspace::open(&args.index, &args.model.choice()?)?;
    let index = ws.index();
    if index.is_empty() {
        return Err(topics::TopicsError::Empty.into());
    }
    let encoder = if args.no_model {
        None
    } else {
        match ws.optional_encoder(args.model.explicit())? {
            Ok(e) => Some(e),
            Err(why) => {
                super::output::note!("note: {why}; keywords by c-TF-IDF only");
                None
            }
        }
    };
    let params = Params {
        k,
        seed: args.seed,
        runs: args
            .runs
            .unwrap_or(if index.len() > 200_000 { 1 } else { 3 }),
        silhouette_sample: args.silhouette_sample,
        keywords: KeywordOptions {
            keep: args.keywords,
            diversity: args.diversity,
            ..KeywordOptions::default()
        },
        match_threshold: args.threshold,
        recent_days: args.recent_days,
        map: !args.no_map,
        ..Params::default()
    };
    let embedder = encoder.map(|e| e as &dyn TermEmbedder);
    let by_title = if args.no_summary_check {
        topics::ByTitle::default()
    } else if encoder.is_some() {
        let (by_title, _, cache_error) = ws.by_title(&mut super::output::check_progress())?;
        super::output::warn_uncached(cache_error.as_deref());
        by_title
    } else if let Some(by_title) = ws.cached_by_title()? {
        by_title
    } else {
        super::output::note!(
            "note: the summary check needs the model (its vectors are not cached): every paper \
             is clustered by its vector"
        );
        topics::ByTitle::default()
    };
    let (result, run) = ws
        .fit_topics(&params, args.fresh, embedder, &by_title)
        .with_context(|| format!("computing topics of {}", args.index.display()))?;
    if run.previous_other_model {
        super::output::note!(
            "note: the saved topics were computed with another model; ids start fresh"
        );
    }
    if let Some(why) = &result.refit_suggested {
        super::output::note!(
            "note: a full refit is suggested ({why}): run `papermap topics --fresh`"
        );
    }
    let saved = if args.no_save {
        None
    } else {
        Some(topics::save(&args.index, &result)?)
    };
    let coarse = args.merge_to.map(|n| result.coarse(n));
    // Whether each label, searched for with the index's own model, finds its topic.
    let label_check = match embedder {
        Some(e) => Some(topics::label_check::check(&result, e)?),
        None => None,
    };
    if output.json {
        let mut v = serde_json::to_value(&result)?;
        v["timing"] = serde_json::to_value(result.timing)?;
        if let Some(c) = &label_check {
            v["label_check"] = serde_json::to_value(c)?;
        }
        if let Some(c) = &coarse {
            v["coarse"] = serde_json::to_value(c)?;
        }
        super::output::print_json(&v)?;
    } else {
        print_table(&result, index, run.had_previous);
        if result.by_title > 0 {
            println!(
                "\n{} papers whose summary does not describe them (the summary check) were placed by their titles",
                result.by_title
            );
        }
        if let Some(groups) = &coarse {
            println!(
                "\n{} groups (the hierarchy cut at {}):",
                groups.len(),
                groups.len()
            );
            for g in groups {
                let ids: Vec<String> = g.topics.iter().map(|t| t.to_string()).collect();
                println!(
                    "  {:>5} papers  {}  (topics {})",
                    g.size,
                    super::output::one_line(&g.label),
                    ids.join(", ")
                );
            }
        }
        if let Some(c) = &label_check {
            print_label_check(c);
        }
        if let Some(p) = saved {
            println!("saved {}", p.display());
        }
    }
    Ok(())
}

/// The label check's line, and one per label that landed in another topic.
fn print_label_check(c: &topics::label_check::LabelCheck) {
    println!(
        "\nlabel check: {} of {} labels, searched for, land nearest their own topic ({:.0} %)",
        c.landed,
        c.total,
        100.0 * c.share()
    );
    for m in &c.misses {
        println!(
            "  topic {:>3} {}  -> nearer topic {} ({:.3} against {:.3})",
            m.topic,
            super::output::one_line(&m.label),
            m.nearest,
            m.best,
            m.own
        );
    }
}

/// At most `n` characters of `s`, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn print_table(t: &Topics, index: &Index, had_previous: bool) {
    if let Some(auto) = &t.auto {
        println!("k auto: {}", auto.criterion);
        println!(
            "{:>5}  {:>8}  {:>10}  {:>12}",
            "k", "score", "silhouette", "objective"
        );
        for p in &auto.curve {
            let mark = if p.k == auto.chosen {
                "  <- chosen"
            } else {
                ""
            };
            println!(
                "{:>5}  {:>8.4}  {:>10.4}  {:>12.3}{mark}",
                p.k, p.score, p.silhouette, p.objective
            );
        }
        println!();
    }
    println!(
        "{} papers, k = {}, seed {}, {} runs; objective {:.4}; keywords by {}; fit {:.2}s, keywords {:.2}s, map {:.2}s",
        index.len(),
        t.k,
        t.seed,
        t.runs,
        t.objective,
        t.keyword_method,
        t.timing.fit_s,
        t.timing.keywords_s,
        t.timing.map_s
    );
    if had_previous {
        let kept = t.topics.iter().filter(|x| x.matched.is_some()).count();
        println!(
            "ids: {kept} topics kept their id from the previous run, {} new",
            t.topics.len() - kept
        );
    }
    if let Some(d) = &t.archive_last_date {
        println!(
            "trend: share in the {} days up to {d} against before",
            t.recent_days
        );
    }
    println!();
    println!(
        "{:>4}  {:>5}  {:<14}  {:<40}  keywords",
        "id", "size", "trend", "label"
    );
    for topic in &t.topics {
        let dir = match topic.direction {
            Trend::Rising => "rising",
            Trend::Falling => "falling",
            Trend::Steady => "steady",
        };
        let kw: Vec<&str> = topic.keywords.iter().take(6).map(String::as_str).collect();
        println!(
            "{:>4}  {:>5}  {:<14}  {:<40}  {}",
            topic.id,
            topic.size,
            format!("{dir} {:.2}x", topic.trend),
            clip(&super::output::one_line(&topic.label), 40),
            super::output::one_line(&kw.join(", "))
        );
    }
}
