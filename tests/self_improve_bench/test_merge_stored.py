"""The results file outlives the work folder: its runs fill the gaps, and only where they pair with the new ones."""

from __future__ import annotations

from self_improve_tables import merge_made_by, merge_stored, same_scores


def scores(normal: float) -> dict:
    heads = {"theta_e": {"normal": {"mean": normal}}, "theta_e_tta": {"normal": {"mean": normal - 1}}}
    return {"val": heads, "test": heads, "seconds_per_step": normal}


def test_an_empty_work_folder_keeps_every_stored_run():
    stored = {"25": {"0": {"warmup": scores(14.0), "control": scores(13.0)}}}
    runs, kept, dropped = merge_stored({}, stored)
    assert runs == stored and sorted(kept) == ["L25/s0/control", "L25/s0/warmup"] and dropped == []


def test_stored_arms_join_a_seed_whose_warmup_scores_the_same():
    fresh = {"25": {"0": {"warmup": scores(14.0), "oracle": scores(12.0)}}}
    stored = {"25": {"0": {"warmup": scores(14.0 + 1e-9), "control": scores(13.0), "oracle": scores(12.5)}}}
    runs, kept, dropped = merge_stored(fresh, stored)
    assert runs["25"]["0"]["oracle"] == scores(12.0)  # the work folder's run wins over the stored one
    assert runs["25"]["0"]["control"] == scores(13.0) and kept == ["L25/s0/control"] and dropped == []


def test_stored_arms_of_another_warmup_are_left_out():
    fresh = {"25": {"0": {"warmup": scores(14.0), "oracle": scores(12.0)}}}
    stored = {"25": {"0": {"warmup": scores(14.1), "control": scores(13.0)}, "1": {"warmup": scores(15.0)}}}
    runs, kept, dropped = merge_stored(fresh, stored)
    assert "control" not in runs["25"]["0"] and dropped == ["L25/s0/control"]
    assert runs["25"]["1"] == {"warmup": scores(15.0)} and kept == ["L25/s1/warmup"]


def test_arms_without_a_scored_warmup_do_not_pair_with_stored_ones():
    fresh = {"100": {"2": {"control": scores(11.0)}}}
    stored = {"100": {"2": {"warmup": scores(12.0), "oracle": scores(10.0)}}}
    runs, _, dropped = merge_stored(fresh, stored)
    assert runs["100"]["2"] == {"control": scores(11.0)} and sorted(dropped) == ["L100/s2/oracle", "L100/s2/warmup"]


def test_scores_differ_when_any_metric_does():
    a, b = scores(14.0), scores(14.0)
    b["test"] = {"theta_e": {"normal": {"mean": 14.0}}, "theta_e_tta": {"normal": {"mean": 13.01}}}
    assert same_scores(a, a) and not same_scores(a, b)


def test_kept_seeds_keep_the_records_of_their_unscored_stages_and_left_out_seeds_lose_theirs():
    by = {"git_commit": "old"}
    earlier = {"L100/s0/heads": by, "L100/s0/warmup_k2": by, "L100/s1/heads": by, "L100/s1/warmup_k2": by,
               "L100/s0/warmup": by}
    fresh = {"L100/s0/warmup": {"git_commit": "new"}, "L100/s0/long": {"git_commit": "new"}}
    out = merge_made_by(fresh, earlier, kept=["L100/s0/heads"])
    assert out == {"L100/s0/heads": by, "L100/s0/warmup_k2": by, "L100/s0/warmup": {"git_commit": "new"},
                   "L100/s0/long": {"git_commit": "new"}}
