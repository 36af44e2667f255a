"""`latent-lab sample`: sample continuations of a prompt from a trained model."""

from __future__ import annotations

from latent_lab.commands.output import emit
from latent_lab.errors import UserError
from latent_lab.files import check_model_dir


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("sample", help="sample from a trained model")
    parser.add_argument("--model", required=True, help="a run's output_dir (saved model)")
    parser.add_argument("--prompt", default="\n", help="text to continue (default: newline)")
    parser.add_argument("--num-samples", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--temperature", type=float, default=0.8, help="0 means greedy")
    parser.add_argument("--top-k", type=int, default=200)
    parser.add_argument("--stop", default=None, help="cut each sample before this string")
    parser.set_defaults(func=run)


def run(args) -> dict:
    for name in ("num_samples", "max_new_tokens"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')}: must be >= 1")
    if args.temperature < 0:
        raise UserError("--temperature: must be >= 0 (0 means greedy)")
    check_model_dir(args.model, "--model")

    import torch  # after the checks above, so a mistake is answered at once

    from latent_lab.generation import check_prompt, generate_continuations
    from latent_lab.models.loading import load_model, load_tokenizer

    tokenizer = load_tokenizer(args.model)
    check_prompt(tokenizer, args.prompt, field="--prompt")  # before the slow model load
    model = load_model(args.model)
    torch.manual_seed(args.seed)
    completions = generate_continuations(
        model,
        tokenizer,
        [args.prompt] * args.num_samples,
        max_new_tokens=args.max_new_tokens,
        do_sample=args.temperature > 0,
        temperature=args.temperature or 1.0,
        top_k=args.top_k,
        stop=args.stop,
    )
    samples = [args.prompt + completion for completion in completions]
    emit("\n---------------\n".join(samples))
    return {"samples": samples, "model": args.model, "seed": args.seed}
