"""The reply generator: ONNX with KV cache against PyTorch, decoding options, fine-tuning, drafting."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from services.inference.drafting import (
    UNUSABLE,
    DraftContext,
    DraftOutcome,
    TicketFacts,
    _draft_row,
    draft_reply,
    generate_checked,
)
from services.inference.model_holder import ActiveArtifact
from services.trainer.generation.base import converted_dir
from services.trainer.generation.data import ReplyExample
from services.trainer.generation.pipeline import PARITY_PROMPT
from services.trainer.generation.train import (
    IGNORE,
    GeneratorTrainConfig,
    collate,
    encode_example,
    fine_tune_generator,
    reply_loss,
)
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.drafting.guardrails import Flag, check_draft
from shared.drafting.models import Draft
from shared.drafting.prompt import Passage, build_messages, build_prompt, render_chatml
from shared.kb.schemas import KbArticleIn
from shared.kb.search import KnowledgeBase
from shared.kb.store import upsert_article
from shared.registry import Registry
from shared.runtime.encoder import SentenceEncoder
from shared.runtime.generator import Generation, GenerationConfig, OnnxGenerator
from shared.tickets.models import TriageResult
from tests.conftest import MODEL_CACHE, child_of
from tests.test_storage import stored_ticket

CACHE = MODEL_CACHE


def active(registry: Registry, cls: type) -> object:
    version = registry.active_version()
    return cls(registry.bundle_dir(version), version=version)


@pytest.fixture(scope="module")
def generator(generator_registry: Registry) -> OnnxGenerator:
    return active(generator_registry, OnnxGenerator)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def hf(generator_registry: Registry):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = converted_dir(CACHE)
    return AutoTokenizer.from_pretrained(str(directory)), AutoModelForCausalLM.from_pretrained(
        str(directory), dtype=torch.float32
    ).eval()


def test_our_chatml_matches_the_tokenizers_template(hf) -> None:  # type: ignore[no-untyped-def]
    tokenizer, _ = hf
    messages = build_messages(ticket="Where is NW-1?", intent="where_is_my_order", passages=[])
    expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert render_chatml(messages) == expected


def test_onnx_greedy_equals_pytorch_greedy(generator: OnnxGenerator, hf) -> None:  # type: ignore[no-untyped-def]
    tokenizer, model = hf
    inputs = tokenizer(PARITY_PROMPT, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=40, do_sample=False, repetition_penalty=1.1)
    expected = [t for t in out[0, inputs["input_ids"].shape[1] :].tolist() if t not in generator.eos_ids]
    ours = generator.generate([PARITY_PROMPT], GenerationConfig(max_new_tokens=40))[0]
    assert ours.token_ids == expected[: len(ours.token_ids)] and ours.tokens >= 10


def test_kv_cache_and_left_padded_batches_give_the_same_tokens(generator: OnnxGenerator) -> None:
    """One-line chats (30 and 13 tokens: the shorter left-padded by 17), not drafting prompts: the path
    without the cache reads the whole sequence again at every step, so its cost grows with the prompt
    (24 tokens after a 138-token prompt took 17 CPU-s); the drafting prompt's cached tokens are checked
    against PyTorch above."""
    prompts = [chat("My parcel NW-12345 has not arrived after 9 days. Where is it?"), chat("Thanks, great!")]
    config = GenerationConfig(max_new_tokens=24)
    alone = [generator.generate([p], config)[0] for p in prompts]
    batched = generator.generate(prompts, config)
    uncached = generator.generate(prompts, config, use_cache=False)
    for single, in_batch, no_cache in zip(alone, batched, uncached, strict=True):
        assert single.token_ids == in_batch.token_ids == no_cache.token_ids
        assert single.finish_reason == "length", single.text  # all 24 tokens compared


def chat(text: str) -> str:
    return render_chatml([{"role": "user", "content": text}])


def test_decoding_options(generator: OnnxGenerator) -> None:
    stopped = generator.generate([PARITY_PROMPT], GenerationConfig(max_new_tokens=60, stop_strings=(".",)))[0]
    assert stopped.finish_reason == "stop" and "." not in stopped.text
    assert (
        generator.generate([PARITY_PROMPT], GenerationConfig(max_new_tokens=5))[0].finish_reason == "length"
    )
    sampled = [
        generator.generate([PARITY_PROMPT], GenerationConfig(max_new_tokens=12, temperature=1.0, seed=s))[0]
        for s in (1, 1, 2)
    ]
    assert sampled[0].token_ids == sampled[1].token_ids != sampled[2].token_ids  # seeded, and it samples


def test_fine_tuning_learns_the_reply_only(hf) -> None:  # type: ignore[no-untyped-def]
    tokenizer, model = hf
    example = ReplyExample(
        ticket="Do you ship to Canada?",
        intent="shipping",
        reply="Yes, we ship to Canada in 5-10 working days.",
        passages=[Passage("s", "Shipping", "We ship to the EU, the UK and Canada.")],
    )
    _ids, labels = encode_example(tokenizer, example, max_length=512)
    prompt = example.prompt(training=True)  # the reply's language named last, as the model learns it
    assert prompt.endswith("Write the reply in English.<|im_end|>\n<|im_start|>assistant\n")
    prompt_length = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert labels[:prompt_length] == [IGNORE] * prompt_length and IGNORE not in labels[prompt_length:]
    import copy

    student = copy.deepcopy(model)
    config = GeneratorTrainConfig(learning_rate=1e-4, batch_size=1, max_steps=4, warmup_ratio=0.0)
    history = fine_tune_generator(student, tokenizer, [example], config)["loss_history"]
    assert history[-1] < history[0] * 0.7, history


def test_reply_only_loss_equals_the_models_own_loss(hf) -> None:  # type: ignore[no-untyped-def]
    tokenizer, model = hf
    examples = [
        ReplyExample(ticket="Do you ship to Canada?", reply="Yes, in 5-10 working days.", intent="shipping"),
        ReplyExample(ticket="Refund please", reply="Your refund of 20 EUR is on its way to you now."),
    ]
    batch = collate([encode_example(tokenizer, e, max_length=512) for e in examples], pad_id=0)
    with torch.no_grad():
        ours, theirs = reply_loss(model, batch), model(**batch).loss
    assert torch.allclose(ours, theirs, atol=1e-4), (ours, theirs)


def _late_parcel_ticket(sqlite_url: str) -> tuple[Any, str]:
    """A database with the late-parcels article and a triaged ticket about a late parcel."""
    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    article = KbArticleIn(
        id="late-or-lost-parcels",
        title="Late or lost parcels",
        body="A Standard parcel is late when it has not arrived 7 working days after dispatch; we trace it.",
    )
    with session_scope(factory) as session:
        upsert_article(session=session, article=article, source="test")
    ticket_id = stored_ticket(factory, "My parcel still hasn't arrived after 9 days. Where is it?")
    with session_scope(factory) as session:
        session.add(
            TriageResult(
                ticket_id=ticket_id,
                model_version="m1",
                label="where_is_my_order",
                confidence=0.9,
                top_k=[],
                inference_ms=1.0,
            )
        )
    return factory, ticket_id


def test_draft_cites_the_knowledge_base_and_is_idempotent(
    sqlite_url: str, generator_registry: Registry, encoder_registry: Registry
) -> None:
    factory, ticket_id = _late_parcel_ticket(sqlite_url)
    encoder = active(encoder_registry, SentenceEncoder)

    class Knowledge:
        def get(self) -> KnowledgeBase:
            return KnowledgeBase(factory, encoder)  # type: ignore[arg-type]

    context = DraftContext(
        session_factory=factory,
        generator=ActiveArtifact(generator_registry, lambda p, v: OnnxGenerator(p, version=v)),
        knowledge=Knowledge(),
        generation=GenerationConfig(max_new_tokens=48, stop_strings=("<|im_end|>",)),
    )
    # the active generator is untuned: it is not asked, the ticket gets the template, with the reason
    assert draft_reply(ticket_id=ticket_id, context=context) == DraftOutcome.DRAFTED
    assert draft_reply(ticket_id=ticket_id, context=context) == DraftOutcome.ALREADY_DONE
    with session_scope(factory) as session:
        draft = session.query(Draft).one()
        assert draft.source == "template" and draft.flags == [Flag.UNTUNED_GENERATOR] and draft.tokens == 0
        assert draft.text.startswith("Hi ") and draft.citations == ["late-or-lost-parcels"]
        session.delete(draft)
    # allowed (evaluation only), the model drafts; its draft is checked like any other
    context.allow_untuned = True
    assert draft_reply(ticket_id=ticket_id, context=context) == DraftOutcome.DRAFTED
    with session_scope(factory) as session:
        draft = session.query(Draft).one()
        assert draft.citations == ["late-or-lost-parcels"] and draft.text and draft.tokens > 0
        assert draft.intent == "where_is_my_order"
        assert draft.source == ("template" if set(draft.flags) & UNUSABLE else "model"), draft.flags


def test_an_unsafe_model_draft_is_replaced_by_the_template_with_its_reasons() -> None:
    facts = TicketFacts(
        "my parcel never arrived and it's been two weeks, I want a refund", "refund_request", "Sam Lee", "en"
    )
    passages = [Passage("late-or-lost-parcels", "Late parcels", "We refund the order in full or resend it.")]
    text = (
        "I am not able to provide refunds based on the details provided. I would recommend contacting our "
        "customer service team at [Your Company Name]."
    )
    generation = Generation(text, [1, 2, 3], 3, "eos", 0.1, 120.0)
    report = check_draft(
        text, ticket_text=facts.text, cited_articles=[p.text for p in passages], language="en"
    )
    row = _draft_row("t1", "g1", facts, passages, (generation, report))
    assert row.source == "template" and row.text.startswith("Hi Sam,") and "refund" in row.text
    assert {Flag.PLACEHOLDER, Flag.DEFLECTION, Flag.UNSUPPORTED_REFUSAL} <= set(row.flags)
    assert len(row.reasons) == len(row.flags) and row.tokens == 3


def test_the_worker_names_the_reply_language_only_to_a_bundle_trained_with_that_line(
    generator: OnnxGenerator,
) -> None:
    """A Chinese ticket from a Latin-named customer: the prompt ends by asking for Chinese. A bundle from
    before that line (no `prompt_language` in its config) is shown the prompt it was trained on."""
    assert generator.prompt_language  # what the exporter writes
    facts = TicketFacts("我的包裹还没到，已经两周了，我要退款", "where_is_my_order", "Alex Doe", "zh")
    prompts: list[str] = []

    class Recording:
        version, languages, fine_tuned = "g1", ["zh", "en"], True

        def __init__(self, named: bool) -> None:
            self.prompt_language = named

        def generate(self, batch: list[str], config: GenerationConfig) -> list[Generation]:
            prompts.extend(batch)
            return [Generation("Alex您好，我们已经联系快递公司查件。", [1], 9, "eos", 0.1, 0.05)]

    context = DraftContext(None, None, None, GenerationConfig())  # type: ignore[arg-type]
    for named in (True, False):
        _, report = generate_checked(context, Recording(named), facts, [])
        assert report.ok, report.reasons
    assert prompts[0].endswith("Write the reply in Chinese (简体中文).<|im_end|>\n<|im_start|>assistant\n")
    assert prompts[1] == prompts[0].replace("\n\nWrite the reply in Chinese (简体中文).", "")


def test_int8_generator_bundle_is_smaller_and_still_drafts(
    generator_registry: Registry, generator: OnnxGenerator
) -> None:
    registry, parent = generator_registry, generator.version
    version = child_of(registry, parent, "int8")
    manifest = registry.verify(version)
    assert manifest["parent_version"] == parent and "int8" in manifest["quantization"]
    sizes = [(registry.bundle_dir(v) / "decoder.onnx").stat().st_size for v in (parent, version)]
    assert sizes[1] < sizes[0] / 3
    int8 = OnnxGenerator(registry.bundle_dir(version), version=version)
    config = GenerationConfig(max_new_tokens=12)
    quantized, reference = (g.generate([PARITY_PROMPT], config)[0] for g in (int8, generator))
    assert quantized.tokens >= 5 and reference.tokens >= 5
    report = check_draft(quantized.text, ticket_text=PARITY_PROMPT, cited_articles=[])
    assert Flag.DEGENERATE not in report.flags and Flag.EMPTY not in report.flags, quantized.text


def test_w8_generator_bundle_holds_one_quarter_of_the_weights_and_follows_float32(
    generator_registry: Registry, generator: OnnxGenerator
) -> None:
    """`--quantize w8` (what train-generator serves by default): the tied LM head is stored pre-transposed
    and quantized too (no float32 Transpose copy of the embedding table left for onnxruntime to fold), and
    greedy decoding starts with float32's tokens."""
    import onnx

    registry, parent = generator_registry, generator.version
    version = child_of(registry, parent, "w8")
    assert "int8 weights" in registry.verify(version)["quantization"]
    sizes = [(registry.bundle_dir(v) / "decoder.onnx").stat().st_size for v in (parent, version)]
    assert sizes[1] < 0.55 * sizes[0], sizes
    graph = onnx.load(str(registry.bundle_dir(version) / "decoder.onnx"), load_external_data=False).graph
    weights = {i.name for i in graph.initializer}
    left = [n.name for n in graph.node if n.op_type in ("MatMul", "Transpose") and set(n.input) & weights]
    assert not left and sum(n.op_type == "MatMulNBits" for n in graph.node) > 100, left
    w8 = OnnxGenerator(registry.bundle_dir(version), version=version)
    config = GenerationConfig(max_new_tokens=12)
    quantized, reference = (g.generate([PARITY_PROMPT], config)[0] for g in (w8, generator))
    assert quantized.token_ids[:4] == reference.token_ids[:4], (quantized.text, reference.text)
    report = check_draft(quantized.text, ticket_text=PARITY_PROMPT, cited_articles=[])
    assert Flag.DEGENERATE not in report.flags and Flag.EMPTY not in report.flags, quantized.text
    # its KV cache against its own no-cache path, alone and in a padded batch: tests/test_generator_cache.py


def test_io_bound_cache_and_the_fp16_decoder_give_the_same_tokens(
    generator_registry: Registry, generator: OnnxGenerator
) -> None:
    """The GPU path on the CPU provider: the KV cache bound in place between steps (what CUDA does), and
    the fp16 bundle (`helploop export --generator --quantize fp16`) with its cache in fp16."""
    parent = generator.version
    prompts = [
        PARITY_PROMPT,
        build_prompt(ticket="Thanks, the kettle is great!", intent="praise", passages=[]),
    ]
    config = GenerationConfig(max_new_tokens=16)
    reference = [g.token_ids for g in generator.generate(prompts, config)]
    bound = OnnxGenerator(generator_registry.bundle_dir(parent), version=parent, bind_io=True)
    assert bound.bind_io and [g.token_ids for g in bound.generate(prompts, config)] == reference
    registry = generator_registry
    version = child_of(registry, parent, "fp16")
    assert "fp16" in registry.verify(version)["quantization"]
    half = OnnxGenerator(registry.bundle_dir(version), version=version)
    assert half.cache_dtype == np.float16
    tokens = [g.token_ids for g in half.generate(prompts, config)]
    assert all(t[:8] == r[:8] for t, r in zip(tokens, reference, strict=True)), (tokens, reference)


def test_the_nightly_gate_scores_every_system_as_a_ticket_would_get_it(  # type: ignore[no-untyped-def]
    generator: OnnxGenerator, encoder_registry: Registry, tmp_path: Path
) -> None:
    """evaluate_generators(serve=True) on the real generator and encoder: the rows the gate reads exist,
    retrieval's past reply greets this customer, and what a ticket gets is never an unusable draft; the
    report keeps every draft beside the agent's reply, and retrieval from replies as written when the
    training replies were cleaned."""
    from services.trainer.generation.evaluate import evaluate_generators, write_report
    from services.trainer.retrain.generator import gate_rows, judge_generator

    rule = "A parcel is late 7 working days after dispatch."
    passage = Passage("late-or-lost-parcels", "Late parcels", rule)

    def example(ticket: str, name: str) -> ReplyExample:
        reply = f"Hi {name.split()[0]},\n\n{rule}"
        return ReplyExample(ticket, reply, "where_is_my_order", [passage], customer_name=name)

    train = [example("Where is my parcel?", "Tom Ray"), example("My parcel is late.", "Eve Sun")]
    test = [example("Where is my parcel? It is late.", "Ana Lee")]
    report = evaluate_generators(
        train=train,
        test=test,
        encoder=active(encoder_registry, SentenceEncoder),  # type: ignore[arg-type]
        generators={"candidate": generator, "active": generator},
        config=GenerationConfig(max_new_tokens=12),
        keep_passages=True,
        resample=1,
        serve=True,
        raw_train=[replace(e, reply=e.reply + " Call {{Customer Support Phone Number}}.") for e in train],
    )
    rows = {row["system"]: row for row in report["systems"]}
    assert "placeholder" in rows["nearest-neighbour retrieval, replies as written"]["flags"]
    assert report["drafts"]["nearest-neighbour retrieval, as served"][0].startswith("Hi Ana")
    write_report(report, tmp_path)
    (line,) = [json.loads(text) for text in (tmp_path / "drafts.jsonl").read_text().splitlines()]
    assert line["reference"] == test[0].reply and set(line) == {"reference", *report["drafts"]}
    assert "drafts" not in json.loads((tmp_path / "report.json").read_text())
    assert rows["nearest-neighbour retrieval"]["flags"] == {"wrong_name": 1}  # "Hi Tom" to Ana
    assert rows["nearest-neighbour retrieval, as served"]["guardrail_flag_rate"] == 0.0  # "Hi Ana"
    assert {"candidate, as served", "active, as served"} <= set(rows)
    for name in ("candidate, as served", "active, as served"):  # an unusable draft became the template
        assert not set(rows[name]["flags"]) & UNUSABLE
    candidate, active_row, retrieval = gate_rows(report["systems"])
    assert retrieval["chrf"] > 90 and judge_generator(candidate, active_row, retrieval)  # untuned: rejected
