//! One typed error for the crate: bad input is reported, never panicked on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    #[error("i/o error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("invalid config {path}: {msg}")]
    Config { path: String, msg: String },

    /// One config field is out of range (`n_inner: 0`, a negative `layer_norm_epsilon`, ...).
    #[error("invalid config {path}: `{field}` {msg}")]
    ConfigField { path: String, field: &'static str, msg: String },

    /// A loaded parameter holds NaN or infinity (a diverged or corrupt checkpoint).
    #[error("tensor `{name}` holds {count} non-finite values (NaN/inf); load with `LoadOptions::unchecked()` to inspect it anyway")]
    NonFiniteTensor { name: String, count: usize },

    /// A model output that must be finite is not (NaN logits while decoding or scoring).
    #[error("non-finite model output: {0}")]
    NonFiniteOutput(String),

    #[error("corrupt or unreadable safetensors file {path}: {msg}")]
    Safetensors { path: PathBuf, msg: String },

    #[error("checkpoint is missing tensor `{name}` (looked for `{tried}`)")]
    MissingTensor { name: String, tried: String },

    #[error("tensor `{name}` has shape {got:?}, the config needs {expected:?}")]
    TensorShape { name: String, expected: Vec<usize>, got: Vec<usize> },

    #[error("unsupported: {0}")]
    Unsupported(String),

    #[error("unknown hook point `{name}`{}", suggest(.near))]
    UnknownHook { name: String, near: Vec<String> },

    #[error("hook `{hook}`: {msg}")]
    Hook { hook: String, msg: String },

    #[error("prompt has {len} tokens but the model's context is {n_ctx}")]
    PromptTooLong { len: usize, n_ctx: usize },

    #[error("empty input: {0}")]
    EmptyInput(String),

    #[error("token id {id} is out of range for a vocabulary of {vocab}")]
    TokenOutOfRange { id: u32, vocab: usize },

    #[error("bad input shape: {0}")]
    Shape(String),

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error("hub: {0}")]
    Hub(String),

    #[error("data: {0}")]
    Data(String),

    /// A multiple-choice item that cannot be used: its JSON does not parse, its choices are not
    /// in the "A: … B: … Answer:" layout, its label is not one of them, or an answer letter is
    /// not a single token (arXiv 2405.03205's `IOI.json` format).
    #[error("multiple-choice item {index}: {msg}")]
    McqItem { index: usize, msg: String },

    #[error("non-finite value at training step {step}: {what}")]
    NonFinite { step: usize, what: String },

    #[error("artefact {path}: {msg}")]
    Artefact { path: PathBuf, msg: String },

    /// A tokenizer was asked for more tokens than its training corpus can make (BPE ran out of
    /// pairs to merge).
    #[error("vocabulary of {requested} tokens requested, but the corpus supports only {supported}")]
    VocabTooLarge { requested: usize, supported: usize },

    /// A bilingual dictionary none of whose pairs has both words in the two embedding vocabularies.
    #[error("bilingual dictionary: none of its {pairs} pairs has both words in the source and target vocabularies")]
    NoDictionaryOverlap { pairs: usize },

    #[error("{0}")]
    Msg(String),

    /// A parameter group whose selector took no parameter (a misspelt or stale selector).
    #[error("parameter group `{group}` selects no parameter")]
    EmptyParamGroup { group: String },

    /// A parameter that no group's selector takes.
    #[error("parameter `{param}` is in no parameter group (groups: {groups:?})")]
    UngroupedParam { param: String, groups: Vec<String> },

    /// A curvature estimate (Sophia's Hessian diagonal) that is NaN or infinite.
    #[error("non-finite curvature estimate for `{param}`")]
    NonFiniteCurvature { param: String },

    /// A differential-privacy setting that cannot give the privacy asked for
    /// (σ = 0 with a target ε, q outside (0, 1], δ outside (0, 1), ...).
    #[error("differential privacy: {0}")]
    Privacy(String),
    /// A PEFT target name that selects no projection of the model.
    #[error("adapter target `{target}` matches no projection; valid targets: {}", .valid.join(", "))]
    AdapterTarget { target: String, valid: Vec<String> },
    /// An adapter that does not fit the model or its own config (another architecture, another
    /// rank, a missing or extra tensor).
    #[error("adapter does not fit: {0}")]
    AdapterMismatch(String),
    /// An adapter configuration that is invalid on its own (rank 0, dropout outside [0, 1), ...).
    #[error("invalid adapter config: {0}")]
    AdapterConfig(String),
    /// A logistic regression whose maximum-likelihood estimate does not exist: the outcome is
    /// (quasi-)perfectly predicted, so a coefficient runs off to infinity.
    #[error("perfect separation in logistic regression: {0}")]
    PerfectSeparation(String),
    /// A group (a level of a categorical predictor, a gender × group cell) with no observations.
    #[error("empty group: {0}")]
    EmptyGroup(String),
    /// A design matrix whose normal equations cannot be solved (an all-zero or collinear column).
    #[error("singular design matrix: {0}")]
    SingularDesign(String),
    /// A GeDi guide that cannot steer this base model (different vocabulary, bad class codes).
    #[error("GeDi guide mismatch: {0}")]
    GuideMismatch(String),
    /// A guided-decoding setting out of range (negative or non-finite ω, filter_p or target_p outside [0, 1]).
    #[error("invalid guided-decoding config: {0}")]
    GuidedDecoding(String),
}

fn suggest(near: &[String]) -> String {
    if near.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", near.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
