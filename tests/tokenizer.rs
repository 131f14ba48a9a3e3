//! The GPT-2 tokenizer against an independent implementation (tiktoken-rs r50k_base).

use gpt2lab::tokenizer::{Gpt2Tokenizer, ENDOFTEXT};
use rand::{rngs::StdRng, Rng, SeedableRng};

fn corpus() -> Vec<String> {
    let mut v: Vec<String> = [
        "Hello world",
        " leading space and trailing space ",
        "The quick brown fox jumps over the lazy dog.",
        "naïve café — déjà vu, Ærøskøbing, Zürich",
        "日本語のテキストと中文文本，한국어 텍스트",
        "emoji: 🤖🚀👩‍👩‍👧‍👦 🇺🇳 ❤️‍🔥",
        "tabs\tand\nnewlines\r\n\n\n   multiple   spaces\u{00a0}nbsp\u{2003}em-space",
        "numbers 1234567890123456789 3.14159 -42 1e-10 0x1F",
        "code: fn main() { println!(\"{}\", x[0] >= 1 && y != 2); }",
        "contractions: I'm you're he'll they've we'd it's DON'T",
        "URLs https://example.org/a?b=c&d=e#f and emails a.b@c.de",
        "<|endoftext|> is ordinary text here",
        "Ġ Ċ ĉ literal byte-level symbols",
        "\u{200b}zero\u{200d}width\u{feff}",
        "",
        "   ",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // random strings over a mixed alphabet (ASCII, whitespace, Latin-1, CJK, emoji)
    let alphabet: Vec<char> = "abcXYZ019 \t\n.,;'\"!?-_()[]{}<>@#$%^&*éüßñ漢字かな😀🎉\u{0301}\u{00a0}".chars().collect();
    let mut rng = StdRng::seed_from_u64(1234);
    for _ in 0..300 {
        let n = rng.random_range(1..60);
        v.push((0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect());
    }
    // random bytes, made valid UTF-8 lossily
    for _ in 0..100 {
        let n = rng.random_range(1..40);
        let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
        v.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    v
}

#[test]
fn ids_match_tiktoken_r50k() {
    let ours = Gpt2Tokenizer::gpt2().unwrap();
    let reference = tiktoken_rs::r50k_base().unwrap();
    assert_eq!(ours.vocab_size(), 50257);
    for text in corpus() {
        let a = ours.encode(&text).unwrap();
        let b: Vec<u32> = reference.encode_ordinary(&text).into_iter().map(|x| x as u32).collect();
        assert_eq!(a, b, "ids differ for {text:?}");
        assert_eq!(ours.decode(&a).unwrap(), text, "round trip fails for {text:?}");
    }
}

#[test]
fn bos_is_explicit() {
    let t = Gpt2Tokenizer::gpt2().unwrap();
    let without = t.to_tokens("Hello", false).unwrap();
    let with = t.to_tokens("Hello", true).unwrap();
    assert_eq!(with.dims()[1], without.dims()[1] + 1);
    assert_eq!(with.flatten_all().unwrap().to_vec1::<u32>().unwrap()[0], ENDOFTEXT);
    assert_eq!(t.to_str_tokens("Hello world", true).unwrap(), vec!["<|endoftext|>", "Hello", " world"]);
    assert!(t.to_tokens("", false).is_err());
    assert_eq!(t.to_tokens("", true).unwrap().dims(), &[1, 1]);
}

#[test]
fn offsets_label_spans() {
    let t = Gpt2Tokenizer::gpt2().unwrap();
    let text = "The cat sat";
    let enc = t.encode_with_offsets(text).unwrap();
    let spans: Vec<&str> = enc.iter().map(|(_, (a, b))| &text[*a..*b]).collect();
    assert_eq!(spans.concat(), text);
    assert_eq!(spans.len(), 3);
}

#[test]
fn batches_pad_left_or_right() {
    let t = Gpt2Tokenizer::gpt2().unwrap();
    let (ids, mask) = t.to_tokens_batch(&["a b c d", "x"], false, true).unwrap();
    assert_eq!(ids.dims(), &[2, 4]);
    assert_eq!(mask.to_vec2::<u32>().unwrap()[1], vec![0, 0, 0, 1]);
    let (_, mask) = t.to_tokens_batch(&["a b c d", "x"], false, false).unwrap();
    assert_eq!(mask.to_vec2::<u32>().unwrap()[1], vec![1, 0, 0, 0]);
}

#[test]
fn bad_ids_are_errors() {
    let t = Gpt2Tokenizer::gpt2().unwrap();
    assert!(t.decode(&[60000]).is_err());
}

#[test]
fn compact_vocabulary_remaps_transparently() {
    use gpt2lab::data::CompactVocab;
    let gpt2 = Gpt2Tokenizer::gpt2().unwrap();
    let corpus = gpt2.encode("the cat sat on the mat. the dog sat too.").unwrap();
    let q = gpt2.encode("?").unwrap()[0];
    let vocab = CompactVocab::builder().special(ENDOFTEXT).unk(q).fit(&corpus);
    let t = gpt2.clone().with_compact_vocab(vocab.clone()).unwrap();
    assert_eq!(t.vocab_size(), vocab.len());
    assert_eq!(t.bos_token_id(), 0);
    let ids = t.encode("the dog sat on the cat.").unwrap();
    assert!(ids.iter().all(|&i| (i as usize) < vocab.len()));
    assert_eq!(t.decode(&ids).unwrap(), "the dog sat on the cat.");
    // unseen words become <unk>, which decodes to "?"
    let unk = t.encode(" zebra").unwrap();
    assert!(unk.iter().all(|&i| Some(i) == vocab.unk_id()));
    assert!(t.decode(&unk).unwrap().chars().all(|c| c == '?'));
    assert_eq!(t.to_str_tokens("the cat", true).unwrap(), vec!["<|endoftext|>", "the", " cat"]);
    assert!(t.decode(&[vocab.len() as u32]).is_err());
}
