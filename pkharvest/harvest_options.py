"""The options ``search`` and ``refresh`` share: where the model is, how E-utilities is
reached (URL, contact, key, recording or replay), the bCLS threshold and the EFetch batch.

One object, :class:`HarvestOptions`, so that the two commands (and a script) describe a run the
same way; its defaults are the pipeline's constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pkharvest.errors import UsageError
from pkharvest.model.config import DEFAULT_PRECISION
from pkharvest.pipeline import DEFAULT_FETCH_BATCH
from pkharvest.screen import DEFAULT_THRESHOLD

if TYPE_CHECKING:  # the client and the model load their libraries only when built
    from pkharvest.fetch import EutilsClient
    from pkharvest.pipeline import Extractor


@dataclass(frozen=True)
class HarvestOptions:
    """``model``: the model folder (``None``: PKHARVEST_MODEL or the project's model);
    ``eutils_url``, ``email``, ``api_key``: E-utilities base URL and NCBI credentials (``None``:
    their environment variables or NCBI's defaults); ``record``: a folder that keeps every raw
    response; ``replay``: a recording to run from offline; ``threshold``: the bCLS probability
    a sentence needs to be tagged; ``fetch_batch``: articles per EFetch request and per store
    transaction; ``precision``: ``fp32`` or ``int8`` inference."""

    model: Path | None = None
    eutils_url: str | None = None
    email: str | None = None
    api_key: str | None = None
    record: Path | None = None
    replay: Path | None = None
    threshold: float = DEFAULT_THRESHOLD
    fetch_batch: int = DEFAULT_FETCH_BATCH
    precision: str = DEFAULT_PRECISION

    def client(self) -> EutilsClient:
        """The E-utilities client these options describe (record and replay exclude each
        other; a replay folder must exist)."""
        from pkharvest.fetch import EutilsClient

        if self.record is not None and self.replay is not None:
            raise UsageError("use either --record or --replay, not both", field="replay")
        if self.replay is not None and not Path(self.replay).is_dir():
            raise UsageError(f"no recording folder at {self.replay}", field="replay")
        return EutilsClient(base_url=self.eutils_url, email=self.email, api_key=self.api_key,
                            record_dir=self.record, replay_dir=self.replay)

    def extractor(self) -> Extractor:
        """The loaded model with the threshold (load it once per run)."""
        from pkharvest.model.tagger import check_precision
        from pkharvest.paths import default_model_dir
        from pkharvest.pipeline import Extractor, load_tagger

        check_precision(self.precision)
        return Extractor(load_tagger(self.model or default_model_dir(), self.precision),
                         threshold=self.threshold)
