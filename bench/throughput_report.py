"""The relay benchmark's figures as people and scripts read them: tables, ratios, the JSON summary.

Each result is one case's dict from relay_throughput.run_case (case, dir, rate, steady,
seconds, cpu_us, rss, median, max). The ratios are of msgs/s from start to last arrival
(drain/s beside them where it helps) and need both of their cases to have run; a missing
one is None in the JSON. The goals printed beside the smtp-sink ratios are issue 24's.
"""

from __future__ import annotations

from pathlib import Path

RELAY_SINK, SMTP_SINK = "relay", "smtp-sink"
# (JSON key, numerator case, denominator case, goal) for the cases into smtp-sink
SMTP_SINK_RATIOS = (
    ("signed_vs_postfix_dkim", ("relay", True), ("postfix", True), 3.0),
    ("signed_vs_unsigned", ("relay", True), ("relay", False), 0.35),
    ("unsigned_vs_postfix", ("relay", False), ("postfix", False), 4.0),
)


def case_label(mta: str, sink_kind: str, tls: bool = False, dkim: bool = False) -> str:
    return f"{mta} -> {sink_kind}" + (" (STARTTLS)" if tls else "") + (" (DKIM)" if dkim else "")


def print_table(results: list[dict]) -> None:
    print(f"{'case':<33} {'msgs/s':>7} {'drain/s':>8} {'seconds':>8} {'CPU µs/msg':>11} "
          f"{'peak RSS MB':>12} {'idle latency median/max ms':>27}")
    for r in results:
        latency = f"{r['median']:.1f} / {r['max']:.1f}"
        print(f"{r['case']:<33} {r['rate']:>7,.0f} {r['steady']:>8,.0f} {r['seconds']:>8.2f} "
              f"{r['cpu_us']:>11,.0f} {r['rss']:>12.1f} {latency:>27}")
    print("msgs/s: from starting the process to the last arrival; drain/s: first to last arrival; "
          "CPU: the whole machine's, start to last arrival, per message")


def print_ratios(results: list[dict]) -> None:
    ratio = starttls_ratio(results)
    if ratio is not None:
        print(f"STARTTLS / plaintext (relay -> relay sink): msgs/s {ratio['rate']:.2f}x, "
              f"drain/s {ratio['steady']:.2f}x")
    for sink_kind, r in dkim_ratio(results).items():
        print(f"DKIM / unsigned (relay -> {sink_kind}): msgs/s {r['rate']:.2f}x, drain/s {r['steady']:.2f}x")
    by_case = {r["case"]: r for r in results}
    for key, value in smtp_sink_ratios(results).items():
        if value is not None:
            goal = next(g for k, _, _, g in SMTP_SINK_RATIOS if k == key)
            print(f"{key} (into smtp-sink, msgs/s start to last): {value:.2f}x (goal >= {goal:g}x)")
    relay = by_case.get(case_label("relay", SMTP_SINK))
    postfix = by_case.get(case_label("postfix", SMTP_SINK))
    if relay is not None and postfix is not None:
        print(f"CPU per message, relay / Postfix (unsigned, into smtp-sink): "
              f"{relay['cpu_us'] / postfix['cpu_us']:.2f} (goal <= 0.20)")
    if relay is not None:
        print(f"peak RSS, relay -> smtp-sink unsigned: {relay['rss']:.1f} MB (goal < 90)")


def print_side_by_side(results: dict[Path, list[dict]], names: list[str]) -> None:
    """One row per case: msgs/s, CPU µs/msg and peak RSS on each filesystem."""
    columns = "".join(f" | {name[:30]:<30}" for name in names)
    print(f"\n{'case':<33}{columns}")
    print(f"{'':<33}" + "".join(f" | {'msgs/s':>7} {'µs/msg':>8} {'RSS MB':>7}      " for _ in names))
    labels = list(dict.fromkeys(r["case"] for rs in results.values() for r in rs))
    for label in labels:
        row = f"{label:<33}"
        for rs in results.values():
            r = next((r for r in rs if r["case"] == label), None)
            row += (f" | {r['rate']:>7,.0f} {r['cpu_us']:>8,.0f} {r['rss']:>7.1f}      " if r
                    else f" | {'-':>7} {'-':>8} {'-':>7}      ")
        print(row)


def starttls_ratio(results: list[dict]) -> dict | None:
    """STARTTLS figures over plaintext ones for relay -> relay sink, when both ran."""
    by_case = {r["case"]: r for r in results}
    plain = by_case.get(case_label("relay", RELAY_SINK))
    tls = by_case.get(case_label("relay", RELAY_SINK, True))
    if plain is None or tls is None:
        return None
    return {key: tls[key] / plain[key] for key in ("rate", "steady")}


def dkim_ratio(results: list[dict]) -> dict[str, dict]:
    """Signed figures over unsigned ones, per sink, for the relay cases where both ran."""
    by_case = {r["case"]: r for r in results}
    ratios = {}
    for sink_kind in (RELAY_SINK, SMTP_SINK):
        plain = by_case.get(case_label("relay", sink_kind))
        signed = by_case.get(case_label("relay", sink_kind, dkim=True))
        if plain is not None and signed is not None:
            ratios[sink_kind] = {key: signed[key] / plain[key] for key in ("rate", "steady")}
    return ratios


def smtp_sink_ratios(results: list[dict]) -> dict[str, float | None]:
    """Issue 24's ratios of msgs/s (start to last) for the cases into smtp-sink."""
    by_case = {r["case"]: r for r in results}
    ratios = {}
    for key, (mta, dkim), (base_mta, base_dkim), _goal in SMTP_SINK_RATIOS:
        top = by_case.get(case_label(mta, SMTP_SINK, dkim=dkim))
        base = by_case.get(case_label(base_mta, SMTP_SINK, dkim=base_dkim))
        ratios[key] = top["rate"] / base["rate"] if top and base else None
    return ratios


def json_summary(results: dict[Path, list[dict]], parents: list[Path]) -> dict:
    """The JSON line's figures: every case, the ratios of the first folder's run (with several
    --dir, each folder's under by_dir), ending with the keys issue 24 reads."""
    def summary(rs: list[dict]) -> dict:
        relay = next((r for r in rs if r["case"] == case_label("relay", SMTP_SINK)), None)
        return {**smtp_sink_ratios(rs), "cpu_us_per_msg": {r["case"]: r["cpu_us"] for r in rs},
                "peak_rss_mb": relay["rss"] if relay else None}
    first = results[parents[0]]
    by_dir = {str(p): summary(results[p]) for p in parents} if len(parents) > 1 else None
    return {"cases": [r for p in parents for r in results[p]], "starttls_ratio": starttls_ratio(first),
            "dkim_ratio": dkim_ratio(first) or None, **({"by_dir": by_dir} if by_dir else {}),
            **summary(first)}
