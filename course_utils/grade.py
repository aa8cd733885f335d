"""Grade a folder of submissions: one command, a gradebook, every submission bounded and sandboxed.

    python -m course_utils.grade 00_black_box submissions/ --out grades/
    make grade LECTURE=00_black_box SUBMISSIONS=submissions/

Why not ``otter run`` per submission: otter runs the student's notebook and the hidden tests in one
Python process, so student code can rewrite the test files, patch ``torch.equal``, shadow builtins or
return objects that equal everything. Here each submission is graded by two processes:

1. **The sandbox** runs the student's notebook (IPython, no kernel) under resource limits (wall
   time, CPU seconds, memory, file size), and, where the machine allows it (root with ``unshare``),
   in fresh network, mount and PID namespaces as user ``nobody``: no network, a private ``/tmp``
   as its scratch folder, the course's solution notebooks, ``dist/``, ``tests/``, ``.git``, the
   submissions and the grades hidden, the checkpoint cache visible through a copy-on-write overlay.
2. **The tester** is a fresh process that never runs student code. It runs the instructor's
   context cells (data, models) itself, fetches each answer name from the sandbox, and runs otter's
   test files (parsed once, held in memory). Answers cross the boundary as *data* only: numbers,
   strings, containers, numpy arrays and torch tensors are rebuilt from bytes by the tester as
   genuine objects; anything else (functions, models) stays in the sandbox and is called through a
   remote reference whose results come back as data again. Nothing the student defines can run in
   the tester, so no patch, always-equal object or rewritten file can reach the tests.

Scores use otter's own test-file scoring (``OKTestFile``) with each question's ``all_or_nothing``.
A hang, crash, memory blow-up or corrupt notebook gives a row with 0 points and the reason.
"""
from __future__ import annotations

import argparse
import ast
import base64
import csv
import io
import json
import os
import pickle
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534
MAX_MESSAGE = 512 << 20
STATUSES = ("graded", "timeout", "memory", "crashed", "corrupt", "error")

# Student code that reaches for these is flagged for a human look (it is never what an exercise needs).
SUSPICIOUS = {
    "__import__": "calls __import__", "importlib": "uses importlib", "builtins": "touches builtins",
    "sys.modules": "touches sys.modules", "ctypes": "uses ctypes", "subprocess": "starts processes",
    "os.system": "starts processes", "socket": "opens sockets", "gc.get_objects": "walks the heap",
    "__subclasses__": "walks class hierarchies", "__eq__": "defines __eq__", "__ne__": "defines __ne__",
    "__bool__": "defines __bool__", "globals()": "touches globals()", "setattr(": "calls setattr",
    "signal": "touches signals", "otter": "mentions otter", "autograder": "mentions the autograder",
    "tests/": "mentions test files", "exec(": "calls exec", "eval(": "calls eval",
}
MODULE_ALIASES = {"np", "numpy", "torch", "nn", "F", "math", "builtins", "scipy", "sys", "os"}


# ----------------------------------------------------------------------------------------------
# What a lecture's grading needs: otter's test files and the instructor notebook's cell plan.

def _cell_source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _bound_names(source: str) -> list[str]:
    """Top-level names a cell defines (def, class, assignment); imports are not answers."""
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


def _without_gui_magics(source: str) -> str:
    """No kernel here, so no GUI event loop: %matplotlib would raise; MPLBACKEND=Agg does its job."""
    return "\n".join("" if line.lstrip().startswith("%matplotlib") else line for line in source.splitlines())


def _strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def lecture_plan(notebook_path) -> dict:
    """Classify the instructor notebook's code cells: context (the tester runs it), answer (names
    fetched from the sandbox), test or ignored; plus each question's config and the course_utils
    module aliases its imports define."""
    nb = json.loads(Path(notebook_path).read_text())
    cells, questions, region, question = [], {}, None, None
    for cell in nb["cells"]:
        src = _cell_source(cell)
        if cell["cell_type"] == "raw":
            head = src.strip().splitlines()[0].strip() if src.strip() else ""
            if head == "# BEGIN QUESTION":
                config = {}
                for line in src.strip().splitlines()[1:]:
                    key, _, value = line.partition(":")
                    config[key.strip()] = value.strip()
                question = config.get("name")
                questions[question] = {"points": config.get("points"),
                                       "all_or_nothing": config.get("all_or_nothing", "false").lower() == "true"}
            elif head in ("# BEGIN SOLUTION", "# BEGIN TESTS"):
                region = head.split()[-1].lower()
            elif head in ("# END SOLUTION", "# END TESTS"):
                region = None
            elif head == "# END QUESTION":
                question = None
            continue
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if "otter_ignore" in tags:
            kind = "ignore"
        elif region == "tests":
            kind = "test"
        elif region == "solution":
            kind = "answer"
        else:
            kind = "context"
        cells.append({"kind": kind, "source": src, "question": question,
                      "names": _bound_names(src) if kind == "answer" else []})
    aliases = {}
    for cell in cells:
        if cell["kind"] != "context":
            continue
        try:
            tree = ast.parse(_strip_magics(cell["source"]))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("course_utils"):
                for alias in node.names:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("course_utils"):
                        aliases[alias.asname or alias.name] = alias.name
    return {"cells": cells, "questions": questions, "course_aliases": aliases}


def read_autograder_tests(zip_path) -> dict:
    """otter's OK-format test files from an autograder zip, parsed as literals (never executed)."""
    tests = {}
    with zipfile.ZipFile(zip_path) as archive:
        for name in sorted(archive.namelist()):
            if not (name.startswith("tests/") and name.endswith(".py")):
                continue
            tree = ast.parse(archive.read(name).decode())
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "test" for t in node.targets):
                    spec = ast.literal_eval(node.value)
                    tests[spec["name"]] = spec
    if not tests:
        raise RuntimeError(f"no test files in {zip_path}")
    return tests


def _names(source: str) -> tuple[set, set]:
    """(names a piece of code binds, names it reads)."""
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return set(), set()
    bound, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return bound, used


def slice_context(plan: dict, tests: dict) -> None:
    """Mark the context cells the tests need (those that define what the tests read, and what those
    cells read in turn); the tester skips the rest (demos, figures), as they cannot change a score."""
    needed = {name for cell in plan["cells"] if cell["kind"] == "answer" for name in cell["names"]}
    for spec in tests.values():
        for case in (case for suite in spec["suites"] for case in suite["cases"]):
            code = "\n".join(line.strip()[4:] for line in case["code"].splitlines()
                             if line.strip().startswith((">>>", "...")))
            bound, used = _names(code)
            needed |= used - bound          # what the test reads but does not define itself
    for cell in reversed(plan["cells"]):
        if cell["kind"] != "context":
            continue
        bound, used = _names(cell["source"])
        cell["run"] = bool(bound & needed)
        if cell["run"]:
            needed |= used


def reference_names(plan: dict, tests: dict) -> dict:
    """Per question, the course_utils functions its hidden tests call that the instructor's own
    answer does not: an answer that calls one of them is one call away from the reference."""
    aliases = plan["course_aliases"]
    found = {}
    for qname, spec in tests.items():
        hidden = "\n".join(case["code"] for suite in spec["suites"] for case in suite["cases"] if case.get("hidden"))
        hidden = "\n".join(line.strip()[4:] for line in hidden.splitlines() if line.strip().startswith((">>>", "...")))
        try:
            tree = ast.parse(hidden)
        except SyntaxError:
            continue
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name) and node.value.id in aliases}
        solution = "\n".join(c["source"] for c in plan["cells"] if c["kind"] == "answer" and c["question"] == qname)
        found[qname] = sorted(name for name in used if not re.search(rf"\b{re.escape(name)}\b", solution))
    return found


# ----------------------------------------------------------------------------------------------
# The wire between tester and sandbox: length-prefixed frames; sandbox -> tester is JSON of tagged
# data, decoded strictly by the tester; tester -> sandbox is pickle (the sandbox may trust us).

def _send(fd: int, payload: bytes) -> None:
    data = struct.pack("<Q", len(payload)) + payload
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _recv(fd: int, deadline: float | None = None) -> bytes:
    def exactly(n):
        chunks, left = [], n
        while left:
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                    raise TimeoutError("no answer in time")
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError("the other side closed the channel")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    (length,) = struct.unpack("<Q", exactly(8))
    if length > MAX_MESSAGE:
        raise ValueError(f"message of {length} bytes exceeds {MAX_MESSAGE}")
    return exactly(length)


_TENSOR_DTYPES = ("float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8",
                  "bool", "complex64", "complex128")


def encode(obj, refs: dict, depth: int = 0):
    """Sandbox side: plain data by exact type; anything else becomes a remote reference."""
    import numpy as np
    t = type(obj)
    if obj is None or t in (bool, int, float, str):
        return obj
    if depth > 40:
        raise ValueError("answer nested too deeply")
    if t in (list, tuple, set, frozenset):
        return {"$": t.__name__, "v": [encode(x, refs, depth + 1) for x in obj]}
    if t is dict:
        return {"$": "dict", "v": [[encode(k, refs, depth + 1), encode(v, refs, depth + 1)] for k, v in obj.items()]}
    if t is bytes:
        return {"$": "bytes", "b": base64.b64encode(obj).decode()}
    if t is complex:
        return {"$": "complex", "v": [obj.real, obj.imag]}
    if t is np.ndarray and obj.dtype.kind in "biufc" and obj.dtype.fields is None:
        arr = np.ascontiguousarray(obj)
        return {"$": "nd", "dtype": arr.dtype.str, "shape": list(arr.shape), "b": base64.b64encode(arr.tobytes()).decode()}
    if isinstance(obj, np.generic) and t.__module__ == "numpy" and obj.dtype.kind in "biufc":
        return {"$": "npscalar", "dtype": obj.dtype.str, "b": base64.b64encode(obj.tobytes()).decode()}
    torch = sys.modules.get("torch")
    if torch is not None:
        if t in (torch.Tensor, torch.nn.Parameter) and obj.layout == torch.strided:
            x = obj.detach().cpu().contiguous()
            name = str(x.dtype).removeprefix("torch.")
            if name in _TENSOR_DTYPES:
                raw = x.view(torch.int16) if name == "bfloat16" else x
                return {"$": "tensor", "dtype": name, "shape": list(x.shape),
                        "b": base64.b64encode(raw.numpy().tobytes()).decode()}
        if t is torch.Size:
            return {"$": "size", "v": [int(d) for d in obj]}
    ref = len(refs) + 1
    refs[ref] = obj
    return {"$": "ref", "id": ref, "type": t.__name__[:80]}


class ProtocolError(Exception):
    """The sandbox sent something that is not well-formed data."""


def decode(node, channel, depth: int = 0):
    """Tester side: rebuild genuine objects from untrusted JSON; reject anything unexpected."""
    import numpy as np
    if node is None or type(node) in (bool, int, float, str):
        return node
    if depth > 60 or type(node) is not dict or type(node.get("$")) is not str:
        raise ProtocolError("malformed answer")
    tag = node["$"]
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [decode(x, channel, depth + 1) for x in _checked(node, "v", list)]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        return {decode(k, channel, depth + 1): decode(v, channel, depth + 1)
                for k, v in (_pair(item) for item in _checked(node, "v", list))}
    if tag == "bytes":
        return base64.b64decode(_checked(node, "b", str), validate=True)
    if tag == "complex":
        re_, im = _checked(node, "v", list)
        return complex(float(re_), float(im))
    if tag in ("nd", "npscalar", "tensor"):
        shape = _checked(node, "shape", list) if tag != "npscalar" else []
        if not all(type(d) is int and d >= 0 for d in shape):
            raise ProtocolError("bad shape")
        raw = base64.b64decode(_checked(node, "b", str), validate=True)
        if tag == "tensor":
            import torch
            name = _checked(node, "dtype", str)
            if name not in _TENSOR_DTYPES:
                raise ProtocolError("bad tensor dtype")
            np_name = {"bfloat16": "int16", "bool": "bool"}.get(name, name)
            arr = _array(raw, np.dtype(np_name), shape)
            out = torch.from_numpy(arr)
            return out.view(torch.bfloat16) if name == "bfloat16" else out
        try:
            dtype = np.dtype(_checked(node, "dtype", str))
        except TypeError:
            raise ProtocolError("bad dtype") from None
        if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
            raise ProtocolError("bad dtype")
        arr = _array(raw, dtype, shape)
        return arr if tag == "nd" else arr[()]
    if tag == "size":
        import torch
        return torch.Size([int(d) for d in _checked(node, "v", list) if type(d) is int])
    if tag == "ref":
        ref = _checked(node, "id", int)
        return Remote(channel, ref, str(node.get("type", "object"))[:80])
    raise ProtocolError(f"unknown tag {tag[:20]!r}")


def _checked(node, key, kind):
    value = node.get(key)
    if type(value) is not kind:
        raise ProtocolError(f"bad field {key}")
    return value


def _pair(item):
    if type(item) is not list or len(item) != 2:
        raise ProtocolError("bad dict item")
    return item


def _array(raw: bytes, dtype, shape):
    import numpy as np
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dtype.itemsize != len(raw):
        raise ProtocolError("array size does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


class RemoteError(Exception):
    """An exception raised by the student's code, re-raised in the tester by name and message."""


class Remote:
    """A student object that stays in the sandbox: call it, index it, read attributes, iterate.
    It compares equal only to itself, so an object that 'equals everything' equals nothing here."""
    __slots__ = ("_channel", "_id", "_type")

    def __init__(self, channel, ref, type_name):
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_id", ref)
        object.__setattr__(self, "_type", type_name)

    def __call__(self, *args, **kwargs):
        return self._channel.request("call", self._id, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._channel.request("getattr", self._id, name)

    def __getitem__(self, key):
        return self._channel.request("getitem", self._id, key)

    def __len__(self):
        n = self._channel.request("len", self._id)
        if type(n) is not int or n < 0:
            raise TypeError("len() of a student object is not a non-negative int")
        return n

    def __iter__(self):
        iterator = self._channel.request("iter", self._id)
        while True:
            done, value = self._channel.request("next", iterator._id)
            if done is True:
                return
            yield value

    def __repr__(self):
        return f"<student's {self._type} object>"


class SandboxGone(RuntimeError):
    pass


class Channel:
    """The tester's end of the wire to one sandbox; every request has a deadline."""

    def __init__(self, process, to_fd, from_fd, call_limit):
        self.process, self.to_fd, self.from_fd, self.call_limit = process, to_fd, from_fd, call_limit
        self.dead = None

    def request(self, op, ref=None, *args):
        if self.dead:
            raise SandboxGone(self.dead)
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = lambda obj: ("ref", obj._id) if type(obj) is Remote else None
        pickler.dump((op, ref, args))
        try:
            _send(self.to_fd, buffer.getvalue())
            reply = json.loads(_recv(self.from_fd, time.monotonic() + self.call_limit + 5))
        except (TimeoutError, EOFError, OSError, ValueError, RecursionError) as error:
            self.kill(f"the submission's code did not answer a test's call within {self.call_limit:.0f} s"
                      if isinstance(error, TimeoutError) else f"the submission's process stopped ({error})")
            raise SandboxGone(self.dead) from None
        if type(reply) is not dict:
            raise ProtocolError("malformed reply")
        if "error" in reply:
            err = reply["error"] if type(reply["error"]) is list and len(reply["error"]) == 2 else ["Error", ""]
            raise RemoteError(f"{str(err[0])[:60]}: {str(err[1])[:300]}")
        result = decode(reply.get("result"), self)
        if op == "call":
            _copy_back(args[0], args[1], reply.get("after"), self)
        if op == "next":
            return result if type(result) is tuple and len(result) == 2 else (True, None)
        return result

    def kill(self, reason):
        self.dead = self.dead or reason
        _kill(self.process)


def _copy_back(args, kwargs, after, channel):
    """Arguments are copies in the sandbox; write in-place changes back so tests that rely on
    mutation (e.g. a function that zeroes pruned weights of the model it is given) see them."""
    import numpy as np
    originals = list(args) + list(kwargs.values())
    if type(after) is not list or len(after) != len(originals):
        return
    for original, state in zip(originals, after):
        if state is None:
            continue
        try:
            new = decode(state, channel)
            _apply(original, new, np)
        except (ProtocolError, RuntimeError, ValueError, TypeError):
            continue


def _apply(original, new, np):
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(original, torch.nn.Module) and type(new) is dict:
        with torch.no_grad():
            for name, value in original.state_dict(keep_vars=True).items():
                if name in new and type(new[name]) is torch.Tensor and new[name].shape == value.shape \
                        and not torch.equal(new[name].to(value.dtype), value.detach()):
                    value.copy_(new[name])
    elif torch is not None and type(original) in (torch.Tensor, torch.nn.Parameter) and type(new) is torch.Tensor:
        if new.shape == original.shape and not torch.equal(new.to(original.dtype), original.detach()):
            with torch.no_grad():
                original.copy_(new)
    elif type(original) is np.ndarray and type(new) is np.ndarray:
        if new.shape == original.shape and original.flags.writeable and not np.array_equal(new, original):
            original[...] = new
    elif type(original) is list and type(new) is list:
        if not _same(original, new):
            original[:] = new
    elif type(original) is dict and type(new) is dict:
        if not _same(original, new):
            original.clear()
            original.update(new)


def _same(a, b) -> bool:
    try:
        return json.dumps(encode(a, {}), sort_keys=True) == json.dumps(encode(b, {}), sort_keys=True)
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------------------------
# The sandbox: runs in its own process (under limits and namespaces); never trusted.

def _sandbox_main() -> None:
    """Entry point of the sandboxed process: run the student's cells, then serve the tester."""
    from_fd, to_fd = int(sys.argv[1]), int(sys.argv[2])
    request = pickle.loads(_recv(from_fd))
    for module in ("numpy", "torch"):      # tests send arrays and tensors: import them now, not inside a
        try:                               # timed call (a notebook that never imported torch still works)
            __import__(module)
        except ImportError:
            pass
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    errors = []
    for index, source in request["cells"]:
        _send(to_fd, json.dumps({"cell": index}).encode())
        result = shell.run_cell(_without_gui_magics(source), store_history=False)
        error = result.error_in_exec or result.error_before_exec
        if error is not None:
            errors.append([index, type(error).__name__, str(error)[:300]])
    _send(to_fd, json.dumps({"ready": True, "errors": errors}).encode())
    namespace, refs = shell.user_ns, {}

    class Unpickler(pickle.Unpickler):
        def persistent_load(self, pid):
            return refs[pid[1]]

    def on_alarm(signum, frame):
        raise TimeoutError("call took too long")

    signal.signal(signal.SIGALRM, on_alarm)
    while True:
        try:
            op, ref, args = Unpickler(io.BytesIO(_recv(from_fd))).load()
        except EOFError:
            return
        try:
            signal.setitimer(signal.ITIMER_REAL, request["call_limit"])
            reply = {"result": _serve(op, ref, args, namespace, refs)}
            if op == "call":
                reply["after"] = [_state(a, refs) for a in list(args[0]) + list(args[1].values())]
        except BaseException as error:   # the student's exception goes back by name and message
            reply = {"error": [type(error).__name__, str(error)[:300]]}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            payload = json.dumps(reply).encode()
        except (TypeError, ValueError) as error:
            payload = json.dumps({"error": [type(error).__name__, str(error)[:300]]}).encode()
        _send(to_fd, payload)


def _serve(op, ref, args, namespace, refs):
    if op == "get":
        if args[0] not in namespace:
            return encode({"missing": True}, refs)
        return encode({"value": namespace[args[0]]}, refs)
    obj = refs[ref]
    if op == "call":
        return encode(obj(*args[0], **args[1]), refs)
    if op == "getattr":
        return encode(getattr(obj, args[0]), refs)
    if op == "getitem":
        return encode(obj[args[0]], refs)
    if op == "len":
        return encode(len(obj), refs)
    if op == "iter":
        return encode(iter(obj), refs)
    if op == "next":
        try:
            return encode((False, next(obj)), refs)
        except StopIteration:
            return encode((True, None), refs)
    raise ValueError(f"unknown request {op!r}")


def _state(arg, refs):
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(arg, torch.nn.Module):
        return encode(dict(arg.state_dict()), {})
    try:
        return encode(arg, {}) if type(arg).__name__ in ("Tensor", "Parameter", "ndarray", "list", "dict") else None
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------------------------
# Starting the sandbox: limits always, namespaces where the machine allows them.

def isolation_available() -> bool:
    """Root with working ``unshare`` (net, mount, pid) and ``setpriv``: full isolation."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        return False
    probe = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                            "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def default_cache_dir() -> Path:
    from course_utils import cache
    return cache.cache_dir()


def _limits(memory_bytes: int, cpu_seconds: int):
    import resource

    def apply():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _sandbox_env(home: str, cache: str) -> dict:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": "/tmp" if home.startswith("/tmp/work") else home,
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{home}/.mpl", "IPYTHONDIR": f"{home}/.ipython",
           "XDG_CACHE_HOME": f"{home}/.cache", "COURSE_CACHE_DIR": cache, "PYTHONDONTWRITEBYTECODE": "1",
           "LANG": "C.UTF-8"}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"        # one core per submission; several submissions run side by side
    return env


def start_sandbox(limits: dict, hide: list, cache_dir: Path, scratch: Path, isolated: bool):
    """Start the sandboxed process; return (process, to_fd, from_fd)."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    python = [sys.executable, "-I", "-c", "from course_utils.grade import _sandbox_main; _sandbox_main()",
              str(to_r), str(from_w)]
    log = open(scratch / "sandbox.log", "wb")
    preexec = _limits(int(limits["memory_gb"] * (1 << 30)), int(limits["cpu_seconds"]))
    if isolated:
        has_cache = cache_dir.is_dir()
        # The cache, the course and its Python may live under /tmp, which is about to be replaced:
        # hold the old /tmp as the working directory, mount the fresh /tmp, bind "." (still the old
        # /tmp) into it, bind back what the sandbox needs, and drop the rest of the old /tmp.
        def seen(path: Path) -> str:   # where a path is visible while the old /tmp is bound at /tmp/.old-tmp
            path = path.resolve()
            return str(Path("/tmp/.old-tmp") / path.relative_to("/tmp")) if path.is_relative_to("/tmp") else str(path)
        script = ["set -e", "cd /tmp", "mount -t tmpfs -o size=1g,mode=1777 tmpfs /tmp",
                  "mkdir -p /tmp/.old-tmp", "mount --no-canonicalize --bind . /tmp/.old-tmp", "cd /"]
        for needed in sorted({(ROOT / "course_utils").resolve(), Path(sys.prefix).resolve()}):
            if needed.is_relative_to("/tmp"):
                script += [f"mkdir -p {_quote(needed)}", f"mount --bind {_quote(seen(needed))} {_quote(needed)}",
                           f"mount -o remount,bind,ro {_quote(needed)} || true"]
        script += ["mkdir -p /tmp/.cache-lower",
                   f"mount --no-canonicalize --bind {_quote(seen(cache_dir))} /tmp/.cache-lower" if has_cache else "true",
                   "umount -l /tmp/.old-tmp", "rmdir /tmp/.old-tmp",
                  "mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm || true",
                  "mount -t tmpfs -o size=64m,mode=1777 tmpfs /var/tmp || true"]
        for path in hide:
            if Path(path).is_dir():
                script.append(f"mount -t tmpfs -o size=1m,mode=0755 tmpfs {_quote(path)}")
        script += ["mkdir -p /tmp/work /tmp/cache /tmp/.cache-upper /tmp/.cache-work",
                   "chown 65534:65534 /tmp/work /tmp/.cache-upper"]
        if has_cache:
            # copy-on-write view of the checkpoint cache: reads are shared, writes stay private
            script.append("mount -t overlay overlay -o lowerdir=/tmp/.cache-lower,upperdir=/tmp/.cache-upper,"
                          "workdir=/tmp/.cache-work /tmp/cache || mount --bind -o ro /tmp/.cache-lower /tmp/cache")
        script += ["cd /tmp/work", "exec setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all "
                   "--bounding-set=-all --no-new-privs " + " ".join(_quote(p) for p in python)]
        cmd = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
               "--propagation", "private", "sh", "-c", "\n".join(script)]
        env = _sandbox_env("/tmp/work", "/tmp/cache")
        cwd = "/"
    else:
        home = scratch / "work"
        home.mkdir()
        private_cache = scratch / "cache"
        if cache_dir.is_dir():
            shutil.copytree(cache_dir, private_cache)   # a private copy: nothing it writes reaches the next one
        cmd, env, cwd = python, _sandbox_env(str(home), str(private_cache)), str(home)
    process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                               cwd=cwd, pass_fds=(to_r, from_w), preexec_fn=preexec)
    os.close(to_r)
    os.close(from_w)
    log.close()
    return process, to_w, from_r


def _quote(value) -> str:
    return "'" + str(value).replace("'", "'\"'\"'") + "'"


def _kill(process) -> None:
    """Kill the sandbox's whole session (and, through --kill-child, its PID namespace)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.kill()
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


# ----------------------------------------------------------------------------------------------
# The tester: a fresh process per submission; it runs instructor code and otter's tests only.

def _student_cells(notebook: dict) -> list:
    """The code cells otter would run: not tagged otter_ignore, not otter's own check cells."""
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        tags = (cell.get("metadata") or {}).get("tags", []) if isinstance(cell.get("metadata"), dict) else []
        source = _cell_source(cell)
        if "otter_ignore" in tags or "otter.Notebook(" in source or source.strip().startswith(("grader.check", "grader.export")):
            continue
        cells.append((index, source))
    return cells


def _short_failure(message: str) -> list:
    """The failing statement and the exception of a visible test, without doctest's own frames."""
    lines = [l for l in (message or "").strip().splitlines() if "doctest.py" not in l
             and "exec(compile(example.source" not in l and not set(l.strip()) <= set("^~ ")]
    return lines[-3:]


def _exception_type(message: str) -> str:
    for line in reversed((message or "").strip().splitlines()):
        match = re.match(r"^([A-Za-z_][\w.]*)(:|$)", line.strip())
        if match and ("Error" in match.group(1) or "Exception" in match.group(1) or match.group(1) == "SandboxGone"):
            return match.group(1).rsplit(".", 1)[-1]
    return "AssertionError"


def static_checks(cells: list, plan: dict, references: dict) -> tuple[list, dict]:
    """Flags for a human look, and the questions whose answers call the reference implementation.
    Cells identical to the instructor's context cells are the course's own code and are skipped."""
    instructor = {c["source"].strip() for c in plan["cells"] if c["kind"] != "answer"}
    own = "\n".join(src for _, src in cells if src.strip() not in instructor)
    flags = sorted({why for needle, why in SUSPICIOUS.items() if needle in own})
    try:
        tree = ast.parse(_strip_magics(own))
    except (SyntaxError, RecursionError, ValueError):
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id in MODULE_ALIASES | set(plan["course_aliases"]):
                    flags.append(f"assigns {target.value.id}.{target.attr}")
    words = set(re.findall(r"[A-Za-z_]\w*", own))
    calls = {q: [n for n in names if n in words] for q, names in references.items()}
    return sorted(set(flags)), {q: names for q, names in calls.items() if names}


def case_points(spec: dict) -> list[float]:
    """Each test case's points, resolved exactly as otter's ``TestFile.resolve_test_file_points``
    does (a total is shared among cases without their own points)."""
    cases = [case for suite in spec["suites"] for case in suite["cases"]]
    total = spec.get("points")
    if isinstance(total, list):
        if len(total) != len(cases):
            raise ValueError("points list and test cases differ in length")
        return [float(p) for p in total]
    given = [case.get("points") for case in cases]
    fixed = sum(p for p in given if p is not None)
    free = sum(p is None for p in given)
    if total is not None:
        if fixed > total:
            raise ValueError("more points in test cases than the question is worth")
        share = (total - fixed) / free if free else 0.0
    else:
        share = (1 / free if free else 0.0) if all(p in (0, None) for p in given) else 0.0
    return [float(p if p is not None else share) for p in given]


def run_case(name: str, code: str, env: dict) -> tuple[bool, str]:
    """One doctest-format case in ``env``, as otter's ``run_doctest`` runs it."""
    import doctest
    examples = [e for e in doctest.DocTestParser().parse(code, name) if isinstance(e, doctest.Example)]
    test = doctest.DocTest(examples, env, name, None, None, code)
    runner = doctest.DocTestRunner(verbose=False)
    report = io.StringIO()
    runner.run(test, out=report.write, clear_globs=False)
    return runner.failures == 0, report.getvalue()


def score_question(spec: dict, passed: list) -> float:
    """otter's ``TestFile.score``: all points or none with ``all_or_nothing``, else the passed cases'."""
    points = case_points(spec)
    if spec.get("all_or_nothing", False):
        return float(sum(points)) if all(passed) else 0.0
    return float(sum(p for p, ok in zip(points, passed) if ok))


def _tester_main() -> None:
    """Entry point of the tester process; the job arrives as a pickle on stdin from the grader."""
    job = pickle.load(sys.stdin.buffer)
    result = grade_in_tester(job)
    Path(job["result_path"]).write_text(json.dumps(result, indent=1))


def grade_in_tester(job: dict) -> dict:
    import contextlib
    started = time.monotonic()
    limits, plan, tests = job["limits"], job["plan"], job["tests"]
    out = {"student": job["student"], "possible": {q: sum(case_points(spec)) for q, spec in tests.items()},
           "scores": {q: 0.0 for q in tests}, "status": "graded", "reason": "", "flags": [],
           "isolation": job["isolation"], "cell_errors": [], "context_errors": [], "tests": {}}
    try:
        raw = Path(job["submission"]).read_bytes()
        notebook = json.loads(raw)
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("no list of cells")
    except (OSError, ValueError, RecursionError) as error:
        out.update(status="corrupt", reason=f"the notebook cannot be read as JSON ({str(error)[:120]})")
        return out
    cells = _student_cells(notebook)
    flags, reference_calls = static_checks(cells, plan, job["references"])
    out["flags"] = flags + [f"{q} calls course_utils {', '.join(names)} (the reference the hidden tests use)"
                            for q, names in reference_calls.items()]

    scratch = Path(tempfile.mkdtemp(prefix="sandbox-", dir=job["private_dir"]))
    process, to_fd, from_fd = start_sandbox(limits, job["hide"], Path(job["cache_dir"]), scratch,
                                            job["isolation"] == "namespaces")
    channel = Channel(process, to_fd, from_fd, limits["call_seconds"])
    try:
        _send(to_fd, pickle.dumps({"cells": cells, "call_limit": limits["call_seconds"]}))
        deadline, current = time.monotonic() + limits["wall_seconds"], None
        while True:
            try:
                message = json.loads(_recv(from_fd, deadline))
            except TimeoutError:
                out.update(status="timeout", reason=f"still running after {limits['wall_seconds']:.0f} s "
                           f"(wall-time limit) in cell {current}")
                return out
            except (EOFError, OSError, ValueError, RecursionError) as error:
                try:
                    code = process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = "garbled"     # alive but talking nonsense (e.g. it patched the builtins we use)
                status, reason = _death(code, limits) if code != "garbled" else \
                    ("crashed", f"the submission's process broke the grading protocol ({type(error).__name__})")
                out.update(status=status, reason=f"{reason} in cell {current}")
                return out
            if type(message) is dict and type(message.get("cell")) is int:
                current = message["cell"]
                continue
            break
        out["timings"] = {"notebook": round(time.monotonic() - started, 2)}
        errors = message.get("errors", []) if type(message) is dict else []
        out["cell_errors"] = [[int(e[0]), str(e[1])[:60], str(e[2])[:300]] for e in errors
                              if type(e) is list and len(e) == 3 and type(e[0]) is int][:50]
        memory = [e for e in out["cell_errors"] if e[1] == "MemoryError" or "_ArrayMemoryError" in e[1]
                  or "can't allocate memory" in e[2] or "out of memory" in e[2].lower()]
        if memory:
            out.update(status="memory", reason=f"memory limit ({limits['memory_gb']:g} GB) exceeded in cell {memory[0][0]}")
            return out

        # Instructor context cells run here; answer names come from the sandbox.
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        env = shell.user_ns
        for index, cell in enumerate(plan["cells"]):
            if cell["kind"] == "context" and cell.get("run", True):
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    result = shell.run_cell(_without_gui_magics(cell["source"]), store_history=False)
                error = result.error_in_exec or result.error_before_exec
                if error is not None:
                    out["context_errors"].append([index, type(error).__name__, str(error)[:200]])
            elif cell["kind"] == "answer":
                for name in cell["names"]:
                    try:
                        got = channel.request("get", None, name)
                    except (RemoteError, ProtocolError, SandboxGone):
                        continue
                    if type(got) is dict and "value" in got:
                        env[name] = got["value"]
                    else:
                        env.pop(name, None)       # not defined by the student: the tests see a NameError

        out["timings"]["context"] = round(time.monotonic() - started, 2)
        test_deadline = time.monotonic() + limits["test_seconds"]
        for qname, spec in tests.items():
            cases = [case for suite in spec["suites"] for case in suite["cases"]]
            results = []
            for number, (case, points) in enumerate(zip(cases, case_points(spec))):
                if time.monotonic() > test_deadline:
                    channel.kill(f"the tests ran past {limits['test_seconds']:.0f} s")
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    try:
                        passed, message = run_case(f"{qname} {number}", case["code"], env)
                    except BaseException as error:   # the runner itself failed: the case fails
                        passed, message = False, f"{type(error).__name__}: {str(error)[:200]}"
                results.append({"hidden": bool(case.get("hidden", True)), "passed": passed, "points": points,
                                "message": message})
            score = score_question(spec, [r["passed"] for r in results])
            out["scores"][qname] = 0.0 if qname in reference_calls else score
            out["tests"][qname] = results
        if channel.dead:
            out["reason"] = channel.dead
        return out
    finally:
        try:
            os.close(to_fd)          # end of input: the sandbox's loop returns and it exits by itself,
            to_fd = -1               # so its CPU time is counted below; a sandbox that lingers is killed
            process.wait(timeout=3)
        except (OSError, subprocess.TimeoutExpired):
            pass
        _kill(process)
        for fd in (to_fd, from_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        out["seconds"] = round(time.monotonic() - started, 2)
        import resource
        used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        out["cpu_seconds"] = round(sum(u.ru_utime + u.ru_stime for u in used), 2)   # tester + sandbox
        shutil.rmtree(scratch, ignore_errors=True)


def _death(code, limits) -> tuple[str, str]:
    if code is None:
        return "crashed", "the submission's process stopped answering"
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU, -signal.SIGXCPU + 256):
        return "timeout", f"CPU limit ({limits['cpu_seconds']:.0f} s) exceeded"
    if code in (-signal.SIGKILL, 128 + signal.SIGKILL):
        return "memory", "killed (SIGKILL), most likely for memory"
    if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return "crashed", "wrote more than the 256 MB file-size limit"
    if code < 0:
        return "crashed", f"the submission's process died of signal {signal.Signals(-code).name}"
    return "crashed", f"the submission's process exited with code {code}"


# ----------------------------------------------------------------------------------------------
# The grader: prepare once, run testers in parallel, write the gradebook, feedback and summary.

def student_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem).strip("._") or "student"


def prepare(lecture: str, private_dir: Path) -> dict:
    """Build the autograder privately from the course notebook (so tests match the notebook);
    ``lecture`` is a name in notebooks/ or a path to an instructor notebook."""
    from course_utils import release
    given = Path(lecture)
    notebook = given.resolve() if given.suffix == ".ipynb" and given.exists() else release.notebook_paths([lecture])[0]
    built = release.assign(notebook, private_dir / "dist")
    tests = read_autograder_tests(built["autograder"])
    plan = lecture_plan(notebook)
    slice_context(plan, tests)
    return {"lecture": notebook.stem, "tests": tests, "plan": plan, "references": reference_names(plan, tests),
            "autograder": built["autograder"]}


def grade_folder(lecture: str, submissions, out: Path, jobs: int | None = None, wall_seconds: float = 300,
                 call_seconds: float = 30, test_seconds: float = 300, memory_gb: float = 4.0,
                 isolate: bool | None = None, progress: bool = True, figure: bool = True) -> list[dict]:
    """Grade every ``*.ipynb`` in ``submissions`` (a folder or a list of paths); write ``out/``."""
    paths = sorted(Path(submissions).glob("*.ipynb")) if isinstance(submissions, (str, os.PathLike)) \
        else [Path(p) for p in submissions]
    if not paths:
        raise ValueError(f"no *.ipynb submissions in {submissions}")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    isolated = isolation_available() if isolate is None else isolate
    isolation = "namespaces" if isolated else "none: no network or mount namespace on this machine " \
        "(needs root and unshare); resource limits and the separate tester still apply"
    private = Path(tempfile.mkdtemp(prefix="course-grade-"))   # 0700: the sandbox cannot see it
    try:
        lecture_info = prepare(lecture, private)
        limits = {"wall_seconds": wall_seconds, "call_seconds": call_seconds, "test_seconds": test_seconds,
                  "memory_gb": memory_gb, "cpu_seconds": int(wall_seconds + test_seconds + 30)}
        submission_dirs = {str(p.resolve().parent) for p in paths}
        hide = _hideable({str(ROOT / d) for d in ("notebooks", "dist", "tests", ".git", "build", "grades")}
                         | submission_dirs | {str(out)})
        names = _unique_names(paths)
        workers = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
        rows = []
        bar = _progress(len(paths), progress)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_run_tester, path, names[path], lecture_info, limits, hide, isolation,
                                   private): path for path in paths}
            for future in as_completed(futures):
                result = future.result()
                _write_student(out, result, lecture_info)
                rows.append(result)
                bar(result)
        rows.sort(key=lambda r: r["student"])
        write_gradebook(out / "gradebook.csv", rows, list(lecture_info["tests"]))
        summary = summarise(rows, list(lecture_info["tests"]))
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        print(format_summary(summary))
        if figure:
            plot_summary(summary, rows, out / "summary.png")
        return rows
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _hideable(paths) -> list:
    """Folders the sandbox must not see, minus those it needs (the course, the venv, the cache) and
    those under /tmp (the sandbox gets a fresh /tmp anyway)."""
    needed = [ROOT / "course_utils", Path(sys.prefix), default_cache_dir()]
    keep = []
    for path in map(Path, sorted(paths)):
        path = path.resolve()
        if not path.is_dir() or path.is_relative_to("/tmp") or any(n.resolve().is_relative_to(path) for n in needed):
            continue
        keep.append(str(path))
    return keep


def _unique_names(paths) -> dict:
    names, seen = {}, {}
    for path in paths:
        base = student_name(path)
        seen[base] = seen.get(base, 0) + 1
        names[path] = base if seen[base] == 1 else f"{base}_{seen[base]}"
    return names


def _run_tester(path, student, info, limits, hide, isolation, private) -> dict:
    """One tester process for one submission, with a hard deadline of its own."""
    started = time.monotonic()
    result_path = Path(tempfile.mkstemp(prefix="result-", suffix=".json", dir=private)[1])
    job = {"submission": str(Path(path).resolve()), "student": student, "tests": info["tests"],
           "plan": info["plan"], "references": info["references"], "limits": limits, "hide": hide,
           "isolation": isolation, "private_dir": str(private), "result_path": str(result_path),
           "cache_dir": str(default_cache_dir())}
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "-c", "from course_utils.grade import _tester_main; _tester_main()"],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env, cwd=private, start_new_session=True)
    hard_limit = limits["wall_seconds"] + limits["test_seconds"] + 120
    try:
        _, stderr = process.communicate(pickle.dumps(job), timeout=hard_limit)
        result = json.loads(result_path.read_text()) if result_path.stat().st_size else None
    except subprocess.TimeoutExpired:
        _kill(process)
        stderr, result = b"", None
        reason = f"grading did not finish within {hard_limit:.0f} s; killed"
    except (OSError, ValueError):
        result, reason = None, None
    if result is None:
        tail = (stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
        result = {"student": student, "status": "error", "scores": {q: 0.0 for q in info["tests"]},
                  "reason": locals().get("reason") or f"the grader failed: {tail[0][:200]}", "flags": [],
                  "isolation": isolation, "cell_errors": [], "context_errors": [], "tests": {},
                  "possible": {}}
    result_path.unlink(missing_ok=True)
    result["file"] = Path(path).name
    result["seconds"] = round(time.monotonic() - started, 2)
    if result["status"] != "graded":
        result["scores"] = {q: 0.0 for q in info["tests"]}
    result["total"] = round(sum(result["scores"].values()), 4)
    result["max_total"] = round(sum(_possible(spec) for spec in info["tests"].values()), 4)
    return result


def _possible(spec) -> float:
    return float(sum(case_points(spec)))


def _progress(total: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if enabled and tqdm is not None:
        bar = tqdm(total=total, unit="submission", file=sys.stderr)

        def update(result):
            bar.set_postfix_str(f"{result['student']}: {result['total']:g} {result['status']}")
            bar.update(1)
            if bar.n == total:
                bar.close()
        return update
    return lambda result: None


def write_gradebook(path: Path, rows: list, questions: list) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "file", "total", "max_total", *questions, "status", "reason", "flags",
                         "isolation", "seconds"])
        for r in rows:
            writer.writerow([r["student"], r.get("file", ""), f"{r['total']:g}", f"{r['max_total']:g}",
                             *[f"{r['scores'].get(q, 0.0):g}" for q in questions], r["status"], r["reason"],
                             "; ".join(r["flags"]), r["isolation"], r["seconds"]])


def feedback_text(result: dict, lecture: str) -> str:
    """What a student may see: scores, visible-test messages, and for hidden tests only whether
    they passed and the exception's type. Never hidden-test source, values or solutions."""
    lines = [f"# {lecture}: feedback for {result['student']}", "",
             f"Total: {result['total']:g} / {result['max_total']:g}", ""]
    if result["status"] != "graded":
        lines += [f"Your notebook could not be graded: {result['reason']}.", ""]
    for index, kind, message in result.get("cell_errors", [])[:10]:
        lines.append(f"- Cell {index} raised {kind}: {message[:200]}")
    if result.get("cell_errors"):
        lines.append("")
    for qname, possible in result.get("possible", {}).items():
        lines.append(f"## {qname}: {result['scores'].get(qname, 0.0):g} / {possible:g}")
        cases = result.get("tests", {}).get(qname, [])
        visible = [c for c in cases if not c["hidden"]]
        hidden = [c for c in cases if c["hidden"]]
        for case in visible:
            if case["passed"]:
                lines.append("- visible test: passed")
            else:
                lines.append("- visible test: failed")
                lines += ["  " + l for l in _short_failure(case["message"])]
        if hidden:
            failed = [c for c in hidden if not c["passed"]]
            lines.append("- hidden tests: passed" if not failed else
                         f"- hidden tests: failed ({_exception_type(failed[0]['message'])})")
        if any("reference" in f and f.startswith(qname) for f in result.get("flags", [])):
            lines.append("- this answer calls the course's reference implementation; a TA will look at it")
        lines.append("")
    return "\n".join(lines)


def _write_student(out: Path, result: dict, info: dict) -> None:
    folder = out / result["student"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(result, indent=1))      # TA only: hidden-test messages
    (folder / "feedback.md").write_text(feedback_text(result, info["lecture"]))


def summarise(rows: list, questions: list) -> dict:
    import numpy as np
    summary = {"n": len(rows), "status": {s: sum(r["status"] == s for r in rows) for s in STATUSES},
               "flagged": sum(bool(r["flags"]) for r in rows), "questions": {}}
    for q in questions + ["total"]:
        values = np.array([r["total"] if q == "total" else r["scores"].get(q, 0.0) for r in rows], dtype=float)
        counts = {f"{v:g}": int((values == v).sum()) for v in sorted(set(values.tolist()))}
        summary["questions"][q] = {"mean": round(float(values.mean()), 4), "std": round(float(values.std()), 4),
                                   "distribution": counts}
    return summary


def format_summary(summary: dict) -> str:
    lines = [f"{summary['n']} submissions: " + ", ".join(f"{n} {s}" for s, n in summary["status"].items() if n)
             + f"; {summary['flagged']} flagged for a human look"]
    for q, s in summary["questions"].items():
        dist = "  ".join(f"{k}:{v}" for k, v in s["distribution"].items())
        lines.append(f"  {q:<28} mean {s['mean']:6.2f}  (sd {s['std']:.2f})   points:count  {dist}")
    return "\n".join(lines)


def plot_summary(summary: dict, rows: list, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    questions = list(summary["questions"])
    fig, axes = plt.subplots(1, len(questions), figsize=(3.2 * len(questions), 3.6), squeeze=False)
    for ax, q in zip(axes[0], questions):
        dist = summary["questions"][q]["distribution"]
        ax.bar(range(len(dist)), list(dist.values()), color="tab:gray" if q == "total" else "tab:blue")
        ax.set_xticks(range(len(dist)), list(dist))
        ax.set_title(f"{q}\nmean {summary['questions'][q]['mean']:.2f}", fontsize=10)
        ax.set_xlabel("points")
    axes[0][0].set_ylabel("submissions")
    fig.suptitle(f"{summary['n']} submissions", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grade", description=__doc__.split("\n")[0])
    parser.add_argument("lecture", help="lecture notebook name, e.g. 00_black_box")
    parser.add_argument("submissions", help="folder of student .ipynb files (student name = file name)")
    parser.add_argument("--out", default="grades", help="output folder (default grades/)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel submissions (default: the cores)")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds to run one notebook")
    parser.add_argument("--call-limit", type=float, default=30, help="seconds for one call from a test")
    parser.add_argument("--memory-limit", type=float, default=4.0, help="GB per submission")
    parser.add_argument("--no-isolation", action="store_true", help="skip namespaces even where available")
    args = parser.parse_args(argv)
    rows = grade_folder(args.lecture, args.submissions, Path(args.out), jobs=args.jobs,
                        wall_seconds=args.time_limit, call_seconds=args.call_limit, memory_gb=args.memory_limit,
                        isolate=False if args.no_isolation else None)
    print(f"gradebook: {Path(args.out) / 'gradebook.csv'} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
