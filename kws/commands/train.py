"""`kws train | quantize | prune | models`: the network, its training and its compression."""

from __future__ import annotations

import argparse

from kws.commands.common import add_config_options, add_quiet_option, plain_config, run_config, run_of, writes_run


@writes_run("kws train")
def _train(args: argparse.Namespace) -> int:
    from kws.train import train

    run = run_of(args)
    config = run.base_config(args.config, args.overrides)  # training writes config.toml: no deploy overlay
    result = train(config, run, progress=not args.quiet, on_data_change=args.data_changed)
    print(f"best validation accuracy {result.best_val_accuracy:.2%} at step {result.best_step}; "
          f"test accuracy {result.test_accuracy:.2%}; outputs in {result.run_dir}/")
    return 0


@writes_run("kws quantize")
def _quantize(args: argparse.Namespace) -> int:
    from kws.compress.quantize import quantize

    result = quantize(run_config(args), run_of(args), args.method, progress=not args.quiet)
    print(f"{result.method}: simulated int8 test accuracy {result.int8_test_accuracy:.2%} "
          f"(float {result.float_test_accuracy:.2%}); wrote {result.checkpoint}")
    return 0


@writes_run("kws prune")
def _prune(args: argparse.Namespace) -> int:
    from kws.compress.prune import prune

    result = prune(run_config(args), run_of(args), args.structured, progress=not args.quiet)
    print(f"{result.mode} pruning: sparsity {result.sparsity:.1%}, test accuracy {result.test_accuracy:.2%} "
          f"(float {result.float_test_accuracy:.2%}); wrote {result.checkpoint} and prune_report.md")
    return 0


def _models(args: argparse.Namespace) -> int:
    import tomllib

    from kws.config import parse_override, replace
    from kws.models import MODEL_NAMES, build_model
    from kws.models.summary import print_summary, summarize

    config = plain_config(args)  # validated: the file is TOML and any model.name is registered
    # Which models: the positional name, else the one --config/--set names, else every registered one.
    layers = [tomllib.loads(args.config.read_text(encoding="utf-8"))] if args.config is not None else []
    layers += [parse_override(text) for text in args.overrides]
    configured = any("name" in (layer.get("model") or {}) for layer in layers)
    names = [args.name] if args.name else [config.model.name] if configured else list(MODEL_NAMES)
    labels = len(config.data.labels())
    for name in names:
        model_cfg = replace(config.model, name=name)
        model = build_model(model_cfg, config.frontend, labels)
        shape = (config.frontend.num_frames, config.frontend.num_features)
        print_summary(f"{name} on {shape[0]}x{shape[1]} {config.frontend.feature_type}, {labels} labels",
                      summarize(model, shape))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train the configured model into runs/<run>/ (resumes if interrupted)")
    add_config_options(train)
    train.add_argument("--run", default="demo", help="run name: outputs go to runs/<run>/ (default: demo)")
    train.add_argument("--data-changed", choices=("error", "restart"), default="error",
                       help="when the dataset changed since the run started: refuse (default), or train again "
                            "from the start (the Makefile's choice after new data)")
    add_quiet_option(train)
    train.set_defaults(handler=_train)

    quant = commands.add_parser("quantize", help="int8: calibrate (ptq) or quantization-aware fine-tune (qat)")
    add_config_options(quant)
    quant.add_argument("--run", default="demo", help="run name (reads runs/<run>/model_float.pt)")
    quant.add_argument("--method", choices=("ptq", "qat"), default=None, help="default: quantization.method")
    add_quiet_option(quant)
    quant.set_defaults(handler=_quantize)

    prune_cmd = commands.add_parser("prune", help="iterative magnitude pruning with fine-tuning, or structured "
                                                  "filter pruning (tiny_conv)")
    add_config_options(prune_cmd)
    prune_cmd.add_argument("--run", default="demo", help="run name (reads runs/<run>/model_float.pt)")
    prune_cmd.add_argument("--structured", action=argparse.BooleanOptionalAction, default=None,
                           help="remove whole conv filters (--no-structured: single weights); "
                                "default: pruning.structured")
    add_quiet_option(prune_cmd)
    prune_cmd.set_defaults(handler=_prune)

    models = commands.add_parser("models", help="parameters, MACs and activation memory per layer of each model")
    add_config_options(models)
    models.add_argument("name", nargs="?", default=None,
                        help="one registered model (default: the one --config/--set names, else all)")
    models.set_defaults(handler=_models)
