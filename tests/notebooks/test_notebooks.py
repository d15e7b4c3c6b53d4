"""The worked examples in ``notebooks/``, executed top to bottom against a real ``bando serve``.

Each notebook runs in a fresh kernel on this virtual environment's interpreter (a
kernelspec of its own name written to a temporary folder that ``JUPYTER_PATH`` points
at: nothing is registered globally, and no other kernel of that name can win), with
``BANDO_URL`` pointing at the session's test server, in a temporary working folder.

Offline, and only the server: the kernel gets an audit hook (added as a first cell
that is not in the committed file) that refuses and records every name lookup and
socket connection to a host other than the loopback, and every proxy variable points
at a recording proxy that refuses everything, which catches the libraries that do not
use Python's sockets (GDAL's libcurl) — with ``NO_PROXY`` letting 127.0.0.1 through.
A notebook that catches the refusal still fails the test, because the attempts are
recorded. Static checks complete the picture: the committed files carry no outputs,
read the server from ``BANDO_URL``, name no other host and import nothing of bando's
internals (notebooks are outside clients of the public API).
"""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
except ImportError as exc:  # pragma: no cover - a setup problem, said plainly
    raise ImportError(f"{exc}: the notebook tests need nbclient, nbformat and ipykernel (the test extras)") from exc

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"01_discover_layers", "02_features_geopandas", "03_tiles", "04_planning_report", "05_folium_map"}
DEFAULT_URL = "http://127.0.0.1:8000"
KERNEL = "bando-notebook-tests"
CELL_TIMEOUT_S = 120
BUDGET_S = 20.0  # each notebook's cells, together (kernel start-up not counted)
INTERNALS = {"bando", "pipelines", "layers", "api_config", "web", "psycopg", "psycopg2", "sqlalchemy"}
URL = re.compile(r"https?://[^\s\"'<>)]+")
LOCAL_HOSTS = "127.0.0.1,localhost,::1"
#: OGC names (CRSs, conformance classes): identifiers compared as text, never fetched
OGC_IDENTIFIERS = ("http://www.opengis.net/def/", "http://www.opengis.net/spec/")

GUARD = r"""
import ipaddress as _bando_ip
import sys as _bando_sys

_bando_blocked = []


def _bando_is_local(host):
    host = host.decode() if isinstance(host, bytes) else str(host)
    if host in ("", "localhost"):
        return True
    try:
        return _bando_ip.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _bando_audit(event, args):
    if event == "socket.getaddrinfo" and args[0] is not None and not _bando_is_local(args[0]):
        _bando_blocked.append(f"name lookup {args[0]!r}")
        raise OSError(f"the notebook tests run offline: looking up {args[0]!r} is refused")
    if event == "socket.connect" and isinstance(args[1], tuple) and not _bando_is_local(args[1][0]):
        _bando_blocked.append(f"connection to {args[1][0]}:{args[1][1]}")
        raise ConnectionRefusedError(f"the notebook tests run offline: connecting to {args[1][0]} is refused")


_bando_sys.addaudithook(_bando_audit)
"""
REPORT = "import json as _bando_json\nprint(_bando_json.dumps(_bando_blocked))"


# -- the recording proxy ---------------------------------------------------------


class RecordingProxy:
    """An HTTP proxy that records the first line of every request it gets and refuses it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.url = "http://127.0.0.1:%d" % self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="recording-proxy", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    first = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                except OSError:
                    first = "<unreadable request>"
                self.requests.append(first)
                try:
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture(scope="module")
def proxy() -> Iterator[RecordingProxy]:
    p = RecordingProxy()
    yield p
    p.close()


# -- kernel and environment ---------------------------------------------------------


@pytest.fixture(scope="module")
def jupyter_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private Jupyter/IPython home holding a kernelspec for this interpreter."""
    home = tmp_path_factory.mktemp("jupyter")
    spec = home / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "bando notebook tests",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    return home


def _jupyter_dirs(home: Path) -> dict[str, str]:
    return {
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PATH": str(home),
        "JUPYTER_PLATFORM_DIRS": "1",
    }


def kernel_env(server: str, proxy: RecordingProxy, home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy", "all_proxy")
    }
    env.update(_jupyter_dirs(home))
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        env[name] = env[name.upper()] = proxy.url
    env["no_proxy"] = env["NO_PROXY"] = LOCAL_HOSTS
    env |= {"BANDO_URL": server, "PROJ_NETWORK": "OFF", "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    return env


def _cell_seconds(cell: nbformat.NotebookNode) -> float:
    from datetime import datetime

    timing = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
        return 0.0
    start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def run_notebook(nb: nbformat.NotebookNode, name: str, env: dict[str, str], home: Path, workdir: Path) -> list[str]:
    """Execute `nb` (guard first, report last) in a fresh kernel; return the blocked attempts it recorded."""
    nb.cells.insert(0, nbformat.v4.new_code_cell(GUARD))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        record_timing=True,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        pytest.fail(f"{name}: a cell failed\n{exc}", pytrace=False)
    report = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return json.loads(report)


# -- the notebooks run --------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_against_the_server_and_nowhere_else(
    path: Path,
    server: str,
    proxy: RecordingProxy,
    jupyter_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in _jupyter_dirs(jupyter_home).items():  # connection files go to the private home too
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    before = len(proxy.requests)
    started = time.monotonic()
    blocked = run_notebook(nb, path.name, kernel_env(server, proxy, jupyter_home), jupyter_home, tmp_path)
    wall = time.monotonic() - started
    cells = sum(_cell_seconds(c) for c in nb.cells[1:-1])
    print(f"\n{path.name}: cells {cells:.1f} s, with kernel start-up {wall:.1f} s")
    assert not blocked, f"{path.name} tried to reach other hosts: {blocked}"
    assert proxy.requests[before:] == [], f"{path.name} sent requests through a proxy: {proxy.requests[before:]}"
    assert cells < BUDGET_S, f"{path.name} took {cells:.1f} s (budget {BUDGET_S:.0f} s): keep the examples small"


def test_the_guard_catches_python_and_gdal_requests_to_other_hosts(
    server: str,
    proxy: RecordingProxy,
    jupyter_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The offline check itself: a request elsewhere, swallowed by the notebook, is still caught."""
    for key, value in _jupyter_dirs(jupyter_home).items():
        monkeypatch.setenv(key, value)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import os, socket, httpx, pyogrio\n"
            "assert httpx.get(os.environ['BANDO_URL'] + '/ogc/conformance?f=json').status_code == 200\n"
            "for attempt in (lambda: httpx.get('http://example.invalid/httpx', timeout=5),\n"
            "                lambda: pyogrio.list_layers('OAPIF:http://example.invalid/gdal'),\n"
            "                lambda: socket.getaddrinfo('example.invalid', 80),\n"
            "                lambda: socket.create_connection(('192.0.2.1', 80), timeout=1)):\n"
            "    try:\n"
            "        attempt()\n"
            "    except Exception:\n"
            "        pass\n"
        )
    ]
    before = len(proxy.requests)
    blocked = run_notebook(nb, "guard", kernel_env(server, proxy, jupyter_home), jupyter_home, tmp_path)
    proxied = " ".join(proxy.requests[before:])
    assert "example.invalid/httpx" in proxied and "example.invalid/gdal" in proxied, proxied  # Python and libcurl
    assert any("example.invalid" in b for b in blocked) and any("192.0.2.1" in b for b in blocked), blocked


# -- the committed files ------------------------------------------------------------


def _code(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_the_worked_examples_are_all_there() -> None:
    assert EXPECTED <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_is_valid_and_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing (see notebooks/README.md)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_an_outside_client_of_bando_url_only(path: Path) -> None:
    code = _code(path)
    source = "\n".join(code)
    assert f'os.environ.get("BANDO_URL", "{DEFAULT_URL}")' in source, f"{path.name} must read the server from BANDO_URL"
    for i, cell in enumerate(code):
        tree = ast.parse(cell)  # plain Python: no shell escapes or magics in these examples
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                inside = [n for n in names if n.split(".")[0] in INTERNALS]
                assert not inside, f"{path.name} cell {i}: imports {inside}; use the public OGC API instead"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for url in URL.findall(node.value.replace("\\", "")):  # a regular expression's escapes too
                    allowed = url == DEFAULT_URL or url.startswith(OGC_IDENTIFIERS)
                    assert allowed, f"{path.name} cell {i}: names another host: {url}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_headings_are_vietnamese_with_english(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    headings = [
        line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("#")
    ]
    assert headings and headings[0].startswith("# "), f"{path.name} starts with a title"
    missing = [h for h in headings if "(" not in h]
    assert not missing, f"{path.name}: give these headings their English in parentheses: {missing}"
