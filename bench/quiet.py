"""Keep TensorFlow's, Keras' and ART's start-up and retracing chatter off the terminal
(``bench run --verbose`` lets it through)."""

from __future__ import annotations

import logging
import os
import sys
import warnings

#: glog-style INFO / WARNING lines TensorFlow's C++ code writes before absl's logging is set up
#: (``I0000 00:00:1795876057.744943 6489 port.cc:153] oneDNN custom operations are on ...``), and
#: absl's own notice about them; neither TF_CPP_MIN_LOG_LEVEL nor ABSL_LOG_LEVEL silences these
_TF_NOISE = (rb"^(?:[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] |WARNING: All log messages before "
             rb"absl::InitializeLog\(\) is called)")
#: a separate process drops those lines and passes every other one on at once: whatever
#: TensorFlow writes before a crash (an abort, an illegal instruction) still reaches stderr
_FILTER = ("import re, sys\npattern = re.compile(sys.argv[1].encode())\n"
           "for line in sys.stdin.buffer:\n    if not pattern.match(line):\n"
           "        sys.stdout.buffer.write(line)\n        sys.stdout.buffer.flush()\n")


def quiet_tensorflow(verbose: bool = False, import_now: bool = False) -> None:
    """Keep TensorFlow's, Keras' and ART's start-up and retracing chatter off the terminal.

    With ``verbose`` nothing is hidden. Otherwise C++ INFO / WARNING logging is off, the Python
    loggers of TensorFlow and ART show errors only, and with ``import_now`` TensorFlow is imported
    here with file descriptor 2 sent through a filter that drops its pre-absl INFO / WARNING
    lines and passes on everything else (errors, crash reports, a failed import's messages).
    """
    # ART announces optional back-ends it does not find; artbench needs none of them
    warnings.filterwarnings("ignore", message=r"(PyTorch|Keras|TensorFlow) not found")
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_LOG_LEVEL", "2")
    for name in ("tensorflow", "absl", "art", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if import_now and "tensorflow" not in sys.modules:
        _import_tensorflow_filtered()
        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)  # e.g. tf.function retracing warnings


def _import_tensorflow_filtered() -> None:
    import subprocess

    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to protect
        saved = -1
    if saved < 0:
        import tensorflow  # noqa: F401
        return
    filt = subprocess.Popen([sys.executable, "-I", "-S", "-c", _FILTER, _TF_NOISE.decode()],
                            stdin=subprocess.PIPE, stdout=saved, stderr=saved)
    assert filt.stdin is not None
    os.dup2(filt.stdin.fileno(), 2, inheritable=False)
    try:
        import tensorflow  # noqa: F401
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        filt.stdin.close()
        try:
            filt.wait(timeout=10)
        except subprocess.TimeoutExpired:
            filt.kill()
