"""distilabel entry point: a GeneratorStep that starts a pipeline from a source config or a seeds directory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps import GeneratorStep
from pydantic import Field, PrivateAttr

from revdial.seeds.build import SEED_COLUMNS

if TYPE_CHECKING:
    from distilabel.typing import GeneratorStepOutput


class LoadSeeds(GeneratorStep):
    """Yield seed rows in batches: built from `config_path` (a pipeline YAML), or read from `seeds_dir`.

    Output columns are the seed contract (seed_id, domain, item_id, title, ..., text); `limit` keeps the first N.
    """

    config_path: RuntimeParameter[str] | None = Field(
        default=None, description="Pipeline YAML whose `source` section is built into seeds."
    )
    seeds_dir: RuntimeParameter[str] | None = Field(
        default=None, description="A directory written by `revdial seeds` (used when config_path is not set)."
    )
    limit: RuntimeParameter[int] | None = Field(default=None, description="Yield only the first N seeds.")

    _seeds: Any = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        from revdial.seeds.build import build_seeds, load_seeds

        if self.config_path:
            self._seeds = build_seeds(self.config_path).seeds
        elif self.seeds_dir:
            self._seeds = load_seeds(self.seeds_dir)
        else:
            raise ValueError("LoadSeeds needs `config_path` or `seeds_dir`")
        if self.limit is not None:
            self._seeds = self._seeds.select(range(min(self.limit, len(self._seeds))))

    @property
    def outputs(self) -> list[str]:
        return list(SEED_COLUMNS)

    def process(self, offset: int = 0) -> GeneratorStepOutput:
        total = len(self._seeds)
        if offset >= total:
            yield [], True
            return
        while offset < total:
            stop = min(offset + self.batch_size, total)
            yield self._seeds.select(range(offset, stop)).to_list(), stop >= total
            offset = stop
