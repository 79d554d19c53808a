"""`pkharvest train|evaluate|tag`: the multi-task PK NER model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from pkharvest.cli import app, console, err_console, handle_errors, utf8_argument
from pkharvest.cli.progress import training_progress
from pkharvest.corpus.labels import MENTION_BUCKET_NAMES
from pkharvest.corpus.records import VIEWS
from pkharvest.corpus.splits import DEFAULT_SPLIT
from pkharvest.errors import UsageError
from pkharvest.model.config import DEFAULT_PRECISION
from pkharvest.model.weighting import WEIGHTINGS
from pkharvest.paths import default_model_dir

_LABEL_STYLES = {"PK": "bold magenta", "VALUE": "bold cyan", "UNITS": "bold green",
                 "RANGE": "bold yellow", "COMPARE": "bold red"}


def _check_view(view: str | None) -> None:
    if view is not None and view not in VIEWS:
        raise UsageError(f"unknown view {view!r} (expected one of {', '.join(VIEWS)})",
                         option="--view")


def _score_table(scores: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    for col in ("label", "strict P", "strict R", "strict F1", "partial F1", "support"):
        table.add_column(col, justify="left" if col == "label" else "right")
    strict, partial = scores["ner"]["strict"], scores["ner"]["partial"]
    for lab, sc in strict["per_label"].items():
        table.add_row(lab, f"{sc['precision']:.3f}", f"{sc['recall']:.3f}", f"{sc['f1']:.3f}",
                      f"{partial['per_label'][lab]['f1']:.3f}", str(sc["support"]))
    m = strict["micro"]
    table.add_row(Text("micro", style="bold"), f"{m['precision']:.3f}", f"{m['recall']:.3f}",
                  Text(f"{m['f1']:.3f}", style="bold"), f"{partial['micro']['f1']:.3f}",
                  str(m["support"]))
    table.caption = (f"bCLS F1 {scores['bcls']['f1']:.3f} · "
                     f"mCLS acc {scores['mcls']['accuracy']:.3f} · "
                     f"mtCLS macro-F1 {scores['mtcls']['macro_f1']:.3f} · "
                     f"{scores['n_sentences']} sentences")
    return table


@app.command("train")
@handle_errors
def train_cmd(
    corpus: list[Path] = typer.Option(
        [], "--corpus", help="Prodigy JSONL corpus; repeat to learn from several (e.g. the "
        "shared corpus and `review export` corrections: a later corpus's sentence replaces the "
        "same sentence of an earlier one; all are split by article together) \\[default: "
        "PKHARVEST_CORPUS or the shared annotated sentences]."),
    view: str = typer.Option("full", "--view", help="Labels to learn: full (all five) or pk."),
    split: str = typer.Option(
        DEFAULT_SPLIT, "--split", help="train,dev,test proportions (split by article; "
        "split seed fixed at 13 so every run sees the same test articles)."),
    fraction: float = typer.Option(
        1.0, "--fraction", help="Share of the training split to use (0 < F <= 1)."),
    weighting: str = typer.Option(
        "fixed", "--weighting", help=f"Loss weighting: {'|'.join(WEIGHTINGS)} "
        "(none = single-task NER)."),
    seed: int = typer.Option(13, "--seed", help="Training (and subsampling) seed."),
    encoder: str | None = typer.Option(
        None, "--encoder", help="HF encoder name or local folder \\[default: the bundled "
        "all-MiniLM-L6-v2]."),
    out: Path | None = typer.Option(
        None, "--out", help="Model folder to write \\[default: PKHARVEST_MODEL or model/default]."),
    epochs: int | None = typer.Option(
        None, "--epochs", help="Maximum epochs (given explicitly, it also turns off the "
        "minimum-steps rule that lengthens training on small data)."),
    lr: float | None = typer.Option(None, "--lr", help="Encoder learning rate."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Sentences per batch \\[default: 8; 16 "
        "before, see CHANGELOG.md]."),
    max_length: int | None = typer.Option(
        None, "--max-length", help="Word pieces per window (longer sentences are windowed)."),
    mention_swap: float | None = typer.Option(
        None, "--mention-swap", help="Probability that a training sentence has its PK mentions "
        "replaced by other PK mentions of the training data, per epoch (default 0; see "
        "docs/model.md)."),
    augment: float | None = typer.Option(
        None, "--augment", help="Probability that a training sentence has its digits replaced "
        "by random digits, per epoch (default 0; see docs/model.md)."),
    average_last: int | None = typer.Option(
        None, "--average-last", help="Average the weights of the schedule's last N epochs "
        "(checkpoint averaging; with a dev split kept only when it scores better) \\[default: "
        "0, off; see docs/model.md]."),
    refit: bool | None = typer.Option(
        None, "--refit/--no-refit", help="At --fraction 1, train on the train and dev splits "
        "together for the whole schedule (no early stopping) \\[default: on; off with "
        "--reference]. Below 1 the dev split is always held out for early stopping."),
    reference: bool = typer.Option(
        False, "--reference", help="Use the reference set-up (batch 32, max length 256, AdamW "
        "3e-5, patience 3 on the dev split, ...) instead of the tuned defaults."),
    ensemble: int | None = typer.Option(
        None, "--ensemble", help="Train K networks (seeds SEED ... SEED+K-1) and save them as "
        "one seed ensemble that averages their word log-probabilities; K times the training "
        "and tagging time \\[default: 1; see docs/model.md]."),
    device: str | None = typer.Option(
        None, "--device", help="Where to train: cpu (default; reproducible), cuda[:N], or auto "
        "(a GPU when torch sees one)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train the multi-task PK NER model, score it on the held-out test split and save it
    (weights, config, tokenizer, metrics.json, model card)."""
    from pkharvest.corpus.reader import read_corpora
    from pkharvest.corpus.splits import parse_split
    from pkharvest.training.workflow import run, train_config

    _check_view(view)
    config = train_config(
        reference=reference, view=view, split=parse_split(split), fraction=fraction,
        weighting=weighting, seed=seed, encoder=encoder, epochs=epochs, lr=lr,
        batch_size=batch_size, max_length=max_length, mention_swap=mention_swap,
        augment=augment, average_last=average_last, refit=refit, ensemble=ensemble,
        device=device)
    with training_progress(None if quiet else err_console, console) as view:
        data = read_corpora(corpus) if len(corpus) > 1 else (corpus[0] if corpus else None)
        trained = run(config, data, out or default_model_dir(), progress=view)
    result = trained.result
    if trained.test:
        console.print(_score_table(trained.test, "held-out test split"))
    kept = (f"last epoch of {result.epochs_run}" if not trained.sets.dev
            else f"best epoch {result.best_epoch} of {result.epochs_run}")
    if config.ensemble > 1:
        kept = f"{config.ensemble} networks, seeds {seed}-{seed + config.ensemble - 1}"
    console.print(f"model {trained.tagger.version} saved to {trained.folder} ({kept}, "
                  f"{result.wall_time_s:.0f} s)", highlight=False)


@app.command("evaluate")
@handle_errors
def evaluate_cmd(
    model: Path | None = typer.Option(
        None, "--model", help="Model folder \\[default: PKHARVEST_MODEL or model/default]."),
    corpus: Path | None = typer.Option(
        None, "--corpus", help="Prodigy JSONL corpus to score (the whole file)."),
    view: str | None = typer.Option(
        None, "--view", help="Score only the labels of this view \\[default: the model's]."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object, nothing else."),
) -> None:
    """Score a model on every sentence of a corpus file (strict and partial span F1 per label,
    micro-pooled, plus the sentence and token classification heads)."""
    from pkharvest.corpus.reader import apply_view, read_corpus
    from pkharvest.model.tagger import PKTagger
    from pkharvest.training.evaluate import evaluate

    _check_view(view)
    tagger = PKTagger.load(model or default_model_dir())
    view = view or tagger.config.view
    if not set(VIEWS[view]) <= set(tagger.labels):
        raise UsageError(f"the model tags {', '.join(tagger.labels)}; view {view!r} needs "
                         f"{', '.join(VIEWS[view])}", option="--view")
    examples = apply_view(read_corpus(corpus), view)
    if not examples:  # all-zero scores would read as a model that finds nothing
        raise UsageError(f"{corpus or 'the corpus'}: no sentences to score (empty, or every "
                         "line rejected)", option="--corpus")
    scores = evaluate(tagger, examples, labels=VIEWS[view])
    scores["model_version"] = tagger.version
    if as_json:
        sys.stdout.write(json.dumps(scores, sort_keys=True) + "\n")
        return
    console.print(_score_table(scores, f"{tagger.version} on {len(examples)} sentences"))


@app.command("tag")
@handle_errors
def tag_cmd(
    texts: list[str] | None = typer.Argument(None, help="Sentences to tag."),
    model: Path | None = typer.Option(
        None, "--model", help="Model folder \\[default: PKHARVEST_MODEL or model/default]."),
    input_file: Path | None = typer.Option(
        None, "--input", help="A text file with one sentence per line ('-' for stdin)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array, nothing else."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Sentences per batch."),
    precision: str = typer.Option(
        DEFAULT_PRECISION, "--precision",
        help="Inference precision: int8 (the encoder's Linear layers quantised; faster on a "
        "CPU) or fp32 (the weights as trained)."),
) -> None:
    """Tag PK entities (label, character offsets, confidence) in sentences."""
    from pkharvest.model.tagger import PKTagger, check_precision

    check_precision(precision)
    sentences = [utf8_argument(t, "TEXT") for t in texts or []]
    if input_file is not None:
        stdin = str(input_file) == "-"
        where = "standard input" if stdin else str(input_file)
        try:
            raw = (sys.stdin.buffer.read().decode("utf-8") if stdin
                   else input_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {where}: {exc}", option="--input") from None
        # one sentence per line: "\n" ends a line (str.splitlines would also split inside a
        # line at \x0b, \x0c, \u2028...); blank lines are skipped
        lines = [line.rstrip("\r") for line in raw.split("\n")]
        read = [line for line in lines if line.strip()]
        if not read and not sentences:
            raise UsageError(f"{where} holds no sentence (only blank lines)", option="--input")
        sentences += read
    if not sentences:
        raise UsageError("give sentences as arguments or with --input", option="TEXT")
    tagger = PKTagger.load(model or default_model_dir(), precision=precision)
    preds = tagger.predict(sentences, batch_size=batch_size)
    if as_json:
        payload = [{"text": p.text, "pk_probability": p.pk_probability,
                    "mention_bucket": p.mention_bucket,
                    "entities": [{"label": e.label, "start": e.start, "end": e.end,
                                  "text": e.text, "score": e.score} for e in p.entities]}
                   for p in preds]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return
    for p in preds:
        line = Text(p.text)
        for e in p.entities:
            line.stylize(_LABEL_STYLES.get(e.label, "bold"), e.start, e.end)
        console.print(line)
        for e in p.entities:
            console.print(f"  {e.label:<8} {e.start:>4}-{e.end:<4} {e.score:.2f}  {e.text}",
                          highlight=False, markup=False)
        console.print(Text(f"  mention probability {p.pk_probability:.2f}, "
                           f"{_mention_count(p.mention_bucket)}", style="dim"))


def _mention_count(bucket: int) -> str:
    """The mCLS head's estimate in words: how many mentions the model expects (the bucket
    index of MENTION_BUCKETS, as "0", "1", "2", "3-4", "5+")."""
    names = MENTION_BUCKET_NAMES
    name = names[bucket] if 0 <= bucket < len(names) else str(bucket)
    return f"estimated mention count {name} (mCLS head)"
