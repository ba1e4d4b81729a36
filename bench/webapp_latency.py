"""What account mail costs a web request: registration and password reset, through the pickup.

Times N registrations and N reset requests (known and unknown address) through
Flask's test client on a real SQLite file, with mail written durably to pickup,
and, in the same run, N direct SMTP sends of the same activation mail to a sink
on 127.0.0.1 (a new connection each, what a site without a pickup would add).
Prints medians and the ratio. Run: .venv/bin/python bench/webapp_latency.py [-n 100]
"""

from __future__ import annotations

import argparse
import re
import shutil
import smtplib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402

from relay.sink.server import Sink  # noqa: E402
from settings import parse_config  # noqa: E402
from spooler.envelope import parse_pickup  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.accounts.models import User  # noqa: E402
from webapp.site.database import utcnow  # noqa: E402
from webapp.site.extensions import db, limiter  # noqa: E402


def csrf(client, path):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def timed_posts(client, path, forms) -> list[float]:
    times = []
    for form in forms:
        data = {"csrf_token": csrf(client, path), **form}
        start = time.perf_counter()
        response = client.post(path, data=data)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100)
    args = parser.parse_args()
    Path("var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-web-", dir="var")).resolve()
    try:
        config = parse_config({"pickup": {"dir": "pickup"},
                               "webapp": {"database_url": "sqlite:///site.db"}},
                              base_dir=work, source=None)
        config.pickup.dir.mkdir()
        app = create_app(config, {"RATELIMIT_ENABLED": False})
        limiter.enabled = False
        with app.app_context():
            upgrade()
        client = app.test_client()
        password = "a long enough password"
        register = timed_posts(client, "/account/register", [
            {"display_name": f"Member {i}", "email": f"m{i}@example.org", "password": password,
             "confirm": password} for i in range(args.n)])
        with app.app_context():  # activate them all, so the reset mails really go out
            db.session.execute(db.update(User).values(activated_at=utcnow()))
            db.session.commit()
        emails = [f"m{i}@example.org" for i in range(args.n)]
        known = timed_posts(client, "/account/reset", [{"email": e} for e in emails])
        unknown = timed_posts(client, "/account/reset", [{"email": "x" + e} for e in emails])
        mail = parse_pickup(next(config.pickup.dir.glob("*.eml")).read_bytes())
        with Sink(work / "sink") as sink:
            smtp = []
            for _ in range(args.n):
                start = time.perf_counter()
                with smtplib.SMTP("127.0.0.1", sink.port, local_hostname="localhost", timeout=10) as s:
                    s.sendmail(mail.sender, list(mail.recipients), mail.content)
                smtp.append(time.perf_counter() - start)
        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    send = statistics.median(smtp)
    print(f"N = {args.n} requests each, Flask test client, SQLite file, durable pickup writes")
    print(f"{'request':40} {'median ms':>10} {'p90 ms':>8}")
    for name, times in (("register (scrypt hash + activation mail)", register),
                        ("reset request, known address", known),
                        ("reset request, unknown address", unknown),
                        ("direct SMTP send, new connection", smtp)):
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{name:40} {statistics.median(times) * 1000:10.2f} {p90 * 1000:8.2f}")
    print(f"a direct SMTP send would add {send * 1000:.2f} ms to each request "
          f"({send / statistics.median(known):.2f}x a whole reset request through pickup)")
    print(f"known/unknown reset timing ratio: {statistics.median(known) / statistics.median(unknown):.2f}")


if __name__ == "__main__":
    main()
