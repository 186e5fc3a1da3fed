"""A stand-in Magicstomp on MIDI, for tests: answers dump requests and accepts bulk writes.

Run as its own process (under a JACK server, MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK)::

    python -m tests.midi_responder --bank BANK.syx --record received.hex \
        [--state state.syx] [--client Magicstomp] [--silent]

It opens two virtual ports, ``<client>:midi_in`` (the unit's input: send here) and
``<client>-out:midi_out`` (the unit's output: listen here), holds 99 user slots
initialised from ``--bank``, and:

* writes every SysEx message it receives, as one hex line, to ``--record`` (flushed);
* answers ``F0 43 7D 50 55 42 30 01 nn F7`` with the 4 messages of slot nn+1;
* stores user patches received inside a bulk-all bracket and, after each
  bracket, writes its whole bank to ``--state`` (a bank .syx);
* keeps an edit-buffer patch in memory (it is recorded like everything else);
* with ``--silent`` records but never answers; with ``--corrupt-first N`` the
  first N answers carry a wrong checksum in their common block;
* on Control Change 127 (any channel) returns to the ``--bank`` state and
  records the line ``reset``, so one responder can serve several tests.

It stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from magicstomp.errors import SysexError
from magicstomp.files import read_syx, write_bank_syx
from magicstomp.sysex import PatchAssembler, message_kind, parse_dump_request, patch_messages

RESET_CONTROL = 127


class Responder:
    """State of the stand-in unit; ``handle(msg)`` returns the messages to answer with."""

    def __init__(self, payloads: list, *, silent: bool = False, state_path: Path | None = None,
                 corrupt_first: int = 0):
        self.initial = list(payloads)
        self.silent = silent
        self.corrupt_left = corrupt_first
        self.state_path = state_path
        self.reset()

    def reset(self) -> None:
        self.slots = list(self.initial)
        self.edit_buffer = None
        self._assembler = PatchAssembler()

    def handle(self, msg: bytes) -> list:
        try:
            kind = message_kind(msg)
        except SysexError:
            return []
        if kind == "request":
            slot = parse_dump_request(msg)
            if self.silent:
                return []
            answer = patch_messages(self.slots[slot - 1], slot=slot)
            if self.corrupt_left > 0:
                self.corrupt_left -= 1
                common = bytearray(answer[1])
                common[-2] ^= 0x01                       # the checksum byte
                answer[1] = bytes(common)
            return answer
        if kind == "bulk":
            was_in_bank = self._assembler.in_bank
            for item in self._assembler.feed(msg):
                if item.target == "slot" and item.in_bank:
                    self.slots[item.slot - 1] = item.payload
                elif item.target == "edit":
                    self.edit_buffer = item.payload
            if was_in_bank and not self._assembler.in_bank and self.state_path is not None:
                write_bank_syx(self.state_path, self.slots)
        return []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", required=True, type=Path, help="bank .syx with 99 patches")
    parser.add_argument("--record", required=True, type=Path, help="file for received messages")
    parser.add_argument("--state", type=Path, help="bank .syx written after each bulk-all write")
    parser.add_argument("--client", default="Magicstomp", help="JACK client name")
    parser.add_argument("--silent", action="store_true", help="never answer")
    parser.add_argument("--corrupt-first", type=int, default=0, metavar="N",
                        help="spoil the checksum of the first N answers")
    args = parser.parse_args(argv)

    import mido   # backend from MIDO_BACKEND

    payloads = [item.payload for item in read_syx(args.bank)]
    responder = Responder(payloads, silent=args.silent, state_path=args.state,
                          corrupt_first=args.corrupt_first)
    # Block the stop signals before rtmidi/JACK start their threads (they inherit the mask),
    # then wait for them synchronously: a signal taken by a JACK thread would otherwise
    # never wake the main thread.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    record = args.record.open("w", encoding="ascii")
    out = mido.open_output("midi_out", client_name=f"{args.client}-out")
    lock = threading.Lock()

    def on_message(message) -> None:
        if message.type == "control_change" and message.control == RESET_CONTROL:
            with lock:
                responder.reset()
                record.write("reset\n")
                record.flush()
            return
        if message.type != "sysex":
            return
        raw = bytes([0xF0, *message.data, 0xF7])
        with lock:
            record.write(raw.hex() + "\n")
            record.flush()
            try:
                answers = responder.handle(raw)
            except SysexError as exc:
                print(f"responder: {exc}", file=sys.stderr, flush=True)
                answers = []
            for answer in answers:
                out.send(mido.Message("sysex", data=answer[1:-1]))

    inp = mido.open_input("midi_in", client_name=args.client, callback=on_message)
    print("ready", flush=True)
    try:
        signal.sigwait(stop_signals)
    finally:
        inp.close()
        out.close()
        record.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
