"""``ser-live`` / ``ser-live listen``: recognise a microphone or a replayed file live."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import CaptureError, DeviceError, ExitCode, NoSpeechError, PortAudioMissingError, SerLiveError
from ..fsutil import expand_home
from .options import (
    DEMO_WAV, EXIT_INTERRUPTED, _add_speakers, _apply_profile, _err, _err_raw, _model_path, _partial_config,
    _positive, _positive_or_zero, _profile_text, _speakers_for, log,
)
from .outputs import _Outputs
from .signals import _signals_deferred, _stop_signals_as_interrupt, _stop_signals_ignored


def add_listen_arguments(p: argparse.ArgumentParser) -> None:
    """The listen options of the top-level parser: audio source and outputs."""
    from ..audio import BLOCK_MS, BLOCK_MS_RANGE, NO_AUDIO_TIMEOUT_S, NO_AUDIO_WARN_S
    from ..revision import REVISE_UTTERANCES
    from ..rolling import DEFAULT_HALF_LIFE_S
    from .stream_events import DROPPED_EVERY_S, SILENT_AFTER_S

    src = p.add_argument_group("audio source (listen)")
    src.add_argument("--input", type=expand_home, metavar="FILE", help="replay an audio file (WAV, FLAC, OGG; any rate, any channels) instead of the microphone")
    src.add_argument("--device", metavar="DEV", help="input device index or (part of its) name; see `ser-live devices` (default: the system default)")
    src.add_argument("--speed", type=_positive_or_zero, default=1.0, metavar="X",
                     help="replay speed of --input: 1 real time (default), N times faster, 0 as fast as possible")
    src.add_argument("--duration-s", type=_positive, default=None, metavar="SECONDS",
                     help="stop after this many seconds of audio (stream time; from the microphone also "
                          "by the wall clock, so a microphone that delivers nothing still stops)")
    src.add_argument("--no-audio-timeout-s", type=_positive, default=NO_AUDIO_TIMEOUT_S, metavar="SECONDS",
                     help="end the run (exit 6) when the microphone delivers no audio for this long, or the "
                          "audio server does not answer for this long while the device opens "
                          f"(default: {NO_AUDIO_TIMEOUT_S:g}; a warning comes after {NO_AUDIO_WARN_S:g} s)")
    src.add_argument("--block-ms", type=_block_ms, default=BLOCK_MS, metavar="MS",
                     help="capture block in milliseconds (microphone and --input): each block wakes ser-live "
                          "once, so longer blocks cost less CPU and may delay a result by up to one block "
                          f"(default: {BLOCK_MS}; {BLOCK_MS_RANGE[0]}-{BLOCK_MS_RANGE[1]})")
    src.add_argument("--demo-fallback", action=argparse.BooleanOptionalAction, default=None,
                     help="replay the bundled demo recording when the microphone cannot be used "
                          "(default: only when there is no input device at all or PortAudio is missing)")
    out = p.add_argument_group("output (listen)")
    out.add_argument("--plain", action="store_true",
                     help="one text line per utterance instead of the dashboard (automatic when stdout is not a terminal, or TERM=dumb)")
    out.add_argument("--jsonl", type=expand_home, metavar="PATH|-",
                     help="write one JSON object per utterance to PATH, or to stdout with '-' (stdout then carries only JSON); "
                          "also, as they happen, {\"kind\": \"dropped\", ...} when audio is lost (at once, then at most "
                          f"every {DROPPED_EVERY_S:g} s) and {{\"kind\": \"input\", ...}} when the input goes silent "
                          f"({SILENT_AFTER_S:g} s of exact zeros, or {NO_AUDIO_WARN_S:g} s without audio) and comes back "
                          "(--plain: lines starting with '!')")
    out.add_argument("--append", action="store_true",
                     help="--jsonl PATH: add this run's records after those already in PATH, on a line of their own "
                          "(a last line cut short by a killed run is ended first, said once; without it, or "
                          "--overwrite, a PATH that holds records is refused, exit 2: an earlier run's are never "
                          "replaced unasked)")
    out.add_argument("--overwrite", action="store_true", help="--jsonl PATH: replace the records already in PATH")
    out.add_argument("--jsonl-summary", action="store_true",
                     help="--jsonl: end with a {\"kind\": \"summary\", ...} record: the exit summary's figures, the "
                          "exit status and the error that ended the run, if any")
    out.add_argument("--revisions", action="store_true",
                     help="--jsonl: after an utterance's line, a line {\"kind\": \"revision\", ...} with the session's "
                          "earlier utterances re-scored with the statistics as they are now (the first "
                          f"{REVISE_UTTERANCES} utterances of a session; the dashboard always shows the revised timeline); "
                          "with --speakers also {\"kind\": \"speakers\", ...} when the run's re-clustering moved earlier "
                          "utterances to another speaker")
    out.add_argument("--save-utterances", nargs="?", const="recordings", default=None, type=expand_home, metavar="DIR",
                     help="save each utterance as a 16 kHz WAV plus a line in DIR/index.jsonl (default DIR: recordings)")
    out.add_argument("--half-life-s", type=_positive, default=DEFAULT_HALF_LIFE_S, metavar="SECONDS",
                     help=f"half-life of the rolling estimate in stream seconds (default: {DEFAULT_HALF_LIFE_S:g})")
    _add_speakers(out, what="the run")


def _block_ms(value: str) -> int:
    """``--block-ms``: a whole number of milliseconds in :data:`~ser_live.audio.BLOCK_MS_RANGE`."""
    from ..audio import BLOCK_MS_RANGE

    try:
        ms = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of milliseconds, got {value!r}") from None
    lo, hi = BLOCK_MS_RANGE
    if not lo <= ms <= hi:
        raise argparse.ArgumentTypeError(f"must be {lo}-{hi} ms, got {ms}")
    return ms


def _open_microphone(args: argparse.Namespace) -> tuple[Any, str] | None:
    """The microphone source, or None when the demo should be replayed instead (message
    printed). Raises DeviceError when neither applies."""
    from ..audio import BLOCK_MS, AudioSystemHungError, MicrophoneSource, import_sounddevice, list_input_devices

    explicit = args.device is not None
    fallback = args.demo_fallback  # None: only when there is no device at all
    try:
        import_sounddevice(timeout_s=args.no_audio_timeout_s)  # PortAudio asks the audio server: bounded wait
        if not explicit:
            if not list_input_devices():
                raise DeviceError(
                    "no input device found; connect a microphone, or replay a recording with --input FILE"
                )
        src = MicrophoneSource(device=args.device, no_audio_timeout_s=args.no_audio_timeout_s,
                               block_ms=getattr(args, "block_ms", BLOCK_MS))
        return src, src.device_name
    except AudioSystemHungError:
        raise  # not "no device": asking again would wait as long again
    except DeviceError as exc:
        no_device_at_all = isinstance(exc, PortAudioMissingError) or not _any_input_device()
        if explicit or fallback is False or not (fallback or no_device_at_all):
            raise
        if not DEMO_WAV.exists():
            raise DeviceError(f"{exc} (and the bundled demo {DEMO_WAV} is missing)") from exc
        reason = str(exc)
        if isinstance(exc, PortAudioMissingError):
            what = "the PortAudio library is missing (install it with `sudo apt-get install libportaudio2`)"
        elif no_device_at_all:
            what = "no input device found"
        else:
            what = f"the microphone cannot be used ({reason})"
        _err(
            f"{what}; replaying the bundled demo recording ser_live/data/{DEMO_WAV.name} instead "
            "- pass --input FILE to choose a file"
        )
        log.info("microphone error: %s", reason)
        return None


def _any_input_device() -> bool:
    from ..audio import list_input_devices

    try:
        return bool(list_input_devices())
    except DeviceError:
        return False


def _holds_records(path: str) -> bool:
    """Whether ``path`` is a regular file with something in it (a FIFO, a device such as
    /dev/stdout, a missing or an empty file: no)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size > 0


def _jsonl_clash(args: argparse.Namespace) -> str | None:
    """What ``--jsonl PATH`` would destroy, or None: the ``--input`` file being replayed (opened
    for writing, ``--overwrite`` emptied it before it was read; ``--append`` wrote JSON into
    the audio) or the ``--save-utterances`` index (``--overwrite`` emptied earlier runs' lines,
    and both writers put each utterance's line in it). Compared as files (links and other
    spellings of one path included) when both exist, else by their resolved paths: the index
    of a new recordings folder does not exist yet, and both writers would still open it."""
    if not args.jsonl or args.jsonl == "-":
        return None
    others = []
    if args.input is not None:
        others.append((args.input, "the --input file: the results written there would destroy the recording"))
    if args.save_utterances is not None:
        from ..recordings import INDEX_NAME

        others.append((os.path.join(args.save_utterances, INDEX_NAME),
                       "the --save-utterances index: each utterance would be written there twice "
                       "(--overwrite: after emptying the earlier runs' lines)"))
    for path, what in others:
        try:
            if os.path.samefile(args.jsonl, path):
                return what
        except OSError:  # one is missing (not yet written) or unreadable: compare where they would be
            if os.path.realpath(args.jsonl) == os.path.realpath(path):
                return what
    return None


def _cmd_listen(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..audio import FileSource, PortAudioNoiseFilter
    from ..audiofile import warn_if_narrowband
    from ..model import EmotionModel
    from ..pipeline import Recognizer

    is_file = args.input is not None
    if args.device is not None and is_file:
        parser.print_usage(sys.stderr)
        _err("error: give either --input FILE or --device DEV, not both")
        return ExitCode.USAGE
    if (args.append or args.overwrite) and (not args.jsonl or args.jsonl == "-"):
        parser.print_usage(sys.stderr)
        _err(f"error: --{'append' if args.append else 'overwrite'} is for --jsonl PATH (a file), not "
             f"{'--jsonl -' if args.jsonl else 'without --jsonl'}")
        return ExitCode.USAGE
    if args.jsonl_summary and not args.jsonl:
        parser.print_usage(sys.stderr)
        _err("error: --jsonl-summary ends the --jsonl stream with the summary: give --jsonl PATH or --jsonl -")
        return ExitCode.USAGE
    if sys.stdout is None and (args.jsonl == "-" or not (args.jsonl or args.save_utterances)):
        # started with stdout closed (`>&-`): the results would go nowhere (`--jsonl -` ended in
        # a traceback at the first result, the plain lines were dropped without a word, exit 0)
        _err("error: stdout is closed, so the results have nowhere to go: write them to a file with "
             "--jsonl FILE, or give the command an open stdout")
        return ExitCode.ERROR
    if args.revisions and not args.jsonl:
        parser.print_usage(sys.stderr)
        _err("error: --revisions adds revision lines to the --jsonl stream: give --jsonl PATH or --jsonl - "
             "(the dashboard always shows the revised timeline)")
        return ExitCode.USAGE
    if args.append and args.overwrite:
        parser.print_usage(sys.stderr)
        _err("error: --append adds to --jsonl PATH, --overwrite replaces it: give one")
        return ExitCode.USAGE
    save = args.save_utterances
    if save is not None and not save.strip():  # "$DIR" unset: the recordings went into the working folder
        parser.print_usage(sys.stderr)
        _err("error: --save-utterances needs a folder, got an empty value (without a value it saves in "
             "recordings/)")
        return ExitCode.USAGE
    clash = _jsonl_clash(args)
    if clash:
        parser.print_usage(sys.stderr)
        _err(f"error: --jsonl {args.jsonl} is {clash}; give another file")
        return ExitCode.USAGE
    if args.jsonl and args.jsonl != "-" and not (args.append or args.overwrite) and _holds_records(args.jsonl):
        # as predict --output: a supervisor restarting the same command must not empty the earlier hours
        _err(f"error: {args.jsonl} already holds records: add this run's after them with --append, replace "
             "them with --overwrite, or write to another file")
        return ExitCode.USAGE
    if save is not None and os.path.exists(save) and not os.path.isdir(save):
        parser.print_usage(sys.stderr)
        _err(f"error: --save-utterances {save}: it is a file; give a folder (created if missing) for the "
             "WAVs and their index.jsonl")
        return ExitCode.USAGE

    model = EmotionModel.load(_model_path(args.model))  # before opening the device: fail early
    model, profile = _apply_profile(args, model)
    if args.denoise:
        from ..denoise import require_noisereduce

        require_noisereduce()  # DenoiseUnavailableError (exit 2) before opening the device
    demo = False
    if is_file:
        source: Any = FileSource(args.input, speed=args.speed, block_ms=args.block_ms)
        source_name = Path(args.input).name
        warn_if_narrowband(args.input, source.info.sample_rate_hz)  # as predict; before the dashboard draws
    else:
        mic = _open_microphone(args)
        if mic is None:
            demo = True
            source = FileSource(DEMO_WAV, speed=args.speed, block_ms=args.block_ms)
            source_name = f"demo: {DEMO_WAV.name}"
        else:
            source, source_name = mic
            if args.speed != 1.0:
                log.warning("--speed applies to --input only; ignored for the microphone")

    rec = Recognizer(
        source, model, vad_config=args.vad_config, rolling_half_life_s=args.half_life_s,
        save_dir=args.save_utterances, source_name=source_name, max_duration_s=args.duration_s,
        session_norm=args.session_norm,
        partial=_partial_config(args),
        denoise=args.denoise,
        speakers=_speakers_for(args, model),
    )
    session_norm = None if model.normalizer is None else bool(args.session_norm)
    outputs = _Outputs(args, labels=model.labels, model_name=model.name, source_name=source_name,
                       session_norm=session_norm, profile=profile, noise_branch=model.noise_route is not None)
    if rec.recordings is not None:  # an index line is the --jsonl line of its utterance (+ wav, source)
        rec.recordings.uncertainty, rec.recordings.flags = outputs.uncertainty, outputs.json_flags
        rec.recordings.profile = profile.name if profile is not None else None
    is_mic = not (is_file or demo)
    noise_filter = PortAudioNoiseFilter() if is_mic else contextlib.nullcontext()
    interrupted = False
    stalled_at_wall_limit_s: float | None = None  # no audio for this long when the wall clock stopped the run
    with _stop_signals_as_interrupt(), noise_filter:
        try:
            try:
                rec.start()  # warm-up, threads, then the source
            except Exception:  # the recordings folder or the device cannot be used: no empty --jsonl file left
                outputs.discard_new_results()
                raise
            t_start = time.monotonic()
            what = "replaying" if not is_mic else "listening to"
            with_profile = f" and profile {_profile_text(profile)}" if profile is not None else ""
            _err(f"{what} {source_name} with model {model.name} ({', '.join(model.labels)}){with_profile}; "
                 "Ctrl-C to stop")
            outputs.__enter__()
            try:
                while True:
                    # A Ctrl-C waits (at most the poll, outputs.POLL_S) until a result taken
                    # off the queue is written: one landing in between would lose it from
                    # --jsonl while the recordings index has it.
                    with outputs.signals_held():
                        r = rec.get_result(timeout_s=outputs.poll_s())
                        if r is not None:
                            outputs.emit(r)
                        outputs.watch(rec.status(), source=source)  # audio dropped, input silent/back
                    if outputs.nobody_reads:  # the reader went away (`| head`), nothing is saved
                        break
                    if r is not None:
                        continue
                    outputs.status(rec.status(), alert=_no_audio_alert(source))
                    if rec.finished:  # end of the file, --duration-s reached, or the source died
                        break
                    if is_mic and args.duration_s is not None and (
                        time.monotonic() - t_start >= args.duration_s + _WALL_CLOCK_GRACE_S
                    ):  # stream time lags the wall clock: the microphone delivers too little
                        silent_s = source.no_audio_s
                        if silent_s >= source.no_audio_warn_s:
                            stalled_at_wall_limit_s = silent_s
                        break
            except KeyboardInterrupt:
                interrupted = outputs.stopping = True
            try:
                rec.stop()  # drains: the utterance in progress is classified and saved
            except KeyboardInterrupt:
                with _signals_deferred():  # a third Ctrl-C waits for the utterance being saved
                    _err("interrupted again: not classifying what is still queued")
                    rec.quit()  # every utterance already saved is on rec.results: emitted below
            finally:
                with outputs.signals_held():  # a further Ctrl-C waits until all is emitted
                    while (r := rec.get_result(timeout_s=0)) is not None:
                        outputs.emit(r)
                    outputs.watch(rec.status(), final=True)  # the losses not yet reported
            outputs.status(rec.status())
        except KeyboardInterrupt:  # during warm-up or start
            interrupted = outputs.stopping = True
        finally:
            outputs.close(results=False)  # --jsonl PATH stays open for the summary record
            rec.stop()
    # The run is over: a late Ctrl-C changes nothing. In the ser-live process itself the
    # signals stay ignored until it exits (restoring them would let a Ctrl-C that lands
    # between here and the interpreter's exit kill it by SIGINT after a clean summary).
    with _stop_signals_ignored(restore=not args.owns_process):
        code = _finish_listen(args, rec, outputs, interrupted=interrupted, is_file=is_file,
                              stalled_at_wall_limit_s=stalled_at_wall_limit_s)
    if getattr(source, "abandoned", False):
        # PortAudio kept a stream it would not close: its exit handler (Pa_Terminate) could
        # block too, so leave without it once everything is written.
        from ..runtime import exit_now

        exit_now(code)
    return code


#: Seconds past ``--duration-s`` (wall clock) after which a microphone run stops even when
#: the stream time has not reached it (the microphone delivered less audio than real time).
_WALL_CLOCK_GRACE_S: float = 1.0


def _no_audio_alert(source: Any) -> str | None:
    """Dashboard alert while a microphone delivers nothing (after the warning delay)."""
    silent_s = float(getattr(source, "no_audio_s", 0.0))
    if silent_s < getattr(source, "no_audio_warn_s", math.inf):
        return None
    timeout = getattr(source, "no_audio_timeout_s", None)
    end = f"; stopping at {timeout:g} s" if timeout is not None else ""
    return f"no audio from the microphone for {silent_s:.0f} s{end}"


def _finish_listen(
    args: argparse.Namespace, rec: Any, outputs: _Outputs, *, interrupted: bool, is_file: bool,
    stalled_at_wall_limit_s: float | None,
) -> int:
    """Print the summary and the cause of an early end (``--jsonl-summary``: also as the last
    record); close the result files; return the exit status."""
    from ..plaintext import format_summary
    from ..records import summary_record

    from .outputs import say_after_stop

    # after a stop signal, a terminal paused by Ctrl-S would hold these lines, and the exit, for ever
    err_raw = (lambda text: say_after_stop(text, raw=True)) if interrupted else _err_raw
    summary = rec.summary()
    err_raw(format_summary(summary, uncertain=outputs.uncertain, revised=outputs.revised))
    if outputs.profile is not None:
        err_raw(f"  {'profile':<21s}{_profile_text(outputs.profile)}")
    if rec.save_dir is not None and summary.n_saved:
        err_raw(f"ser-live: {summary.n_saved} utterance(s) saved in {rec.save_dir}/ "
                f"(index: {rec.save_dir / 'index.jsonl'})")
    code, error = _exit_status(args, rec, outputs, summary, interrupted=interrupted, is_file=is_file,
                               stalled_at_wall_limit_s=stalled_at_wall_limit_s)
    if error is not None:
        err_raw(f"ser-live: error: {error}")
    if getattr(args, "jsonl_summary", False):
        outputs.write_record(summary_record(summary, exit_status=code, error=error, uncertain=outputs.uncertain,
                                            revised=outputs.revised))
    outputs.close_results()
    return ExitCode.ERROR if code == 0 and outputs.write_error is not None else code


def _exit_status(
    args: argparse.Namespace, rec: Any, outputs: _Outputs, summary: Any, *, interrupted: bool, is_file: bool,
    stalled_at_wall_limit_s: float | None,
) -> tuple[int, str | None]:
    """The run's exit status, and the error that ended it (None for none)."""
    err = rec.error
    if err is None and stalled_at_wall_limit_s is not None:
        err = CaptureError(
            f"input device {rec.source_name!r}: --duration-s {args.duration_s:g} s passed on the "
            f"wall clock with no audio for the last {stalled_at_wall_limit_s:.1f} s"
        )
    if err is not None:
        return (err.exit_code if isinstance(err, SerLiveError) else 1), str(err)
    if outputs.write_error is not None or (rec.recordings is not None and rec.recordings.error is not None):
        return ExitCode.ERROR, None  # each reported once when it happened
    if interrupted:
        return EXIT_INTERRUPTED, None
    if is_file and not rec.reached_max_duration and summary.n_utterances == 0:
        return NoSpeechError.exit_code, f"no speech detected in {args.input}"
    return 0, None
