"""workbench.show.html: the inline SVG charts of the reports, on ranges a real run gives them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench.show import html

# a constant prediction (today's rule as the training mean) averaged per bin in another order: the
# residual chart's x range is 29.95 .. 29.950000000000003, one float step wide
CONSTANT = [29.95] * 5 + [29.950000000000003]


@pytest.mark.parametrize("xs", [CONSTANT, [29.95] * 6, [1e12, 1e12 + 1e-3], [0.0, 0.0]])
def test_a_range_narrower_than_the_floats_resolution_draws_one_tick(xs: list[float]) -> None:
    # in a child with 2 GB of address space: the tick loop that stalled on such a range grew a list
    # until the machine ran out of memory (24 GB, the kernel killed)
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
            "from workbench.show import html\n"
            f"chart = str(html.lines([('baseline', {xs!r}, [1, -2, 3, -4, 5, -6], '#000', '')], hline=0.0, "
            "markers=True, xlabel='predicted', ylabel='residual'))\n"
            "print(chart.count('text-anchor=\"middle\"'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 1 <= int(done.stdout) <= 12  # a handful of x ticks


def test_ticks_are_round_and_cover_the_range() -> None:
    assert html._ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert html._ticks(-3.0, 7.0) == [-2.5, 0.0, 2.5, 5.0]
    assert html._ticks(0.001, 0.0013) == [0.001, 0.0011, 0.0012, 0.0013]
    assert html._ticks(29.95, 29.950000000000003) == [29.95]
    assert html._ticks(1e-12, 5e-12) == [1e-12, 2e-12, 3e-12, 4e-12, 5e-12]  # tiny values: a real range
    assert html._widened(1e-12, 5e-12) == (1e-12, 5e-12) and html._widened(0.0, 0.0) == (-0.5, 0.5)
    lo, hi = html._widened(29.95, 29.950000000000003)
    assert lo < 29.95 < hi and len(html._ticks(lo, hi)) >= 2
