"""pairs.png: seconds against N, log scales, both methods, extrapolated points hollow, ratios written on."""

from __future__ import annotations

from pathlib import Path

from embedtune_trainer.bench.pairs import PairsRecord


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed."""


def plot_pairs(records: list[PairsRecord], path: Path, title: str) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailableError(
            "matplotlib is not installed, so pairs.png was not drawn (pip install matplotlib; "
            "it is in embedtune's test extra)"
        ) from exc
    ns = [r.n for r in records]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.plot(ns, [r.bi_s for r in records], "o-", color="tab:blue", label="bi-encoder: encode + compare")
    axes.plot(ns, [r.cross_s for r in records], "-", color="tab:red", alpha=0.5)
    measured = [r for r in records if not r.cross_extrapolated]
    extrapolated = [r for r in records if r.cross_extrapolated]
    axes.plot(
        [r.n for r in measured],
        [r.cross_s for r in measured],
        "s",
        color="tab:red",
        label="cross-encoder: measured",
    )
    axes.plot(
        [r.n for r in extrapolated],
        [r.cross_s for r in extrapolated],
        "s",
        markerfacecolor="none",
        color="tab:red",
        label="cross-encoder: extrapolated",
    )
    for record in records:
        axes.annotate(
            f"×{record.ratio:,.0f}",
            (record.n, record.cross_s),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=9,
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("sentences N (all N(N−1)/2 pairs for the cross-encoder)")
    axes.set_ylabel("seconds to find the most similar pair")
    axes.set_title(title, fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
