"""The rtnetlink framing route.py and neigh.py share."""

from netcheck.probes import rtnl


def test_attributes_round_trip_with_padding() -> None:
    blob = rtnl.attr(1, b"\x0a\x00\x00\x01") + rtnl.attr(2, b"\x01\x02\x03\x04\x05\x06")
    assert len(blob) == 8 + 12  # the 6-byte value is padded to 8
    assert rtnl.attrs(blob, 0) == {1: b"\x0a\x00\x00\x01", 2: b"\x01\x02\x03\x04\x05\x06"}


def test_nested_flag_is_masked_and_a_short_attribute_stops_the_walk() -> None:
    nested = rtnl.RTATTR.pack(8, 8 | 0x8000) + b"abcd"
    assert rtnl.attrs(nested + b"\x02\x00\x01\x00", 0) == {8: b"abcd"}


def test_messages_of_one_read() -> None:
    data = rtnl.message(24, rtnl.NLM_F_REQUEST, 7, b"wxyz") + rtnl.message(3, 0, 8, b"")
    assert list(rtnl.messages(data)) == [(24, 7, b"wxyz"), (3, 8, b"")]
    assert list(rtnl.messages(b"\x04\x00\x00\x00" + b"\0" * 12)) == []  # length < header
