"""``ser-live predict``: classify audio files offline (here, or on a Dask cluster)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import re
import sys
from typing import Any

from ..errors import ExitCode, NoSpeechError, SerLiveError, os_error_text
from ..fsutil import expand_home
from .options import (
    _add_common, _add_speakers, _add_uncertainty_arguments, _apply_profile, _err, _Formatter, _model_path,
    _reconfigure_stdout, _speakers_for, _uncertainty_rule,
)
from .progress import FileProgress
from .signals import _signals_deferred

_PREDICT_EPILOG = """\
Whole-file mode (default) treats each file as one utterance: it is trimmed to the speech the
VAD finds (as training files are) and classified; files longer than 60 s are refused (use
--segments). With --segments each file is cut by the live segmenter, exactly as `ser-live
--input FILE` cuts it, and every utterance gets a record with its start_s and end_s: seconds
from the file's start, of the utterance as cut (from --preroll-ms before its first voiced
frame to --hangover-ms after its last; speech longer than --max-utterance-s is cut in pieces).
Channels are averaged into one line: a stereo call (agent and caller on channels of their
own) is scored mixed, with a warning; --channel N scores channel N alone (1 = left).
Files below 16 kHz and clipped speech are classified with a warning.

Sessions: a model with a session normaliser standardises each utterance's features with
statistics of its session (one speaker through one microphone) shrunk towards the training
prior. Without --sessions each whole file is its own session, and with --segments each file
is one session normalised online in utterance order, exactly as `ser-live --input FILE`.
--sessions FILE.csv (header `path,session`, one row per input file; relative paths are
relative to the CSV's folder; paths are compared after resolving) normalises the files of one
session together with all of that session's utterances (with --segments: every utterance
of every file of the session; two passes: every file is read first). Every input must be in the CSV and every CSV path among the inputs, else nothing is
classified and the exit status is 2 (the first few offending paths are named). With a model
that has no session normaliser --sessions is accepted and has no effect (a warning says so).

Output: --output's suffix picks the format, with or without --dask: .jsonl (JSON lines), .csv,
.parquet (needs pyarrow: the dask extra); any other suffix, or a --format that contradicts the
suffix, is a usage error (exit 2). --format only chooses what goes to stdout (default jsonl).
An existing --output is refused (exit 2, before anything is classified) unless --overwrite
replaces it or --resume adds the inputs not in it yet (paths compared resolved; with
--segments the file it ends with is classified again whole: a run stopped inside it).
Ctrl-C or a stop signal ends the run with exit 130 and the records done so far written; an
--output that existed before such a run (--overwrite) is left as it was, the run's records
then going to <name>.partial<suffix> beside it (stderr says where).

Inputs: audio files, folders (walked), and CSV lists of paths (FILE.csv: a `path` column,
else the first; relative paths are relative to the CSV's folder), with and without --dask.

Records (ser_live/records.py, the same keys and columns with and without --dask): jsonl
{"path", ["start_s", "end_s",] ["speaker", "speaker_revised",] "label", "confidence",
"probabilities", "arousal", "valence" [, "session_utterances"][, "noise_branch"], "uncertain"
[, "profile"], "error"} ("speaker", "speaker_revised": with --speakers, the utterance's
voice at the moment and after the file's last re-clustering; "arousal",
"valence": in [-1, 1], read off the probabilities on Russell's circumplex, ser_live/affect.py;
"noise_branch": whether the model's noise branch classified it, for a model that has one;
"uncertain": true/false as live decides it (--uncertain-margin, --uncertain-below), null
when the file failed; "profile": the --profile's name; "error": null, or why the file
failed); csv/parquet columns path, [start_s, end_s,] [speaker, speaker_revised,] label,
confidence, prob_<label> for every label, arousal, valence, uncertain, [profile,] error. session_utterances (jsonl, --segments, a model with a
session normaliser: the utterances the session statistics rest on) is left out with
--no-session-norm. A file that fails (unreadable, empty, silent, too long) is a record with no
label and its `error` (in every format, never dropped), also reported on stderr, and the rest
go on; with --segments a file that fails midway (damaged data) keeps the records of its
utterances before the failure, followed by its error record. Exit status, the same with and without --dask: 0 when every file was classified, else
3 when some file was unusable, else 4 when some file held no speech, else 1.

Progress: a bar on stderr (files, files/s) when stderr is a terminal and the run lasts over 2 s,
nothing on a pipe; a closing summary line on stderr always (files, failed, files/s).

examples:
  ser-live predict clip.wav
  ser-live predict recordings/ --output preds.csv
  ser-live predict session.flac --segments --jsonl
  ser-live predict calls/ --sessions calls.csv --format csv
  ser-live predict --dask calls/ --output preds.parquet   a local cluster
  ser-live predict calls.csv --dask tcp://10.0.0.5:8786 --output preds.parquet
"""


def add_predict_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``predict`` subcommand's parser."""
    pr = sub.add_parser(
        "predict", help="classify audio files (or folders of them) offline", formatter_class=_Formatter,
        description="Classify audio files offline with the same model and segmenter as the live\nrecogniser.",
        epilog=_PREDICT_EPILOG,
    )
    pr.add_argument("paths", nargs="+", metavar="FILE|DIR", help="audio files, or folders walked for every format libsndfile reads (.wav, .flac, .ogg, .mp3, .aiff, ...)")
    pr.add_argument("--segments", action="store_true", help="cut each file into utterances and give one record per utterance")
    pr.add_argument("--format", choices=("jsonl", "csv"), default=None,
                    help="record format on stdout (default: jsonl); with --output the suffix picks it")
    pr.add_argument("--jsonl", dest="format", action="store_const", const="jsonl", help="same as --format jsonl")
    pr.add_argument("--output", type=expand_home, metavar="PATH", help="write the records to PATH instead of stdout; "
                    "its suffix picks the format: .jsonl, .csv or .parquet")
    pr.add_argument("--channel", type=int, default=None, metavar="N",
                    help="score channel N of each file alone (1 = left: a call recorder's agent or caller), "
                         "not the average of its channels; a file without it is an error record")
    pr.add_argument("--sessions", type=expand_home, metavar="FILE.csv",
                    help="CSV `path,session`: normalise the files of one session together (see below)")
    clu = pr.add_argument_group("scale-out (needs the dask extra: pip install 'ser-live[dask]')")
    clu.add_argument("--dask", nargs="?", const="", default=None, metavar="ADDRESS",
                     help="score on a Dask cluster: tcp://host:port (or host:port) of a running scheduler, or "
                          "without ADDRESS a local cluster (one worker process per core; a path after --dask is "
                          "an input, not an address); records are written as tasks complete, failed files as "
                          "records with an `error`")
    clu.add_argument("--resume", action="store_true",
                     help="skip the inputs already in --output and add to it, with or without --dask (with "
                          "--segments the file the output ends with, perhaps cut by Ctrl-C, is classified again "
                          "whole and its records replaced); not with --sessions")
    clu.add_argument("--overwrite", action="store_true",
                     help="replace an existing --output (without it, or --resume with --dask, an existing "
                          "file is refused, exit 2; with or without --dask); it is replaced only once "
                          "records were written")
    clu.add_argument("--chunk-files", type=int, default=None, metavar="N",
                     help="with --dask: files per task (default: 200); without --dask a usage error")
    _add_common(pr)
    _add_speakers(pr, what="each file with --segments (not with --sessions, whose sessions are given)")
    _add_uncertainty_arguments(pr, what="the record gets \"uncertain\": true, its label and probabilities stay")
    return pr


#: Records per Parquet row group without --dask (one file's records arrive at a time).
PARQUET_GROUP_ROWS: int = 10_000

#: A Dask scheduler address: ``scheme://...`` or ``host:port``.
_SCHEDULER_ADDRESS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.*|[^/\\\s]+:[0-9]{1,5}")


def _is_scheduler_address(value: str) -> bool:
    """Whether ``--dask VALUE`` names a scheduler (``tcp://host:port``, ``host:port``) rather
    than an input: an existing path is an input whatever it looks like."""
    return _SCHEDULER_ADDRESS.fullmatch(value) is not None and not os.path.exists(value)


def split_dask_input(argv: list[str]) -> list[str]:
    """``predict ... --dask VALUE``: VALUE is the scheduler's address only when it looks like
    one (:func:`_is_scheduler_address`); otherwise ``--dask`` means a local cluster and VALUE
    is an input (``ser-live predict --dask calls/``), which argparse, whose ``--dask`` takes
    an optional value, would take as the address.

    Parameters
    ----------
    argv : list of str
        The command line without the program name.

    Returns
    -------
    list of str
        ``argv`` with such a ``--dask`` written ``--dask=`` (no address); unchanged without
        ``predict``.
    """
    if "predict" not in argv:
        return argv
    out = list(argv)
    for i in range(out.index("predict") + 1, len(out) - 1):
        if out[i] == "--":
            break
        nxt = out[i + 1]
        if out[i] == "--dask" and not nxt.startswith("-") and not _is_scheduler_address(nxt):
            out[i] = "--dask="
    return out


class _Sink:
    """The command's record writer: puts ``profile`` before ``error`` on every record, counts
    files and failures (for the exit status and the closing summary), writes through
    ``writer``."""

    def __init__(self, writer: Any, *, profile: str | None) -> None:
        self.writer = writer
        self.profile = profile
        self.n_records = 0
        self.failed: dict[str, int] = {}  # path -> exit status of its failure

    @property
    def done(self) -> set[str]:
        return self.writer.done

    def write(self, records: list[dict[str, Any]]) -> None:
        from ..records import with_profile

        self.writer.write([with_profile(r, self.profile) for r in records])
        self.n_records += len(records)
        for r in records:
            if r.get("error") is not None:
                self.failed.setdefault(r["path"], int(getattr(r, "exit_code", ExitCode.ERROR)))

    def exit_code(self) -> int:
        from ..records import failure_exit_code

        return failure_exit_code(set(self.failed.values()))


def _output_format(args: argparse.Namespace) -> str | None:
    """``--output``'s format (its suffix, else ``--format``); None after an error message."""
    from ..records import output_format

    try:
        fmt = output_format(args.output, args.format)
    except ValueError as exc:
        _err(f"error: {exc}")
        return None
    if fmt == "parquet":
        try:  # imported, not only found: pyarrow 26 is installed on NumPy 1 but refuses to import there
            importlib.import_module("pyarrow.parquet")
        except ImportError as exc:
            missing = isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "pyarrow"
            _err("error: .parquet output needs pyarrow: pip install 'ser-live[dask]'" if missing
                 else f"error: .parquet output needs pyarrow, which is installed but cannot be imported: {exc}")
            return None
    return fmt


def _cmd_predict(args: argparse.Namespace) -> int:
    """``ser-live predict``: records of :mod:`ser_live.records` for every file (or utterance),
    here or on a Dask cluster (``--dask``)."""
    from ..batch import expand_path_lists
    from ..denoise import with_denoise
    from ..model import EmotionModel
    from ..offline import Predictor, read_sessions_csv
    from ..records import RecordWriter

    sessions = read_sessions_csv(args.sessions) if args.sessions else None  # SessionsError: exit 2
    fmt = _output_format(args)
    if fmt is None:
        return ExitCode.USAGE
    if not args.output and sys.stdout is None:  # started with stdout closed (`>&-`): nowhere for the records
        _err("error: stdout is closed, so the records have nowhere to go: write them to a file with "
             "--output FILE (.jsonl, .csv or .parquet), or give the command an open stdout")
        return ExitCode.ERROR
    if not args.output:  # records on stdout are UTF-8, as in an --output file (a CSV path such as Ärger.wav)
        _reconfigure_stdout(encoding="utf-8")
    if args.resume and not args.output:
        _err("error: --resume needs --output FILE (the records to resume from)")
        return ExitCode.USAGE
    if args.resume and args.overwrite:
        _err("error: --resume adds to --output, --overwrite replaces it: give one")
        return ExitCode.USAGE
    if args.dask is None and args.resume and args.sessions:
        _err("error: --resume does not go with --sessions: a session is normalised with all of its files "
             "at once; run it again whole (--overwrite)")
        return ExitCode.USAGE
    if (args.dask is None and args.output and not args.overwrite and not args.resume
            and os.path.lexists(args.output) and not os.path.isdir(args.output)):  # a folder: RecordWriter says
        # as with --dask: an earlier run's records are never replaced unasked
        _err(f"error: {args.output} exists: add to it with --resume (the inputs not in it yet), replace it "
             "with --overwrite, or write to another file")
        return ExitCode.USAGE
    if getattr(args, "speakers", 1) != 1 and not args.segments:
        _err(f"error: --speakers {args.speakers} needs --segments (speaker turns are found among a file's "
             "utterances; listening finds them too: ser-live --input FILE --speakers N)")
        return ExitCode.USAGE
    if getattr(args, "speakers", 1) != 1 and args.sessions:
        _err(f"error: --speakers {args.speakers} does not go with --sessions: the CSV gives each file's session, "
             "so no speaker is attributed; drop --sessions to find the speakers of each file, or --speakers")
        return ExitCode.USAGE
    if any(p == "" for p in args.paths):  # `predict "$FILE"` with FILE unset: "" is the folder we are in
        _err("error: an input path is empty (''): an unset shell variable? Give a file or folder, "
             "or '.' for the current folder")
        return ExitCode.USAGE
    if args.channel is not None and args.channel < 1:
        _err(f"error: --channel {args.channel}: channels are counted from 1 (1 = left)")
        return ExitCode.USAGE
    if args.channel is not None and args.dask is not None:
        _err("error: --channel is not available with --dask yet (split the channels first: sox IN OUT remix N)")
        return ExitCode.USAGE
    if args.chunk_files is not None and args.dask is None:  # it was silently ignored
        _err("error: --chunk-files sizes the tasks of a Dask run: add --dask (a local cluster) or --dask ADDRESS, "
             "or drop it")
        return ExitCode.USAGE
    if args.dask is not None:
        from ..batch import require_dask

        require_dask()  # DaskUnavailableError (exit 2) before the model is loaded
    model = EmotionModel.load(_model_path(args.model))
    model, profile = _apply_profile(args, model)
    profile_name = profile.name if profile is not None else None
    uncertainty = _uncertainty_rule(args, len(model.labels))
    if args.dask is not None:
        return _predict_on_cluster(args, with_denoise(model) if args.denoise else model, profile=profile_name,
                                   uncertainty=uncertainty)
    seg = bool(args.segments)
    speakers = _speakers_for(args, model) if seg and sessions is None else None
    predictor = Predictor(model, vad_config=args.vad_config, session_norm=args.session_norm, denoise=args.denoise,
                          speakers=speakers, channel=None if args.channel is None else args.channel - 1)
    expanded = list(expand_path_lists(args.paths))  # PathListError (a short row in a CSV): exit 2
    # every input is checked against the sessions before anything is written or classified
    progress: FileProgress | None = None  # made below, before the first result is (results are lazy)

    def heard(path: str, res: Any) -> None:  # progress inside a long file
        if progress is not None:
            progress.heard(path, res.utterance.end_s)

    results = predictor.process_files(
        [p for p, e in expanded if e is None], segments=seg, errors="return", sessions=sessions, on_segment=heard
    )

    sink: _Sink | None = None
    existed = bool(args.output) and os.path.lexists(args.output)
    appended = existed and args.resume and fmt != "parquet"  # records go into --output itself
    try:
        with contextlib.ExitStack() as stack:
            if args.output:
                try:
                    writer = stack.enter_context(RecordWriter(
                        args.output, labels=model.labels, segments=seg, speakers=predictor.speakers > 1,
                        keep_earlier=True, resume=args.resume, redo_last_file=seg, profile=profile is not None,
                        parquet_group_rows=PARQUET_GROUP_ROWS))
                except ValueError as exc:  # --resume from records of another kind
                    _err(f"error: {exc}")
                    return ExitCode.USAGE
            else:
                writer = RecordWriter(None, labels=model.labels, stream=sys.stdout, fmt=fmt, segments=seg,
                                      speakers=predictor.speakers > 1, profile=profile is not None)
            if args.resume:
                expanded = _not_done(expanded, writer)
                results = predictor.process_files([p for p, e in expanded if e is None], segments=seg,
                                                  errors="return", on_segment=heard)
            sink = _Sink(writer, profile=profile_name)
            progress = stack.enter_context(FileProgress(len(expanded)))
            _write_records(sink, expanded, results, segments=seg, progress=progress, uncertainty=uncertainty,
                           min_utterance_s=predictor.vad_config.min_utterance_s)
        # `done: ... -> OUTPUT` only once the output is finished: closing the writer is what
        # writes a Parquet file's records and renames the temporary file over --output, and a
        # full disk found there must not follow a line saying the records are in it
        progress.close(where=args.output)
    except KeyboardInterrupt:  # Ctrl-C or a stop signal: the records finished so far are kept
        _err("interrupted")
        if args.output and sink is not None:
            _err_interrupted(args, sink, existed=existed)
        return ExitCode.INTERRUPTED
    except OSError as exc:  # e.g. a full disk: the records written whole before it may be kept
        kept = sink.writer.kept_path if sink is not None else None
        if kept is None and sink is not None and sink.n_records and args.output:
            space = "free some space, then " if exc.errno == errno.ENOSPC else ""
            _err(f"error: {os_error_text(exc)}")
            if appended:  # --resume adds JSON lines or CSV rows to --output itself, batch by batch
                _err(f"{sink.writer.n_written} records added to {args.output} before the write failed; the rest "
                     f"was not written; {space}{_finish_advice(args)}")
            else:  # a Parquet file (written whole when the run ends), or a temporary file not renamed
                _err(f"none of the {sink.n_records} records is in {args.output}: "
                     + ("it was left as it was" if existed else "it was not created") + f"; {space}run it again")
            return ExitCode.ERROR
        if kept is None:
            raise
        _err(f"error: {os_error_text(exc)}")
        if sink.writer.partial_path is not None:
            _err(f"{sink.writer.n_written} records written to {kept} before the write failed; the rest was not "
                 f"written; {args.output} from before is as it was")
        else:
            finish = _finish_advice(args)
            _err(f"{sink.writer.n_written} records written to {kept} before the write failed; the rest was not "
                 f"written; {finish if args.sessions else 'free some space, then ' + finish}")
        return ExitCode.ERROR
    return sink.exit_code()


def _err_interrupted(args: argparse.Namespace, sink: _Sink, *, existed: bool) -> None:
    """After Ctrl-C (without ``--dask``): where the records went, and how to finish
    (``existed``: whether ``--output`` was there before the run)."""
    where = sink.writer.partial_path
    if where is not None:
        _err(f"{sink.n_records} records written to {where}; the rest was not classified; {args.output} from "
             "before is as it was")
    elif sink.n_records:
        _err(f"{sink.n_records} records written to {args.output}; the rest was not classified; {_finish_advice(args)}")
    else:
        _err(f"no record written; {args.output} " + ("was left as it was" if existed else "was not created")
             + "; run it again")


def _finish_advice(args: argparse.Namespace) -> str:
    """How to finish a run whose ``--output`` holds only some of the records: ``--resume``,
    or with ``--sessions`` (a session is normalised with all of its files) a new run."""
    return ("run it again with --overwrite (a session is normalised with all of its files)" if args.sessions
            else "the same command with --resume finishes it")


def _not_done(expanded: list, writer: Any) -> list:
    """``--resume``: the inputs of ``expanded`` (``(path, error)`` pairs) not yet in the
    records ``writer`` resumes (paths compared resolved, as with ``--dask``), said on stderr."""
    from ..batch import path_key

    done = {path_key(p) for p in writer.done}
    todo = [(p, e) for p, e in expanded if path_key(p) not in done]
    if len(todo) < len(expanded):
        _err(f"--resume: {len(expanded) - len(todo)} of {len(expanded)} inputs already in {writer.path}")
    return todo


def _write_records(sink: _Sink, expanded: list, results: Any, *, segments: bool, progress: Any,
                   uncertainty: Any, min_utterance_s: float = 0.5) -> None:
    """A record for every input of ``expanded`` (``(path, error)`` pairs, in order) from the
    predictor's ``results`` (``(path, outcome)`` of the readable ones), written to ``sink``
    as each file is done; failures as error records (also on stderr). ``uncertainty``: the
    run's :class:`~ser_live.types.UncertaintyRule`; ``min_utterance_s``: the VAD's shortest
    utterance (s), named when a file gives no utterance with ``segments``."""
    from ..records import error_record, prediction_record

    for path, error in expanded:
        n_failed = len(sink.failed)
        if error is None:
            try:
                _, outcome = next(results)
            except KeyboardInterrupt as exc:  # the file's utterances classified so far are kept
                partial = getattr(exc, "partial_results", None)
                if segments and partial:
                    with _signals_deferred():
                        sink.write(_segment_records(*partial, uncertainty=uncertainty))
                    _err(f"{path} was cut at {partial[1][-1].utterance.end_s:.2f} s")
                raise
        try:
            if error is not None:
                raise error
            if isinstance(outcome, SerLiveError):
                partial = getattr(outcome, "partial_results", None)
                if segments and partial:  # the utterances before a failure midway are kept
                    sink.write(_segment_records(*partial, uncertainty=uncertainty))
                raise outcome
            if segments:
                if not outcome:  # a clip of speech shorter than an utterance is not "silent"
                    raise NoSpeechError(f"{path}: no speech detected (no stretch of speech of at least "
                                        f"{min_utterance_s:g} s: silent, noise-only or too short; "
                                        "--min-utterance-s sets the shortest)")
                sink.write(_segment_records(path, outcome, uncertainty=uncertainty))
            else:
                sink.write([prediction_record(path, outcome, uncertainty=uncertainty)])
        except SerLiveError as exc:
            kept = getattr(exc, "partial_results", None) if segments else None
            _err(f"error: {exc}" + (f" (its {len(kept[1])} utterances before it are in the records)" if kept else ""))
            sink.write([error_record(path, exc, segments=segments)])
        progress.advance(failed=len(sink.failed) > n_failed)


def _segment_records(path: str, results: list, *, uncertainty: Any) -> list[dict[str, Any]]:
    """The records of one file's utterances (``--segments``), in order."""
    from ..records import prediction_record

    return [prediction_record(path, r.prediction, uncertainty=uncertainty, start_s=r.utterance.start_s,
                               end_s=r.utterance.end_s, session_utterances=r.session_utterances, speaker=r.speaker,
                               speaker_revised=r.speaker_revised)
            for r in results]


def _predict_on_cluster(args: argparse.Namespace, model: Any, *, profile: str | None = None,
                        uncertainty: Any = None) -> int:
    """``ser-live predict ... --dask [ADDRESS]``: the command's cluster branch.

    Parameters
    ----------
    args : argparse.Namespace
        ``paths``, ``dask`` ("" for a local cluster), ``output``, ``resume``, ``format``,
        ``segments``, ``chunk_files``, ``vad_config``.
    model : EmotionModel
    profile : str, optional
        The ``--profile``'s name, stamped on every record (as without ``--dask``).
    uncertainty : UncertaintyRule, optional
        The run's rule: ``uncertain`` on every record (as without ``--dask``).

    Returns
    -------
    int
        0; when some file failed (its record says why) the status of
        :func:`~ser_live.records.failure_exit_code` (3, 4 or 1), as without ``--dask``;
        2 usage error (an existing ``--output`` without ``--resume`` or ``--overwrite``, a
        short row in a CSV of paths); 8 cluster unreachable, not a Dask scheduler, or lost;
        130 Ctrl-C or a stop signal (SIGTERM, SIGHUP, SIGQUIT). After 8 and 130 every finished
        record is in ``--output`` and ``--resume`` goes on; ``--output`` is replaced only when
        records were written.

    Raises
    ------
    OSError
        The output cannot be written (the CLI reports it, exit 1).
    """
    if args.segments:
        _err("error: --segments is not available with --dask yet (whole files only)")
        return ExitCode.USAGE
    if getattr(args, "sessions", None):  # TODO(issue 13): one task per session, normalised together
        _err("error: --sessions is not available with --dask yet")
        return ExitCode.USAGE
    if args.resume and not args.output:
        _err("error: --resume needs --output FILE (the records to resume from)")
        return ExitCode.USAGE
    from ..batch import BatchConfig, ClusterError, predict_on_cluster  # imports Dask: only here
    from ..records import RecordWriter

    try:
        cfg = (BatchConfig() if args.chunk_files is None else BatchConfig(chunk_files=args.chunk_files)).validate()
    except ValueError as exc:
        _err(f"error: --chunk-files: {exc}")
        return ExitCode.USAGE
    from .signals import _stop_signals_as_interrupt

    writer: RecordWriter | None = None
    existed = bool(args.output) and os.path.lexists(args.output)
    try:
        with _stop_signals_as_interrupt(), \
                RecordWriter(args.output, labels=model.labels, resume=args.resume, overwrite=args.overwrite,
                             fmt=_output_format(args) or "jsonl", profile=profile is not None) as writer:
            sink = _Sink(writer, profile=profile)
            report = predict_on_cluster(args.paths, model=model, writer=sink, address=args.dask or None,
                                        vad_config=args.vad_config, config=cfg, uncertainty=uncertainty)
    except ClusterError as exc:
        _err(f"error: {exc}")
        _err_kept(args, writer, existed=existed)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP, SIGQUIT: the finished records are kept
        _err("interrupted")
        _err_kept(args, writer, existed=existed)
        return ExitCode.INTERRUPTED
    except ValueError as exc:  # an output file that cannot be resumed, or exists
        _err(f"error: {exc}")
        return ExitCode.USAGE
    _err(f"done: {report}" + (f" -> {args.output}" if args.output else ""))
    for e in report.errors:
        _err(f"error: {e}")
    return sink.exit_code()


def _err_kept(args: argparse.Namespace, writer: Any, *, existed: bool) -> None:
    """After a run that ended early: where its records are, and whether ``--resume`` goes on
    (``existed``: whether ``--output`` was there before the run)."""
    if not args.output or writer is None:
        return
    if writer.n_written:
        _err(f"{writer.n_written} records written to {args.output}; run again with --resume to finish")
    elif args.resume:
        _err(f"no new record; {args.output} is as it was; run again with --resume to finish")
    elif existed:
        _err(f"no record written; {args.output} was left as it was")
    else:
        _err(f"no record written; {args.output} was not created")
