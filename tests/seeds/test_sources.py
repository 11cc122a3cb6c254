"""Source configs: presets, overrides, path resolution, and Hub ids through the same load_dataset boundary."""

import json

import datasets
import pytest
import yaml

from revdial.paths import DATA_DIR
from revdial.seeds.build import build_seeds
from revdial.seeds.errors import SeedSourceError
from revdial.seeds.sources import load_seeds_config, resolve_path


def test_preset_fills_the_mapping_and_the_yaml_overrides_any_part(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "domain": "movies",
                "source": {
                    "preset": "movielens",
                    "dir": "ml",
                    "seeds_from": ["reviews"],
                    "tables": {"items": {"columns": {"title": "name"}}},
                },
                "selection": {"budget": 3},  # other stages' sections are not ours to read
            }
        )
    )
    config = load_seeds_config(path)
    items = config.source.tables["items"]
    assert items.columns == {"item_id": "movieId", "title": "name"}  # one key overridden, the other kept
    assert items.path == "movies.csv*" and items.join[0].path == "links.csv*"
    assert config.source.seeds_from == ["reviews"]
    assert config.source.tables["interactions"].columns["rating"] == "rating"
    assert resolve_path(items.path, config) == str(tmp_path / "ml" / "movies.csv*")


def test_unknown_preset_and_unknown_keys_are_errors_naming_the_config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"domain": "d", "source": {"preset": "nope"}}))
    with pytest.raises(SeedSourceError, match="c.yaml.*unknown preset 'nope'"):
        load_seeds_config(path)
    path.write_text(yaml.safe_dump({"domain": "d", "source": {"tables": {"items": {"pth": "x.csv"}}}}))
    with pytest.raises(SeedSourceError, match="c.yaml.*invalid `source`.*pth"):
        load_seeds_config(path)


def test_pkg_paths_point_into_the_package_data(tmp_path):
    config = load_seeds_config({"domain": "d", "source": {}}, base_dir=tmp_path)
    assert resolve_path("pkg://movies_sample/items.jsonl.gz", config) == str(
        DATA_DIR / "movies_sample" / "items.jsonl.gz"
    )
    assert resolve_path("a.csv", config) == str(tmp_path / "a.csv")


def _amazon_tables():
    """Two rows in the Amazon Reviews 2023 layout (raw_review_* and raw_meta_*)."""
    reviews = datasets.Dataset.from_dict(
        {
            "rating": [5.0, 2.0],
            "title": ["Love it", "Meh"],
            "text": ["Smells great.", "Too sticky."],
            "parent_asin": ["B01", "B01"],
            "user_id": ["AX", "AY"],
            "timestamp": [1588687728923, 1588687729923],
            "asin": ["B01a", "B01b"],
            "helpful_vote": [0, 1],
        }
    )
    meta = datasets.Dataset.from_dict(
        {
            "parent_asin": ["B01"],
            "title": ["Hair gel"],
            "main_category": ["All Beauty"],
            "categories": [["Beauty", "Hair"]],
            "description": [["A gel."]],
            "features": [["Strong hold"]],
            "details": ['{"Brand": "Acme"}'],
            "average_rating": [4.1],
        }
    )
    return reviews, meta


def test_hub_ids_go_through_load_dataset_with_split_and_config(monkeypatch):
    """The Amazon Reviews 2023 preset on Hub ids; only datasets.load_dataset is replaced (no network)."""
    reviews, meta = _amazon_tables()
    calls = []

    def fake_load_dataset(path, **kwargs):
        calls.append((path, kwargs))
        return {"raw_review_All_Beauty": reviews, "raw_meta_All_Beauty": meta}[kwargs["name"]]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    build = build_seeds(
        {
            "domain": "beauty",
            "source": {
                "preset": "amazon-reviews-2023",
                "tables": {
                    "reviews": {
                        "hub": "McAuley-Lab/Amazon-Reviews-2023",
                        "name": "raw_review_All_Beauty",
                        "split": "full",
                    },
                    "items": {
                        "hub": "McAuley-Lab/Amazon-Reviews-2023",
                        "name": "raw_meta_All_Beauty",
                        "split": "full",
                    },
                },
            },
        }
    )
    assert [(p, k["name"], k["split"]) for p, k in calls] == [
        ("McAuley-Lab/Amazon-Reviews-2023", "raw_meta_All_Beauty", "full"),
        ("McAuley-Lab/Amazon-Reviews-2023", "raw_review_All_Beauty", "full"),
    ]
    seeds = build.seeds
    assert seeds["review_text"] == ["Love it. Smells great.", "Meh. Too sticky."]
    assert seeds["title"] == ["Hair gel", "Hair gel"] and seeds["year"] == [None, None]
    assert "features: Strong hold" in seeds[0]["metadata_text"]
    assert '"details": {"Brand": "Acme"}' in seeds[0]["metadata_json"]
    # no interactions table: the reviews' own ratings are the signal (AX liked B01, AY did not)
    assert build.summary["tables"]["interactions"]["rows_read"] == 2


def test_hub_load_failure_names_the_dataset(monkeypatch):
    def offline(path, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SeedSourceError, match=r"owner/beauty\[train\].*ConnectionError: offline"):
        build_seeds(
            {
                "domain": "d",
                "source": {
                    "tables": {"items": {"hub": "owner/beauty", "columns": {"item_id": "id", "title": "t"}}}
                },
            }
        )


def test_a_hub_id_that_is_a_local_folder_loads_offline_through_the_same_branch(tiny):
    folder = tiny.dir / "my-dataset"
    folder.mkdir()
    (folder / "items.csv").write_bytes((tiny.dir / "items.csv").read_bytes())
    config = tiny(tables={"items": {"path": None, "hub": str(folder), "split": "train"}})
    build = build_seeds(load_seeds_config(config, base_dir=tiny.dir))
    assert build.summary["tables"]["items"]["file"] == f"{folder}[train]"
    assert sorted(build.catalogue["title"]) == ["Collateral", "Heat", "Ronin"]


def test_amazon_preset_reads_local_parquet(tmp_path):
    reviews, meta = _amazon_tables()
    reviews.to_parquet(str(tmp_path / "All_Beauty.parquet"))
    meta.to_parquet(str(tmp_path / "meta_All_Beauty.parquet"))
    config = load_seeds_config(
        {
            "domain": "beauty",
            "source": {
                "preset": "amazon-reviews-2023",
                "tables": {"reviews": {"path": "All_Beauty.parquet"}, "items": {"path": "meta_*.parquet"}},
            },
        },
        base_dir=tmp_path,
    )
    build = build_seeds(config)
    assert build.seeds["rating"] == [5.0, 2.0] and build.seeds["user_id"] == ["AX", "AY"]
    assert json.loads(build.seeds[0]["metadata_json"])["categories"] == ["Beauty", "Hair"]
