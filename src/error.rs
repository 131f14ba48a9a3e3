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

    #[error("non-finite value at training step {step}: {what}")]
    NonFinite { step: usize, what: String },

    #[error("artefact {path}: {msg}")]
    Artefact { path: PathBuf, msg: String },

    #[error("{0}")]
    Msg(String),

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
