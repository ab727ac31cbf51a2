"""`chat cost`: a workload's daily and 30-day cost at the catalogue's prices, exact, for one model or all of them
cheapest first. main() runs in this process: the command reads no config, opens no store and sends nothing."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.cli import main
from chatbot.cli.cost import dollars
from chatbot.core.models import CATALOGUE
from chatbot.core.pricing import Workload


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["cost", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_issues_example_gpt_4o_costs_7_50_a_day(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--model", "gpt-4o", "--requests", "1000", "--prompt", "1000", "--completion", "500")

    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "1,000 requests a day of 1,000 prompt tokens and 500 completion tokens, at prices as of " \
                       "2026-08-21"
    assert lines[1].split() == ["model", "per", "request", "per", "day", "per", "30", "days"]
    assert lines[2].split() == ["gpt-4o", "$0.0075", "$7.50", "$225.00"]
    assert len(lines) == 3


def test_the_figures_are_exact_decimals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--model", "gpt-4o", "--requests", "1000", "--prompt", "1000", "--completion", "500",
                       "--json")

    assert code == 0
    row = json.loads(out)["models"][0]
    assert (Decimal(row["request_usd"]), Decimal(row["daily_usd"]), Decimal(row["period_usd"])) == (
        Decimal("0.0075"), Decimal("7.5"), Decimal("225"))


def test_cached_tokens_are_billed_at_the_cached_rate(capsys: pytest.CaptureFixture[str]) -> None:
    # 800 at $2.50 + 200 at $1.25 + 500 at $10.00 per 1M = $0.00725 a request
    code, out, _ = run(capsys, "--model", "gpt-4o", "--requests", "1000", "--prompt", "1000", "--completion", "500",
                       "--cached", "200")
    assert code == 0 and out.splitlines()[2].split() == ["gpt-4o", "$0.00725", "$7.25", "$217.50"]
    assert "(200 cached)" in out.splitlines()[0]


def test_without_a_model_every_catalogue_model_is_listed_cheapest_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--requests", "1000", "--prompt", "1000", "--completion", "500", "--json")

    assert code == 0
    rows = json.loads(out)["models"]
    assert {r["model"] for r in rows} == set(CATALOGUE)
    daily = [Decimal(r["daily_usd"]) for r in rows]
    assert daily == sorted(daily)
    workload = Workload(1000, 1000, 500)
    for row in rows:
        costs = workload.costs(CATALOGUE[row["model"]])
        assert costs is not None and Decimal(row["daily_usd"]) == costs[1]


def test_the_table_of_every_model_is_the_one_table_printer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--requests", "1000", "--prompt", "1000", "--completion", "500")

    assert code == 0
    rows = [line.split() for line in out.splitlines()[2:]]
    assert len(rows) == len(CATALOGUE)
    assert rows[0][0] == "gpt-5-nano" and ["gpt-4o", "$0.0075", "$7.50", "$225.00"] in rows
    widths = {len(line) for line in out.splitlines()[1:]}  # right-aligned money: every row as long as the header
    assert len(widths) == 1


def test_a_long_prompt_pays_the_long_context_tier_and_leaves_out_what_it_does_not_fit(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--requests", "10", "--prompt", "300000", "--completion", "1000", "--json")

    assert code == 0
    result = json.loads(out)
    by_model = {r["model"]: r for r in result["models"]}
    # gpt-5.4 above 272K prompt tokens: $5.00 in and $22.50 out per 1M, for the whole request.
    assert Decimal(by_model["gpt-5.4"]["request_usd"]) == Decimal("1.5225")
    assert set(result["too_long"]) == {"gpt-4o", "gpt-4o-mini", "o3", "o4-mini"}
    assert "gpt-4o" not in by_model
    assert err.startswith("chat: left out, a request of 300,000 prompt and 1,000 completion tokens does not fit")


def test_one_model_the_request_does_not_fit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--model", "gpt-4o", "--requests", "1", "--prompt", "200000", "--completion", "10")
    assert code == 2 and out == ""
    assert "does not fit gpt-4o's window of 128,000 tokens (output limit 16,384)" in err


@pytest.mark.parametrize(("args", "said"), [
    (("--model", "llama3.2"), "no price for 'llama3.2': the catalogue lacks it"),
    (("--cached", "2000"), "--cached 2,000 is more than --prompt 1,000"),
    (("--requests", "-1"), "--requests is -1: counts of requests and tokens are never negative"),
])
def test_what_cannot_be_priced_is_refused_in_words(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                                   said: str) -> None:
    flags = {"--requests": "1000", "--prompt": "1000", "--completion": "500"}
    flags.update(zip(args[::2], args[1::2], strict=True))
    code, out, err = run(capsys, *(item for pair in flags.items() for item in pair))
    assert code == 2 and out == ""
    assert said in err


def test_a_dated_snapshot_is_priced_as_its_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--model", "gpt-4o-2024-08-06", "--requests", "1000", "--prompt", "1000",
                       "--completion", "500")
    assert code == 0 and out.splitlines()[2].split()[1:] == ["$0.0075", "$7.50", "$225.00"]


def test_cost_opens_no_history() -> None:
    assert main(["cost", "--requests", "1", "--prompt", "1", "--completion", "1"]) == 0
    assert not (Path(os.environ["XDG_DATA_HOME"]) / "chatbot").exists()


@pytest.mark.parametrize(("amount", "shown"), [("7.5000", "$7.50"), ("225", "$225.00"), ("0.000075", "$0.000075"),
                                               ("1234.5", "$1,234.50"), ("0", "$0.00")])
def test_dollars_are_shown_to_every_digit_they_have(amount: str, shown: str) -> None:
    assert dollars(Decimal(amount)) == shown
