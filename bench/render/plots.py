"""Figures for the HTML report, drawn with matplotlib (Agg backend) and returned as SVG text.

Every function takes plain numbers and labels (no store, no report objects) and returns a
standalone SVG document; the HTML report embeds it as a ``data:`` URI, so each figure is an
isolated document and no network access is needed to view it.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: (x values, y values) of one line, keyed by its legend label
Series = dict[str, tuple[list[float], list[float]]]

STYLE: Any = {  # typed Any: matplotlib types rc keys as a Literal
    "svg.fonttype": "path",  # text as paths: renders the same without the fonts installed
    "svg.hashsalt": "artbench",  # deterministic ids, so reports of the same run are identical
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.8,
    "axes.edgecolor": "#9ca3af",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "legend.fontsize": 8,
}

TARGET_COLOUR = "#dc2626"
BAR_COLOUR = "#64748b"


def heat_colour(value: float) -> tuple[str, str]:
    """Background and text colour for a value in [0, 1] (0 green, 1 red)."""
    rgba = plt.get_cmap("RdYlGn_r")(0.08 + 0.84 * min(max(value, 0.0), 1.0))
    luminance = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
    return to_hex(rgba), "#111827" if luminance > 0.55 else "#ffffff"


def data_uri(svg: str) -> str:
    """An SVG document as a ``data:`` URI for an ``<img>`` (no network, no id clashes)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def _percent_axis(ax: plt.Axes, label: str) -> None:
    ax.set_ylim(-0.03, 1.03)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_ylabel(label)


def _x_scale(ax: plt.Axes, xs: Sequence[float]) -> None:
    positive = [x for x in xs if x > 0]
    if len(positive) == len(xs) and positive and max(positive) / min(positive) >= 20:
        ax.set_xscale("log")
    ax.set_xticks(sorted(set(xs)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    crowded = len(set(xs)) > 5 and max(len(f"{x:g}") for x in xs) > 3
    ax.tick_params(axis="x", labelrotation=90 if crowded else 0)


def line_panels(panels: Sequence[tuple[str, Series]], xlabel: str,
                references: Sequence[dict[str, float]] | None = None) -> str:
    """Side-by-side panels of percentage lines sharing an x axis (e.g. eps or temperature).

    ``panels`` is a list of (y-axis label, series); ``references`` optionally gives, per panel,
    horizontal dashed lines (label -> y), e.g. the undefended model's value.
    """
    refs = list(references) if references else [{} for _ in panels]
    # one colour per label across all panels, so a legend entry means the same line everywhere
    names = list(dict.fromkeys([k for _, series in panels for k in series]
                               + [k for r in refs for k in r]))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    colour = {name: cmap(i % cmap.N) for i, name in enumerate(names)}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.3),
                                 squeeze=False)
        xs_all: list[float] = []
        for ax, (ylabel, series), ref in zip(axes[0], panels, refs, strict=True):
            for label, (xs, ys) in series.items():
                ax.plot(xs, ys, marker="o", markersize=4, linewidth=1.6, label=label,
                        color=colour[label])
                xs_all += xs
            for label, y in ref.items():
                ax.axhline(y, linestyle="--", linewidth=1, color=colour[label], label=label)
            _percent_axis(ax, ylabel)
            ax.set_xlabel(xlabel)
        for ax in axes[0]:
            _x_scale(ax, xs_all)
        handles, labels = [], []
        for ax in axes[0]:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                if label not in labels:
                    handles.append(handle)
                    labels.append(label)
        if labels:
            fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3),
                       bbox_to_anchor=(0.5, 1.0))
        fig.tight_layout()
        return _svg(fig)


def step_curves(series: Series, xlabel: str, ylabel: str) -> str:
    """Right-continuous, non-increasing step functions (robustness curves): one line per label,
    ``(xs, ys)`` the value from each x on; automatic x ticks (the steps can be many)."""
    names = list(series)
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 3.6))
        right = max((max(xs) for xs, _ in series.values() if xs), default=1.0) * 1.05 or 1.0
        for i, (label, (xs, ys)) in enumerate(series.items()):
            ax.step([*xs, right], [*ys, ys[-1]], where="post", linewidth=1.6, label=label,
                    color=cmap(i % cmap.N))
        _percent_axis(ax, ylabel)
        ax.set_xlim(0, right)
        ax.set_xlabel(xlabel)
        fig.legend(loc="lower center", ncol=min(len(names), 3), bbox_to_anchor=(0.5, 1.0))
        fig.tight_layout()
        return _svg(fig)


def class_histogram(counts: Sequence[int], targets: Sequence[int],
                    labels: Sequence[str] | None = None) -> str:
    """Bar chart of how many samples were predicted as each class; target classes in red."""
    n = len(counts)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(3.6, min(0.16 * n + 1.5, 9.0)), 2.6))
        colours = [TARGET_COLOUR if k in targets else BAR_COLOUR for k in range(n)]
        for k in targets:
            if 0 <= k < n:
                ax.axvspan(k - 0.5, k + 0.5, color=TARGET_COLOUR, alpha=0.08, linewidth=0)
        ax.bar(range(n), counts, color=colours, width=0.8)
        ax.set_xlim(-0.7, n - 0.3)
        step = max(1, math.ceil(n / 24))
        ax.set_xticks(range(0, n, step))
        if labels is not None:
            ax.set_xticklabels([labels[k] for k in range(0, n, step)])
        for tick in ax.get_xticklabels():
            if int(round(tick.get_position()[0])) in targets:
                tick.set_color(TARGET_COLOUR)
                tick.set_fontweight("bold")
        ax.set_xlabel("predicted class on adversarial input (target in red)")
        ax.set_ylabel("samples")
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(axis="x", visible=False)
        fig.tight_layout()
        return _svg(fig)


#: one line of an example grid: its label, then per image (pixels, caption, highlighted)
GridLine = tuple[str, list[tuple[Any, str, bool]]]


def example_grid(lines: Sequence[GridLine]) -> str:
    """Images in lines (e.g. the clean inputs, then each attack's adversarial copies), each
    with a caption under it; highlighted captions (a successful attack) are red.

    Pixels are in [0, 1], shaped (H, W), (H, W, 1) or (H, W, 3).
    """
    cols = max(len(images) for _, images in lines)
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(len(lines), cols, figsize=(0.95 * cols + 1.6, 1.1 * len(lines)),
                                 squeeze=False)
        for r, (label, images) in enumerate(lines):
            for c, ax in enumerate(axes[r]):
                ax.set_xticks([])
                ax.set_yticks([])
                if c >= len(images):
                    ax.axis("off")
                    continue
                pixels, caption, highlighted = images[c]
                img = pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels
                ax.imshow(img.clip(0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                ax.set_xlabel(caption, fontsize=7, labelpad=2,
                              color=TARGET_COLOUR if highlighted else "#111827")
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_color(TARGET_COLOUR if highlighted else "#d1d5db")
            axes[r][0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center",
                                  labelpad=4)
        fig.tight_layout(pad=0.3, h_pad=0.4, w_pad=0.2)
        return _svg(fig)
