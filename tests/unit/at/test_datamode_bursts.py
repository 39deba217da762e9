"""Data mode on a stream socket sends whole-buffer bursts (4096 - 256 bytes, the most that never
triggers the firmware's buffer-full flush), across the ring's wrap point, except where the piece
the firmware would hand over before the wrap ends in `+++` (slm_at_host.c raw_rx_handler,
raw_send per claimed piece)."""

from __future__ import annotations

from pytest_slm.at.transcript import TX
from pytest_slm.slm_types import Family, Role, SocketType


def _data_writes(sim_dut, since: int) -> list[bytes]:
    # Between the entry command and the terminator, each TX entry is one write_data burst.
    writes = [e.data for e in sim_dut.transcript.entries(since) if e.direction == TX]
    start = next(i for i, w in enumerate(writes) if w.startswith(b"AT#XSEND")) + 1
    end = max(i for i, w in enumerate(writes) if w == b"+++")
    return writes[start:end]


def _open(sim, sim_dut) -> None:
    sim_dut.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    sim_dut.connect("127.0.0.1", sim.echo_port)


def test_stream_bursts_fill_the_buffer_and_cross_the_wrap(sim, sim_dut):
    _open(sim, sim_dut)
    payload = bytes((i * 7 + 1) % 251 for i in range(12000)).replace(b"+", b"-")
    mark = sim_dut.transcript.mark()
    with sim_dut.data_mode() as dm:
        assert dm.stream
        dm.write(payload)
    assert [len(w) for w in _data_writes(sim_dut, mark)] == [3840, 3840, 3840, 480]
    assert sim.wait_echoed(len(payload)) == payload
    assert sim_dut.at("AT").ok


def test_a_piece_ending_in_the_terminator_at_the_wrap_is_not_sent_across_it(sim, sim_dut):
    _open(sim, sim_dut)
    payload = bytearray(b"a" * 9000)
    payload[4093:4096] = b"+++"  # the last bytes before the ring wraps
    payload = bytes(payload)
    mark = sim_dut.transcript.mark()
    with sim_dut.data_mode() as dm:
        dm.write(payload)
    writes = _data_writes(sim_dut, mark)
    assert b"".join(writes) == payload
    # The second burst would have crossed the wrap with `+++` just before it: it stops short.
    assert len(writes[0]) == 3840 and not writes[1].endswith(b"+++")
    assert sim.wait_echoed(len(payload)) == payload
    assert sim_dut.at("AT").ok


def test_the_margin_is_what_the_link_adds_beyond_the_uart(sim, sim_dut):
    # A burst's own wire time is counted in DataMode already; of a round trip, only what the link
    # adds beyond the UART time of that exchange's bytes may delay a burst. The settle still
    # takes the whole round trip (a refusal comes back as fast as any answer). Binary-exact
    # fractions of a second.
    sim_dut._round_trips = sim_dut._link_delays = ()
    sim_dut.tune_datamode(0.0625, on_wire=0.015625)
    assert sim_dut._datamode_margin == 0.046875
    assert sim_dut.datamode_settle == 0.25
    # The slowest of the recent link delays counts, at least 10 ms.
    sim_dut.tune_datamode(0.0234375, on_wire=0.015625)
    assert sim_dut._datamode_margin == 0.046875
    sim_dut._round_trips = sim_dut._link_delays = ()
    sim_dut.tune_datamode(0.0234375, on_wire=0.015625)
    assert sim_dut._datamode_margin == 0.01
    assert sim_dut.datamode_settle == 0.1


def test_data_mode_counts_the_uart_time_of_its_datactrl_exchange(sim, sim_dut):
    # AT#XDATACTRL?\r\n and \r\n#XDATACTRL: <cur>,<min>\r\n\r\nOK\r\n cross the UART before
    # data mode starts: their line time is not link delay.
    _open(sim, sim_dut)
    seen: list[tuple[float, float]] = []
    tune = sim_dut.tune_datamode

    def spy(round_trip: float, *, on_wire: float = 0.0) -> None:
        seen.append((round_trip, on_wire))
        tune(round_trip, on_wire=on_wire)

    sim_dut.tune_datamode = spy
    limits = sim_dut.datactrl_read()
    with sim_dut.data_mode() as dm:
        dm.write(b"x")
    answer = f"\r\n#XDATACTRL: {limits.current},{limits.minimum}\r\n\r\nOK\r\n"
    exchanged = len("AT#XDATACTRL?\r\n") + len(answer)
    assert len(seen) == 1
    assert seen[0][1] == dm.line_time(exchanged)
