//! Tests of the Mission: Impossible perturbations (`gpt2lab::data::perturb`) on hand-written
//! sentences and on the PCFG corpus, and of the surprisal / perplexity evaluation
//! (`gpt2lab::eval`).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use gpt2lab::data::perturb::*;
use gpt2lab::data::{Number, Pcfg, Person, Pos, Sentence, Tense, TokenDataset, VerbInfo, Word};
use gpt2lab::eval::*;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::tokenizer::Gpt2Tokenizer;
use gpt2lab::train::{lm_loss, AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};

// ---------------------------------------------------------------------------------------------
// hand-built sentences

/// A sentence from a compact spec: `word`, `word/P` for punctuation, `form:lemma:sg|pl:3|1:pres|past`
/// for a verb.
fn sent(spec: &str) -> Sentence {
    let words = spec
        .split_whitespace()
        .map(|w| {
            if let Some(t) = w.strip_suffix("/P") {
                return Word { text: t.into(), pos: Pos::Punct, number: None, person: None, verb: None };
            }
            let parts: Vec<&str> = w.split(':').collect();
            if parts.len() == 5 {
                let number = if parts[2] == "pl" { Number::Plural } else { Number::Singular };
                let person = match parts[3] {
                    "1" => Person::First,
                    "2" => Person::Second,
                    _ => Person::Third,
                };
                let tense = if parts[4] == "past" { Tense::Past } else { Tense::Present };
                return Word {
                    text: parts[0].into(),
                    pos: Pos::Verb,
                    number: Some(number),
                    person: Some(person),
                    verb: Some(VerbInfo { lemma: parts[1].into(), tense, number, person, subject: 0 }),
                };
            }
            Word { text: w.into(), pos: Pos::Noun, number: None, person: None, verb: None }
        })
        .collect();
    Sentence { words }
}

fn text_of(pieces: &[HopPiece]) -> String {
    hop_text(pieces)
}

fn tok() -> Gpt2Tokenizer {
    Gpt2Tokenizer::gpt2().unwrap()
}

fn sorted(v: &[u32]) -> Vec<u32> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v
}

// ---------------------------------------------------------------------------------------------
// numpy's generator, against values printed by numpy 2.4.6

#[test]
fn numpy_default_rng_is_bit_exact() {
    assert_eq!(seed_sequence_state(0), [0xdb2cd7e7b0f478be, 0xabf4641a2c71ba49, 0x20c6ed6d9d7b8d41, 0x2c4099de223c39d4]);
    assert_eq!(seed_sequence_state(21), [0xcf6f06a08d14a2b8, 0x4d893d15f656ff9a, 0xf4493ba626259779, 0x2994a8b8c10e1f52]);
    let mut g = NumpyRng::new(0);
    assert_eq!([g.next_u64(), g.next_u64(), g.next_u64()], [0xa30febcfd9c2825f, 0x4510bdf882d9d721, 0x0a7d3da94ecde8b8]);
    // r = default_rng(0); successive r.shuffle(list(range(n))) for n = 5, 7, 3, 12
    let mut r = NumpyRng::new(0);
    let want: [&[u32]; 4] = [&[2, 4, 3, 0, 1], &[4, 6, 1, 2, 0, 3, 5], &[0, 2, 1], &[4, 10, 6, 2, 5, 1, 3, 9, 8, 0, 11, 7]];
    for w in want {
        let mut t: Vec<u32> = (0..w.len() as u32).collect();
        r.shuffle(&mut t);
        assert_eq!(t, w);
    }
    // r = default_rng(21); [r.choice(n) for n in [6, 1, 10, 33, 2, 100, 7]]
    let mut r = NumpyRng::new(21);
    let got: Vec<u64> = [6u64, 1, 10, 33, 2, 100, 7].iter().map(|&n| r.choice(n)).collect();
    assert_eq!(got, vec![1, 0, 7, 12, 1, 46, 4]);
    let mut r = NumpyRng::new(21);
    assert_eq!([r.choice(1 << 33), r.choice(5)], [6709748996, 1]);
    // default_rng(s).shuffle(list(range(n)))
    let cases: [(u64, &[u32]); 12] = [
        (21, &[1, 0]), (21, &[1, 0, 2]), (21, &[0, 1, 3, 2]), (21, &[0, 1, 4, 3, 5, 2]), (21, &[1, 0, 4, 5, 6, 7, 3, 8, 2]),
        (57, &[0, 2, 1]), (57, &[3, 2, 0, 1]), (57, &[1, 2, 0, 4, 8, 6, 3, 7, 5]),
        (84, &[0, 1, 2]), (84, &[0, 3, 1, 2]), (84, &[0, 5, 2, 4, 3, 1]), (84, &[0, 4, 8, 7, 2, 3, 5, 1, 6]),
    ];
    for (seed, w) in cases {
        let idx: Vec<u32> = (0..w.len() as u32).collect();
        assert_eq!(shuffle_deterministic(&idx, seed), w, "seed {seed}, n {}", w.len());
    }
    let idx: Vec<u32> = (0..300).collect();
    assert_eq!(shuffle_deterministic(&idx, 0)[..10], [36, 291, 128, 116, 266, 0, 107, 272, 210, 5]);
}

// ---------------------------------------------------------------------------------------------
// shuffles

#[test]
fn even_odd_puts_even_indices_first() {
    assert_eq!(shuffle_even_odd(&[10, 11, 12, 13, 14]), vec![10, 12, 14, 11, 13]);
    assert_eq!(shuffle_even_odd(&[10, 11, 12, 13, 14, 15]), vec![10, 12, 14, 11, 13, 15]);
    assert_eq!(shuffle_even_odd(&[7]), vec![7]);
    assert!(shuffle_even_odd(&[]).is_empty());
}

#[test]
fn deterministic_shuffle_depends_on_length_only() {
    let idx: Vec<u32> = (0..12).collect();
    let perm = shuffle_deterministic(&idx, 21);
    assert_ne!(perm, idx, "a 12-token permutation should move something");
    assert_eq!(sorted(&perm), idx, "a permutation keeps the multiset");
    // any other sequence of the same length is permuted the same way
    let other: Vec<u32> = (100..112).rev().collect();
    let expect: Vec<u32> = perm.iter().map(|&p| other[p as usize]).collect();
    assert_eq!(shuffle_deterministic(&other, 21), expect);
    assert_eq!(shuffle_deterministic(&other, 21), shuffle_deterministic(&other, 21));
    // the seed matters
    assert_ne!(shuffle_deterministic(&idx, 57), perm);
    // through the perturber: equal lengths, equal permutations, also across calls
    let mut p = Perturber::new(Language::DeterministicShuffle(84)).unwrap();
    let a: Vec<u32> = (0..9).collect();
    let b: Vec<u32> = (50..59).collect();
    let (pa, pb) = (p.perturb_tokens(&a).unwrap(), p.perturb_tokens(&b).unwrap());
    assert_eq!(pa, pb.iter().map(|x| x - 50).collect::<Vec<_>>());
}

#[test]
fn nondeterministic_shuffle_differs_per_sentence_but_is_reproducible() {
    let s: Vec<u32> = (0..15).collect();
    let mut p = Perturber::new(Language::NondeterministicShuffle).unwrap();
    let first = p.perturb_tokens(&s).unwrap();
    let second = p.perturb_tokens(&s).unwrap();
    assert_ne!(first, second, "the generator advances: the same sentence gets a new permutation");
    assert_eq!(sorted(&first), s);
    assert_eq!(sorted(&second), s);
    // a fresh perturber (the repository's default_rng(0) per run) repeats the sequence
    let mut q = Perturber::new(Language::NondeterministicShuffle).unwrap();
    assert_eq!(q.perturb_tokens(&s).unwrap(), first);
    assert_eq!(q.perturb_tokens(&s).unwrap(), second);
    let mut rng = NumpyRng::new(NONDETERMINISTIC_SEED);
    assert_eq!(shuffle_nondeterministic(&s, &mut rng), first);
}

#[test]
fn local_shuffle_stays_inside_windows() {
    let s: Vec<u32> = (0..23).collect();
    for w in [3usize, 5, 10] {
        let out = shuffle_local(&s, 0, w);
        assert_eq!(out.len(), s.len());
        for (k, chunk) in out.chunks(w).enumerate() {
            let lo = (k * w) as u32;
            assert!(chunk.iter().all(|&t| t >= lo && t < lo + w as u32), "w={w}: window {k} = {chunk:?}");
            assert_eq!(sorted(chunk), s[k * w..(k * w + chunk.len())].to_vec());
        }
        // every full window gets the same permutation (a generator freshly seeded per window)
        let rel: Vec<Vec<u32>> = out.chunks(w).enumerate().filter(|(_, c)| c.len() == w).map(|(k, c)| c.iter().map(|&t| t - (k * w) as u32).collect()).collect();
        assert!(rel.windows(2).all(|p| p[0] == p[1]), "w={w}: {rel:?}");
        assert_eq!(rel[0], shuffle_deterministic(&(0..w as u32).collect::<Vec<_>>(), 0));
    }
    assert_eq!(shuffle_local(&[1, 2], 0, 1), vec![1, 2]);
}

// ---------------------------------------------------------------------------------------------
// reversals

#[test]
fn reversal_marker_position_and_kinds() {
    let s = [1u32, 2, 3, 4, 5];
    assert_eq!(reverse_at(&s, 2, Reversal::None), vec![1, 2, MARKER_REV_ID, 3, 4, 5]);
    assert_eq!(reverse_at(&s, 2, Reversal::Partial), vec![1, 2, MARKER_REV_ID, 5, 4, 3]);
    assert_eq!(reverse_at(&s, 2, Reversal::Full), vec![5, 4, 3, MARKER_REV_ID, 2, 1]);
    // ends: marker first or last
    assert_eq!(reverse_at(&s, 0, Reversal::Partial), vec![MARKER_REV_ID, 5, 4, 3, 2, 1]);
    assert_eq!(reverse_at(&s, 5, Reversal::Partial), vec![1, 2, 3, 4, 5, MARKER_REV_ID]);
    assert_eq!(reverse_at(&s, 5, Reversal::Full), vec![MARKER_REV_ID, 5, 4, 3, 2, 1]);
    // FullReverse is an involution back to NoReverse
    for i in 0..=s.len() {
        let mut full = reverse_at(&s, i, Reversal::Full);
        full.reverse();
        assert_eq!(full, reverse_at(&s, i, Reversal::None));
        let partial = reverse_at(&s, i, Reversal::Partial);
        assert_eq!(partial.iter().position(|&t| t == MARKER_REV_ID), Some(i));
    }
    // the random index covers 0..=n
    let mut rng = NumpyRng::new(REVERSE_SEED);
    let mut seen = [false; 6];
    for _ in 0..200 {
        let r = reverse(&s, &mut rng, Reversal::None);
        seen[r.iter().position(|&t| t == MARKER_REV_ID).unwrap()] = true;
    }
    assert!(seen.iter().all(|&x| x), "{seen:?}");
}

// ---------------------------------------------------------------------------------------------
// hops

#[test]
fn hop_markers_land_after_the_verb_4_words_or_4_tokens_later() {
    let s = sent("The dog walks:walk:sg:3:pres to the big house ./P");
    let (pieces, complete) = hop_words(&s, HOPS);
    assert!(complete);
    assert_eq!(text_of(&pieces), "The dog walk to the big house 🅂 .");
    let (pieces0, _) = hop_words(&s, 0);
    assert_eq!(text_of(&pieces0), "The dog walk 🅂 to the big house .");

    let t = tok();
    let mut p_no = Perturber::new(Language::NoHop).unwrap();
    let mut p_tok = Perturber::new(Language::TokenHop).unwrap();
    let mut p_word = Perturber::new(Language::WordHop).unwrap();
    let no = p_no.perturb(&s).unwrap();
    let th = p_tok.perturb(&s).unwrap();
    let wh = p_word.perturb(&s).unwrap();
    assert_eq!(decode_with_markers(&t, &no).unwrap(), "The dog walk 🅂 to the big house .");
    assert_eq!(decode_with_markers(&t, &th).unwrap(), "The dog walk to the big house 🅂 .");
    assert_eq!(th, wh, "single-token words and no punctuation inside: TokenHop = WordHop");
    // the marker sits right after the verb's token in NoHop and 4 tokens later in TokenHop
    let verb_tok = t.encode(" walk").unwrap();
    assert_eq!(verb_tok.len(), 1);
    let v = no.iter().position(|&x| x == verb_tok[0]).unwrap();
    assert_eq!(no[v + 1], MARKER_SING_ID);
    assert_eq!(th.iter().position(|&x| x == MARKER_SING_ID), Some(v + 1 + HOPS));
}

#[test]
fn word_hop_skips_punctuation_token_hop_counts_it() {
    let s = sent("The cats walk:walk:pl:3:pres to the park ,/P and the dogs eat:eat:pl:3:pres the cake in the house ./P");
    let (pieces, complete) = hop_words(&s, HOPS);
    assert!(complete);
    assert_eq!(text_of(&pieces), "The cats walk to the park , and 🄿 the dogs eat the cake in the 🄿 house .");
    let t = tok();
    let th = Perturber::new(Language::TokenHop).unwrap().perturb(&s).unwrap();
    assert_eq!(decode_with_markers(&t, &th).unwrap(), "The cats walk to the park , 🄿 and the dogs eat the cake in the 🄿 house .");
    let no = Perturber::new(Language::NoHop).unwrap().perturb(&s).unwrap();
    assert_eq!(decode_with_markers(&t, &no).unwrap(), "The cats walk 🄿 to the park , and the dogs eat 🄿 the cake in the house .");
    // the three hop languages differ only by where the markers are
    let strip = |v: &[u32]| v.iter().copied().filter(|&x| !is_marker(x)).collect::<Vec<_>>();
    let wh = Perturber::new(Language::WordHop).unwrap().perturb(&s).unwrap();
    assert_eq!(strip(&no), strip(&th));
    assert_eq!(strip(&no), strip(&wh));
    assert_eq!(strip(&no), t.encode("The cats walk to the park , and the dogs eat the cake in the house .").unwrap());
}

#[test]
fn earlier_verb_counts_the_later_verbs_words() {
    let s = sent("The man says:say:sg:3:pres that the dog runs:run:sg:3:pres to the big park ./P");
    let (pieces, complete) = hop_words(&s, HOPS);
    assert!(complete);
    assert_eq!(text_of(&pieces), "The man say that the dog run 🅂 to the big park 🅂 .");
    let th = Perturber::new(Language::TokenHop).unwrap().perturb(&s).unwrap();
    assert_eq!(decode_with_markers(&tok(), &th).unwrap(), "The man say that the dog run 🅂 to the big park 🅂 .");
}

#[test]
fn hop_affect_and_filter() {
    // no 3rd-person present verb: unaffected, left as it is (space-joined words)
    let past = sent("The dog walked:walk:sg:3:past to the big house ./P");
    let first = sent("We walk:walk:pl:1:pres to the big house ./P");
    for s in [&past, &first] {
        assert!(!affect_hop(s));
        let mut p = Perturber::new(Language::WordHop).unwrap();
        let out = p.process(s).unwrap().unwrap();
        assert!(!out.affected);
        assert!(!out.tokens.iter().any(|&x| is_marker(x)));
    }
    // a hop that runs out of words: affected, filtered out
    let short = sent("The dog walks:walk:sg:3:pres to the house ./P");
    assert!(affect_hop(&short));
    assert!(!filter_hop(&short));
    let (pieces, complete) = hop_words(&short, HOPS);
    assert!(!complete);
    assert_eq!(text_of(&pieces), "The dog walk to the house 🅂 .");
    for lang in [Language::NoHop, Language::TokenHop, Language::WordHop] {
        assert_eq!(Perturber::new(lang).unwrap().process(&short).unwrap(), None, "{lang}");
    }
    // exactly 4 words after the verb is enough
    let ok = sent("The dog walks:walk:sg:3:pres to the big house ./P");
    assert!(filter_hop(&ok));
    // one incomplete verb rejects the whole sentence
    let mixed = sent("The man says:say:sg:3:pres that the dog runs:run:sg:3:pres home ./P");
    assert!(affect_hop(&mixed) && !filter_hop(&mixed));
}

#[test]
fn clitics_are_glued_and_not_counted() {
    let s = sent("He does:do:sg:3:pres n't like the big red cake at all ./P");
    let (pieces, complete) = hop_words(&s, HOPS);
    assert!(complete);
    assert_eq!(text_of(&pieces), "He don't like the big red 🅂 cake at all .");
    let t = tok();
    let th = Perturber::new(Language::TokenHop).unwrap().perturb(&s).unwrap();
    let after_clitic = t.encode("He don't").unwrap().len();
    assert_eq!(th.iter().position(|&x| x == MARKER_SING_ID), Some(after_clitic + HOPS));
    let no = Perturber::new(Language::NoHop).unwrap().perturb(&s).unwrap();
    assert_eq!(no.iter().position(|&x| x == MARKER_SING_ID), Some(after_clitic), "NoHop: after verb + clitic");
}

// ---------------------------------------------------------------------------------------------
// process / filters / names

#[test]
fn process_drops_one_token_sentences_and_long_shuffles() {
    let one = sent("Hello");
    let mut p = Perturber::new(Language::NoShuffle).unwrap();
    assert_eq!(p.process(&one).unwrap(), None);
    let long = sent(&vec!["dog"; 351].join(" "));
    assert!(!p.filter(&long).unwrap());
    assert_eq!(p.process(&long).unwrap(), None);
    let ok = sent(&vec!["dog"; 350].join(" "));
    assert!(p.process(&ok).unwrap().is_some());
    // reverse keeps everything with 2+ tokens (the marker does not count)
    let mut r = Perturber::new(Language::PartialReverse).unwrap();
    assert_eq!(r.process(&one).unwrap(), None);
    assert!(r.process(&long).unwrap().unwrap().affected);
}

#[test]
fn language_names_round_trip() {
    let mut keys = std::collections::HashSet::new();
    for l in Language::PAPER {
        assert_eq!(Language::parse(&l.name()).unwrap(), l);
        assert_eq!(Language::parse(&l.repo_key()).unwrap(), l);
        assert_eq!(Language::parse(&l.upload_name()).unwrap(), l);
        assert!(keys.insert(l.repo_key()));
    }
    assert_eq!(Language::parse("shuffle_local7").unwrap(), Language::LocalShuffle(7));
    assert_eq!(Language::TokenHop.repo_key(), "hop_tokens4");
    assert_eq!(Language::NoShuffle.repo_key(), "shuffle_control");
    assert!(Language::parse("LocalShuffle").is_err());
    assert_eq!(Language::PAPER.iter().filter(|l| l.is_control()).count(), 3);
    assert!(Perturber::new(Language::WordHop).unwrap().perturb_tokens(&[1, 2]).is_err());
}

// ---------------------------------------------------------------------------------------------
// whole PCFG corpora, the repository's own consistency checks

fn corpora(langs: &[Language], n: usize) -> HashMap<Language, PerturbedCorpus> {
    let sents = Pcfg::english_small().generate(n, 7);
    langs.iter().map(|&l| (l, Perturber::new(l).unwrap().corpus(&sents).unwrap())).collect()
}

#[test]
fn piecewise_tokenization_equals_whole_text() {
    let t = tok();
    let sents = Pcfg::english_small().generate(300, 3);
    let mut p = Perturber::new(Language::NoShuffle).unwrap();
    for s in &sents {
        assert_eq!(p.sentence_tokens(s).unwrap(), t.encode(&s.to_text()).unwrap());
    }
    let mut nohop = Perturber::new(Language::NoHop).unwrap();
    for s in sents.iter().filter(|s| !affect_hop(s)) {
        let spaced = s.texts().join(" ");
        assert_eq!(nohop.perturb(s).unwrap(), t.encode(&spaced).unwrap());
    }
}

#[test]
fn shuffles_preserve_the_token_multiset_of_each_sentence() {
    let langs = [
        Language::NoShuffle,
        Language::NondeterministicShuffle,
        Language::DeterministicShuffle(21),
        Language::LocalShuffle(3),
        Language::EvenOddShuffle,
    ];
    let c = corpora(&langs, 400);
    let base = &c[&Language::NoShuffle];
    assert_eq!(base.unaffected.len(), 0, "every sentence is affected");
    assert!(base.affected.len() > 390);
    for l in &langs[1..] {
        let other = &c[l];
        assert_eq!(other.affected.len(), base.affected.len(), "{l}");
        let mut changed = 0;
        for (a, b) in base.affected.iter().zip(&other.affected) {
            assert_eq!(sorted(a), sorted(b), "{l}");
            changed += (a != b) as usize;
        }
        assert!(changed * 10 > base.affected.len() * 9, "{l}: only {changed} sentences changed");
    }
    // the deterministic shuffle: equal lengths, equal permutations; the nondeterministic: not
    let det = &c[&Language::DeterministicShuffle(21)];
    let non = &c[&Language::NondeterministicShuffle];
    let mut by_len: HashMap<usize, (Vec<u32>, Vec<u32>)> = HashMap::new();
    let (mut same_det, mut diff_non) = (0, 0);
    for i in 0..base.affected.len() {
        let (orig, d, n) = (&base.affected[i], &det.affected[i], &non.affected[i]);
        let distinct = orig.iter().collect::<std::collections::HashSet<_>>().len() == orig.len();
        if !distinct {
            continue;
        }
        let perm = |out: &[u32]| out.iter().map(|t| orig.iter().position(|o| o == t).unwrap() as u32).collect::<Vec<_>>();
        let (pd, pn) = (perm(d), perm(n));
        match by_len.get(&orig.len()) {
            Some((qd, qn)) => {
                assert_eq!(&pd, qd, "deterministic shuffle: one permutation per length");
                same_det += 1;
                diff_non += (&pn != qn) as usize;
            }
            None => {
                by_len.insert(orig.len(), (pd, pn));
            }
        }
    }
    assert!(same_det > 50, "{same_det} same-length pairs checked");
    assert!(diff_non * 10 > same_det * 9, "nondeterministic: {diff_non}/{same_det} same-length pairs differ");
}

#[test]
fn reversals_agree_with_the_identity_language() {
    let c = corpora(&[Language::NoShuffle, Language::NoReverse, Language::PartialReverse, Language::FullReverse], 300);
    let (base, no, part, full) = (&c[&Language::NoShuffle], &c[&Language::NoReverse], &c[&Language::PartialReverse], &c[&Language::FullReverse]);
    assert_eq!(no.affected.len(), base.affected.len());
    for i in 0..no.affected.len() {
        let (n, p, f) = (&no.affected[i], &part.affected[i], &full.affected[i]);
        assert_eq!(n.iter().filter(|&&t| t == MARKER_REV_ID).count(), 1);
        // NoReverse minus the marker is English
        assert_eq!(n.iter().copied().filter(|&t| t != MARKER_REV_ID).collect::<Vec<_>>(), base.affected[i]);
        // the repository's lines_equivalent_reversal: same prefix through the marker, the rest reversed
        let m = p.iter().position(|&t| t == MARKER_REV_ID).unwrap();
        assert_eq!(n.iter().position(|&t| t == MARKER_REV_ID), Some(m), "same generator, same marker index");
        assert_eq!(p[..=m], n[..=m]);
        let mut rest = p[m + 1..].to_vec();
        rest.reverse();
        assert_eq!(rest, n[m + 1..]);
        let mut back = f.clone();
        back.reverse();
        assert_eq!(&back, n);
    }
}

#[test]
fn hop_languages_agree_except_for_marker_positions() {
    let c = corpora(&[Language::NoHop, Language::TokenHop, Language::WordHop], 1500);
    let (no, th, wh) = (&c[&Language::NoHop], &c[&Language::TokenHop], &c[&Language::WordHop]);
    assert!(no.affected.len() > 100, "{} affected", no.affected.len());
    assert!(no.unaffected.len() > 100);
    assert_eq!((no.affected.len(), no.unaffected.len(), no.dropped), (th.affected.len(), th.unaffected.len(), th.dropped));
    assert_eq!((no.affected.len(), no.unaffected.len()), (wh.affected.len(), wh.unaffected.len()));
    let strip = |v: &[u32]| v.iter().copied().filter(|&x| !is_marker(x)).collect::<Vec<_>>();
    let mut tok_ne_word = 0;
    for i in 0..no.affected.len() {
        assert_eq!(strip(&no.affected[i]), strip(&th.affected[i]));
        assert_eq!(strip(&no.affected[i]), strip(&wh.affected[i]));
        let markers = |v: &[u32]| v.iter().copied().filter(|&x| is_marker(x)).collect::<Vec<_>>();
        assert_eq!(markers(&no.affected[i]), markers(&th.affected[i]));
        assert!(!markers(&no.affected[i]).is_empty());
        tok_ne_word += (th.affected[i] != wh.affected[i]) as usize;
    }
    assert_eq!(no.unaffected, th.unaffected);
    assert!(tok_ne_word > 0, "TokenHop and WordHop must differ on some sentences");
    println!("TokenHop != WordHop on {tok_ne_word}/{} affected sentences", no.affected.len());
}

#[test]
fn stanza_json_sentences_feed_the_hop_rules() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-scratch/perturb");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny_dep.json");
    let w = |text: &str, lemma: &str, upos: &str, feats: &str| serde_json::json!({"text": text, "lemma": lemma, "upos": upos, "feats": feats});
    let json = serde_json::json!([{ "sent_annotations": [{
        "sent_text": "She doesn't like the big red cake at all.",
        "word_annotations": [
            w("She", "she", "PRON", "Case=Nom|Number=Sing|Person=3"),
            w("does", "do", "AUX", "Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin"),
            w("n't", "not", "PART", "Polarity=Neg"),
            w("like", "like", "VERB", "VerbForm=Inf"),
            w("the", "the", "DET", ""), w("big", "big", "ADJ", ""), w("red", "red", "ADJ", ""),
            w("cake", "cake", "NOUN", "Number=Sing"), w("at", "at", "ADP", ""), w("all", "all", "DET", ""),
            w(".", ".", "PUNCT", ""),
        ]}]}]);
    std::fs::write(&path, json.to_string()).unwrap();
    let sents = read_stanza_json(&path).unwrap();
    assert_eq!(sents.len(), 1);
    let (text, s) = &sents[0];
    assert_eq!(text, "She doesn't like the big red cake at all.");
    assert!(affect_hop(s) && filter_hop(s));
    assert_eq!(hop_text(&hop_words(s, HOPS).0), "She don't like the big red 🅂 cake at all .");
}

// ---------------------------------------------------------------------------------------------
// surprisal and perplexity

fn tiny_model(vocab: usize, seed: u64) -> Gpt2 {
    Gpt2::random(Gpt2Config::tiny(vocab, 32, 16, 1, 2), seed, &Device::Cpu).unwrap()
}

#[test]
fn batched_surprisals_equal_one_by_one_and_perplexity_matches_the_loss() {
    let m = tiny_model(40, 1);
    let seqs: Vec<Vec<u32>> = vec![vec![1, 2, 3, 4, 5, 6, 7], vec![9, 8], vec![3, 3, 3, 3], vec![5], vec![30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 0, 1]];
    let batched = token_surprisals(&m, &seqs, 3).unwrap();
    for (s, got) in seqs.iter().zip(&batched) {
        assert_eq!(got.len(), s.len());
        assert!(got[0].is_nan());
        let alone = token_surprisals(&m, std::slice::from_ref(s), 1).unwrap().remove(0);
        for (a, b) in got.iter().zip(&alone).skip(1) {
            assert!((a - b).abs() < 1e-4, "padding changed a surprisal: {a} vs {b}");
        }
        if s.len() >= 2 {
            // surprisal from the forward pass directly
            let logits = m.forward(&Tensor::new(s.as_slice(), &Device::Cpu).unwrap()).unwrap().squeeze(0).unwrap();
            let lp: Vec<Vec<f32>> = candle_nn::ops::log_softmax(&logits, 1).unwrap().to_vec2().unwrap();
            for t in 1..s.len() {
                let want = -lp[t - 1][s[t] as usize] / std::f32::consts::LN_2;
                assert!((got[t] - want).abs() < 1e-4);
            }
        }
    }
    let ppl = sentence_perplexities(&m, &seqs, 2).unwrap();
    assert!(ppl[3].is_nan(), "a 1-token sentence has no perplexity");
    let s = &seqs[0];
    let x = Tensor::new(&s[..s.len() - 1], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let y = Tensor::new(&s[1..], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let loss = lm_loss(&m, &x, &y).unwrap().to_scalar::<f32>().unwrap() as f64;
    assert!((ppl[0] - loss.exp()).abs() < 1e-3 * ppl[0], "{} vs {}", ppl[0], loss.exp());
    // untrained: close to the vocabulary size
    assert!(ppl[0] > 20.0 && ppl[0] < 80.0);
    assert!(token_surprisals(&m, &[vec![1; 33]], 1).is_err(), "longer than the context");
    assert_eq!(sentence_perplexities(&m, &[vec![1; 40]], 1).unwrap().len(), 1, "perplexity cuts to the context");
}

#[test]
fn geometric_mean_and_ci() {
    assert!((geometric_mean(&[1.0, 4.0, 16.0]) - 4.0).abs() < 1e-12);
    assert!((geometric_mean(&[2.0, f64::NAN, 8.0]) - 4.0).abs() < 1e-12);
    assert!(geometric_mean(&[]).is_nan());
    let (m, h) = mean_ci95(&[1.0, 2.0, 3.0, 4.0]);
    assert!((m - 2.5).abs() < 1e-12);
    assert!((h - 1.96 * (1.6666666666666667f64 / 4.0).sqrt()).abs() < 1e-12);
}

#[test]
fn marker_pairs_delete_the_first_marker() {
    let (s, p) = (1u32, 2u32);
    let seqs = vec![vec![10, 11, s, 12, p, 13], vec![10, 11, 12], vec![p, 10, 11], vec![10, 11, s]];
    let pairs = marker_pairs(&seqs, &[s, p], Some(0));
    assert_eq!(pairs.len(), 2, "no marker / marker first are skipped");
    assert_eq!(pairs[0], MarkerPair { with_marker: vec![10, 11, s, 12, p, 13, 0], without_marker: vec![10, 11, 12, p, 13, 0], index: 2 });
    assert_eq!(pairs[1], MarkerPair { with_marker: vec![10, 11, s, 0], without_marker: vec![10, 11, 0], index: 2 });
    let m = tiny_model(20, 2);
    let ms = MarkerSurprisals::compute(&m, &pairs, 4).unwrap();
    assert_eq!(ms.len(), 2);
    let direct = token_surprisals(&m, &[pairs[0].with_marker.clone(), pairs[0].without_marker.clone()], 2).unwrap();
    assert!((ms.marker[0] - direct[0][2] as f64).abs() < 1e-6);
    assert!((ms.no_marker[0] - direct[1][2] as f64).abs() < 1e-6);
    let (d, _) = ms.difference_mean();
    assert!((d - (ms.no_marker_mean().0 - ms.marker_mean().0)).abs() < 1e-9);
}

#[test]
fn parallel_map_keeps_order() {
    let out = parallel_map((0..17).collect(), 3, |i: u64| i * i);
    assert_eq!(out, (0..17).map(|i| i * i).collect::<Vec<_>>());
    assert!(parallel_map(Vec::<u8>::new(), 2, |x| x).is_empty());
}

#[test]
fn checkpoints_are_evaluated_at_their_steps() {
    let m = tiny_model(16, 3);
    let ds = TokenDataset::new((0..2000u32).map(|i| i % 16).collect(), 8).unwrap();
    let cfg = TrainConfig { steps: 6, batch_size: 4, schedule: LrSchedule::Constant { lr: 1e-2 }, progress: false, ..Default::default() };
    let mut tr = Trainer::new(&m, Box::new(AdamW::new(AdamWConfig::default())), cfg).unwrap();
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-scratch/perturb/ckpt");
    let _ = std::fs::remove_dir_all(&dir);
    let seen = fit_with_checkpoints(&mut tr, &ds, &[4, 2, 6], Some(&dir), |step, tr, _m| Ok((step, tr.step))).unwrap();
    assert_eq!(seen, vec![(2, (2, 2)), (4, (4, 4)), (6, (6, 6))]);
    assert!(dir.join("checkpoint-4/model.safetensors").exists());
    assert_eq!(tr.step, 6);
}

/// The ci protocol of `notebooks/04-mission-impossible.ipynb` over several seeds, for checking
/// that the notebook's directional claims hold beyond its one seed (slow: minutes per seed):
///
/// ```text
/// SEEDS=0,1,2 cargo test --test perturb protocol_over_seeds -- --ignored --nocapture
/// ```
///
/// Other knobs (env): LANGS (comma-separated names), STEPS, NCP (checkpoints), NTRAIN, NTEST,
/// MAXTEST, D, L, B, LR (×1e-4), THREADS.
#[test]
#[ignore]
fn protocol_over_seeds() {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let langs: Vec<Language> = std::env::var("LANGS").unwrap_or("NoShuffle,NondeterministicShuffle,NoHop,TokenHop,WordHop".into()).split(',').map(|l| Language::parse(l).unwrap()).collect();
    let t0 = std::time::Instant::now();
    let g = Pcfg::english_small();
    let train = g.generate(env("NTRAIN", 20000), 1);
    let test = g.generate(env("NTEST", 4000), 2);
    let data = perturb_languages(&langs, &train, &test, env("MAXTEST", 400), 64).unwrap();
    let vocab = shared_vocab(&data);
    println!("data {:.1}s vocab {}", t0.elapsed().as_secs_f64(), vocab.len());
    for d in &data { println!("{}: train {} sents {} tokens (aff {} unaff {} dropped {}), test {}", d.language, d.train.n_sentences(), d.train.n_tokens(), d.train.affected.len(), d.train.unaffected.len(), d.train.dropped, d.test.len()); }
    let steps = env("STEPS", 300);
    let ncp = env("NCP", 6);
    let seeds: Vec<u64> = std::env::var("SEEDS").unwrap_or("0".into()).split(',').map(|x| x.parse().unwrap()).collect();
    let jobs: Vec<(usize, u64)> = seeds.iter().flat_map(|&s| (0..data.len()).map(move |i| (i, s))).collect();
    let runs = parallel_map(jobs, env("THREADS", 2), |(i, seed)| {
        let cfg = RunConfig {
            model: Gpt2Config::tiny(vocab.len(), 64, env("D", 64), env("L", 3), 4),
            steps, batch_size: env("B", 16), grad_accum: 1, lr: env("LR", 30) as f64 * 1e-4, warmup: steps / 10, weight_decay: 0.1,
            checkpoints: (1..=ncp).map(|k| k * steps / ncp).collect(), eval_batch: 64, seed, save_dir: None,
        };
        train_language(&data[i], &vocab, &cfg, &Device::Cpu).unwrap()
    });
    for r in &runs {
        let l = r.last();
        println!("{} seed {} | {:.1}s {} tok ({:.0} tok/s) | ppl {:.3} | marker {:?} nomarker {:?} diff {:?}", r.language, r.seed, r.train_seconds, r.train_tokens, r.train_tokens as f64 / r.train_seconds, l.perplexity, l.marker_surprisal, l.no_marker_surprisal, l.surprisal_difference());
        println!("   curve: {:?}", r.curve.iter().map(|c| format!("{}:{:.2}/{:.2}", c.step, c.perplexity, c.marker_surprisal.unwrap_or(f64::NAN))).collect::<Vec<_>>());
    }
    println!("total {:.1}s", t0.elapsed().as_secs_f64());
}

