//! Tokenizer-independent language-model quality and tokenizer cost across languages:
//!
//! - **bits per byte**: the model's total surprisal of a text (bits) over the text's UTF-8 bytes.
//!   Per-token perplexity is not comparable across tokenizers (a tokenizer with longer tokens has
//!   fewer, harder predictions); bits per byte is.
//! - **fertility**: tokens per whitespace-separated word (how many pieces a tokenizer cuts a
//!   language's words into; mGPT and others compare tokenizers by it).
//!
//! A uniform model over `V` tokens gives `log2 V` bits a token, so `log2 V · tokens / bytes` bits
//! per byte exactly (the unit test checks it on a model with zero logits).

use crate::data::TextTokenizer;
use crate::eval::token_surprisals;
use crate::model::Gpt2;
use crate::{Error, Result};

/// Words of `text`: maximal runs of non-whitespace.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Tokens per word over `docs` (`tokens[i]` tokens for `docs[i]`). Typed errors: lengths that
/// differ, no word at all.
pub fn fertility(tokens: &[usize], docs: &[String]) -> Result<f64> {
    if tokens.len() != docs.len() {
        return Err(Error::Shape(format!("{} token counts for {} documents", tokens.len(), docs.len())));
    }
    let words: usize = docs.iter().map(|d| word_count(d)).sum();
    if words == 0 {
        return Err(Error::EmptyInput("fertility of a text with no words".into()));
    }
    Ok(tokens.iter().sum::<usize>() as f64 / words as f64)
}

/// Fertility of `tok` on `docs`.
pub fn tokenizer_fertility(tok: &dyn TextTokenizer, docs: &[String]) -> Result<f64> {
    let counts = docs.iter().map(|d| Ok(tok.encode(d)?.len())).collect::<Result<Vec<_>>>()?;
    fertility(&counts, docs)
}

/// `bits / bytes`. Typed error on zero bytes.
pub fn bits_per_byte(bits: f64, bytes: usize) -> Result<f64> {
    if bytes == 0 {
        return Err(Error::EmptyInput("bits per byte of an empty text".into()));
    }
    Ok(bits / bytes as f64)
}

/// The model's total surprisal (bits) of every token of `stream` after the first, and how many
/// tokens that is. The stream is cut into windows of the model's context that overlap by one
/// token, so every token but the first is predicted exactly once (from the start of its window).
pub fn stream_bits(model: &Gpt2, stream: &[u32], batch_size: usize) -> Result<(f64, usize)> {
    let n_ctx = model.cfg.n_positions;
    if stream.len() < 2 {
        return Err(Error::EmptyInput(format!(
            "a stream of {} tokens has nothing to predict",
            stream.len()
        )));
    }
    if n_ctx < 2 {
        return Err(Error::Shape("a context of one token predicts nothing".into()));
    }
    let mut windows = vec![];
    let mut start = 0;
    while start + 1 < stream.len() {
        let end = (start + n_ctx).min(stream.len());
        windows.push(stream[start..end].to_vec());
        start = end - 1;
    }
    let s = token_surprisals(model, &windows, batch_size)?;
    let bits: f64 = s.iter().flat_map(|w| w.iter().skip(1)).map(|&b| b as f64).sum();
    Ok((bits, stream.len() - 1))
}

/// Bits per byte of a language's documents, with what it was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Bpb {
    pub bits: f64,
    pub bytes: usize,
    pub tokens: usize,
    pub bpb: f64,
}

/// The model's bits per byte on `docs` tokenized by `tok`: each document preceded by
/// `<|endoftext|>` (`eot`), all of them in one stream; the bytes are the documents' UTF-8 bytes
/// plus one per document for its separator (the end-of-text token is predicted too).
pub fn language_bpb(model: &Gpt2, tok: &dyn TextTokenizer, eot: u32, docs: &[String], batch_size: usize) -> Result<Bpb> {
    if docs.is_empty() {
        return Err(Error::EmptyInput("bits per byte of no documents".into()));
    }
    let mut stream = vec![];
    let mut bytes = 0;
    for d in docs {
        stream.push(eot);
        stream.extend(tok.encode(d)?);
        bytes += d.len() + 1;
    }
    stream.push(eot); // the last document's end is predicted as well
    let (bits, tokens) = stream_bits(model, &stream, batch_size)?;
    Ok(Bpb {
        bits,
        bytes,
        tokens,
        bpb: bits_per_byte(bits, bytes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::CharTokenizer;
    use crate::model::Gpt2Config;
    use candle_core::Device;

    #[test]
    fn fertility_by_hand() {
        let docs = vec!["a bb  ccc".to_string(), "dd\te".to_string()];
        assert_eq!(word_count(&docs[0]), 3);
        assert_eq!(fertility(&[6, 4], &docs).unwrap(), 2.0);
        assert!(fertility(&[1], &docs).is_err());
        assert!(fertility(&[0], &[" ".to_string()]).is_err());
        let tok = CharTokenizer::fit("abcde \t");
        // characters per word: 9 + 4 characters over 5 words
        assert_eq!(tokenizer_fertility(&tok, &docs).unwrap(), 13.0 / 5.0);
    }

    #[test]
    fn a_uniform_model_gives_log2_v_tokens_over_bytes() {
        let tok = CharTokenizer::fit("xyzé ");
        let v = 16;
        let cfg = Gpt2Config::tiny(v, 8, 16, 1, 2);
        // zero (tied) embeddings: every logit is 0, so every token costs log2 V bits
        let m = Gpt2::random(cfg, 0, &Device::Cpu)
            .unwrap()
            .map_tensors(|n, t| {
                if n.contains("wte") {
                    t.zeros_like().map_err(Into::into)
                } else {
                    Ok(t.clone())
                }
            })
            .unwrap();
        let docs = vec!["xyz zéx".to_string(), "yy".to_string(), "z é z é z é".to_string()];
        let b = language_bpb(&m, &tok, 0, &docs, 4).unwrap();
        let n_tokens: usize = docs.iter().map(|d| d.chars().count() + 1).sum::<usize>() + 1;
        assert_eq!(b.tokens, n_tokens - 1);
        let bytes: usize = docs.iter().map(|d| d.len() + 1).sum();
        assert_eq!(b.bytes, bytes);
        let want = (v as f64).log2() * (n_tokens - 1) as f64 / bytes as f64;
        assert!((b.bpb - want).abs() < 1e-5, "{} vs {want}", b.bpb);
        assert!(language_bpb(&m, &tok, 0, &[], 4).is_err());
        assert!(bits_per_byte(1.0, 0).is_err());
        // windows overlap by one token: a 20-token stream through a context of 8 scores 19
        let stream: Vec<u32> = (0..20).map(|i| (i % 5) as u32).collect();
        let (bits, n) = stream_bits(&m, &stream, 2).unwrap();
        assert_eq!(n, 19);
        assert!((bits - 19.0 * 4.0).abs() < 1e-4);
    }
}
