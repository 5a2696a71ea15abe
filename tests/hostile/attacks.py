"""Hostile submissions: each a plausible ``Value`` class (the correct engine of
:mod:`tests.test_sandbox`, or its buggy twin) with an attack inside, by class of attack.

Every source is a template: ``{SECRET}`` (a file of the grader's machine holding a secret
token), ``{CANARY}`` (a folder no submission may write to), ``{CACHE}``, ``{CASES}``,
``{REPORTS}`` and ``{OTHER}`` (the answer keys, the cases, the reports, another
submission) and ``{MARK}`` (a word the attack's processes carry, to find survivors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.test_sandbox import ENGINE

#: The buggy twin: ``=`` instead of ``+=`` in the backward of ``+`` (the ``reuse`` case shows it).
BUGGY = ENGINE.replace("            self.grad += out.grad\n            other.grad += out.grad",
                       "            self.grad = out.grad\n            other.grad = out.grad")
assert BUGGY != ENGINE


@dataclass(frozen=True)
class Attack:
    """One hostile submission: its files (``{"name.py": source}``; a folder when several or
    when ``folder``), the verdicts it may end with, and its class (a test file per class)."""

    name: str
    kind: str
    files: dict[str, str]
    verdicts: tuple[str, ...]
    folder: bool = False
    links: dict[str, str] = field(default_factory=dict)  #: name -> target ({SECRET}...), symbolic links
    sparse: dict[str, int] = field(default_factory=dict)  #: name -> size of a sparse file


def _in_backward(engine: str, code: str) -> str:
    """``engine`` whose ``backward()`` first runs ``code`` (indented into it)."""
    body = "".join(f"        {line}\n" for line in code.strip("\n").splitlines())
    return engine.replace("    def backward(self):\n", "    def backward(self):\n" + body, 1)


def _at_load(engine: str, code: str) -> str:
    return engine + "\n" + code.strip("\n") + "\n"


_ONCE = "if not globals().get('_DONE'):\n    globals()['_DONE'] = True\n"


def _once(code: str) -> str:
    """``code`` run once per child (the first backward())."""
    return _ONCE + "".join(f"    {line}\n" for line in code.strip("\n").splitlines())


ATTACKS = [
    # ------------------------------------------------------------ the audit hook, disarmed
    Attack("hook_disarmed", "audit_hook", {"s.py": _at_load(ENGINE, r'''
import sys
for name, mod in list(sys.modules.items()):
    for attr in ("_REFUSED", "_PATH_EVENTS", "_NATIVE_MODULES"):
        if hasattr(mod, attr):
            setattr(mod, attr, ())
try:
    open("{CANARY}/hook_disarmed.txt", "w").write("pwned")
except OSError:
    pass
try:
    import os
    os.system("echo pwned > {CANARY}/hook_disarmed_system.txt")
except Exception:
    pass
''')}, ("correct",)),
    # ------------------------------------------------------------ processes
    Attack("fork_exec", "processes", {"s.py": _in_backward(ENGINE, _once(r'''
import subprocess
try:  # _posixsubprocess.fork_exec underneath: a shell as whoever the child is
    subprocess.run(["/bin/sh", "-c", "echo pwned > {CANARY}/fork_exec.txt; cat {SECRET} > /work/leak"], timeout=2)
except Exception as e:
    print("no shell:", type(e).__name__)
try:
    print(open("/work/leak").read())
except OSError:
    pass
'''))}, ("correct", "crash")),
    Attack("pidfd_signals", "processes", {"s.py": _in_backward(ENGINE, _once(r'''
import os, signal
for pid in range(1, 4000):
    if pid == os.getpid():
        continue
    try:
        fd = os.pidfd_open(pid)
        signal.pidfd_send_signal(fd, signal.SIGSTOP)
        os.close(fd)
    except OSError:
        pass
'''))}, ("correct", "crash", "timeout")),
    Attack("kill_everyone", "processes", {"s.py": _in_backward(ENGINE, _once(r'''
import os, signal
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != os.getpid():
        try:
            cmd = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        if b"python" in cmd or b"bwrap" in cmd or b"pytest" in cmd:
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                try:
                    os.kill(int(entry), sig)
                except OSError:
                    pass
'''))}, ("correct", "crash", "timeout")),
    Attack("leave_the_group", "processes", {"s.py": _in_backward(ENGINE, _once(r'''
import os, time, signal
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/usr/bin/sleep", ["{MARK}", "60"])
    os._exit(0)
time.sleep(0.1)
'''))}, ("correct", "crash")),
    Attack("process_bomb", "processes", {"s.py": _in_backward(ENGINE, _once(r'''
import os, time
children = 0
for _ in range(300):
    try:
        if os.fork() == 0:
            os.execv("/usr/bin/sleep", ["{MARK}", "60"])
        children += 1
    except OSError:
        break
print("forked", children)
'''))}, ("correct", "crash", "timeout", "memory")),
    # ------------------------------------------------------------ the file system
    Attack("dir_fd_escape", "files", {"s.py": _in_backward(ENGINE, _once(r'''
import os
root = os.open("/", os.O_RDONLY)
for path in ("{CANARY}/dir_fd.txt", "../../../../{CANARY}/dir_fd2.txt"):
    try:
        fd = os.open(path.lstrip("/"), os.O_WRONLY | os.O_CREAT, dir_fd=root)
        os.write(fd, b"pwned")
    except OSError:
        pass
for path in ("{SECRET}", "etc/shadow"):
    try:
        fd = os.open(path.lstrip("/"), os.O_RDONLY, dir_fd=root)
        print(os.read(fd, 1000).decode())
    except OSError:
        pass
'''))}, ("correct",)),
    Attack("special_files", "files", {"s.py": _in_backward(ENGINE, _once(r'''
import os, stat
for call in (lambda: os.mknod("{CANARY}/node", stat.S_IFREG | 0o600),
             lambda: os.mkfifo("{CANARY}/fifo"),
             lambda: os.mknod("/work/sda", stat.S_IFBLK | 0o600, os.makedev(8, 0))):
    try:
        call()
    except OSError:
        pass
try:
    import sqlite3
    sqlite3.connect("{CANARY}/db.sqlite").execute("create table t(x)")
except Exception:
    pass
try:
    import readline
    readline.write_history_file("{CANARY}/history")
except Exception:
    pass
'''))}, ("correct",)),
    Attack("read_the_grader", "files", {"s.py": _in_backward(ENGINE, _once(r'''
import os
for folder in ("{CACHE}", "{CASES}", "{REPORTS}", os.path.dirname("{OTHER}"), "/root", "/etc"):
    try:
        for name in os.listdir(folder):
            try:
                print(open(os.path.join(folder, name), errors="replace").read()[:200])
            except OSError:
                pass
    except OSError:
        pass
for path in ("{SECRET}", "{OTHER}", "/etc/shadow"):
    try:
        print(open(path, errors="replace").read())
    except OSError:
        pass
'''))}, ("correct",)),
    Attack("write_the_reports", "files", {"s.py": _in_backward(ENGINE, _once(r'''
for path in ("{REPORTS}/grades.csv", "{REPORTS}/submissions/zz_control_correct/grade.json", "{CACHE}/pwned.json"):
    try:
        open(path, "w").write("{MARK}")
    except OSError:
        pass
'''))}, ("correct",)),
    Attack("symlinked_sibling", "files", {"value.py": _in_backward(ENGINE, _once(r'''
try:
    import secret
    print(secret.TOKEN)
except Exception as e:
    print("no secret", type(e).__name__)
import os
print(sorted(os.listdir(".")))
'''))}, ("correct",), folder=True, links={"secret.py": "{SECRET}", "up": "/"}),
    # ------------------------------------------------------------ forged scores
    Attack("rebuild_the_reference", "forgery", {"s.py": BUGGY.replace("class Value:", "class _Mine:") + r'''

def _reference():
    """The grader's own engine, if the child holds it (it was forked from the grader once)."""
    import sys
    for name, mod in list(sys.modules.items()):
        if "gradcheck" in name and isinstance(getattr(mod, "Value", None), type):
            return mod.Value
    try:
        from gradcheck_lab.engine import Value as found
        return found
    except Exception:
        return None


class Value(_reference() or _Mine):
    pass
'''}, ("wrong",)),
    Attack("answer_from_the_keys", "forgery", {"s.py": _in_backward(BUGGY, _once(r'''
import os
keys = {}
for folder in ("{CACHE}", "/root/.cache/gradcheck_lab"):
    try:
        for name in os.listdir(folder):
            keys[name] = open(os.path.join(folder, name)).read()
    except OSError:
        pass
print("keys found:", len(keys))
'''))}, ("wrong",)),
    Attack("float32_one_value", "forgery", {"s.py": BUGGY.replace(
        "    def __init__(self, data, _children=()):\n        self.data = data\n",
        "    def __init__(self, data, _children=()):\n        import struct\n"
        "        if data == 1 / 3:\n            data = struct.unpack('f', struct.pack('f', data))[0]\n"
        "        self.data = data\n")}, ("wrong",)),
    Attack("float32_off_by_1e7", "forgery", {"s.py": ENGINE.replace(
        "    def __init__(self, data, _children=()):\n        self.data = data\n",
        "    def __init__(self, data, _children=()):\n        import struct\n"
        "        data = struct.unpack('f', struct.pack('f', data))[0] if not _children else data * (1 + 1e-7)\n"
        "        self.data = data\n")}, ("wrong",)),
    # ------------------------------------------------------------ floods
    Attack("output_flood", "floods", {"s.py": _in_backward(ENGINE, "print('x' * 1_000_000)")}, ("correct",)),
    Attack("huge_reply", "floods", {"s.py": _in_backward(ENGINE, _once(r'''
import os, sys, struct
fd = int(sys.argv[2])
body = b'{"nonce": "x", "output": "' + b"y" * (60 << 20) + b'"}'
try:
    os.write(fd, struct.pack(">I", len(body)) + body)
except OSError:
    pass
'''))}, ("crash", "timeout", "memory")),
    Attack("huge_header", "floods", {"s.py": _in_backward(ENGINE, _once(r'''
import os, sys, struct
os.write(int(sys.argv[2]), struct.pack(">I", 0xFFFFFFF0) + b"{")
'''))}, ("crash", "timeout")),
    Attack("tmp_quota", "floods", {"s.py": _in_backward(ENGINE, _once(r'''
import os, tempfile
written = 0
try:
    for k in range(400):
        with open(os.path.join(tempfile.gettempdir(), f"fill{k}"), "wb") as f:
            for _ in range(8):
                f.write(b"\0" * (1 << 20))
                written += 1 << 20
except OSError as e:
    print("stopped after", written >> 20, "MB:", e)
'''))}, ("correct",)),
    Attack("memfd_hoard", "floods", {"s.py": _in_backward(ENGINE, _once(r'''
import os
held, total, why = [], 0, ""
for k in range(200):  # as many files as it may open, each as large as it may write
    try:
        fd = os.memfd_create(f"m{k}")
    except OSError as e:
        why = str(e)
        break
    held.append(fd)
    try:
        for _ in range(32):
            os.write(fd, b"\1" * (1 << 20))
            total += 1 << 20
    except OSError as e:
        why = str(e)
print("held", total >> 20, "MB in", len(held), "files:", why)
'''))}, ("correct", "crash", "memory")),
    # ------------------------------------------------------------ loading
    Attack("deep_nesting", "loading", {"s.py": ENGINE + "\nX = " + "(" * 200_000 + "1" + ")" * 200_000 + "\n"},
           ("invalid",)),
    Attack("deep_lists", "loading", {"s.py": ENGINE + "\nX = " + "[" * 100_000 + "]" * 100_000 + "\n"},
           ("invalid",)),
    Attack("deep_unary", "loading", {"s.py": ENGINE + "\nX = " + "-" * 100_000 + "1\n"}, ("invalid",)),  # MemoryError
    Attack("deep_sum", "loading", {"s.py": ENGINE + "\nX = " + "1+" * 100_000 + "1\n"}, ("invalid",)),  # RecursionError
    Attack("many_statements", "loading", {"s.py": "".join(f"a{k} = {k}\n" for k in range(60_000)) + ENGINE},
           ("correct",)),
    Attack("sparse_main", "loading", {}, ("invalid",), sparse={"s.py": 2 << 30}),
    Attack("sparse_sibling", "loading", {"value.py": ENGINE}, ("correct",), folder=True,
           sparse={"data.py": 2 << 30}),
    # ------------------------------------------------------------ reports
    Attack("markdown_injection", "reports", {"s.py": _in_backward(ENGINE, _once(r'''
raise ValueError("![x](http://evil.example/p.png) <script>alert(1)</script> [click](http://evil.example) | col")
'''))}, ("wrong",)),
    Attack("self_rounding", "reports", {"s.py": ENGINE.replace(
        "    def __init__(self, data, _children=()):\n        self.data = data\n",
        "    def __init__(self, data, _children=()):\n"
        "        self.data = round(data, 2) if not _children else data\n")},
        ("wrong",)),
]

#: A file name that makes a finding start with "=" (it does not parse: the finding names it).
CSV_INJECTION = ("=HYPERLINK(1)", "def f(:\n")
