"""spooler.drop: a file dropped by hand is placed in pickup whole, or refused with a reason and
nothing left behind (relay drop's and the inbox upload's one rule)."""

from __future__ import annotations

import pytest

from spooler.drop import DropRefused, drop_message, queued_line, refused_line
from spooler.pickup import PickupWriter

GOOD = b"X-Sender: <site@example.test>\r\nX-Receiver: <ann@example.test>\r\n" \
       b"From: site@example.test\r\nTo: someone@example.test\r\nSubject: hi\r\n\r\nbody\r\n"


def test_a_good_file_is_placed_with_the_envelope_the_relay_will_use(pickup_dir):
    dropped = drop_message(GOOD, PickupWriter(pickup_dir), "bulk")
    assert dropped.path.parent == pickup_dir and dropped.path.name.endswith(".bulk.eml")
    assert dropped.path.read_bytes() == GOOD
    assert (dropped.sender, dropped.recipients) == ("site@example.test", ("ann@example.test",))
    assert queued_line("x.eml", dropped) == \
        f"queued  x.eml -> {dropped.path} (from <site@example.test>, 1 recipient)"


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file: no headers, no body"),
    (GOOD + b"x" * 200, "larger than the 200-byte limit ([relay] max_message_size)"),
    (b"From: a@example.test\r\n\r\nno one to send to\r\n",
     "no recipients: no X-Receiver line and no address in To, Cc or Bcc"),
])
def test_a_bad_file_is_refused_with_its_reason_and_pickup_stays_empty(pickup_dir, data, reason):
    with pytest.raises(DropRefused) as refused:
        drop_message(data, PickupWriter(pickup_dir, max_size=200))
    assert str(refused.value) == reason
    assert refused_line("x.eml", str(refused.value)) == f"refused x.eml: {reason}"
    assert list(pickup_dir.iterdir()) == []


def test_a_missing_pickup_folder_is_refused_saying_what_to_set(tmp_path):
    with pytest.raises(DropRefused, match=r"does not exist: create it or set \[pickup\] dir"):
        drop_message(GOOD, PickupWriter(tmp_path / "nowhere"))
