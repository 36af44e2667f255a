"""Self-contained mode: a `world_knowledge` stage trains a small model from scratch on the e2
facts, standing in for the pretrained model the two-hop experiment fine-tunes.

What the stage teaches (never the evaluated people, so the two-hop test stays a test):
- every fact of the taught types (facts.world_knowledge_rows): questions answered at once,
  full-sentence answers, and a worked answer ("<statement>\\nAnswer: <value>");
- demonstration people: invented names that are not people of people.json (first and last
  names recombined, so never an evaluated person), each with a favorite entity, its first-hop
  question and a two-hop question about it (a worked CoT answer, and the answer given at once
  when demo_nocot). A pretrained instruct model brings this skill of answering in steps (and of
  copying an unfamiliar name into its reasoning) from pretraining; a model trained from scratch
  must see it on someone, and here it sees it on other people. Many names, few rows each: the
  model must learn to copy the name it is asked about, not to recall a few demo names.
The first-hop stage then teaches the evaluated people's favorites and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from latent_lab.errors import UserError
from latent_lab.tasks.semi_synthetic import facts
from latent_lab.tasks.semi_synthetic.sft import SCORER
from latent_lab.training.generation_accuracy import GenerationSet

if TYPE_CHECKING:
    from latent_lab.tasks.semi_synthetic.arguments import WorldKnowledgeArguments

logger = logging.getLogger(__name__)
STAGE_DIR = "world_knowledge"
STAGE_FILE = "stage.json"
RECALL_METRIC = "acc_world_knowledge"
DEMO_STREAM = 7_919  # a separate random stream from the seed, apart from the pairing's


def demo_names(count: int, seed: int) -> list[str]:
    """`count` invented names recombining the first and last names of people.json, never one of
    its people (so never an evaluated person, whatever the pairing seed), in a seeded order."""
    people = facts.load_people()
    firsts = sorted({person.split(" ", 1)[0] for person in people})
    lasts = sorted({person.split(" ", 1)[1] for person in people if " " in person})
    names = [f"{first} {last}" for first in firsts for last in lasts]
    names = [name for name in names if name not in set(people)]
    if count > len(names):
        raise UserError(f"demo_people: at most {len(names)} demonstration names exist")
    order = np.random.default_rng([seed, DEMO_STREAM]).permutation(len(names))
    return [names[int(i)] for i in order[:count]]


def demo_rows(e2_type: str, seed: int, num_people: int, nocot: bool = True) -> list[dict]:
    """Demonstration person i: a favorite entity (entities in a seeded order, cycled), its
    first-hop row, and the worked CoT row (and the no-CoT row when `nocot`) of one attribute
    (attributes cycled), so every entity and attribute is demonstrated."""
    table = facts.load_table(e2_type)
    attributes = list(table.attributes)
    entities = np.random.default_rng([seed, DEMO_STREAM, 1]).permutation(len(table.entities))
    rows = []
    for index, person in enumerate(demo_names(num_people, seed)):
        entity = table.entities[int(entities[index % len(entities)])]
        attribute = attributes[index % len(attributes)]
        plain, worked = facts.two_hop_rows(
            table, attribute, person, entity["name"], entity[attribute]
        )
        rows.append(facts.first_hop_row(table, person, entity["name"]))
        rows += [plain, worked] if nocot else [worked]
    return rows


def recall_set(types, max_new_tokens: int = 50) -> GenerationSet:
    """The e2 fact questions answered at once (what `recall` measures)."""
    rows = [
        row
        for row in facts.world_knowledge_rows(types)
        if row["messages"][0]["content"] == facts.NOCOT_SYSTEM
    ]
    prompts = [row["messages"][:-1] for row in rows]
    answers = [row["answer"] for row in rows]
    return GenerationSet(RECALL_METRIC, prompts, answers, max_new_tokens, scorer=SCORER)


def stage_arguments(args: WorldKnowledgeArguments, training_args, folder: Path):
    """The first-hop training arguments with the stage's epochs, lr and batch size; no
    evaluation, checkpoints or trackers (the stage's numbers go into the run's results)."""
    return dataclasses.replace(
        training_args,
        output_dir=str(folder),
        run_name=f"{training_args.run_name}-{STAGE_DIR}",
        num_train_epochs=args.world_knowledge_epochs,
        max_steps=-1,
        learning_rate=args.world_knowledge_learning_rate,
        per_device_train_batch_size=args.world_knowledge_batch_size,
        eval_strategy="no",
        eval_on_start=False,
        save_strategy="no",
        load_best_model_at_end=False,
        report_to=[],
        resume_from_checkpoint=None,
    )


def train_world_knowledge(args, e2_type, seed, model_args, training_args, batch_size=16):
    """Train (or, with --resume, reuse) the stage in <output_dir>/world_knowledge; returns its
    summary: model folder, fact recall, row counts, wall time. `seed`: the pairing seed in
    effect (it orders the demonstration people and entities)."""
    import transformers
    from trl import SFTTrainer

    from latent_lab.models.factory import build_model
    from latent_lab.tasks.semi_synthetic.sft import prompt_completion
    from latent_lab.tasks.semi_synthetic.word_tokenizer import word_tokenizer
    from latent_lab.training.generation_accuracy import generation_accuracies

    folder = Path(training_args.output_dir) / STAGE_DIR
    if training_args.resume and (folder / STAGE_FILE).is_file():
        return json.loads((folder / STAGE_FILE).read_text(encoding="utf-8"))
    start, types = time.time(), args.types(e2_type)
    fact_rows = facts.world_knowledge_rows(types)
    demos = demo_rows(e2_type, seed, args.demo_people, args.demo_nocot)
    tokenizer = word_tokenizer(types)
    transformers.set_seed(training_args.seed)
    model = build_model(
        model_args,
        len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    trainer = SFTTrainer(
        model=model,
        args=stage_arguments(args, training_args, folder),
        train_dataset=prompt_completion(fact_rows + demos),
        processing_class=tokenizer,
    )
    train_loss = trainer.train().training_loss
    values, _ = generation_accuracies(trainer, tokenizer, [recall_set(types)], batch_size)
    trainer.save_model(str(folder))
    summary = {
        "model_dir": str(folder),
        "types": types,
        "recall": values[RECALL_METRIC],
        "num_fact_rows": len(fact_rows),
        "num_demo_rows": len(demos),
        "train_loss": train_loss,
        "wall_time_s": round(time.time() - start, 3),
    }
    if summary["recall"] < args.min_recall:
        recall, wanted = summary["recall"], args.min_recall
        logger.warning("world knowledge recall %.3f < %.2f: train longer or larger", recall, wanted)
    if trainer.is_world_process_zero():
        from latent_lab.files import write_json_atomic

        write_json_atomic(folder / STAGE_FILE, summary)
    trainer.accelerator.wait_for_everyone()
    return summary
