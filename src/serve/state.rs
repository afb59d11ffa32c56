//! One served generation of the index ([`Loaded`]), what every handler shares
//! ([`ServerState`]), and the watcher that swaps in each committed generation.

use super::*;
use crate::vectors::{DenseScan, VectorBackend};

/// One generation of the index, ready to answer.
pub(super) struct Loaded {
    pub(super) index: Index,
    /// The matrix prepared for the scanner's passes (on the CPU its int8 copy, a quarter of
    /// the bytes).
    pub(super) scan: DenseScan,
    pub(super) bm25: Bm25,
    /// Statistics built anew after a damaged posting list was read from `lexical.bin`.
    pub(super) bm25_repaired: std::sync::OnceLock<Bm25>,
    /// The index's topics if current, else why not (shown on the topic pages and the API).
    pub(super) topics: Result<Topics, String>,
    /// Drawn on the first visit of `/map`: at a million papers it reads every paper, which a
    /// server start should not wait for.
    pub(super) map_svg: std::sync::OnceLock<Option<String>>,
    /// Papers' word rows for the recommendations' joint model, kept between requests.
    pub(super) words: std::sync::Mutex<crate::library::words::Words>,
    /// The interactive map's points and metadata, made on the first visit of `/map`.
    pub(super) map_data: std::sync::OnceLock<Result<super::map::MapData, String>>,
}

impl Loaded {
    pub(super) fn open(dir: &Path, backend: &VectorBackend) -> Result<Loaded, ServeError> {
        let index = Index::open(dir)?;
        if index.is_empty() {
            return Err(SearchError::EmptyIndex.into());
        }
        // The stored lexicon (`papermap index` learns it with the model), else one learned now.
        let bm25 = lexical_store::load_or_build(&index, None).map_err(SearchError::from)?;
        let scan = backend
            .dense_scan(index.vectors(), index.dim())
            .map_err(SearchError::from)?;
        // Topics of another generation would put papers in the wrong topics: left out until
        // `papermap topics` runs again, and said so once per generation.
        let topics = crate::topics::load_current(&index).map_err(|e| {
            if !matches!(e, crate::topics::TopicsError::NoTopics { .. }) {
                eprintln!("warning: topic pages are off: {e}");
            }
            format!("{e}: run `papermap topics` on it")
        });
        Ok(Loaded {
            index,
            scan,
            bm25,
            bm25_repaired: std::sync::OnceLock::new(),
            topics,
            map_svg: std::sync::OnceLock::new(),
            words: Default::default(),
            map_data: std::sync::OnceLock::new(),
        })
    }

    pub(super) fn topic_of(&self, row: usize) -> Option<&crate::topics::Topic> {
        let t = self.topics.as_ref().ok()?;
        t.topic(*t.assignment.get(row)?)
    }
}

/// What every request handler shares: the served generation, the reload watch, the embedding
/// queue and the scanner, and the identity of the vectors the encoder makes.
pub(super) struct ServerState {
    pub(super) dir: PathBuf,
    pub(super) current: RwLock<Arc<Loaded>>,
    /// The last manifest the watcher acted on (served, or found unservable).
    pub(super) seen: std::sync::Mutex<Option<crate::index::Manifest>>,
    /// Which hosts requests may name (set once the port is bound).
    pub(super) guard: std::sync::OnceLock<guard::Guard>,
    pub(super) jobs: Arc<embedder::Queue>,
    /// Dense top-k requests, answered together ([`scanner`]).
    pub(super) scans: std::sync::mpsc::Sender<scanner::Request>,
    /// Searches whose query is being embedded (the scanner waits for them).
    pub(super) coming: Arc<scanner::Coming>,
    /// Which vectors the encoder makes: a new generation is served only if it accepts them.
    pub(super) identity: crate::embed::ModelIdentity,
    /// Where each generation's dense passes run.
    pub(super) backend: VectorBackend,
}

impl ServerState {
    pub(super) fn now(&self) -> Arc<Loaded> {
        self.current
            .read()
            .map(|g| Arc::clone(&g))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// The dense top `depth` for `vector`, from the scanning thread's next pass.
    pub(super) async fn dense(
        &self,
        loaded: &Arc<Loaded>,
        vector: Vec<f32>,
        depth: usize,
    ) -> Result<Vec<Hit>, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stopped = || ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "scanner stopped");
        self.scans
            .send(scanner::Request {
                loaded: Arc::clone(loaded),
                vector,
                depth,
                reply: tx,
            })
            .map_err(|_| stopped())?;
        rx.await
            .map_err(|_| stopped())?
            .map_err(|m| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m))
    }

    pub(super) async fn embed(&self, texts: Vec<String>, lane: Lane) -> Result<Vectors, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .push(Job { texts, reply: tx }, lane)
            .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "embedding queue full"))?;
        rx.await
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "embedder stopped"))?
            .map_err(|(status, message)| ApiError::new(status, message))
    }
}

/// Watches the manifest; swaps in each committed change once it opens whole.
pub(super) fn watch(app: &ServerState) {
    let now = app.now().index.manifest().generation;
    let Ok(Some(m)) = read_manifest(&app.dir) else {
        return;
    };
    {
        let mut seen = app.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.as_ref() == Some(&m) {
            return;
        }
        *seen = Some(m.clone());
    }
    if &m == app.now().index.manifest() {
        return;
    }
    if let Err(e) = m.accepts(&app.dir, &app.identity) {
        eprintln!(
            "warning: not serving generation {} ({e}); still serving generation {now}",
            m.generation
        );
        return;
    }
    match Loaded::open(&app.dir, &app.backend) {
        Ok(l) => {
            let generation = l.index.manifest().generation;
            if let Ok(mut g) = app.current.write() {
                *g = Arc::new(l);
            }
            eprintln!("serving generation {generation} of {}", app.dir.display());
        }
        // Told once per manifest: the next commit is tried afresh.
        Err(e) => eprintln!(
            "warning: not serving generation {} yet ({e}); still serving generation {now}",
            m.generation
        ),
    }
}
