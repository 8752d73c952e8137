"""Worker clocks on the master's timescale, and where a master listens."""

from __future__ import annotations

import time

import pytest

from loadtests.engine.address import MasterAddress
from loadtests.engine.clocksync import Clock, ClockOffset, estimate_offset


def test_estimate_offset_keeps_the_fastest_of_several_exchanges():
    # The master's clock is 250 ms behind; it answers half-way through the 300 µs exchange and
    # at the very start of the slow ones, which therefore read the offset rtt/2 too high.
    rtts_us = iter([5_000, 300, 7_000, 900])
    clock = [1_000_000_000]  # the worker's clock, ns

    def now_ns() -> int:
        return clock[0]

    def ask_master_us() -> int:
        rtt = next(rtts_us)
        answer = clock[0] // 1000 + (rtt // 2 if rtt < 500 else 0) - 250_000
        clock[0] += rtt * 1000
        return answer

    offset = estimate_offset(ask_master_us, exchanges=4, now_ns=now_ns)
    assert offset == ClockOffset(250_000, 300)
    assert offset.as_dict() == {"clock_offset_us": 250_000, "clock_rtt_us": 300}


def test_a_clock_with_an_offset_reads_the_masters_time():
    # wall - perf is constant over time, so the two clocks differ by the offset however far
    # apart they were made (the tolerance covers a preemption inside one constructor).
    plain, shifted = Clock(), Clock(offset_us=300_000)
    assert plain.offset_ns - shifted.offset_ns == pytest.approx(300_000_000, abs=5_000_000)
    epoch_us = int(time.time() * 1e6) + 1_000_000
    later = shifted.perf_ns_at(epoch_us) - plain.perf_ns_at(epoch_us)
    assert later == plain.offset_ns - shifted.offset_ns  # the same instant, 300 ms later


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [("0.0.0.0:5557", "0.0.0.0", 5557), ("127.0.0.2:6000", "127.0.0.2", 6000),
     ("[::1]:5557", "::1", 5557)],
)  # fmt: skip
def test_master_addresses_parse(text, host, port):
    address = MasterAddress.parse(text)
    assert (address.host, address.port) == (host, port)


def test_a_master_on_every_interface_is_reached_on_loopback_from_this_machine():
    assert MasterAddress.parse("0.0.0.0:5557").connect_host() == "127.0.0.1"
    assert MasterAddress.parse("127.0.0.2:5557").connect_host() == "127.0.0.2"


@pytest.mark.parametrize("text", ["5557", "host:", ":5557", "host:port", "host:70000"])
def test_a_bad_master_address_is_one_sentence_naming_the_option(text):
    with pytest.raises(ValueError, match=r"--master-bind .*expected HOST:PORT"):
        MasterAddress.parse(text)
