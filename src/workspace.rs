//! The library layer between the CLI and the stages: loading the model an index accepts (the
//! rule itself is [`Index::accepts`]), and the inputs of the commands built as plain data.
//!
//! A command parses its arguments into these types, makes one call here (or into a stage), and
//! prints. Everything a command would otherwise decide on its own — whether a model fits an index,
//! which numeric mode an index's queries use, where the title vectors come from — is decided here
//! once.

use std::path::Path;
use std::sync::OnceLock;

use crate::embed::model::Resolver;
use crate::embed::{
    DeviceSpec, EmbedError, Encoder, EncoderOptions, Mode, ModelFiles, ModelIdentity, Prefix,
};
use crate::index::{Index, IndexError};
use crate::quality::{self, EmbedProgress, SummaryCheck};
use crate::search::SearchError;
use crate::vectors::VectorBackend;

/// Errors of opening an index with a model.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The model could not be found or loaded, or the options name no runnable mode.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The index could not be read, or its vectors are not comparable with the model's
    /// ([`IndexError::NotComparable`]).
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Searching or the quality checks failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// Topics could not be computed from the index's vectors.
    #[error(transparent)]
    Topics(#[from] crate::topics::TopicsError),
}

/// Which model to use and how to run it: what `--model`, `--device`, `--dtype` and `--quant`
/// say, parsed once into typed values.
#[derive(Debug, Clone, Default)]
pub struct ModelChoice {
    /// Where the model files are looked up.
    pub resolver: Resolver,
    /// Where the encoder runs.
    pub device: DeviceSpec,
    /// Numeric mode; `None` follows the index (a `q8` index stays `q8`, an `f16` one `f16`),
    /// else the device's default ([`Mode::default_on`]).
    pub mode: Option<Mode>,
}

impl ModelChoice {
    /// The model files this choice names.
    pub fn resolve(&self) -> Result<ModelFiles, WorkspaceError> {
        Ok(self.resolver.resolve()?)
    }

    /// This choice in the numeric mode an index's vectors were made in, unless one was chosen:
    /// updates and queries of a `q8` (or `f16`) index stay in that mode without repeating it.
    pub fn following(&self, stored: Option<Mode>) -> ModelChoice {
        let mut c = self.clone();
        if c.mode.is_none() {
            c.mode = stored;
        }
        c
    }

    /// This choice following the index in `dir`, read from its manifest alone (the index itself
    /// may still be loading, or absent).
    pub fn following_index(&self, dir: &Path) -> ModelChoice {
        let stored = crate::index::read_manifest(dir)
            .ok()
            .flatten()
            .map(|m| m.mode);
        self.following(stored)
    }

    /// The numeric mode an encoder of this choice runs in.
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::default_on(self.device))
    }

    /// The identity an encoder of this choice will have, known before loading it (the
    /// fingerprint is cached beside the model): an index can refuse it without the load.
    pub fn identity(&self, files: &ModelFiles) -> Result<ModelIdentity, WorkspaceError> {
        Ok(ModelIdentity {
            id: files.id.clone(),
            fingerprint: files.fingerprint()?,
            mode: self.mode(),
        })
    }

    /// Resolves the model and loads an encoder.
    pub fn load(&self) -> Result<(ModelFiles, Encoder), WorkspaceError> {
        self.load_inner(None)
    }

    /// [`ModelChoice::load`] for a caller that embeds only `texts` (one search query): loads
    /// faster (see [`Encoder::load_for`]).
    pub fn load_for(
        &self,
        texts: &[String],
        prefix: Prefix,
    ) -> Result<(ModelFiles, Encoder), WorkspaceError> {
        self.load_inner(Some((texts, prefix)))
    }

    fn load_inner(
        &self,
        only: Option<(&[String], Prefix)>,
    ) -> Result<(ModelFiles, Encoder), WorkspaceError> {
        let files = self.resolve()?;
        let encoder = self.load_files(&files, self.device.open()?, only)?;
        Ok((files, encoder))
    }

    /// An encoder of this choice's mode from `files` (already resolved) on `device` (already
    /// opened).
    fn load_files(
        &self,
        files: &ModelFiles,
        device: candle_core::Device,
        only: Option<(&[String], Prefix)>,
    ) -> Result<Encoder, WorkspaceError> {
        let opts = EncoderOptions {
            device,
            mode: self.mode(),
            kernels: None,
        };
        Ok(match only {
            None => Encoder::load(files, &opts)?,
            Some((texts, prefix)) => Encoder::load_for(files, &opts, texts, prefix)?,
        })
    }
}

/// An index directory opened once, with everything a command reads through it: the index, the
/// vector backend, the index's model (loaded on first use, in the index's numeric mode, and only
/// if the index accepts its vectors) and the topics (only if current). Every command that reads
/// an index, and serve, open one; none checks a model or loads topics by itself.
pub struct Workspace {
    index: Index,
    choice: ModelChoice,
    backend: VectorBackend,
    encoder: OnceLock<Encoder>,
}

impl Workspace {
    /// Opens the index in `dir` for `choice` (which follows the index's numeric mode unless it
    /// names one), with the exact backend of its device. Nothing is loaded yet.
    pub fn open(dir: &Path, choice: &ModelChoice) -> Result<Workspace, WorkspaceError> {
        let index = Index::open(dir)?;
        let choice = choice.following(Some(index.manifest().mode));
        let backend = VectorBackend::on(choice.device.open()?);
        Ok(Workspace {
            index,
            choice,
            backend,
            encoder: OnceLock::new(),
        })
    }

    /// This workspace with another backend (`related --all --ann`).
    pub fn with_backend(mut self, backend: VectorBackend) -> Workspace {
        self.backend = backend;
        self
    }

    /// The index opened by [`Workspace::open`]: its papers, vectors and manifest.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Where vector work runs.
    pub fn backend(&self) -> &VectorBackend {
        &self.backend
    }

    /// The index's model: the one the choice names, refused before loading unless the index
    /// accepts its vectors, loaded once.
    pub fn encoder(&self) -> Result<&Encoder, WorkspaceError> {
        if let Some(e) = self.encoder.get() {
            return Ok(e);
        }
        let encoder = self.load_encoder()?;
        Ok(self.encoder.get_or_init(|| encoder))
    }

    /// Resolves the choice's model, refuses it unless the index accepts its vectors, loads it.
    fn load_encoder(&self) -> Result<Encoder, WorkspaceError> {
        let files = self.choice.resolve()?;
        self.index.accepts(&self.choice.identity(&files)?)?;
        self.load_accepted(&files)
    }

    /// The encoder of `files`, which the index accepted, on the backend's device (opened once,
    /// in [`Workspace::open`]).
    fn load_accepted(&self, files: &ModelFiles) -> Result<Encoder, WorkspaceError> {
        self.choice.load_files(files, self.backend.device(), None)
    }

    /// The index's model when one is available and accepted, else why not (for callers that can
    /// do without: topic keywords fall back to c-TF-IDF alone). An explicitly named model that
    /// cannot be found is an error.
    pub fn optional_encoder(
        &self,
        explicit: bool,
    ) -> Result<Result<&Encoder, String>, WorkspaceError> {
        if let Some(e) = self.encoder.get() {
            return Ok(Ok(e));
        }
        let files = match self.choice.resolve() {
            Ok(f) => f,
            Err(e) if !explicit => return Ok(Err(format!("no model ({e})"))),
            Err(e) => return Err(e),
        };
        if let Err(e) = self.index.accepts(&self.choice.identity(&files)?) {
            return Ok(Err(e.to_string()));
        }
        let encoder = self.load_accepted(&files)?;
        Ok(Ok(self.encoder.get_or_init(|| encoder)))
    }

    /// Takes an encoder loaded elsewhere (a search loads the model while the index opens), if
    /// the index accepts its vectors.
    pub fn adopt(&self, encoder: Encoder) -> Result<&Encoder, WorkspaceError> {
        self.index.accepts(encoder.identity())?;
        Ok(self.encoder.get_or_init(|| encoder))
    }

    /// The index's model, owned (serve's embedding thread) and loaded if it was not, with the
    /// backend (serve's dense passes).
    pub fn into_encoder(mut self) -> Result<(Encoder, VectorBackend), WorkspaceError> {
        let encoder = match self.encoder.take() {
            Some(e) => e,
            None => self.load_encoder()?,
        };
        Ok((encoder, self.backend))
    }

    /// The index's topics, required current ([`crate::topics::load_current`]).
    pub fn topics(&self) -> Result<crate::topics::Topics, crate::topics::TopicsError> {
        crate::topics::load_current(&self.index)
    }

    /// Title query vectors of every paper: from the index's cache, or embedded with the index's
    /// model (then cached). `progress("titles", done, total)` follows any embedding.
    pub fn title_vectors(
        &self,
        progress: &mut EmbedProgress<'_>,
    ) -> Result<quality::TextVectors, WorkspaceError> {
        if let Some(v) = quality::cached_title_queries(&self.index) {
            return Ok(quality::TextVectors {
                cached: self.index.len(),
                vectors: v,
                ..Default::default()
            });
        }
        Ok(quality::title_queries(
            &self.index,
            self.encoder()?,
            &mut |d, t| progress("titles", d, t),
        )?)
    }

    /// Every paper's summary embedded alone: the index's own vectors when it embeds summaries
    /// only (`None`: use them), else from the index's cache or embedded with its model (then
    /// cached). `progress("summaries", done, total)` follows any embedding.
    pub fn summary_vectors(
        &self,
        progress: &mut EmbedProgress<'_>,
    ) -> Result<Option<quality::TextVectors>, WorkspaceError> {
        match self.cached_summary_vectors() {
            Some(None) => return Ok(None),
            Some(Some(v)) => {
                return Ok(Some(quality::TextVectors {
                    cached: self.index.len(),
                    vectors: v,
                    ..Default::default()
                }))
            }
            None => {}
        }
        Ok(Some(quality::summary_passages(
            &self.index,
            self.encoder()?,
            &mut |d, t| progress("summaries", d, t),
        )?))
    }

    /// [`Workspace::summary_vectors`] without the model: `Some(None)` when the index's own
    /// vectors are the summaries', `None` when some summary is not cached.
    fn cached_summary_vectors(&self) -> Option<Option<Vec<f32>>> {
        if quality::summaries_are_the_index(&self.index) {
            return Some(None);
        }
        quality::cached_summary_passages(&self.index).map(Some)
    }

    /// [`quality::summary_outliers`] on `titles` and `summaries` (`None`: the index's vectors).
    fn check_on(
        &self,
        titles: &[f32],
        summaries: Option<&[f32]>,
    ) -> Result<SummaryCheck, WorkspaceError> {
        let summaries = summaries.unwrap_or(self.index.vectors());
        Ok(quality::summary_outliers(
            &self.index,
            summaries,
            titles,
            &self.backend,
        )?)
    }

    /// The summary check of the index, on its title vectors ([`Workspace::title_vectors`]) and
    /// summary vectors ([`Workspace::summary_vectors`]), and why some of them could not be
    /// cached, if they could not.
    pub fn summary_check(
        &self,
        progress: &mut EmbedProgress<'_>,
    ) -> Result<(SummaryCheck, Option<String>), WorkspaceError> {
        let tq = self.title_vectors(progress)?;
        self.summary_check_with(&tq, progress)
    }

    /// [`Workspace::summary_check`] with the title vectors already at hand.
    pub fn summary_check_with(
        &self,
        titles: &quality::TextVectors,
        progress: &mut EmbedProgress<'_>,
    ) -> Result<(SummaryCheck, Option<String>), WorkspaceError> {
        let sv = self.summary_vectors(progress)?;
        let check = self.check_on(&titles.vectors, sv.as_ref().map(|s| s.vectors.as_slice()))?;
        let cache_error = [
            titles.cache_error.as_ref(),
            sv.as_ref().and_then(|s| s.cache_error.as_ref()),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .reduce(|a, b| format!("{a}; {b}"));
        Ok((check, cache_error))
    }

    /// nDCG@10 per mode of judged queries (see [`crate::search::eval::evaluate_queries`]), each
    /// query embedded with the index's model; also the number of queries.
    pub fn evaluate_queries(
        &self,
        queries: Vec<crate::search::eval::JudgedQuery>,
    ) -> Result<(Vec<crate::search::eval::QueryMetrics>, usize), WorkspaceError> {
        let encoder = self.encoder()?;
        let texts: Vec<String> = queries.iter().map(|q| q.query.clone()).collect();
        let vectors = encoder.embed(&texts, Prefix::Query, &mut |_, _| {})?;
        let searcher = crate::search::Searcher::new(&self.index, &self.backend, Some(encoder))?;
        let metrics = crate::search::eval::evaluate_queries(
            &self.index,
            searcher.bm25(),
            &self.backend,
            &queries,
            &vectors.vectors,
        )?;
        Ok((metrics, queries.len()))
    }

    /// Topics of the index: while the index only grows (and the same k is asked for, or auto),
    /// the saved topics are updated: new papers join them, nothing already assigned moves, and a
    /// rerun without new papers gives the same topics. Anything else (`fresh`, another k, papers
    /// gone, another model) is a full fit on the backend, whose topics keep the ids of the
    /// saved ones they match.
    pub fn fit_topics(
        &self,
        params: &crate::topics::Params,
        fresh: bool,
        embedder: Option<&dyn crate::topics::keywords::TermEmbedder>,
        by_title: &crate::topics::ByTitle,
    ) -> Result<(crate::topics::Topics, TopicsRun), crate::topics::TopicsError> {
        topics(
            &self.index,
            params,
            fresh,
            embedder,
            &self.backend,
            by_title,
        )
    }

    /// The papers topics should place by their titles: those the summary check flags (see
    /// [`crate::topics::by_title`]) whose index vector embeds their summary (in a `title+abstract`
    /// index, a paper with an abstract is embedded by it, which is its own), with the check
    /// itself and why its vectors could not be cached, if they could not.
    pub fn by_title(
        &self,
        progress: &mut EmbedProgress<'_>,
    ) -> Result<(crate::topics::ByTitle, SummaryCheck, Option<String>), WorkspaceError> {
        let titles = self.title_vectors(progress)?;
        let (check, cache_error) = self.summary_check_with(&titles, progress)?;
        let by_title = self.placement(&titles.vectors, &check)?;
        Ok((by_title, check, cache_error))
    }

    /// [`Workspace::by_title`] from the cached vectors alone, without the model; `None` when
    /// some title or summary is not cached.
    pub fn cached_by_title(&self) -> Result<Option<crate::topics::ByTitle>, WorkspaceError> {
        let Some(titles) = quality::cached_title_queries(&self.index) else {
            return Ok(None);
        };
        let Some(summaries) = self.cached_summary_vectors() else {
            return Ok(None);
        };
        let check = self.check_on(&titles, summaries.as_deref())?;
        Ok(Some(self.placement(&titles, &check)?))
    }

    /// The rows of `check` that topics place by their titles, with their title vectors.
    fn placement(
        &self,
        titles: &[f32],
        check: &SummaryCheck,
    ) -> Result<crate::topics::ByTitle, WorkspaceError> {
        let abstracts =
            self.index.manifest().text_recipe == crate::index::TextRecipe::TitleAbstract;
        let rows: Vec<usize> = check
            .outliers
            .iter()
            .map(|o| o.row)
            .filter(|&r| {
                !abstracts
                    || self
                        .index
                        .paper(r)
                        .abstract_text
                        .as_deref()
                        .is_none_or(str::is_empty)
            })
            .collect();
        Ok(crate::topics::ByTitle::new(
            crate::vectors::assign::Rows::from_view(self.index.rows())
                .map_err(crate::topics::TopicsError::from)?,
            titles,
            &rows,
        )?)
    }
}

/// What [`Workspace::fit_topics`] did besides computing the topics, for the caller to tell.
#[derive(Debug, Clone, Default)]
pub struct TopicsRun {
    /// Saved topics were found and used (their ids kept, or updated in place).
    pub had_previous: bool,
    /// Saved topics were found but made with another model: ids start fresh.
    pub previous_other_model: bool,
    /// The saved topics were updated with the new papers instead of refitted.
    pub updated: bool,
}

/// The body of [`Workspace::fit_topics`]: updates the saved topics when the index only grew
/// (and k still fits), else refits, and records in a [`TopicsRun`] which it did.
fn topics(
    index: &Index,
    params: &crate::topics::Params,
    fresh: bool,
    embedder: Option<&dyn crate::topics::keywords::TermEmbedder>,
    backend: &crate::vectors::VectorBackend,
    by_title: &crate::topics::ByTitle,
) -> Result<(crate::topics::Topics, TopicsRun), crate::topics::TopicsError> {
    use crate::topics::{self as t, KChoice};
    let mut run = TopicsRun::default();
    let previous = if fresh {
        None
    } else {
        match t::load(index.dir())? {
            Some(p) if p.stamp.model_fingerprint == index.manifest().model_fingerprint => Some(p),
            Some(_) => {
                run.previous_other_model = true;
                None
            }
            None => None,
        }
    };
    run.had_previous = previous.is_some();
    let grown = previous.as_ref().is_some_and(|p| {
        let now: std::collections::HashSet<&str> = index
            .papers()
            .iter()
            .map(|q| q.paper.arxiv_id.as_str())
            .collect();
        p.papers.iter().all(|id| now.contains(id.as_str()))
            && match params.k {
                KChoice::Fixed(k) => k == p.topics.len(),
                KChoice::Auto(_) => true,
            }
            // A fit that placed papers by their titles is updated only by a run that places
            // them too, and one that did not only by a run that does not.
            && (p.by_title > 0) != by_title.is_empty()
    });
    let result = match previous.as_ref() {
        Some(prev) if grown => {
            run.updated = true;
            t::update_index(index, params, prev, embedder, by_title)?
        }
        _ => t::compute_index(
            index,
            params,
            previous.as_ref(),
            embedder,
            backend,
            by_title,
        )?,
    };
    Ok((result, run))
}

/// Learns the search lexicon of the index at `dir` with its model's word vectors and stores it
/// with the index's lexical statistics (`lexical.bin`), unless a current one is there.
pub fn prepare_lexical(dir: &Path, encoder: &Encoder) -> Result<(), WorkspaceError> {
    let index = Index::open(dir)?;
    if !index.is_empty() {
        crate::search::lexical_store::load_or_build(&index, Some(encoder))?;
    }
    Ok(())
}
