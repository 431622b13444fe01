"""Long tickets: the test texts inside a long message, to choose how the classifier reads past its window.

Each test text is embedded in background a customer writes around a request (what happened, who they are,
how they feel, thanks), seeded and reproducible, so the ticket runs to two or three of the model's windows.
The request sits at the start, in the middle or at the end (a third each). Every policy of
`shared.runtime.long_text` classifies the same tickets with the same bundle; the report gives accuracy per
position beside the plain texts.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import numpy as np

from services.trainer.data import Example
from shared.runtime.long_text import POLICIES, read_windows

POSITIONS = ("start", "middle", "end")
# Background with no request in it: what surrounds the question in a long message.
FILLER = (
    "I have been a customer for quite a few years now and until recently everything worked fine.",
    "Sorry for the long message, I am writing this on my phone during my lunch break.",
    "My partner usually takes care of these things but she is away for work this week.",
    "I tried to find the answer in the help pages first but I could not find anything that fits my case.",
    "We moved to a new flat last month, so things have been a bit chaotic at home.",
    "I already spent some time on this yesterday evening and I would really like to get it sorted.",
    "To give you some background, I use the app almost every day for my small business.",
    "I am not very good with technology, so please explain it in simple words if you can.",
    "My colleague recommended your service to me and I have been happy with it so far.",
    "I was travelling for two weeks and only had a look at everything when I got back.",
    "It is not the first time I contact you, although last time it was about something else entirely.",
    "I hope you are having a good week and that you are not too busy.",
    "Just so you know, I am available most mornings if you need to reach me.",
    "I checked everything twice before writing to you, so I am fairly sure about the details.",
    "The weather has been terrible here, so I have finally had time to go through my paperwork.",
    "I would appreciate a quick answer, as I need to plan the next few days around this.",
    "My English is not perfect, so forgive me if something sounds strange.",
    "I have tried restarting my phone and reinstalling the app, which did not change anything.",
    "Thank you in advance for your help, I really appreciate the work your team does.",
    "Let me know if you need any more information from me and I will send it right away.",
    "I also asked a friend who works in a bank, but she did not know either.",
    "Everything else has been working as usual, so I am not sure what is different this time.",
    "I am writing from my work computer, so replies to this address are best.",
    "Please do not close this conversation before I have had the chance to read your answer.",
)


def long_ticket(text: str, position: str, rng: random.Random, sentences: int) -> str:
    """`text` with `sentences` filler sentences around it, the request at `position`."""
    before = {"start": 0, "middle": sentences // 2, "end": sentences}[position]
    filler = rng.sample(FILLER, min(sentences, len(FILLER)))
    return " ".join([*filler[:before], text, *filler[before:]])


def long_examples(examples: list[Example], *, seed: int, sentences: int) -> list[tuple[str, Example]]:
    """(position, example with its text inside a long message), positions in turn."""
    rng = random.Random(seed)
    out = []
    for index, example in enumerate(examples):
        position = POSITIONS[index % len(POSITIONS)]
        out.append((position, replace(example, text=long_ticket(example.text, position, rng, sentences))))
    return out


def policy_predictions(classifier: Any, texts: list[str], policy: str, batch: int = 256) -> np.ndarray:
    """Primary-head argmax for `texts` read under `policy` through `OnnxClassifier.forward_windows`."""
    head = classifier.heads[0].name
    encodings = classifier.raw_tokenizer.encode_batch(texts)
    per_text = read_windows(encodings, classifier.max_length, policy)
    parts = [
        classifier.forward_windows(per_text[i : i + batch], with_embedding=False).logits[head]
        for i in range(0, len(per_text), batch)
    ]
    return np.concatenate(parts).argmax(axis=1)


def evaluate_long(classifier: Any, examples: list[Example], *, seed: int = 13, limit: int = 1500) -> dict:
    """Accuracy of the primary head (argmax) per policy and position, and on the plain texts."""
    head = classifier.heads[0]
    index = {label: i for i, label in enumerate(head.labels)}
    examples = [e for e in examples if e.labels.get(head.name) in index]
    examples = random.Random(seed).sample(examples, min(limit, len(examples)))
    sentences = max(4, classifier.max_length // 8)  # about 2–3 windows of filler
    placed = long_examples(examples, seed=seed, sentences=sentences)
    gold = np.array([index[e.labels[head.name]] for _, e in placed])
    positions = np.array([p for p, _ in placed])
    lengths = [len(e.ids) for e in classifier.raw_tokenizer.encode_batch([e.text for _, e in placed])]
    plain = policy_predictions(classifier, [e.text for e in examples], "truncate")
    report: dict[str, Any] = {
        "examples": len(placed),
        "seed": seed,
        "max_length": classifier.max_length,
        "median_tokens": int(np.median(lengths)),
        "plain_accuracy": round(float((plain == gold).mean()), 4),
        "policies": {},
    }
    for policy in POLICIES:
        predicted = policy_predictions(classifier, [e.text for _, e in placed], policy)
        correct = predicted == gold
        report["policies"][policy] = {
            "accuracy": round(float(correct.mean()), 4),
            **{p: round(float(correct[positions == p].mean()), 4) for p in POSITIONS},
        }
    return report
