// Copyright 2020 The Evcxr Authors.
//
// Licensed under the Apache License, Version 2.0 <LICENSE or
// https://www.apache.org/licenses/LICENSE-2.0> or the MIT license <LICENSE
// or https://opensource.org/licenses/MIT>, at your option. This file may not be
// copied, modified, or distributed except according to those terms.

use anyhow::Context;
use anyhow::Result;
use anyhow::anyhow;
use anyhow::bail;
use once_cell::sync::Lazy;
use ra_ap_base_db::SourceRoot;
use ra_ap_hir as ra_hir;
use ra_ap_ide as ra_ide;
use ra_ap_ide::CompletionFieldsToResolve;
use ra_ap_ide::FileRange;
use ra_ap_ide::RaFixtureConfig;
use ra_ap_ide::SubstTyLen;
use ra_ap_ide_db::FxHashMap;
use ra_ap_ide_db::SnippetCap;
use ra_ap_ide_db::imports::insert_use::ImportGranularity;
use ra_ap_ide_db::imports::insert_use::InsertUseConfig;
use ra_ap_paths::AbsPathBuf;
use ra_ap_project_model::CargoConfig;
use ra_ap_project_model::ProjectManifest;
use ra_ap_project_model::ProjectWorkspace;
use ra_ap_project_model::RustLibSource;
use ra_ap_syntax::TextRange;
use ra_ap_syntax::ast::AstNode;
use ra_ap_syntax::ast::{self};
use ra_ap_vfs as ra_vfs;
use ra_ap_vfs::FileId;
use ra_ap_vfs::loader::LoadingProgress;
use ra_ap_vfs_notify as vfs_notify;
use ra_ide::CallableSnippets;
use ra_ide::Edition;
use ra_ide::HoverConfig;
use ra_ide::HoverResult;
use ra_ide::RangeInfo;
use std::collections::HashMap;
use std::convert::TryFrom;
use std::path::Path;

pub(crate) const EDITION: Edition = Edition::Edition2024;

/// gpt2lab patch: what the warm-up infers last, after every crate's def map and impls are built
/// (`def_maps_in_parallel`): an operator and a method call, so that the trait solver's remaining
/// first-use work is done too.
const WARM_UP_FN: &str = "\nfn evcxr_warm_up() { let a = 1 + 1; let b = String::new().len() + a; }\n";

/// gpt2lab patch: the file named by `EVCXR_ANALYZER_TRACE`, read once.
static TRACE_PATH: Lazy<Option<std::ffi::OsString>> =
    Lazy::new(|| std::env::var_os("EVCXR_ANALYZER_TRACE"));

pub(crate) fn tracing() -> bool {
    TRACE_PATH.is_some()
}

/// gpt2lab patch: the warm-up's threads run at nice 10, so that on a machine with few cores they
/// take what the cells' compiles leave, rather than slow them. (Linux: nice is per thread.)
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

fn available_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
}

/// gpt2lab patch: state of the background warm-up.
#[derive(Default)]
struct WarmUp {
    /// The Cargo.toml for which the analyser is warm: a warm-up finished, or a cell's analysis ran.
    done_for: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    /// The last warm-up started: for which Cargo.toml, and its thread.
    running: Option<(Vec<u8>, std::thread::JoinHandle<()>)>,
    /// The running warm-up's def-map queue, which a waiting thread can help empty.
    queue: std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<DefMapQueue>>>>,
}

type DefMapDone = Result<(ra_ap_base_db::Crate, f64), ra_ap_base_db::salsa::Cancelled>;

/// gpt2lab patch: crates whose dependencies' def maps are done, and where each result goes.
struct DefMapQueue {
    ready: crossbeam_channel::Receiver<ra_ap_base_db::Crate>,
    done: crossbeam_channel::Sender<DefMapDone>,
}

impl DefMapQueue {
    /// Builds def maps from the queue until it is closed (all done) or the work is cancelled.
    fn work(&self, db: &ra_ide::RootDatabase) {
        for krate in self.ready.iter() {
            let started = std::time::Instant::now();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = ra_hir::crate_def_map(db, krate);
                // The crate's impls, which the first method call or operator collects for every
                // crate in the graph, one crate after another.
                ra_ap_hir_ty::attach_db(db, || {
                    let _ = ra_ap_hir_ty::method_resolution::TraitImpls::for_crate(db, krate);
                    let _ = ra_ap_hir_ty::method_resolution::InherentImpls::for_crate(db, krate);
                });
            }));
            let seconds = started.elapsed().as_secs_f64();
            match result {
                Ok(()) => {
                    let _ = self.done.send(Ok((krate, seconds)));
                }
                Err(payload) => match payload.downcast::<ra_ap_base_db::salsa::Cancelled>() {
                    Ok(cancelled) => {
                        let _ = self.done.send(Err(*cancelled));
                        break;
                    }
                    // A rust-analyzer bug: counted as done, so the schedule goes on; a cell's
                    // own query will meet it as it would have without the warm-up.
                    Err(_) => {
                        let _ = self.done.send(Ok((krate, seconds)));
                    }
                },
            }
        }
    }
}

/// gpt2lab patch: every crate's def map (its names, resolved), on `threads` threads, each crate
/// once its dependencies are done. This is most of a first query's work, and it splits over
/// crates; rust-analyzer's own `parallel_prime_caches` schedules the same way but also builds
/// import maps and symbol indexes, which type inference does not need. The queue is published
/// in `shared` while it runs, so that a thread waiting for the result can join in
/// (`RustAnalyzer::wait_for_warm_up`). With `EVCXR_ANALYZER_TRACE`, the slowest crates are traced.
fn def_maps_in_parallel(
    db: &ra_ide::RootDatabase,
    threads: usize,
    shared: &std::sync::Mutex<Option<std::sync::Arc<DefMapQueue>>>,
) -> Result<(), ra_ap_base_db::salsa::Cancelled> {
    use ra_ap_base_db::Crate;
    let started = std::time::Instant::now();
    let crates = ra_ap_base_db::all_crates(db);
    let in_scope: std::collections::HashSet<Crate> = crates.iter().copied().collect();
    let mut waiting_on: HashMap<Crate, usize> = HashMap::new();
    let mut dependents: HashMap<Crate, Vec<Crate>> = HashMap::new();
    for &krate in crates.iter() {
        let deps: Vec<Crate> = krate
            .data(db)
            .dependencies
            .iter()
            .map(|dep| dep.crate_id)
            .filter(|dep| in_scope.contains(dep))
            .collect();
        waiting_on.insert(krate, deps.len());
        for dep in deps {
            dependents.entry(dep).or_default().push(krate);
        }
    }
    let (ready_sender, ready) = crossbeam_channel::unbounded::<Crate>();
    let (done, done_receiver) = crossbeam_channel::unbounded::<DefMapDone>();
    let queue = std::sync::Arc::new(DefMapQueue { ready, done });
    *shared.lock().unwrap() = Some(queue.clone());
    let mut timings: Vec<(f64, Crate)> = Vec::new();
    let mut outcome = Ok(());
    std::thread::scope(|scope| {
        // Owned by this closure, so that a panic here closes the queue before the scope joins.
        let ready_sender = ready_sender;
        for _ in 0..threads {
            let db = db.clone();
            let queue = queue.clone();
            scope.spawn(move || {
                lower_this_threads_priority();
                queue.work(&db);
            });
        }
        let mut in_flight = 0usize;
        for (&krate, &n) in &waiting_on {
            if n == 0 {
                let _ = ready_sender.send(krate);
                in_flight += 1;
            }
        }
        while in_flight > 0 {
            match done_receiver.recv() {
                Ok(Ok((krate, seconds))) => {
                    in_flight -= 1;
                    timings.push((seconds, krate));
                    for &dependent in dependents.get(&krate).into_iter().flatten() {
                        let n = waiting_on.get_mut(&dependent).unwrap();
                        *n -= 1;
                        if *n == 0 {
                            let _ = ready_sender.send(dependent);
                            in_flight += 1;
                        }
                    }
                }
                Ok(Err(cancelled)) => {
                    outcome = Err(cancelled);
                    break;
                }
                Err(_) => break,
            }
        }
        // Closing the queue ends every worker's loop, a helping thread's too.
        drop(ready_sender);
        *shared.lock().unwrap() = None;
    });
    outcome?;
    if tracing() {
        timings.sort_by(|a, b| b.0.total_cmp(&a.0));
        let slowest: Vec<String> = timings
            .iter()
            .take(12)
            .map(|(seconds, krate)| {
                let name = krate
                    .extra_data(db)
                    .display_name
                    .as_ref()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "?".to_owned());
                format!("{name} {seconds:.3}")
            })
            .collect();
        trace(&format!(
            "def maps of {} crates on {threads} thread(s): {:.3} s; slowest: {}",
            timings.len(),
            started.elapsed().as_secs_f64(),
            slowest.join(", ")
        ));
    }
    Ok(())
}

/// gpt2lab patch: appends a timestamped line to the file named by `EVCXR_ANALYZER_TRACE`, if set.
pub(crate) fn trace(message: &str) {
    use std::io::Write;
    if let Some(path) = TRACE_PATH.as_ref() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(file, "{now:.3} {message}");
        }
    }
}

/// A `let`'s written type as evcxr stores it, if evcxr accepts it (`is_type_valid`): then it is
/// the variable's type, inferred or not.
fn valid_explicit_type(ty: &ast::Type) -> Option<String> {
    let type_name = ty.syntax().text().to_string();
    is_type_valid(&type_name).then_some(type_name)
}

/// gpt2lab patch: the top-level variables of `function_name` read from the syntax alone, when
/// that is all rust-analyzer would use: no `let` at all, or only `let name: Type = ..` with a
/// type that `is_type_valid` accepts (rust-analyzer's answer is then that explicit type). `None`
/// when any variable's type has to be inferred, or for destructuring patterns.
pub(crate) fn syntactic_variables(
    source: &str,
    function_name: &str,
) -> Option<HashMap<String, VariableInfo>> {
    use ra_ap_syntax::ast::HasModuleItem;
    use ra_ap_syntax::ast::HasName;
    let parse = ra_ap_syntax::SourceFile::parse(source, EDITION);
    let mut result = HashMap::new();
    let mut found = false;
    for item in parse.tree().items() {
        let ast::Item::Fn(function) = item else {
            continue;
        };
        if function.name().map(|n| n.text() != function_name).unwrap_or(true) {
            continue;
        }
        found = true;
        let body = function.body()?;
        for statement in body.statements() {
            let ast::Stmt::LetStmt(let_stmt) = statement else {
                continue;
            };
            let ast::Pat::IdentPat(ident_pat) = let_stmt.pat()? else {
                return None;
            };
            if ident_pat.pat().is_some() {
                // `name @ pattern`: leave it to the analyser.
                return None;
            }
            let name = ident_pat.name()?;
            let type_name = valid_explicit_type(&let_stmt.ty()?)?;
            result.insert(
                name.text().to_string(),
                VariableInfo {
                    type_name: TypeName::Named(type_name),
                    is_mutable: ident_pat.mut_token().is_some(),
                },
            );
        }
    }
    found.then_some(result)
}

pub(crate) struct RustAnalyzer {
    with_sysroot: bool,
    root_directory: AbsPathBuf,
    analysis_host: ra_ide::AnalysisHost,
    vfs: ra_vfs::Vfs,
    loader: vfs_notify::NotifyHandle,
    message_receiver: crossbeam_channel::Receiver<ra_vfs::loader::Message>,
    last_cargo_toml: Option<Vec<u8>>,
    source_file: AbsPathBuf,
    source_file_id: FileId,
    current_source: String,
    /// gpt2lab patch: the background warm-up (see `warm_up_in_background`).
    warm_up: WarmUp,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TypeName {
    Named(String),
    Closure,
    Unknown,
}

#[derive(Debug)]
pub(crate) struct VariableInfo {
    /// The variable's type as Rust code, or None if we couldn't determine it.
    pub(crate) type_name: TypeName,
    /// Whether the variable is declared as mutable.
    pub(crate) is_mutable: bool,
}

impl RustAnalyzer {
    pub(crate) fn new(root_directory: &Path) -> Result<RustAnalyzer> {
        use ra_vfs::loader::Handle;
        let (message_sender, message_receiver) = crossbeam_channel::unbounded();
        let mut vfs = ra_vfs::Vfs::default();
        let root_directory = AbsPathBuf::try_from(
            root_directory
                .to_str()
                .context("Root directory is not UTF-8")?,
        )
        .map_err(|path| anyhow!("Evcxr tmpdir is not absolute: '{:?}'", path))?;
        let source_file = root_directory.join("src/lib.rs");
        // We need to write the file to the filesystem even though we subsequently set the file
        // contents via the vfs and change.change_file. This is because the loader checks for the
        // files existence when determining the crate structure.
        let src_dir = root_directory.join("src");
        std::fs::create_dir_all(&src_dir)
            .with_context(|| format!("Failed to create directory `{src_dir:?}`"))?;
        // Pre-allocate an ID for our main source file.
        let vfs_source_file: ra_vfs::VfsPath = source_file.clone().into();
        vfs.set_file_contents(vfs_source_file.clone(), Some(vec![]));
        let (source_file_id, _) = vfs.file_id(&vfs_source_file).unwrap();
        Ok(RustAnalyzer {
            with_sysroot: true,
            root_directory,
            analysis_host: Default::default(),
            vfs,
            loader: vfs_notify::NotifyHandle::spawn(message_sender),
            message_receiver,
            last_cargo_toml: None,
            source_file,
            source_file_id,
            current_source: String::new(),
            warm_up: WarmUp::default(),
        })
    }

    pub(crate) fn set_source(&mut self, source: String) -> Result<()> {
        self.current_source = source;
        let mut change = ra_hir::ChangeWithProcMacros::default();

        std::fs::write(self.source_file.as_path(), &*self.current_source)
            .with_context(|| format!("Failed to write {:?}", self.source_file))?;
        self.vfs.set_file_contents(
            self.source_file.clone().into(),
            Some(self.current_source.bytes().collect()),
        );
        change.change_file(self.source_file_id, Some(self.current_source.clone()));

        // Check to see if we haven't yet loaded Cargo.toml, or if it's changed since we read it.
        let cargo_toml = Some(std::fs::read(self.cargo_toml_filename()).with_context(|| {
            format!(
                "Failed to read Cargo.toml from `{:?}`",
                self.cargo_toml_filename()
            )
        })?);
        if cargo_toml != self.last_cargo_toml {
            let started = std::time::Instant::now();
            self.load_cargo_toml(&mut change)?;
            self.last_cargo_toml = cargo_toml;
            trace(&format!(
                "workspace loaded: {:.3} s",
                started.elapsed().as_secs_f64()
            ));
        }

        let started = std::time::Instant::now();
        self.analysis_host.apply_change(change);
        let waited = started.elapsed().as_secs_f64();
        if waited > 0.01 {
            trace(&format!("apply_change: {waited:.3} s"));
        }
        Ok(())
    }

    /// Returns top-level variable names and their types in the specified function.
    pub(crate) fn top_level_variables(&self, function_name: &str) -> HashMap<String, VariableInfo> {
        let started = std::time::Instant::now();
        let result = top_level_variables_in(
            self.analysis_host.raw_database(),
            self.source_file_id,
            function_name,
        );
        trace(&format!(
            "analysis of {} variable(s): {:.3} s",
            result.len(),
            started.elapsed().as_secs_f64()
        ));
        if let Some(toml) = &self.last_cargo_toml {
            *self.warm_up.done_for.lock().unwrap() = Some(toml.clone());
        }
        result
    }

    /// gpt2lab patch: makes rust-analyzer do, on other threads, the work that the first type
    /// query would do (name resolution of every crate in the graph, their trait impls, inference),
    /// while this thread goes on compiling a cell that needs no types. `source` is the cell's
    /// analysis code; a small function is appended to it and its variables are inferred. Runs
    /// once per Cargo.toml; a running warm-up is left alone (`wait_for_warm_up` joins it). A
    /// source change from elsewhere (completions, a `:dep`) cancels it; salsa keeps what it
    /// finished, and the next let-free cell starts it again.
    pub(crate) fn warm_up_in_background(&mut self, source: String) {
        let Ok(cargo_toml) = std::fs::read(self.cargo_toml_filename()) else {
            return;
        };
        if self.warm_up.done_for.lock().unwrap().as_deref() == Some(&cargo_toml[..]) {
            return;
        }
        if let Some((toml, handle)) = &self.warm_up.running
            && *toml == cargo_toml
            && !handle.is_finished()
        {
            return;
        }
        let started = std::time::Instant::now();
        if let Err(error) = self.set_source(source + WARM_UP_FN) {
            trace(&format!("warm-up not started: {error}"));
            return;
        }
        let threads = available_threads();
        trace(&format!(
            "warm-up started, {threads} thread(s) (set_source {:.3} s)",
            started.elapsed().as_secs_f64()
        ));
        let db = self.analysis_host.raw_database().clone();
        let file_id = self.source_file_id;
        let done_for = self.warm_up.done_for.clone();
        let queue = self.warm_up.queue.clone();
        let toml = cargo_toml.clone();
        let spawned = std::thread::Builder::new()
            .name("evcxr-ra-warm-up".to_owned())
            .spawn(move || {
                lower_this_threads_priority();
                let started = std::time::Instant::now();
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    def_maps_in_parallel(&db, threads, &queue)?;
                    let def_maps_s = started.elapsed().as_secs_f64();
                    ra_ap_base_db::salsa::Cancelled::catch(|| {
                        top_level_variables_in(&db, file_id, "evcxr_warm_up").len()
                    })?;
                    trace(&format!(
                        "warm-up: def maps {def_maps_s:.3} s, inference {:.3} s",
                        started.elapsed().as_secs_f64() - def_maps_s
                    ));
                    Ok::<(), ra_ap_base_db::salsa::Cancelled>(())
                }));
                drop(db);
                let seconds = started.elapsed().as_secs_f64();
                match outcome {
                    Ok(Ok(())) => {
                        *done_for.lock().unwrap() = Some(toml);
                        trace(&format!("warm-up finished: {seconds:.3} s"));
                    }
                    Ok(Err(_)) => trace(&format!("warm-up cancelled after {seconds:.3} s")),
                    Err(_) => trace(&format!("warm-up panicked after {seconds:.3} s")),
                }
            });
        match spawned {
            Ok(handle) => self.warm_up.running = Some((cargo_toml, handle)),
            Err(error) => trace(&format!("warm-up thread not spawned: {error}")),
        }
    }

    /// gpt2lab patch: before a cell's own analysis, lets a warm-up for the current Cargo.toml
    /// finish, since it has done part of this query's work. While its def maps are being built,
    /// this thread builds them too, at normal priority (the warm-up's threads run at nice 10).
    /// A warm-up for another Cargo.toml is left to be cancelled by `set_source`.
    pub(crate) fn wait_for_warm_up(&mut self) {
        let Some((toml, handle)) = self.warm_up.running.take() else {
            return;
        };
        let current = std::fs::read(self.cargo_toml_filename()).ok();
        if current.as_deref() != Some(&toml[..]) || handle.is_finished() {
            let _ = handle.join();
            return;
        }
        let started = std::time::Instant::now();
        let queue = self.warm_up.queue.lock().unwrap().clone();
        if let Some(queue) = queue {
            let db = self.analysis_host.raw_database().clone();
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| queue.work(&db)));
        }
        let helped = started.elapsed().as_secs_f64();
        let _ = handle.join();
        trace(&format!(
            "waited for the warm-up: {:.3} s (of it {helped:.3} s building def maps here)",
            started.elapsed().as_secs_f64()
        ));
    }

    fn load_cargo_toml(&mut self, change: &mut ra_hir::ChangeWithProcMacros) -> Result<()> {
        let manifest = ProjectManifest::from_manifest_file(self.cargo_toml_filename())?;
        let sysroot = if self.with_sysroot {
            Some(RustLibSource::Discover)
        } else {
            None
        };
        let config = CargoConfig {
            sysroot,
            ..CargoConfig::default()
        };
        let workspace = ProjectWorkspace::load(manifest, &config, &|_| {})?;
        let load = workspace
            .to_roots()
            .iter()
            .map(|root| {
                ra_vfs::loader::Entry::Directories(ra_vfs::loader::Directories {
                    extensions: vec!["rs".to_owned()],
                    include: root.include.clone(),
                    exclude: root.exclude.clone(),
                })
            })
            .collect();
        // Note, set_config is what triggers loading and calling the callback that we registered when we created self.loader.
        use ra_vfs::loader::Handle;
        self.loader.set_config(ra_vfs::loader::Config {
            version: 1,
            load,
            watch: vec![],
        });

        for message in &self.message_receiver {
            match message {
                ra_vfs::loader::Message::Progress {
                    n_total: _, n_done, ..
                } => {
                    if n_done == LoadingProgress::Finished {
                        break;
                    }
                }
                ra_vfs::loader::Message::Loaded { files }
                | ra_vfs::loader::Message::Changed { files } => {
                    for (path, contents) in files {
                        let vfs_path: ra_vfs::VfsPath = path.to_path_buf().into();
                        self.vfs
                            .set_file_contents(vfs_path.clone(), contents.clone());
                    }
                }
            }
        }

        for (file_id, changed_file) in self.vfs.take_changes() {
            let mut new_contents = None;
            if let ra_vfs::Change::Create(v, _hash) | ra_vfs::Change::Modify(v, _hash) =
                changed_file.change
                && let Ok(text) = std::str::from_utf8(&v)
            {
                new_contents = Some(text.to_owned());
            }
            change.change_file(file_id, new_contents);
        }
        change.set_roots(
            ra_vfs::file_set::FileSetConfig::default()
                .partition(&self.vfs)
                .into_iter()
                .map(SourceRoot::new_local)
                .collect(),
        );
        let (crate_graph, _) = workspace.to_crate_graph(
            &mut |path| {
                self.vfs
                    .file_id(&path.to_path_buf().into())
                    .map(|(id, _)| id)
            },
            &FxHashMap::default(),
        );

        change.set_crate_graph(crate_graph);
        Ok(())
    }

    fn cargo_toml_filename(&self) -> AbsPathBuf {
        self.root_directory.join("Cargo.toml")
    }

    pub(crate) fn completions(&self, position: usize) -> Result<Completions> {
        let mut completions = Vec::new();
        let mut range = None;
        let config = ra_ide::CompletionConfig {
            enable_postfix_completions: true,
            snippet_cap: SnippetCap::new(true),
            enable_imports_on_the_fly: false,
            enable_self_on_the_fly: true,
            enable_private_editable: true,
            prefer_no_std: false,
            full_function_signatures: true,
            snippets: vec![],
            insert_use: InsertUseConfig {
                prefix_kind: ra_hir::PrefixKind::ByCrate,
                group: false,
                granularity: ImportGranularity::Item,
                enforce_granularity: false,
                skip_glob_imports: false,
            },
            callable: Some(CallableSnippets::FillArguments),
            limit: None,
            prefer_prelude: false,
            enable_term_search: true,
            term_search_fuel: 400,
            prefer_absolute: false,
            add_semicolon_to_unit: true,
            fields_to_resolve: CompletionFieldsToResolve::empty(),
            exclude_flyimport: vec![],
            exclude_traits: &[],
            enable_auto_iter: true,
            enable_auto_await: true,
            ra_fixture: RaFixtureConfig::default(),
            add_colons_to_module: true,
        };
        if let Ok(Some(completion_items)) = self.analysis_host.analysis().completions(
            &config,
            ra_ide::FilePosition {
                file_id: self.source_file_id,
                offset: (position as u32).into(),
            },
            None,
        ) {
            for item in completion_items {
                use regex::Regex;
                static ARG_PLACEHOLDER: Lazy<Regex> =
                    Lazy::new(|| Regex::new("\\$\\{[0-9]+:([^}]*)\\}").unwrap());
                let mut indels = item.text_edit.iter();
                if let Some(indel) = indels.next() {
                    let text_to_delete = &self.current_source[indel.delete];
                    // Rust analyzer returns all available methods/fields etc. It's up to us to
                    // decide how what we filter and what we keep.
                    if !item.lookup().starts_with(text_to_delete) {
                        continue;
                    }
                    completions.push(Completion {
                        code: ARG_PLACEHOLDER
                            .replace_all(&indel.insert, "$1")
                            .replace("$0", ""),
                        kind: jupyter_kind(item.kind),
                        label: item.label.primary.to_string(),
                    });
                    if let Some(previous_range) = range.as_ref() {
                        if *previous_range != indel.delete {
                            bail!(
                                "Different completions wanted to replace different parts of the text"
                            );
                        }
                    } else {
                        range = Some(indel.delete)
                    }
                }
                if indels.next().is_some() {
                    bail!("Completion unexpectedly provided more than one insertion/deletion");
                }
            }
        }
        Ok(Completions {
            completions,
            start_offset: range.map(|range| range.start().into()).unwrap_or(position),
            end_offset: range.map(|range| range.end().into()).unwrap_or(position),
        })
    }

    pub(crate) fn hover(
        &self,
        text_range: TextRange,
        is_mark_down: bool,
    ) -> Result<Option<RangeInfo<HoverResult>>> {
        use ra_ide::HoverDocFormat as hdf;
        let hover_config: HoverConfig = HoverConfig {
            links_in_hover: true,
            memory_layout: None,
            documentation: true,
            keywords: true,
            format: if is_mark_down {
                hdf::Markdown
            } else {
                hdf::PlainText
            },
            max_trait_assoc_items_count: None,
            max_fields_count: Some(5),
            max_enum_variants_count: Some(5),
            max_subst_ty_len: SubstTyLen::Unlimited,
            show_drop_glue: false,
            ra_fixture: RaFixtureConfig::default(),
        };
        let file_range = FileRange {
            file_id: self.source_file_id,
            range: text_range,
        };
        match self
            .analysis_host
            .analysis()
            .hover(&hover_config, file_range)
        {
            Ok(range_info) => Ok(range_info),
            _ => bail!("hover fail"),
        }
    }
}


/// Top-level variables of `function_name` in `file_id`, with their types. A free function over
/// the database so that the warm-up thread can run it on its own handle (gpt2lab patch; the body
/// is upstream's `top_level_variables`).
fn top_level_variables_in(
    db: &ra_ide::RootDatabase,
    file_id: FileId,
    function_name: &str,
) -> HashMap<String, VariableInfo> {
    use ra_ap_syntax::ast::HasModuleItem;
    use ra_ap_syntax::ast::HasName;
    let mut result = HashMap::new();
    let sema = ra_ide::Semantics::new(db);

    let source_file = sema.parse(ra_ap_base_db::EditionedFileId::new(db, file_id, EDITION));

    ra_ap_hir::attach_db(db, || {
        for item in source_file.items() {
            if let ast::Item::Fn(function) = item
                && function
                    .name()
                    .map(|n| n.text() == function_name)
                    .unwrap_or(false)
            {
                let Some(body) = function.body() else {
                    continue;
                };
                let module = sema
                    .scope(function.syntax())
                    .map(|scope| scope.module())
                    .unwrap();
                for statement in body.statements() {
                    if let ast::Stmt::LetStmt(let_stmt) = statement
                        && let Some(pat) = let_stmt.pat()
                        && !add_variable_for_pattern(
                            &pat,
                            &sema,
                            let_stmt.ty(),
                            module,
                            &mut result,
                        )
                    {
                        // We didn't add a variable for `pat`, possibly because it's a
                        // more complex pattern that needs destructuring. Try for each
                        // sub pattern. This time, we ignore the explicit type, because
                        // it applies to the whole pattern, not to its parts. Note, this
                        // will attempt `pat` again, but that's OK, since it failed
                        // above, so will fail again.
                        for d in pat.syntax().descendants() {
                            if let Some(sub_pat) = ast::Pat::cast(d) {
                                add_variable_for_pattern(
                                    &sub_pat,
                                    &sema,
                                    None,
                                    module,
                                    &mut result,
                                );
                            }
                        }
                    }
                }
            }
        }
    });

    result
}

/// If `pat` represents a variable that is being defined, then record it in `result` and return
/// true.
fn add_variable_for_pattern(
    pat: &ast::Pat,
    sema: &ra_hir::Semantics<ra_ide::RootDatabase>,
    explicit_type: Option<ast::Type>,
    module: ra_hir::Module,
    result: &mut HashMap<String, VariableInfo>,
) -> bool {
    use ra_ap_syntax::ast::HasName;
    if let ast::Pat::IdentPat(ident_pat) = pat
        && let Some(name) = ident_pat.name()
    {
        let type_name = get_type_name(
            explicit_type,
            || sema.type_of_pat(pat).map(|info| info.original()),
            sema,
            module,
        );
        result.insert(
            name.text().to_string(),
            VariableInfo {
                type_name,
                is_mutable: ident_pat.mut_token().is_some(),
            },
        );
        return true;
    }
    false
}

/// gpt2lab patch: the inferred type is asked for only when there is no valid explicit type
/// (upstream inferred every pattern's type first either way).
fn get_type_name<'db>(
    explicit_type: Option<ast::Type>,
    inferred_type: impl FnOnce() -> Option<ra_hir::Type<'db>>,
    sema: &ra_hir::Semantics<'db, ra_ide::RootDatabase>,
    module: ra_hir::Module,
) -> TypeName {
    use ra_hir::HirDisplay;
    if let Some(type_name) = explicit_type.as_ref().and_then(valid_explicit_type) {
        return TypeName::Named(type_name);
    }
    if let Some(ty) = inferred_type() {
        if ty.is_closure() {
            return TypeName::Closure;
        }
        if let Ok(type_name) = ty.display_source_code(sema.db, module.into(), true)
            && is_type_valid(&type_name)
        {
            return TypeName::Named(type_name);
        }
    }
    TypeName::Unknown
}

/// Completions found in a particular context.
#[derive(Default)]
pub struct Completions {
    pub completions: Vec<Completion>,
    pub start_offset: usize,
    pub end_offset: usize,
}

/// A code completion. We use our own type rather than exposing rust-analyzer's CompletionItem,
/// since rust-analyzer is an internal implementation detail, so we don't want to expose it in a
/// public API.
#[derive(Debug, Eq, PartialEq)]
pub struct Completion {
    pub code: String,
    pub kind: &'static str,
    pub label: String,
}

fn jupyter_kind(kind: ra_ide::CompletionItemKind) -> &'static str {
    use ra_ap_ide_db::SymbolKind;
    use ra_ide::CompletionItemKind as K;
    match kind {
        K::SymbolKind(SymbolKind::Function | SymbolKind::Method) => "function",
        K::SymbolKind(
            SymbolKind::Struct
            | SymbolKind::Enum
            | SymbolKind::Union
            | SymbolKind::Trait
            | SymbolKind::TypeAlias
            | SymbolKind::TypeParam
            | SymbolKind::SelfType,
        ) => "class",
        K::SymbolKind(SymbolKind::Module | SymbolKind::CrateRoot | SymbolKind::ToolModule) => {
            "module"
        }
        K::SymbolKind(
            SymbolKind::Const
            | SymbolKind::Static
            | SymbolKind::ConstParam
            | SymbolKind::Variant
            | SymbolKind::Field
            | SymbolKind::Local
            | SymbolKind::SelfParam
            | SymbolKind::ValueParam
            | SymbolKind::Label,
        )
        | K::Binding
        | K::InferredType => "instance",
        K::SymbolKind(
            SymbolKind::Macro
            | SymbolKind::ProcMacro
            | SymbolKind::Derive
            | SymbolKind::DeriveHelper
            | SymbolKind::Attribute
            | SymbolKind::BuiltinAttr,
        ) => "function",
        K::Keyword => "keyword",
        K::Snippet | K::BuiltinType | K::UnresolvedReference | K::Expression => "instance",
        _ => "instance",
    }
}

/// Returns whether this appears to be a valid type. Rust analyzer, when asked to emit code for some
/// types, produces invalid code. In particular, fixed sized arrays come out without a size. e.g.
/// instead of `[i32, 5]`, we get `[i32, _]`.
pub(crate) fn is_type_valid(type_name: &str) -> bool {
    use ra_ap_syntax::SyntaxKind;
    let wrapped_source = format!("const _: {type_name} = foo();");
    let parsed = ast::SourceFile::parse(&wrapped_source, EDITION);
    if !parsed.errors().is_empty() {
        return false;
    }
    for node in parsed.syntax_node().descendants() {
        if node.kind() == SyntaxKind::ERROR || node.kind() == SyntaxKind::INFER_TYPE {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod test {
    use super::RustAnalyzer;
    use super::TypeName;
    use super::is_type_valid;
    use anyhow::Result;

    impl TypeName {
        fn named(name: &str) -> TypeName {
            TypeName::Named(name.to_owned())
        }
    }

    #[test]
    fn get_variable_types() -> Result<()> {
        let tmpdir = tempfile::tempdir()?;
        let mut ra = RustAnalyzer::new(tmpdir.path())?;
        ra.with_sysroot = false;
        std::fs::write(
            ra.cargo_toml_filename().to_path_buf(),
            r#"
            [package]
            name = "foo"
            version = "0.1.0"
            edition = "2024"

            [lib]
            "#,
        )?;

        ra.set_source(
            r#"
            struct Foo<const I: usize> {}
            struct Point {x: u8, y: u8}
            fn foo() {
                let v1 = true;
                let mut v1 = 42i32;
                let v2 = &[false];
                let v3: Foo<10> = Foo::<10> {};
                {
                    let v2 = false;
                    let v100 = true;
                }
                let (v4, ..) = (42u64, 43, 44);
                let p1 = Point {x: 1, y: 2};
                let Point {x, y: y2} = p1;
            }
            fn foo2() {
                let v9 = true;
            }"#
            .to_owned(),
        )?;
        let var_types = ra.top_level_variables("foo");
        assert_eq!(var_types["v1"].type_name, TypeName::named("i32"));
        assert!(var_types["v1"].is_mutable);
        assert_eq!(var_types["v2"].type_name, TypeName::named("&[bool; 1]"));
        assert!(!var_types["v2"].is_mutable);
        assert_eq!(var_types["v3"].type_name, TypeName::named("Foo<10>"));
        assert!(!var_types.contains_key("v100"));
        assert_eq!(var_types["v4"].type_name, TypeName::named("u64"));
        assert_eq!(var_types["x"].type_name, TypeName::named("u8"));
        assert_eq!(var_types["y2"].type_name, TypeName::named("u8"));

        ra.set_source(
            r#"
            fn foo() {
                let v1 = 1u16;
            }"#
            .to_owned(),
        )?;
        let var_types = ra.top_level_variables("foo");
        assert_eq!(var_types["v1"].type_name, TypeName::named("u16"));
        assert!(!var_types.contains_key("v2"));

        Ok(())
    }

    // gpt2lab patch: the syntax-only answer must be rust-analyzer's answer whenever it gives one.
    #[test]
    fn syntactic_variables_agree_with_the_analyser() -> Result<()> {
        use super::syntactic_variables;
        let tmpdir = tempfile::tempdir()?;
        let mut ra = RustAnalyzer::new(tmpdir.path())?;
        ra.with_sysroot = false;
        std::fs::write(
            ra.cargo_toml_filename().to_path_buf(),
            "[package]\nname = \"foo\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\n",
        )?;
        let typed = r#"
            struct Foo<const I: usize> {}
            fn foo() {
                let v1: bool = true;
                let mut v2: i32 = 42;
                let v3: Foo<10> = Foo::<10> {};
                let v1: &[u8] = &[1u8];
                {
                    let inner = 1;
                }
                v2 += 1;
            }
            fn other() { let x = 1; }"#;
        ra.set_source(typed.to_owned())?;
        let analysed = ra.top_level_variables("foo");
        let syntactic = syntactic_variables(typed, "foo").expect("all typed");
        assert_eq!(syntactic.len(), 3);
        for (name, info) in &syntactic {
            assert_eq!(info.type_name, analysed[name].type_name, "{name}");
            assert_eq!(info.is_mutable, analysed[name].is_mutable, "{name}");
        }
        assert_eq!(syntactic["v1"].type_name, TypeName::named("&[u8]"));
        assert!(syntactic["v2"].is_mutable);
        // no `let`: nothing to analyse
        assert!(syntactic_variables("fn foo() { 1 + 1; }", "foo").unwrap().is_empty());
        // a type to infer, a destructuring pattern, a placeholder type, a binding `@`, no such fn
        assert!(syntactic_variables("fn foo() { let a: i32 = 1; let b = 2; }", "foo").is_none());
        assert!(syntactic_variables("fn foo() { let (a, b): (i32, i32) = (1, 2); }", "foo").is_none());
        assert!(syntactic_variables("fn foo() { let v: Vec<_> = vec![1]; }", "foo").is_none());
        assert!(syntactic_variables("fn foo() { let v @ 1: i32 = 1; }", "foo").is_none());
        assert!(syntactic_variables("fn bar() { }", "foo").is_none());
        Ok(())
    }

    // gpt2lab patch: a warm-up, waited for, leaves the analyser answering as before.
    #[test]
    fn warm_up_then_analysis() -> Result<()> {
        let tmpdir = tempfile::tempdir()?;
        let mut ra = RustAnalyzer::new(tmpdir.path())?;
        ra.with_sysroot = false;
        std::fs::write(
            ra.cargo_toml_filename().to_path_buf(),
            "[package]\nname = \"foo\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\n",
        )?;
        ra.warm_up_in_background("fn foo() {}".to_owned());
        assert!(ra.warm_up.running.is_some());
        ra.wait_for_warm_up();
        assert!(ra.warm_up.running.is_none());
        assert!(ra.warm_up.done_for.lock().unwrap().is_some());
        // warm: a second let-free cell starts nothing
        ra.warm_up_in_background("fn foo() {}".to_owned());
        assert!(ra.warm_up.running.is_none());
        ra.set_source("struct P { x: u8 }\nfn foo() { let p = P { x: 1 }; let y = p.x; }".to_owned())?;
        let var_types = ra.top_level_variables("foo");
        assert_eq!(var_types["p"].type_name, TypeName::named("P"));
        assert_eq!(var_types["y"].type_name, TypeName::named("u8"));
        Ok(())
    }

    #[test]
    fn test_is_type_valid() {
        assert!(is_type_valid("Vec<String>"));
        assert!(is_type_valid("&[i32]"));
        assert!(!is_type_valid("[i32, _]"));
        assert!(!is_type_valid("Vec<_>"));
        assert!(is_type_valid("Foo<42>"));
    }
}
