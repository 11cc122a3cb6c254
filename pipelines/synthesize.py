"""Build and run revdial's synthesis Pipeline from a pipeline YAML — the script behind `revdial synthesize`.

    python pipelines/synthesize.py --config pipelines/movies-sample.yaml [--budget 8] [--strategy js] [--out DIR]
    python pipelines/synthesize.py --config pipelines/movies-sample.yaml --dry-run   # print the steps, run nothing

The Pipeline (src/revdial/generation/pipeline.py):

    load_seeds >> compute_features >> select_seeds >> keep_top_b          seeds and active selection
      >> scrub_pii >> plan_requests >> generate_request                   PII-free prompts, k styled requests/seed
      [>> recommender_turn_i >> seeker_turn_i] * (n_turns - 1)            multi-turn mode
      >> recommend_items >> ground_recommendations >> curate_rows         answers, catalogue ids, verdicts
      >> [default (SFT rows), rejects (one row per lost seed), candidates (audit)]

Every setting lives on the steps, so OUT/pipeline.yaml re-runs it: `distilabel pipeline run --config OUT/pipeline.yaml`.
"""

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=Path(__file__).with_name("movies-sample.yaml"))
    parser.add_argument("--budget", type=int)
    parser.add_argument("--strategy")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--ray", action="store_true", help="run with Pipeline.ray()")
    parser.add_argument("--dry-run", action="store_true", help="build the pipeline and print its steps")
    args = parser.parse_args()

    from revdial.generation.pipeline import build_pipeline
    from revdial.generation.run import make_plan, synthesize

    if args.dry_run:
        plan, _, _out = make_plan(args.config, budget=args.budget, strategy=args.strategy, out=args.out)
        pipeline = build_pipeline(plan)
        for name in pipeline.dag:
            print(name, "->", ", ".join(pipeline.dag.get_step_successors(name)) or "(output)")
        return
    synthesize(args.config, budget=args.budget, strategy=args.strategy, out=args.out, ray=args.ray)


if __name__ == "__main__":
    main()
