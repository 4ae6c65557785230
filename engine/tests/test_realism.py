"""The realism report: the defaults sit near the industry figures of REALISM.md."""

from cube_engine.realism import TARGETS, render, report


def test_every_kpi_is_near_its_industry_figure_and_identities_hold() -> None:
    rows = report(seeds=2)
    assert {r["business"] for r in rows} == {b.value for b in TARGETS}
    far = [(r["business"], r["kpi"], round(r["nrmse"], 3)) for r in rows if not r["nrmse"] < 0.35]
    assert far == []
    assert all(r["identity_failures"] == 0 for r in rows)
    text = render(rows)
    assert "occupancy %" in text and "NRMSE" in text
