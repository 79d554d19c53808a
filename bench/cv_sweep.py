"""Training configurations × training seeds under the grouped k-fold cross-validation of
``pkharvest.experiment.cv`` (refit, the project default), run as parallel jobs, plus seed
ensembles. One configuration at a few seeds, without parallel jobs: ``pkharvest experiment cv``.

    .venv/bin/python bench/cv_sweep.py --out DIR --configs default,epochs40 --seeds 13,2,1
        [--workers 2] [--device cpu|cuda|auto] [--deadline SECONDS] [--encoder NAME]
        [--corpus FILE] [--folds 5] [--epochs N] [--ensemble default]

One job is one configuration at one training seed: it trains a model per fold on the other
folds and keeps, for every held-out sentence, the model's word scores
(``PKTagger.word_scores``) in ``DIR/CONFIG/sSEED/foldK/oof.safetensors``. Jobs run as separate
processes (``--workers`` at a time: on one GPU several small jobs overlap; on this 2-core
machine use 2 with one thread each); a finished job is not rerun. ``--deadline`` stops
launching and kills running jobs after that many seconds, and the summary covers what
finished. Prints, per job, the out-of-fold strict micro / PK F1 of the product's decoding and the
record F1 of what the search pipeline would store from those sentences (``records``);
per configuration, the mean and standard deviation over seeds; and, for each configuration in
``--ensemble``, the seed ensemble (word log-probabilities averaged over the finished seeds'
models, then decoded as one model) over the first 3 seeds and over all of them. The test split
is never touched. Configurations are the ``CANDIDATES`` below (``TrainConfig`` overrides of
the current defaults: batch 8, so alternatives first measured against batch 16 are
``batch16`` plus their override; CHANGELOG.md dates each change of default).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from pkharvest.corpus.reader import read_corpus
from pkharvest.experiment.cv import RESULT_FILE, cv_folds, score_folds, train_folds
from pkharvest.progress import ProgressEvent
from pkharvest.training.trainer import TrainConfig

CANDIDATES: dict[str, dict] = {
    "default": {},
    "epochs40": {"epochs": 40},
    "epochs50": {"epochs": 50},
    "lr3e-4": {"lr": 3e-4},
    "lr1e-4": {"lr": 1e-4},
    # the former default (batch 16; min_steps and eval_steps in the same sentences)
    "batch16": {"batch_size": 16, "min_steps": 160, "eval_steps": 20},
    "batch8": {"batch_size": 8},  # the current default
    "batch32": {"batch_size": 32},
    "batch8_none": {"batch_size": 8, "weighting": "none"},
    "batch8_lr1e-4": {"batch_size": 8, "lr": 1e-4},
    "uncertainty": {"weighting": "uncertainty"},
    "hybrid": {"weighting": "hybrid"},
    "none": {"weighting": "none"},
    "unfrozen": {"freeze_embeddings": False},
    "swap0.3": {"mention_swap": 0.3},
    "dropout0.2": {"dropout": 0.2},
    # PK spans only (PK2020 / PKNER-like task): scored on PK alone, no records (no values)
    "pk_view": {"view": "pk"},
}
def run_job(args: argparse.Namespace, name: str, seed: int) -> dict:
    """Train and score every fold of one (configuration, seed); returns the job's scores."""
    torch.set_num_threads(1)
    overrides = {**CANDIDATES[name], "seed": seed, "threads": 1, "refit": True,
                 "device": args.device}
    if args.encoder:
        overrides["encoder"] = args.encoder
    if args.epochs is not None:
        overrides.update(epochs=args.epochs, min_steps=0)
    config = TrainConfig(**overrides)
    pool, folds = cv_folds(read_corpus(args.corpus), args.folds)
    started = time.perf_counter()

    def say(event: ProgressEvent) -> None:
        if event.message:
            print(f"{name} {event.message}", flush=True)

    train_folds(pool, folds, config, args.out / name / f"s{seed}", progress=say)
    result = {"config": name, "seed": seed, "overrides": CANDIDATES[name],
              "device": args.device, "wall_s": time.perf_counter() - started,
              **score(args, name, [seed], pool, folds)}
    (args.out / name / f"s{seed}" / RESULT_FILE).write_text(json.dumps(result) + "\n",
                                                           encoding="utf-8")
    return result


def score(args: argparse.Namespace, name: str, seeds: list[int], pool, folds) -> dict:
    """Pooled out-of-fold strict F1 of the product's decoding, the given seeds' word scores
    averaged (one seed: that seed's models)."""
    # decoding depends only on the configuration (it needs the config, not the network)
    config = TrainConfig(**CANDIDATES[name], **({"encoder": args.encoder} if args.encoder else {}))
    return score_folds(pool, folds, config, [args.out / name / f"s{s}" for s in seeds])


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--configs", default="default")
    ap.add_argument("--seeds", default="13,2,1")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--deadline", type=float, default=None, help="seconds")
    ap.add_argument("--encoder", default=None)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None, help="override (smoke runs)")
    ap.add_argument("--ensemble", default="default", help="configurations to ensemble")
    ap.add_argument("--plan", type=Path, default=None,
                    help="JSON list of [config, seed] jobs in the order to run (instead of "
                         "--configs x --seeds, seed-major)")
    ap.add_argument("--job", default=None, help=argparse.SUPPRESS)  # CONFIG:SEED, internal
    args = ap.parse_args()
    if args.job:
        name, seed = args.job.rsplit(":", 1)
        print(json.dumps(run_job(args, name, int(seed))), flush=True)
        return
    if args.plan:
        jobs = [(str(n), int(s)) for n, s in json.loads(args.plan.read_text())]
    else:
        # seed-major: every configuration gets its first seed before any gets a second
        jobs = [(n, int(s)) for s in args.seeds.split(",") for n in args.configs.split(",")]
    names = list(dict.fromkeys(n for n, _ in jobs))
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        sys.exit(f"unknown configurations {unknown}; choose from {', '.join(CANDIDATES)}")
    started = time.monotonic()
    forwarded = sys.argv[1:]

    def launch(job: tuple[str, int]) -> None:
        name, seed = job
        if (args.out / name / f"s{seed}" / RESULT_FILE).is_file():
            return
        left = None if args.deadline is None else args.deadline - (time.monotonic() - started)
        if left is not None and left < 30:
            return
        log = args.out / f"{name}_s{seed}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        with log.open("w") as fh:
            try:
                subprocess.run([sys.executable, __file__, *forwarded, "--job", f"{name}:{seed}"],
                               stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=left,
                               check=False)
            except subprocess.TimeoutExpired:
                print(f"{name} s{seed}: stopped at the deadline", flush=True)
                return
        res = args.out / name / f"s{seed}" / RESULT_FILE
        if res.is_file():
            r = json.loads(res.read_text())
            print(f"{name:12s} s{seed:<3d} micro {r['micro']:.4f}  PK {r['PK']:.4f}  "
                  f"records {fmt(r['record_f1'])}  ({r['wall_s']:.0f} s)", flush=True)
        else:
            print(f"{name} s{seed}: failed, see {log}", flush=True)

    with ThreadPoolExecutor(args.workers) as ex:
        list(ex.map(launch, jobs))

    pool, folds = cv_folds(read_corpus(args.corpus), args.folds)
    summary: dict = {"jobs": [], "configs": {}, "ensembles": {}}
    print(f"\n{'config':12s} seeds  micro mean ± sd    PK mean ± sd      per seed (micro/PK)")
    def finished(name: str) -> list[int]:
        return [s for n, s in jobs if n == name
                and (args.out / name / f"s{s}" / RESULT_FILE).is_file()]

    for name in names:
        done = finished(name)
        rows = [json.loads((args.out / name / f"s{s}" / RESULT_FILE).read_text())
                for s in done]
        summary["jobs"] += rows
        if not rows:
            continue
        mic, pk = [r["micro"] for r in rows], [r["PK"] for r in rows]
        summary["configs"][name] = {"seeds": done, "micro_mean": statistics.mean(mic),
                                    "micro_sd": sd(mic), "pk_mean": statistics.mean(pk),
                                    "pk_sd": sd(pk)}
        print(f"{name:12s} {len(rows):>5d}  {statistics.mean(mic):.4f} ± {sd(mic):.4f}  "
              f"{statistics.mean(pk):.4f} ± {sd(pk):.4f}  "
              + " ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(mic, pk, strict=True)))
    for name in args.ensemble.split(","):
        done = finished(name)
        for members in {tuple(done[:3]), tuple(done)}:
            if len(members) < 2:
                continue
            r = score(args, name, list(members), pool, folds)
            summary["ensembles"][f"{name}:{','.join(map(str, members))}"] = r
            print(f"ensemble {name} seeds {','.join(map(str, members))}: micro "
                  f"{r['micro']:.4f}  PK {r['PK']:.4f}  records {fmt(r['record_f1'])}")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
