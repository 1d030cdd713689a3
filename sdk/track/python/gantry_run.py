"""Report metrics, tags and images from a training script to Gantry.

Copy this one file next to your script, or put its directory on PYTHONPATH;
it needs only the standard library, Python 3.8 or later::

    import gantry_run as run

    run.tag("model", "ridge")
    for epoch in range(10):
        run.log("loss", loss)                 # steps 0, 1, 2, ... per name
        run.log("lr", lr, step=epoch)         # or give the step
    run.log_list("alphas", [0.1, 0.2, 0.4])   # a series in one record
    run.log_row("scores", alpha=0.1, mse=3.2) # one row of a table
    run.log_image("residuals", path="res.png")
    joblib.dump(model, os.path.join(run.outputs_dir(), "model.pkl"))

How it works. The Gantry agent that runs the script names a track file in
GANTRY_TRACK_FILE; each call appends one JSON object, a line, to it (the
format is described in the Go package gantry/sdk/track). Lines are buffered
and written whole, by a background thread at most every 0.2 s, when many
have piled up, on flush(), and when the interpreter exits. A process killed
outright loses what it logged in the last 0.2 s; child processes that log
should call flush() before they end. After os.fork() a child starts with an
empty buffer of its own.

Checks. Names are non-empty strings; values are finite real numbers: a bool,
a string or None raises TypeError, and NaN or an infinity raises ValueError
naming the metric and the value. These checks are the same inside and
outside Gantry, so a script that passes them locally passes them there.

Outside Gantry (GANTRY_TRACK_FILE not set), every call checks its arguments
and then does nothing, after one warning on stderr; the script never fails
because it is not run by Gantry. If the track file cannot be written, the
helper warns once on stderr and drops what it cannot write: training goes on.
"""

import atexit
import collections
import json
import math
import os
import shutil
import sys
import threading
import time

__all__ = [
    "log",
    "log_list",
    "log_row",
    "log_image",
    "tag",
    "flush",
    "run_id",
    "experiment",
    "outputs_dir",
]

FLUSH_INTERVAL = 0.2  # seconds between background writes
_MAX_PENDING = 16384  # lines buffered before log() writes them itself
_CHUNK = 1 << 20  # bytes per os.write, cut at line ends
_PNG = b"\x89PNG\r\n\x1a\n"
_MAX_NAMES = 10000  # names whose JSON form is cached


def _warn(msg):
    try:
        sys.stderr.write("gantry_run: " + msg + "\n")
        sys.stderr.flush()
    except Exception:  # stderr closed or broken: nothing to tell
        pass


class _Writer:
    """Buffers lines and appends them to the track file.

    Loggers append to a deque without a lock (deque.append is atomic);
    writing pops lines and writes them under a lock, so lines reach the file
    in the order they were logged.
    """

    def __init__(self, path, run_dir):
        self.path = path
        self.run_dir = run_dir
        self.pending = collections.deque()
        self.lock = threading.Lock()
        self.fd = None
        self.failed = False
        self.sync = False  # write at once: the interpreter is exiting
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            self._fail(e)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="gantry_run flush", daemon=True)
        self.thread.start()

    def add(self, line):
        self.pending.append(line)
        if self.sync or len(self.pending) >= _MAX_PENDING:
            self.flush()

    def _loop(self):
        while not self.stop.wait(FLUSH_INTERVAL):
            if self.pending:
                self.flush()

    def flush(self):
        with self.lock:
            pending = self.pending
            n = len(pending)
            if not n:
                return
            lines = [pending.popleft() for _ in range(n)]
            if self.failed:
                return
            try:
                self._write(lines)
            except OSError as e:
                self._fail(e)

    def _write(self, lines):
        chunk, size = [], 0
        for line in lines:
            if size + len(line) > _CHUNK and chunk:
                self._write_all("".join(chunk).encode("utf-8"))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            self._write_all("".join(chunk).encode("utf-8"))

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def _fail(self, err):
        if not self.failed:
            self.failed = True
            _warn("cannot write %s (%s); metrics from here on are lost" % (self.path, err))

    def exiting(self):
        self.sync = True
        self.stop.set()
        self.flush()


class _Null:
    """Stands in for the writer outside Gantry: it drops every line."""

    run_dir = None
    failed = True

    def add(self, line):
        pass

    def flush(self):
        pass

    def exiting(self):
        pass


_writer = None
_writer_lock = threading.Lock()
_names = {}  # name -> its JSON string


def _get_writer():
    global _writer
    with _writer_lock:
        if _writer is None:
            path = os.environ.get("GANTRY_TRACK_FILE")
            if not path:
                _warn(
                    "GANTRY_TRACK_FILE is not set: not run by Gantry, so metrics, tags "
                    "and images are checked but not recorded"
                )
                _writer = _Null()
            else:
                run_dir = os.environ.get("GANTRY_RUN_DIR") or os.path.dirname(os.path.abspath(path))
                _writer = _Writer(path, run_dir)
        return _writer


def _atexit():
    w = _writer
    if w is not None:
        w.exiting()


def _after_fork_in_child():
    # The parent writes what it had buffered; the child starts afresh.
    global _writer, _writer_lock
    _writer = None
    _writer_lock = threading.Lock()


atexit.register(_atexit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _name(what, name):
    """Returns name as JSON, checking it."""
    s = _names.get(name)
    if s is not None:
        return s
    if not isinstance(name, str):
        raise TypeError("gantry_run: %s must be a str, not %s" % (what, type(name).__name__))
    if not name:
        raise ValueError("gantry_run: empty %s" % what)
    s = json.dumps(name)
    if len(_names) < _MAX_NAMES:
        _names[name] = s
    return s


def _number(name, value):
    """Returns value as a finite float, or raises naming name."""
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):  # numpy's too
        raise TypeError("gantry_run: %s: %r is a bool, not a number" % (name, value))
    if isinstance(value, (str, bytes)) or not hasattr(type(value), "__float__"):
        raise TypeError("gantry_run: %s: %r is a %s, not a number" % (name, value, type(value).__name__))
    try:
        f = float(value)
    except (OverflowError, ValueError, TypeError) as e:
        raise ValueError("gantry_run: %s: %r is not a finite number (%s)" % (name, value, e)) from None
    if not math.isfinite(f):
        raise ValueError("gantry_run: %s: %r is not a finite number" % (name, value))
    return f


def _step(name, step):
    if type(step) is not int:
        if isinstance(step, bool) or not hasattr(type(step), "__index__"):
            raise TypeError("gantry_run: %s: step %r is not an int" % (name, step))
        step = step.__index__()
    if step < 0:
        raise ValueError("gantry_run: %s: step %d is negative" % (name, step))
    return step


def log(name, value, step=None):
    """Logs value, a finite number, as the metric name.

    step is a non-negative int; without one, Gantry numbers the values of a
    name 0, 1, 2, ... in the order they are logged.
    """
    w = _writer or _get_writer()
    n = _names.get(name) or _name("metric name", name)
    if type(value) is not float or value - value != 0.0:  # not a finite float
        value = _number(name, value)
    if step is None:
        w.add('{"k":"metric","name":%s,"value":%r,"t":%r}\n' % (n, value, time.time()))
    else:
        if type(step) is not int or step < 0:
            step = _step(name, step)
        w.add('{"k":"metric","name":%s,"value":%r,"step":%d,"t":%r}\n' % (n, value, step, time.time()))


def log_list(name, values):
    """Logs values, an iterable of finite numbers, as the series name."""
    w = _writer or _get_writer()
    n = _name("list name", name)
    vs = []
    for i, v in enumerate(values):
        vs.append(v if type(v) is float and v - v == 0.0 else _number("%s[%d]" % (name, i), v))
    w.add('{"k":"list","name":%s,"values":[%s],"t":%r}\n' % (n, ",".join(map(repr, vs)), time.time()))


def log_row(name, /, **values):
    """Logs one row of the table name: log_row("scores", alpha=0.1, mse=3.2).

    Give at least one column; column values are finite numbers.
    """
    w = _writer or _get_writer()
    n = _name("row name", name)
    if not values:
        raise ValueError("gantry_run: row %s: no columns" % name)
    if "" in values:
        raise ValueError("gantry_run: row %s: empty column name" % name)
    cols = ",".join("%s:%r" % (json.dumps(c), _number("%s.%s" % (name, c), v)) for c, v in values.items())
    w.add('{"k":"row","name":%s,"values":{%s},"t":%r}\n' % (n, cols, time.time()))


def log_image(name, path=None, data=None):
    """Logs an image: the file at path, or data, the bytes of a PNG file.

    Gantry keeps files in the outputs directory: a file already there is
    logged where it is; any other file is copied there, and data is saved
    there, under a name made from name (plot.png, then plot-1.png, ...).
    """
    w = _writer or _get_writer()
    n = _name("image name", name)
    if (path is None) == (data is None):
        raise TypeError("gantry_run: log_image(%r): give path= or data=, not both or neither" % name)
    if data is not None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("gantry_run: log_image(%r): data is a %s, not bytes" % (name, type(data).__name__))
        data = bytes(data)
        if not data.startswith(_PNG):
            raise ValueError("gantry_run: log_image(%r): data is not a PNG file" % name)
    else:
        path = os.path.abspath(os.fspath(path))
        if not os.path.isfile(path):
            raise FileNotFoundError("gantry_run: log_image(%r): no file %s" % (name, path))
    if w.failed:
        return
    try:
        out = outputs_dir()
        if data is not None:
            dest = _save_new(out, _stem(name), ".png", lambda f: f.write(data))
        elif _inside(path, out):
            dest = path
        else:
            ext = os.path.splitext(path)[1].lower() or ".png"
            with open(path, "rb") as src:
                dest = _save_new(out, _stem(name), ext, lambda f: shutil.copyfileobj(src, f))
    except OSError as e:
        _warn("log_image(%r): %s; image not logged" % (name, e))
        return
    w.add('{"k":"image","name":%s,"path":%s,"t":%r}\n' % (n, json.dumps(_record_path(w.run_dir, dest)), time.time()))


def tag(key, value):
    """Sets the run's tag key to value, a str (numbers and bools are turned into one)."""
    w = _writer or _get_writer()
    k = _name("tag key", key)
    if not isinstance(value, (str, int, float)):
        raise TypeError("gantry_run: tag %s: value %r is a %s, not a str" % (key, value, type(value).__name__))
    w.add('{"k":"tag","key":%s,"value":%s,"t":%r}\n' % (k, json.dumps(str(value)), time.time()))


def flush():
    """Writes what is buffered to the track file now."""
    w = _writer
    if w is not None:
        w.flush()


def run_id():
    """Returns the run's ID, or None when not run by Gantry."""
    return os.environ.get("GANTRY_RUN_ID") or None


def experiment():
    """Returns the name of the run's experiment, or None when not run by Gantry."""
    return os.environ.get("GANTRY_EXPERIMENT") or None


def outputs_dir():
    """Returns the directory whose files Gantry keeps with the run, creating it.

    It is $GANTRY_OUTPUTS_DIR, else $GANTRY_RUN_DIR/outputs, else (outside
    Gantry) ./outputs.
    """
    d = os.environ.get("GANTRY_OUTPUTS_DIR")
    if not d:
        run_dir = os.environ.get("GANTRY_RUN_DIR")
        d = os.path.join(run_dir, "outputs") if run_dir else "outputs"
    d = os.path.abspath(d)
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        _warn("cannot create %s: %s" % (d, e))
    return d


def _stem(name):
    s = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name[:100])
    return s.lstrip(".") or "image"


def _save_new(directory, stem, ext, write):
    """Writes a new file in directory, stem+ext or stem-N+ext, and returns its path."""
    for i in range(100000):
        dest = os.path.join(directory, stem + ext if i == 0 else "%s-%d%s" % (stem, i, ext))
        try:
            f = open(dest, "xb")
        except FileExistsError:
            continue
        try:
            with f:
                write(f)
        except BaseException:
            os.unlink(dest)
            raise
        return dest
    raise OSError("no free file name for %s%s in %s" % (stem, ext, directory))


def _inside(path, directory):
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    try:
        return os.path.commonpath([path, directory]) == directory
    except ValueError:  # different drives
        return False


def _record_path(run_dir, path):
    """Returns path relative to run_dir with forward slashes if inside it, else absolute."""
    path = os.path.abspath(path)
    if run_dir and _inside(path, run_dir):
        return os.path.relpath(os.path.realpath(path), os.path.realpath(run_dir)).replace(os.sep, "/")
    return path
