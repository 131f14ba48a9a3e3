//! The shipped default model loads offline, round-trips its tokenizer and knows its stories.

use gpt2lab::data::StoryGen;
use gpt2lab::generate::GenerateConfig;
use gpt2lab::model::load_default;

#[test]
fn default_model_loads_and_tokenizes() {
    let (model, tok) = load_default().unwrap();
    assert_eq!(model.cfg.vocab_size, tok.vocab_size());
    assert_eq!(model.cfg.n_layer, 4);
    let text = "Once upon a time, there was a little girl named Lily.";
    assert_eq!(tok.decode(&tok.encode(text).unwrap()).unwrap(), text);
    let ids = tok.ids("One day, Tom found a", true).unwrap();
    let out = model.generate(&ids, &GenerateConfig::greedy(10)).unwrap();
    let s = tok.decode(&out).unwrap();
    assert!(!s.contains('?'), "greedy output should stay in-vocabulary: {s}");
}

#[test]
fn default_model_tracks_its_characters() {
    // held-out stories: the right name/pronoun/object is likelier than the story's distractor
    let (model, tok) = load_default().unwrap();
    let (mut right, mut total) = (0, 0);
    for story in StoryGen::new(99).stories(25) {
        for p in story.probes.iter().filter(|p| p.distractor.is_some()) {
            let prompt = tok.ids(&p.prefix, true).unwrap();
            if prompt.len() + 4 > model.cfg.n_positions {
                continue;
            }
            let score = |w: &str| -> f32 { model.score_continuation(&prompt, &tok.encode(&format!(" {w}")).unwrap()).unwrap().iter().sum() };
            total += 1;
            right += (score(&p.answer) > score(p.distractor.as_ref().unwrap())) as usize;
        }
    }
    assert!(total >= 50, "{total} probes");
    let acc = right as f64 / total as f64;
    assert!(acc > 0.8, "probe accuracy {acc:.3} ({right}/{total})");
}
