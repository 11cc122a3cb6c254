"""LoadSeeds: a distilabel generator step that starts a pipeline from a source config or a seeds directory."""

import pytest

from revdial.paths import REPO_DIR
from revdial.seeds.build import SEED_COLUMNS, build_seeds, save_seeds
from revdial.seeds.steps import LoadSeeds

SAMPLE = str(REPO_DIR / "pipelines" / "movies-sample.yaml")


def test_load_seeds_yields_every_seed_once_in_batches():
    step = LoadSeeds(config_path=SAMPLE, batch_size=500)
    step.load()
    batches = list(step.process())
    assert [last for _, last in batches] == [False] * (len(batches) - 1) + [True]
    rows = [row for batch, _ in batches for row in batch]
    assert len({r["seed_id"] for r in rows}) == len(rows) == len(step._seeds)
    assert set(rows[0]) == set(SEED_COLUMNS) == set(step.outputs)


def test_load_seeds_reads_a_seeds_dir_and_resumes_from_an_offset(tmp_path):
    save_seeds(build_seeds(SAMPLE), tmp_path / "seeds")
    step = LoadSeeds(seeds_dir=str(tmp_path / "seeds"), batch_size=7, limit=10)
    step.load()
    batches = list(step.process(offset=7))
    assert [len(b) for b, _ in batches] == [3] and batches[0][1] is True


def test_load_seeds_needs_a_source():
    with pytest.raises(ValueError, match="needs `config_path` or `seeds_dir`"):
        LoadSeeds().load()


def test_a_distilabel_pipeline_starts_from_a_source_config(tmp_path, monkeypatch):
    from distilabel.pipeline import Pipeline
    from distilabel.steps import KeepColumns

    monkeypatch.setenv("DISTILABEL_CACHE_DIR", str(tmp_path / "cache"))
    with Pipeline(name="seeds-start", cache_dir=tmp_path / "cache") as pipeline:
        load = LoadSeeds(limit=25, batch_size=10)
        keep = KeepColumns(columns=["seed_id", "title", "text"])
        load >> keep
    distiset = pipeline.run(parameters={load.name: {"config_path": SAMPLE}}, use_cache=False)
    rows = distiset["default"]["train"]
    assert rows.num_rows == 25 and rows.column_names == ["seed_id", "title", "text"]
    assert len(set(rows["seed_id"])) == 25
