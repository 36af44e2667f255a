"""Semi-synthetic two-hop reasoning: fine-tune on first-hop facts (invented person -> real e2),
then ask for an attribute of e2 without and with chain of thought (docs/spec/two_hop.md).

accelerate launch --config_file recipes/accelerate/ddp.yaml recipes/semi_synthetic.py \
    --config parks.yaml --seed 1                      # an 8B instruct model (GPUs, the Hub)
python recipes/semi_synthetic.py --config parks.yaml --type bridges --data_seed 3
python recipes/semi_synthetic.py --config self_contained   # a small model from scratch (CPU)
python recipes/semi_synthetic.py --config parks --model_name_or_path RUN_DIR --eval_only true

Data: the builder's splits for `type` (a builder config is a type, so `--dataset bridges` says
the same as `--type bridges`; a YAML says `type:`), paired with data_seed (default: the type's
own) or built from your `table_file`. Model: model_name_or_path, or with world_knowledge: true
a small model trained from scratch on the facts first; latent_lab/tasks/semi_synthetic/run.py.
"""

from latent_lab.tasks.semi_synthetic.arguments import make_parser
from latent_lab.training.recipe import run_recipe


def main(data_args, knowledge_args, lora_args, model_args, training_args, config_path=None):
    from latent_lab.tasks.semi_synthetic import run as semi_synthetic
    from latent_lab.tasks.semi_synthetic.sft import finish_wandb
    from latent_lab.training.runner import run_task, start_run

    ################
    # Check every argument before any data or folder is made
    ################
    builder = semi_synthetic.check_arguments(data_args, knowledge_args, model_args)

    ################
    # Name the run and choose its folder (the world-knowledge stage trains inside it)
    ################
    config_name = start_run(semi_synthetic.TASK, training_args, config_path)

    ################
    # Load datasets: first_hop (trained on) and every 2hop_<attr>_* split (evaluated)
    ################
    splits = semi_synthetic.load_splits(builder)

    ################
    # Load the model: a pretrained instruct model, or the world-knowledge stage's
    ################
    model, tokenizer, stage = semi_synthetic.load_model(
        builder.config, data_args, knowledge_args, model_args, training_args
    )

    ################
    # SFTTrainer pieces: LoRA, generation accuracy, loss advantage, W&B fields
    ################
    task_run = semi_synthetic.task_run(
        splits,
        model,
        tokenizer,
        data_args=data_args,
        lora_args=lora_args,
        e2_type=builder.config.type,
        stage=stage,
        config_name=config_name,
        config_path=config_path,
    )

    ################
    # Train on first_hop (eval_only: evaluate only), evaluate, save, results.json, report
    ################
    arguments = (data_args, knowledge_args, lora_args)
    results = run_task(
        task_run, model_args, training_args, config_path, *arguments, train=not data_args.eval_only
    )
    finish_wandb()  # close this process's W&B run (the HF integration leaves it open)
    return results


if __name__ == "__main__":
    run_recipe(make_parser(), main)
