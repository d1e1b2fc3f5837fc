"""``ser-live`` on terminals that are not a modern UTF-8 colour terminal: an ASCII-only
encoding, ``TERM=dumb``, stderr sent to a file beside the dashboard.

Each test runs the real command in a pseudo-terminal (the dashboard and the calibration screen
are drawn only on a terminal) on the bundled demo recording, replayed as fast as it goes
(``--speed 0``): what is checked is what the run wrote, whatever its timing.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from ser_live.cli import DEMO_WAV

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not DEMO_WAV.exists(), reason=f"bundled demo {DEMO_WAV} missing")


def run_in_terminal(args: list[str], *, env: dict[str, str] | None = None, columns: int = 100, rows: int = 40,
                    stderr: Path | None = None, timeout_s: float = 300.0) -> tuple[int, bytes]:
    """Run ``python -m ser_live ARGS`` with stdin, stdout (and stderr, unless ``stderr`` names a
    file for it) on a pseudo-terminal of ``columns`` x ``rows``; return the exit status and the
    bytes the terminal received. ``env`` is added to a copy of this process's environment."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), **(env or {})}
    for var in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES"):
        if var not in (env or {}):
            full_env.pop(var, None)
    err = open(stderr, "wb") if stderr is not None else slave  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen([sys.executable, "-m", "ser_live", *args], stdin=slave, stdout=slave, stderr=err,
                                cwd=ROOT, env=full_env, start_new_session=True)
    finally:
        os.close(slave)
        if stderr is not None:
            err.close()
    out = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout_s)
            if not ready:
                proc.kill()
                raise AssertionError(f"no output for {timeout_s} s: {out[-2000:]!r}")
            try:
                data = os.read(master, 65536)
            except OSError as exc:  # EIO: the terminal's last writer is gone
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            out += data
    finally:
        os.close(master)
    return proc.wait(timeout=timeout_s), bytes(out)


def _text(out: bytes) -> str:
    """What the terminal received, its control sequences (colours, cursor moves) taken out."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", "replace"))


def _calibrate(profile: Path, *, env: dict[str, str]) -> tuple[int, bytes, str]:
    """``ser-live calibrate`` on the demo recording (8 takes) in a terminal: exit status, bytes, text."""
    code, out = run_in_terminal(["calibrate", "--profile", str(profile), "--per-class", "2", "--input", str(DEMO_WAV),
                                 "--speed", "0"], env=env)
    return code, out, _text(out)


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0"}],
                         ids=["ascii", "C-locale"])
def test_dashboard_on_an_ascii_terminal(env: dict[str, str]) -> None:
    """A terminal whose encoding is ASCII gets the dashboard in ASCII: bars of ``#`` and ``.``,
    boxes of ``+-|``; the run and its summary are not lost to a UnicodeEncodeError."""
    code, out = run_in_terminal(["--input", str(DEMO_WAV), "--speed", "0"], env=env)
    text = _text(out)
    assert code == 0, text[-3000:]
    assert "UnicodeEncodeError" not in text
    assert all(b < 0x80 for b in out), "a character the terminal's encoding does not have"
    assert "+- emotion -" in text and "+- timeline . last 8 of 8 -" in text
    assert "| neutral " in text and "####" in text and "...." in text  # a bar: full and empty cells
    assert "ser-live summary" in text and "utterances           8" in text


def test_calibration_screen_on_an_ascii_terminal(tmp_path: Path) -> None:
    """``ser-live calibrate`` draws its screen in ASCII there too, and writes the profile."""
    profile = tmp_path / "anna.npz"
    code, out, text = _calibrate(profile, env={"PYTHONIOENCODING": "ascii"})
    assert code == 0, text[-3000:]
    assert all(b < 0x80 for b in out)
    assert "+- ser-live calibrate " in text and "All takes recorded: building the profile." in text
    assert "progress ####" in text
    assert profile.is_file() and "written to" in text


def test_dumb_terminal_gets_a_line_per_utterance() -> None:
    """On ``TERM=dumb`` rich draws a live view only once, at its end: ``ser-live`` writes the
    ``--plain`` lines there instead, each as its utterance is classified."""
    code, out = run_in_terminal(["--input", str(DEMO_WAV), "--speed", "0"], env={"TERM": "dumb"})
    text = _text(out)
    assert code == 0, text[-3000:]
    assert b"\x1b" not in out
    lines = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert [ln.split()[0] for ln in lines] == [f"#{i}" for i in range(8)], text
    assert "emotion" not in text and "\u256d" not in text  # no dashboard frame


def test_dumb_terminal_calibrates_with_a_line_per_take(tmp_path: Path) -> None:
    """``ser-live calibrate`` on ``TERM=dumb``: a line per take and prompt, as on a pipe."""
    profile = tmp_path / "anna.npz"
    code, out, text = _calibrate(profile, env={"TERM": "dumb"})
    assert code == 0, text[-3000:]
    assert b"\x1b" not in out
    assert "prompt 1/8 [" in text and "take 8/8 (" in text and "all takes recorded" in text
    assert profile.is_file()


def test_stderr_sent_to_a_file_keeps_the_messages_written_while_the_dashboard_draws(tmp_path: Path) -> None:
    """``ser-live ... 2> log`` with the dashboard on the terminal: a message of the run (here
    the --jsonl file that cannot be written) goes to the log, as the summary does, not above
    the dashboard."""
    log = tmp_path / "log"
    code, out = run_in_terminal(["--input", str(DEMO_WAV), "--speed", "0", "--jsonl", "/dev/full"], stderr=log)
    text, err = _text(out), log.read_text()
    assert code == 1, text[-3000:]
    assert "cannot write the results to /dev/full" in err and "ser-live summary" in err
    assert "cannot write" not in text and "timeline" in text  # the dashboard was drawn


@pytest.mark.parametrize("command", [[], ["predict"], ["calibrate"], ["devices"]], ids=["listen", "predict",
                                                                                       "calibrate", "devices"])
def test_help_prints_where_stdout_is_ascii(command: list[str]) -> None:
    """``--help`` on a stdout whose encoding is ASCII prints in full (it holds no character
    that encoding lacks) instead of dying with UnicodeEncodeError halfway through."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "ser_live", *command, "--help"], capture_output=True, cwd=ROOT,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert b"usage: ser-live" in res.stdout and b"Traceback" not in res.stderr


def test_predict_csv_on_an_ascii_stdout_keeps_a_path_that_is_not_ascii(tmp_path: Path) -> None:
    """``ser-live predict FILES --format csv > preds.csv`` where stdout's encoding is ASCII:
    the records are written in UTF-8, as ``--output preds.csv`` writes them, a path such as
    ``Ärger.wav`` included, instead of a UnicodeEncodeError that lost the rows from it on."""
    german = tmp_path / "\u00c4rger.wav"
    german.write_bytes(DEMO_WAV.read_bytes())
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "ser_live", "predict", str(german), str(DEMO_WAV), "--format", "csv"],
                         capture_output=True, cwd=ROOT, env=env, timeout=300)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    rows = res.stdout.decode("utf-8").splitlines()
    assert rows[0].startswith("path,label,") and len(rows) == 3
    assert rows[1].startswith(f"{german},") and rows[2].startswith(f"{DEMO_WAV},")


#: An SGR sequence that sets a colour (foreground or background, 16, 256 or true colour).
_COLOUR = re.compile(rb"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def test_no_color_turns_the_colours_of_the_dashboard_and_the_calibration_screen_off(tmp_path: Path) -> None:
    """``NO_COLOR=1`` (no-color.org): no colour in the dashboard nor the calibration screen, our
    widgets' (bars, level meter, emotion colours) included; bold and the layout stay, so bars
    still read by their full and empty cells."""
    code, out = run_in_terminal(["--input", str(DEMO_WAV), "--speed", "0"], env={"NO_COLOR": "1"})
    assert code == 0 and _COLOUR.search(out) is None, _COLOUR.search(out)
    assert "\u2588\u2588" in _text(out) and "\u2591\u2591" in _text(out) and "timeline" in _text(out)
    code, out, text = _calibrate(tmp_path / "anna.npz", env={"NO_COLOR": "1"})
    assert code == 0 and _COLOUR.search(out) is None, _COLOUR.search(out)
    assert "progress \u2588" in text
    code, out = run_in_terminal(["--input", str(DEMO_WAV), "--speed", "0"])  # the check sees colours
    assert _COLOUR.search(out) is not None


def test_plain_lines_on_an_ascii_stdout_with_labels_that_are_not_ascii(tmp_path: Path) -> None:
    """A model of your own whose labels are not ASCII (``wütend``), ``--plain`` on a stdout
    whose encoding is ASCII: the label comes out as Python writes it to stderr (``w\\xfctend``)
    and the run goes on, instead of a UnicodeEncodeError at the first utterance (exit 1)."""
    from ser_live.model import EmotionModel

    model = EmotionModel.load(arrays=False)
    model.labels = ["neutral", "fr\u00f6hlich", "sad", "w\u00fctend"]
    path = model.save(tmp_path / "umlaut.skops")
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "ser_live", "--input", str(DEMO_WAV), "--speed", "0", "--plain",
                          "--model", str(path)], capture_output=True, cwd=ROOT, env=env, timeout=300)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    lines = res.stdout.decode("ascii").splitlines()
    assert len(lines) == 8 and any(" w\\xfctend " in ln for ln in lines), lines


@pytest.mark.parametrize("args", [["--jsonl", "-"], ["--plain"]], ids=["jsonl", "plain"])
def test_stderr_closed_keeps_messages_and_summary_out_of_the_results(args: list[str]) -> None:
    """``ser-live ... 2>&-`` (stderr closed when the program starts: Python's sys.stderr is
    None): ``print(..., file=None)`` writes to stdout, so the start message and the exit
    summary went into the results, breaking ``--jsonl -``'s "stdout then carries only JSON".
    With stderr closed they go nowhere; stdout carries the results alone."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "ser_live", "--input", str(DEMO_WAV), "--speed", "0", *args],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(2),
                         timeout=300)
    assert res.returncode == 0, res.stdout[-2000:]
    lines = res.stdout.splitlines()
    assert len(lines) >= 8, res.stdout
    if args[0] == "--jsonl":
        import json

        assert all(json.loads(ln)["kind"] == "utterance" for ln in lines), res.stdout
    else:
        assert all(re.match(r"#\d+ ", ln) for ln in lines), res.stdout


def _ctrl_c_with_the_terminal_paused(args: list[str], pause: str, *, paused_s: float = 3.0) -> tuple[int, float]:
    """Run ``python -m ser_live ARGS`` on a pseudo-terminal, pause the terminal after 1.5 s
    (``pause``: "ctrl-s" sends XOFF, "unread" stops reading it), send Ctrl-C (SIGINT)
    ``paused_s`` later; return the exit status and the seconds from the signal to the exit."""
    import signal
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "ser_live", *args], stdin=slave, stdout=slave, stderr=slave,
                            cwd=ROOT, env=env, start_new_session=True)
    os.close(slave)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:  # the live view draws
            if select.select([master], [], [], 0.1)[0]:
                os.read(master, 65536)
        if pause == "ctrl-s":
            os.write(master, b"\x13")  # the terminal takes no more output
        time.sleep(paused_s)  # the redraws fill the terminal's buffer; the next one blocks
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        t_sig = time.monotonic()
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("Ctrl-C did not end a run whose terminal takes no output") from None
        return code, time.monotonic() - t_sig
    finally:
        os.close(master)


@pytest.mark.parametrize("pause", ["ctrl-s", "unread"])
def test_ctrl_c_ends_a_run_whose_terminal_takes_no_output(tmp_path: Path, pause: str) -> None:
    """Ctrl-S (XOFF) pauses a terminal's output, as a frozen terminal or a stalled ssh link
    (here: a terminal nobody reads) does: the dashboard's next redraw blocks in its write.
    Ctrl-C then hung the run for ever (whether it landed in that write or just before it; a
    second one too: the final frame blocked again), though the README promises a stop within
    2 s. Now the stop signal cuts the blocked write, or the redraws after it wait at most
    0.5 s; the terminal is given up (exit 1, as for a stdout no longer read when a stop signal
    comes) and the run ends with its --jsonl file whole."""
    jsonl = tmp_path / "out.jsonl"
    code, elapsed = _ctrl_c_with_the_terminal_paused(["--input", str(DEMO_WAV), "--jsonl", str(jsonl)], pause)
    assert elapsed < 2.0 and code in (1, 130), (code, elapsed)
    lines = jsonl.read_text().splitlines()
    assert lines and all(ln.endswith("}") for ln in lines), lines


@pytest.mark.parametrize("pause", ["ctrl-s", "unread"])
def test_ctrl_c_ends_a_calibration_whose_terminal_takes_no_output(tmp_path: Path, pause: str) -> None:
    """The same for ``ser-live calibrate``'s screen: its last frame blocked the stop for ever
    on a paused terminal. Now it waits at most 0.5 s: exit 130, no profile written."""
    profile = tmp_path / "anna.npz"
    code, elapsed = _ctrl_c_with_the_terminal_paused(
        ["calibrate", "--profile", str(profile), "--input", str(DEMO_WAV)], pause)
    assert elapsed < 2.0 and code == 130, (code, elapsed)
    assert not profile.exists()


def test_ctrl_c_ends_a_plain_run_whose_terminal_takes_no_output() -> None:
    """``--plain`` on a terminal paused by Ctrl-S: the stop signal cut the blocked line write
    and gave stdout up, but the message saying so went to stderr, the same paused terminal,
    and blocked there for ever. Now stderr is given up with it: the run ends within 2 s."""
    code, elapsed = _ctrl_c_with_the_terminal_paused(["--input", str(DEMO_WAV), "--plain", "--speed", "4"], "ctrl-s")
    assert elapsed < 2.0 and code in (1, 130), (code, elapsed)


def test_ctrl_c_ends_a_plain_calibration_whose_terminal_takes_no_output(tmp_path: Path) -> None:
    """``calibrate --plain`` on a terminal paused by Ctrl-S: Ctrl-C ended the takes, but the
    line saying so ("interrupted after N of M takes") blocked on the paused terminal for
    ever. Now it waits at most 0.5 s: exit 130 within 2 s, no profile written."""
    profile = tmp_path / "anna.npz"
    code, elapsed = _ctrl_c_with_the_terminal_paused(
        ["calibrate", "--profile", str(profile), "--plain", "--input", str(DEMO_WAV), "--speed", "4"], "ctrl-s")
    assert elapsed < 2.0 and code == 130, (code, elapsed)
    assert not profile.exists()


@pytest.mark.parametrize("output", [["--plain"], ["--jsonl", "-"]], ids=["plain", "jsonl"])
def test_ctrl_c_before_a_write_blocks_on_a_paused_terminal(output: list[str]) -> None:
    """Ctrl-C 0.8 s after Ctrl-S paused the terminal, before the first result: no write was
    blocked when it came, so nothing cut the ones after it (the utterance in progress, cut
    and classified, then the summary), which blocked on the paused terminal for ever. Once
    the run is stopping they now wait at most 0.5 s each: the run ends within 2 s."""
    code, elapsed = _ctrl_c_with_the_terminal_paused(["--input", str(DEMO_WAV), *output], "ctrl-s", paused_s=0.8)
    assert elapsed < 2.0 and code in (1, 130), (code, elapsed)
