#!/usr/bin/env python3
"""Reference outputs of sacrebleu, rouge-score and pycocoevalcap on fixed strings, for
gpt2lab::metrics::text (tests/metrics_text.rs).

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_text_metric_fixture.py

Writes tests/fixtures/text_metrics/expected.json: the hypotheses, their reference sets and
  bleu              sacrebleu.corpus_bleu(hyps, refs transposed).score   (13a, exp smoothing)
  bleu_single       the same with only the first reference of each set
  rouge_l           per sentence: RougeScorer(["rougeL"]).score_multi(refs, hyp)["rougeL"].fmeasure
  cider, cider_sentences   pycocoevalcap Cider().compute_score(refs, hyps) (inputs already
                    whitespace-tokenised, lower-case, as after the PTB tokenizer)
"""
import json, os
import sacrebleu
from rouge_score import rouge_scorer
from pycocoevalcap.cider.cider import Cider

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "text_metrics", "expected.json")

HYPS = [
    "the golden curry is a family friendly italian restaurant near the mill .",
    "zorvia is a cheap pub in the riverside area , rated 3 out of 5 .",
    "near cafe blue there is a thai coffee shop called mirelle , it is not family friendly",
    "the eagle serves french food",
    "a restaurant",
    "quinto is a moderately priced pub near the bridge in the city centre . it has a high customer rating and is kid friendly .",
]
REFS = [
    ["the golden curry is an italian restaurant near the mill that is family friendly .",
     "near the mill , the golden curry serves italian food and welcomes families .",
     "family friendly italian restaurant the golden curry is located near the mill ."],
    ["zorvia is a cheap pub by the riverside with a rating of 3 out of 5 .",
     "in the riverside area you can find zorvia , a cheap pub rated 3 out of 5 ."],
    ["mirelle is a thai coffee shop near cafe blue . it is not family friendly .",
     "near cafe blue , mirelle serves thai food as a coffee shop but is not kid friendly .",
     "the coffee shop mirelle offers thai food near cafe blue and is not family friendly ."],
    ["the eagle is a restaurant serving french food .",
     "french food is served at the eagle ."],
    ["zeta is a restaurant in the city centre .", "in the city centre there is a restaurant called zeta ."],
    ["quinto is a moderately priced pub in the city centre near the bridge with a high customer rating and it is kid friendly .",
     "the kid friendly pub quinto is near the bridge in the city centre , moderately priced and highly rated ."],
]


def main():
    n = max(len(r) for r in REFS)
    streams = [[r[i] if i < len(r) else r[0] for r in REFS] for i in range(n)]
    # sacrebleu takes reference *streams*; sets shorter than n repeat their first reference
    # there, which changes nothing (clipping takes the max over references, lengths the closest)
    bleu = sacrebleu.corpus_bleu(HYPS, streams).score
    bleu_single = sacrebleu.corpus_bleu(HYPS, [[r[0] for r in REFS]]).score
    sc = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rouge = [sc.score_multi(r, h)["rougeL"].fmeasure for h, r in zip(HYPS, REFS)]
    gts = {i: r for i, r in enumerate(REFS)}
    res = {i: [h] for i, h in enumerate(HYPS)}
    cider, per = Cider().compute_score(gts, res)
    out = {"hyps": HYPS, "refs": REFS, "bleu": bleu, "bleu_single": bleu_single, "rouge_l": rouge,
           "cider": float(cider), "cider_sentences": [float(x) for x in per],
           "versions": {"sacrebleu": sacrebleu.__version__}}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    json.dump(out, open(OUT, "w"), indent=1)
    print(json.dumps({k: out[k] for k in ["bleu", "bleu_single", "cider"]}))


if __name__ == "__main__":
    main()
