"""``PKTagger``: a trained multi-task model with its tokenizer — predict, save, load.

Model folder layout (fixed names, module constants): ``config.json`` (:class:`ModelConfig`),
``labels.json``, the tokenizer files, ``model.safetensors`` (weights; never pickles),
``metrics.json`` and a ``README.md`` model card.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import logging
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save, save_file
from torch import Tensor, nn

from pkharvest.corpus.labels import (
    MENTION_BUCKET_NAMES,
    MTCLS_LABELS,
    EncodedSentence,
    EncodedWindow,
    bio_tags,
    encode_sentence,
    mention_bucket,
)
from pkharvest.errors import ModelError, UsageError, first_line
from pkharvest.model.config import (  # noqa: F401  (the precisions are re-exported)
    DEFAULT_PRECISION,
    PRECISIONS,
    ModelConfig,
    resolve_encoder,
)
from pkharvest.model.decoding import spans_from_tags, viterbi
from pkharvest.model.network import MultiTaskTagger, build_network, collate, load_tokenizer
from pkharvest.model.postprocess import (
    POSTPROCESS_STEPS,
    UNLINKED_STEPS,
    balance_brackets,
    postprocess,
)
from pkharvest.records import Entity

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
LABELS_FILE = "labels.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
CARD_FILE = "README.md"
TOKENIZER_FILES: tuple[str, ...] = ("tokenizer_config.json", "tokenizer.json")
REQUIRED_FILES: tuple[str, ...] = (CONFIG_FILE, LABELS_FILE, WEIGHTS_FILE, *TOKENIZER_FILES)


@dataclass
class SentencePrediction:
    """Model output for one sentence; entity offsets index into ``text``."""

    text: str
    entities: list[Entity]
    pk_probability: float
    mention_bucket: int


@dataclass
class DetailedPrediction(SentencePrediction):
    """A prediction with word-level detail (used by evaluation)."""

    word_offsets: list[tuple[int, int]] = field(default_factory=list)
    word_tags: list[str] = field(default_factory=list)
    word_mtcls: list[int] = field(default_factory=list)
    decoded: list[Entity] = field(default_factory=list)  # before post-processing


def check_model_folder(directory: str | Path) -> Path:
    """``directory`` as a place to write a model folder: new, empty, or an earlier model folder
    (its files are replaced). Anything else -- a file, or a folder holding other files, such as
    a project folder with its own README.md and config.json -- raises ModelError naming
    ``--out``, before any training time is spent."""
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise ModelError(f"{d} is a file, not a folder", field="out")
    if d.is_dir() and any(d.iterdir()):
        try:
            ModelConfig.load(d / CONFIG_FILE)
            is_model = (d / LABELS_FILE).is_file()
        except ModelError:
            is_model = False
        if not is_model:
            raise ModelError(f"{d} is not empty and does not hold a pkharvest model (no valid "
                             f"{CONFIG_FILE} and {LABELS_FILE}); its files would be "
                             "overwritten: choose a new or empty folder", field="out")
    return d


@dataclass
class WordScores:
    """What the network says of one sentence, word by word, before decoding
    (:meth:`PKTagger.word_scores`)."""

    text: str
    word_offsets: list[tuple[int, int]]
    ner: Tensor  # (words, tags) log-probabilities
    mtcls: Tensor  # (words, mtCLS labels) probabilities
    bcls: list[float]  # per window
    mcls: list[int]  # per window


def check_device(name: str) -> None:
    """Raise UsageError naming ``--device`` unless ``name`` is ``auto`` or a torch device
    string (``cpu``, ``cuda``, ``cuda:1`` ...)."""
    if name == "auto":
        return
    try:
        torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"unknown device {name!r}: use auto, cpu or cuda[:N] ({exc})",
                         field="device") from None


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name`` (``auto``: the first GPU if torch sees one, else the
    CPU); a GPU that is not there is a UsageError naming ``--device``."""
    check_device(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {name!r} asked for, but torch sees no GPU (torch "
                         f"{torch.__version__}); use --device cpu", field="device")
    return device


def to_device(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    """A collated batch moved to ``device`` (a no-op on the CPU)."""
    if device.type == "cpu":
        return batch
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def check_precision(name: str) -> str:
    """``name`` if it is a known precision, else UsageError naming ``--precision``."""
    if name not in PRECISIONS:
        raise UsageError(f"unknown precision {name!r}: use {' or '.join(PRECISIONS)}",
                         field="precision")
    return name


def set_threads(threads: int | None) -> int:
    """Use ``threads`` intra-op threads for torch (``None``: leave torch's choice, one per
    core). A process that runs one tagger per core (``bulk --workers N``) gives each 1 thread:
    on a loaded machine, threads that outnumber the free cores spin in OpenMP barriers and
    run several times slower than one thread. Returns the number in force."""
    if threads is not None:
        if threads < 1:
            raise UsageError(f"must be at least 1, got {threads}", field="threads")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def length_buckets(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of equal length (at most ``batch_size`` each), shortest
    first: a batch needs no padding, so that what the network computes for one window does not
    depend on which other windows share its batch."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    out: list[list[int]] = []
    for _, group in itertools.groupby(order, key=lambda i: lengths[i]):
        idx = list(group)
        out.extend(idx[b : b + batch_size] for b in range(0, len(idx), batch_size))
    return out


def _per_sequence(forward: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    def run(x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[0] <= 1:
            return forward(x)
        return torch.cat([forward(x[i : i + 1]) for i in range(x.shape[0])])
    return run


@contextlib.contextmanager
def _linear_per_sequence(network: nn.Module) -> Iterator[None]:
    """Within the block, every Linear layer (float or dynamically quantised) of ``network``
    runs sequence by sequence. A dynamically quantised layer scales its int8 activations by
    the range of its whole input tensor, and a float matrix product may block its sums by the
    row count; one sequence at a time, a window's result is the same in any batch. The cost
    is small next to the matrix products (about 40 Python calls a window)."""
    linears = [m for m in network.modules()
               if isinstance(m, nn.Linear) or type(m).__name__ == "Linear"]
    patched = []
    try:
        for m in linears:
            m.forward = _per_sequence(m.forward)  # an instance attribute; state_dict unchanged
            patched.append(m)
        yield
    finally:
        for m in patched:
            del m.forward


def _quantise_encoders(network: nn.Module) -> nn.Module:
    """A copy of ``network`` whose encoders' Linear layers are dynamically quantised to int8
    (torch.ao.quantization.quantize_dynamic: int8 weights, activations quantised on the fly);
    the task heads stay in float."""
    qnet = copy.deepcopy(network).cpu().eval()
    taggers = [m for m in qnet.modules() if isinstance(m, MultiTaskTagger)]
    with warnings.catch_warnings():  # torch marks the eager-mode API as deprecated (2.10+)
        warnings.simplefilter("ignore")
        for tagger in taggers:
            tagger.encoder = torch.ao.quantization.quantize_dynamic(
                tagger.encoder, {nn.Linear}, dtype=torch.qint8)
    return qnet


def _example_text_spans(example: Any) -> tuple[str, list[Any]]:
    if isinstance(example, str):
        return example, []
    return example.text, list(example.spans)


class PKTagger:
    """A trained PK NER model. Build with :meth:`load` (a model folder) or :meth:`create`
    (fresh heads on a pretrained encoder, for training)."""

    def __init__(self, config: ModelConfig, network: nn.Module, tokenizer: Any,
                 metrics: dict[str, Any] | None = None, precision: str = "fp32",
                 version: str | None = None) -> None:
        self.config = config
        self.network = network
        self.tokenizer = tokenizer
        self.metrics: dict[str, Any] = metrics or {}
        self.precision = check_precision(precision)
        self._version = version  # the fp32 weights' id, kept by a quantised copy

    def with_precision(self, precision: str) -> PKTagger:
        """This tagger at ``precision``: ``self`` for ``fp32`` (or when already there); for
        ``int8`` a copy on the CPU whose encoders' Linear layers are dynamically quantised
        (the heads stay float). The copy keeps :attr:`version` (the fp32 weights' id); its
        :attr:`run_version` names the precision. A quantised tagger predicts but is not saved
        or trained."""
        check_precision(precision)
        if precision == self.precision:
            return self
        if self.precision != "fp32":
            raise ModelError(f"cannot turn an {self.precision} tagger into {precision}; load "
                             "the model folder again", field="precision")
        return PKTagger(self.config, _quantise_encoders(self.network), self.tokenizer,
                        self.metrics, precision=precision, version=self.version)

    @property
    def run_version(self) -> str:
        """What a store records as the model version of the rows this tagger produced:
        :attr:`version`, with ``-int8`` appended for the quantised tagger (its scores differ
        from fp32's in the last digits, so a store keeps the two apart)."""
        return self.version if self.precision == "fp32" else f"{self.version}-{self.precision}"

    # ------------------------------------------------------------------------ building
    @classmethod
    def create(cls, config: ModelConfig) -> PKTagger:
        """Fresh task heads on the pretrained encoder ``config.encoder`` (one network: the
        members of an ensemble are trained one by one, see ``training.trainer``)."""
        if config.members != 1:
            raise ValueError("create() builds one network; train ensemble members one by one")
        source = resolve_encoder(config.encoder)
        if source.startswith(("/", ".", "~")) and not Path(source).expanduser().is_dir():
            raise ModelError(f"encoder folder {source} does not exist (give a model folder or "
                             "a Hugging Face model name)", field="encoder")
        try:
            tokenizer = load_tokenizer(source)
        except (OSError, ValueError) as exc:  # huggingface_hub's validation errors: ValueError
            raise ModelError(f"cannot load encoder {config.encoder!r}: {first_line(exc)}",
                             field="encoder") from exc
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(f"encoder {config.encoder!r} has no fast tokenizer",
                             field="encoder")
        # windows are framed as [CLS] pieces [SEP] and padded with the pad token
        missing = [name for name in ("cls_token", "sep_token", "pad_token")
                   if getattr(tokenizer, f"{name}_id", None) is None]
        if missing:
            raise ModelError(f"encoder {config.encoder!r} is not a BERT-style encoder: its "
                             f"tokenizer has no {', '.join(missing)}", field="encoder")
        try:
            network = MultiTaskTagger(config, pretrained=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load encoder {config.encoder!r}: {first_line(exc)}",
                             field="encoder") from exc
        return cls(config, network, tokenizer)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def to(self, device: str | torch.device) -> PKTagger:
        """Move the network to ``device`` (``auto``, ``cpu``, ``cuda[:N]`` or a torch
        device); predictions come back on the CPU wherever it runs. Returns ``self``."""
        target = device if isinstance(device, torch.device) else resolve_device(device)
        self.network.to(target)
        return self

    @property
    def tags(self) -> list[str]:
        return bio_tags(self.config.labels)  # the network's NER head order

    # ------------------------------------------------------------------------ encoding
    def encode(self, examples: Sequence[Any], with_targets: bool = True) -> list[EncodedSentence]:
        """Encode texts or corpus ``Example`` records (targets from their spans)."""
        out = []
        for i, ex in enumerate(examples):
            text, spans = _example_text_spans(ex)
            out.append(encode_sentence(
                text, self.tokenizer, self.config.labels, self.config.max_length,
                spans=spans if with_targets and not isinstance(ex, str) else None, sentence=i,
                num_features=self.config.num_features,
            ))
        return out

    def collate(self, windows: list[EncodedWindow]) -> dict[str, Tensor]:
        return collate(windows, self.tokenizer.pad_token_id, self.config.num_features)

    def batches(self, examples: Sequence[Any], batch_size: int = 32,
                generator: torch.Generator | None = None) -> Iterator[dict[str, Tensor]]:
        """Labelled batches (dicts of tensors, see :func:`~pkharvest.model.network.collate`)
        from corpus examples; shuffled with ``generator`` when given, else in order."""
        windows = [w for s in self.encode(examples) for w in s.windows]
        order = (torch.randperm(len(windows), generator=generator).tolist()
                 if generator is not None else list(range(len(windows))))
        for i in range(0, len(order), batch_size):
            yield self.collate([windows[j] for j in order[i : i + batch_size]])

    # ---------------------------------------------------------------------- prediction
    def predict(self, texts: Iterable[str], batch_size: int = 32,
                drop_unlinked: bool | None = None) -> list[SentencePrediction]:
        """Tag sentences: entities (char offsets into each text, confidence), probability that
        the sentence carries a mention of the view, and the mention-count bucket.

        ``drop_unlinked`` overrides ``config.drop_unlinked_units`` (units and comparators that
        no parameter's value owns are dropped, as the annotation scheme wants) and
        ``config.drop_unlinked_parameters`` (parameters given no value are dropped). The search
        pipeline turns it off: it links the entities itself and must see every entity."""
        return [
            SentencePrediction(p.text, p.entities, p.pk_probability, p.mention_bucket)
            for p in self.predict_detailed(list(texts), batch_size, drop_unlinked)
        ]

    def predict_detailed(self, texts: Sequence[str], batch_size: int = 32,
                         drop_unlinked: bool | None = None
                         ) -> list[DetailedPrediction]:
        return self.decode(self.word_scores(texts, batch_size), drop_unlinked)

    def word_scores(self, texts: Sequence[str], batch_size: int = 32) -> list[WordScores]:
        """The network's word-level outputs for each text, before decoding: NER log-probabilities
        and mtCLS probabilities averaged over the word's pieces and windows, and each window's
        bCLS probability and mCLS bucket. Scores of models sharing tags and tokenizer can be
        averaged (a seed ensemble) and given to :meth:`decode`."""
        if batch_size < 1:
            raise ModelError(f"batch size must be positive, got {batch_size}",
                             field="batch_size")
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        encoded = self.encode(texts, with_targets=False)
        n_tags, n_mt = len(self.tags), len(MTCLS_LABELS)
        ner_sum = [torch.zeros(len(s.word_offsets), n_tags) for s in encoded]
        mt_sum = [torch.zeros(len(s.word_offsets), n_mt) for s in encoded]
        counts = [torch.zeros(len(s.word_offsets)) for s in encoded]
        bprob: list[list[float]] = [[] for _ in encoded]
        buckets: list[list[int]] = [[] for _ in encoded]
        windows = [w for s in encoded for w in s.windows]
        # Batches of windows of one length (no padding), each Linear layer run window by
        # window: a window's scores do not depend on the batch it shares (see length_buckets).
        groups = length_buckets([len(w.input_ids) for w in windows], batch_size)
        was_training = self.network.training
        device = self.device
        self.network.eval()
        try:
            with torch.inference_mode(), _linear_per_sequence(self.network):
                for group in groups:
                    chunk = [windows[i] for i in group]
                    batch = self.collate(chunk)
                    logits = self.network(to_device(batch, device))
                    if device.type != "cpu":
                        logits = {k: v.float().cpu() for k, v in logits.items()}
                    ner = torch.log_softmax(logits["ner"], dim=-1)
                    mt = torch.softmax(logits["mtcls"], -1) if "mtcls" in logits else None
                    for k, win in enumerate(chunk):
                        s = win.sentence
                        pw = batch["piece_word"][k]
                        pos = (pw >= 0).nonzero().squeeze(-1)
                        wid = pw[pos]
                        ner_sum[s].index_add_(0, wid, ner[k, pos])
                        if mt is not None:
                            mt_sum[s].index_add_(0, wid, mt[k, pos])
                        counts[s].index_add_(0, wid, torch.ones(len(wid)))
                        if "bcls" in logits:
                            bprob[s].append(float(torch.sigmoid(logits["bcls"][k])))
                        if "mcls" in logits:
                            buckets[s].append(int(logits["mcls"][k].argmax()))
        finally:
            self.network.train(was_training)
        out = []
        for s, sent in enumerate(encoded):
            c = counts[s].clamp(min=1.0).unsqueeze(-1)  # windows are averaged word by word
            out.append(WordScores(sent.text, sent.word_offsets, ner_sum[s] / c, mt_sum[s] / c,
                                  bprob[s], buckets[s]))
        return out

    def decode(self, scores: Sequence[WordScores], drop_unlinked: bool | None = None
               ) -> list[DetailedPrediction]:
        """Entities from word scores (:meth:`word_scores`): constrained Viterbi (or argmax),
        spans to character offsets, then the post-processing steps of the config."""
        # an unlinked step runs when its ModelConfig flag (same name) says so, unless overridden
        steps = [st for st in POSTPROCESS_STEPS if st not in UNLINKED_STEPS or (
            getattr(self.config, st) if drop_unlinked is None else drop_unlinked)]
        all_tags, out = self.tags, []
        for sent in scores:
            ner = sent.ner
            if self.config.constrained_decoding:
                path = viterbi(ner, all_tags)
            else:
                path = ner.argmax(-1).tolist() if len(ner) else []
            tags = [all_tags[i] for i in path]
            decoded = []
            for first, last, label in spans_from_tags(tags):
                start, end = sent.word_offsets[first][0], sent.word_offsets[last][1]
                start, end = balance_brackets(sent.text, start, end)
                logp = float(sum(ner[w, path[w]] for w in range(first, last + 1)))
                conf = math.exp(logp / (last - first + 1))
                decoded.append(Entity(label, start, end, sent.text[start:end], round(conf, 6)))
            entities = postprocess(sent.text, decoded, self.config.labels, steps)
            pk = (max(sent.bcls) if sent.bcls
                  else max((e.score for e in entities), default=0.0))
            bucket = max(sent.mcls) if sent.mcls else mention_bucket(len(entities))
            mt_words = sent.mtcls.argmax(-1).tolist() if len(ner) else []
            out.append(DetailedPrediction(sent.text, entities, pk, bucket, sent.word_offsets,
                                          tags, mt_words, decoded))
        return out

    # ------------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.network.state_dict().items()}

    @property
    def version(self) -> str:
        """A stable id of the weights: the first 16 hex digits of the SHA-256 of their
        safetensors serialisation (equal to the hash of ``model.safetensors`` once saved).
        A quantised copy keeps the id of the fp32 weights it was made from."""
        if self._version is not None:
            return self._version
        return hashlib.sha256(save(self.state_dict())).hexdigest()[:16]

    def save(self, directory: str | Path) -> Path:
        """Write the model folder (creating it); returns its path. A folder that holds
        anything but a model folder is refused (:func:`check_model_folder`)."""
        if self.precision != "fp32":
            raise ModelError(f"an {self.precision} tagger is not saved; save the fp32 model",
                             field="out")
        d = check_model_folder(directory)
        try:
            d.mkdir(parents=True, exist_ok=True)
            self.config.save(d / CONFIG_FILE)
            labels = {"labels": list(self.labels), "tags": self.tags,
                      "mtcls": list(MTCLS_LABELS), "mention_buckets": list(MENTION_BUCKET_NAMES)}
            (d / LABELS_FILE).write_text(json.dumps(labels, indent=2) + "\n", encoding="utf-8")
            self.tokenizer.save_pretrained(str(d))
            save_file(self.state_dict(), str(d / WEIGHTS_FILE))
            (d / METRICS_FILE).write_text(json.dumps(self.metrics, indent=2, sort_keys=True)
                                          + "\n", encoding="utf-8")
            (d / CARD_FILE).write_text(self.model_card(), encoding="utf-8")
        except OSError as exc:
            raise ModelError(f"cannot write model folder {d}: {exc}", field="out") from exc
        logger.info("saved model %s to %s", self.version, d)
        return d

    @classmethod
    def load(cls, directory: str | Path, precision: str = "fp32") -> PKTagger:
        """Rebuild a tagger from its folder (offline), at ``precision`` (see
        :meth:`with_precision`). Missing files → ModelError naming one."""
        check_precision(precision)
        d = Path(directory)
        if d.is_file():
            raise ModelError(f"{d} is a file; a model folder is expected", field="model")
        if not d.is_dir():
            raise ModelError(f"model folder {d} does not exist", field="model")
        for name in REQUIRED_FILES:
            if not (d / name).is_file():
                raise ModelError(f"model folder {d} is missing {name}", field="model")
        config = ModelConfig.load(d / CONFIG_FILE)
        try:
            labels = json.loads((d / LABELS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or not UTF-8
            raise ModelError(f"{d / LABELS_FILE}: unreadable ({exc})", field="model") from exc
        if not isinstance(labels, dict) or not isinstance(labels.get("labels"), list):
            raise ModelError(f"{d / LABELS_FILE}: not a label map (a JSON object with a "
                             f"\"labels\" list is expected)", field="model")
        if tuple(labels["labels"]) != config.labels:
            raise ModelError(f"{d / LABELS_FILE}: labels {labels.get('labels')} do not match "
                             f"{CONFIG_FILE} {list(config.labels)}")
        try:
            network = build_network(config)
            state = load_file(str(d / WEIGHTS_FILE))
            network.load_state_dict(state, strict=True)
            tokenizer = load_tokenizer(str(d))
        except (OSError, RuntimeError, KeyError, ValueError, SafetensorError) as exc:
            raise ModelError(f"model folder {d} is incompatible or corrupt: {exc}",
                             field="model") from exc
        metrics: dict[str, Any] = {}
        if (d / METRICS_FILE).is_file():
            try:
                metrics = json.loads((d / METRICS_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):  # ValueError: bad JSON or not UTF-8
                logger.warning("%s: unreadable metrics ignored", d / METRICS_FILE)
            if not isinstance(metrics, dict):
                logger.warning("%s: not a JSON object, ignored", d / METRICS_FILE)
                metrics = {}
        network.eval()
        return cls(config, network, tokenizer, metrics).with_precision(precision)

    def model_card(self) -> str:
        c = self.config
        lines = [
            "# pkharvest PK NER model", "",
            f"- version: `{self.version}`",
            f"- encoder: `{c.encoder}`; view: `{c.view}`; labels: {', '.join(c.labels)}",
            f"- heads: {', '.join(c.heads)}; max length {c.max_length} word pieces "
            "(longer sentences are windowed)",
            f"- word-shape features: {'on' if c.use_features else 'off'}; "
            f"constrained BIO decoding: {'on' if c.constrained_decoding else 'off'}",
            f"- units and comparators kept only when linked to a parameter's value: "
            f"{'on' if c.drop_unlinked_units else 'off'}",
            f"- parameters kept only when given a value: "
            f"{'on' if c.drop_unlinked_parameters else 'off'}",
        ]
        if c.members > 1:
            seeds = [m.get("seed") for m in self.metrics.get("members", [])]
            lines.append(f"- seed ensemble of {c.members} networks"
                         + (f" (seeds {', '.join(map(str, seeds))})" if seeds else "")
                         + ": word log-probabilities averaged")
        if "n_train" in self.metrics:
            n_train, n_dev = self.metrics["n_train"], self.metrics.get("n_dev", 0)
            lines.append(f"- trained on {n_train} sentences; " + (
                f"best of {self.metrics.get('epochs_run')} epochs on {n_dev} dev sentences"
                if n_dev else f"all {self.metrics.get('epochs_run')} epochs, no early stopping"))
            if self.metrics.get("averaged_epochs"):
                lines.append(f"- weights: mean of the weights after each of the last "
                             f"{self.metrics['averaged_epochs']} epoch(s)")
        lines += [
            "", "Load with `pkharvest.model.tagger.PKTagger.load(folder)`; see docs/model.md.",
            "",
        ]
        test = self.metrics.get("test", {})
        try:
            f1 = test["ner"]["strict"]["micro"]["f1"]
            lines += ["## Held-out test scores", "",
                      f"- strict micro F1: {f1:.3f}"]
            for lab, sc in test["ner"]["strict"]["per_label"].items():
                lines.append(f"- {lab}: F1 {sc['f1']:.3f} (support {sc['support']})")
            lines.append("")
        except (KeyError, TypeError):
            pass
        if "train_config" in self.metrics:
            lines += ["## Training configuration", "", "```json",
                      json.dumps(self.metrics["train_config"], indent=2, sort_keys=True),
                      "```", ""]
        return "\n".join(lines)
