"""The PEP 517 build backend of the fdsafe Python package (in-tree, no build dependencies).

A wheel is the Python package plus ``fdsafe/libfdsafe.so``, built from the same source by the
repository's own ``make lib``: the C library's link step (soname, version script, flags) lives
in the Makefile, so the wheel gets exactly the library ``make`` builds. The wheel is tagged
``py3-none-manylinux_2_N_<arch>`` with N the newest ``GLIBC_2.N`` symbol version the library
needs (measured with ``objdump -T``), or ``linux_<arch>`` if it needs a library outside the
manylinux set. An sdist carries the crate (``crate/``) so a wheel builds from it, given Rust.
An editable install (``pip install -e``) points at this folder and the repository's build.

Where the crate is: ``crate/`` beside this file (an unpacked sdist), else the folder above
(``python-bindings`` in the repository).
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # declared in pyproject.toml's build-system requires for these versions
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
# What the built library is called in the crate, and in the wheel (the loader looks there).
CRATE_LIBRARY = Path("target", "release", "libfdsafe.so")
WHEEL_LIBRARY = "fdsafe/libfdsafe.so"
# Modules beside the package: the pytest plugin stays importable when the library is not.
TOP_LEVEL_MODULES = ("pytest_fdsafe",)
# The crate's top-level files all go in the sdist; of its folders, those `make lib` reads.
CRATE_FOLDERS = ("src", "include", "scripts", "build-support")
# What a manylinux wheel's libraries may link against (PEP 600: the libraries every
# glibc-based distribution has), of those a Rust cdylib can need.
MANYLINUX_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libutil.so.1",
    "libgcc_s.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
}
# config_settings, which pip and build may pass: this backend takes none.
Settings = Optional[Dict[str, Any]]
# Zip entries get a fixed time, so the same sources give the same wheel.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _crate_root() -> Path:
    for root in (HERE / "crate", HERE.parent):
        if (root / "Cargo.toml").is_file() and (root / "Makefile").is_file():
            return root
    raise RuntimeError(
        f"fdsafe build: no Rust crate beside {HERE} (expected crate/ in an sdist, or the "
        "repository around python-bindings/): the source is incomplete"
    )


def _project() -> Dict[str, Any]:
    with open(HERE / "pyproject.toml", "rb") as f:
        project: Dict[str, Any] = tomllib.load(f)["project"]
    return project


def _version() -> str:
    """The crate's version: the package is the bindings of that library."""
    with open(_crate_root() / "Cargo.toml", "rb") as f:
        version: str = tomllib.load(f)["package"]["version"]
    return version


def _metadata() -> str:
    project = _project()
    readme = (_crate_root() / "README.md").read_text(encoding="utf-8")
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {_version()}",
        f"Summary: {project['description']}",
        f"License: {project['license']['text']}",
        f"Requires-Python: {project['requires-python']}",
        "Description-Content-Type: text/markdown",
    ]
    return "\n".join(lines) + "\n\n" + readme


def _package_files() -> Iterator[Tuple[str, Path]]:
    """(path in the wheel, file) of the Python sources: the package and the pytest plugin."""
    for path in sorted((HERE / "fdsafe").rglob("*")):
        if path.is_file() and (path.suffix == ".py" or path.name == "py.typed"):
            yield path.relative_to(HERE).as_posix(), path
    for module in TOP_LEVEL_MODULES:
        yield f"{module}.py", HERE / f"{module}.py"


# ---------- the library and its tag ----------

def _build_library() -> Path:
    crate = _crate_root()
    make = os.environ.get("MAKE", "make")
    print(f"fdsafe build: {make} -C {crate} lib", file=sys.stderr, flush=True)
    done = subprocess.run([make, "-C", str(crate), "lib"], stdout=sys.stderr)
    if done.returncode != 0:
        raise RuntimeError(
            f"fdsafe build: `make -C {crate} lib` failed (status {done.returncode}); building the "
            "wheel needs Rust (cargo), make and a C toolchain: see the messages above"
        )
    return crate / CRATE_LIBRARY


def _objdump(flag: str, library: Path) -> str:
    try:
        return subprocess.run(["objdump", flag, str(library)], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise RuntimeError(f"fdsafe build: objdump {flag} {library} failed ({err}); install binutils") from err


def glibc_needed(library: Path) -> Tuple[int, int]:
    """The newest GLIBC_x.y symbol version the library needs."""
    versions = {tuple(map(int, m)) for m in re.findall(r"\bGLIBC_(\d+)\.(\d+)\b", _objdump("-T", library))}
    if not versions:
        raise RuntimeError(f"fdsafe build: {library} needs no GLIBC_ symbol: not a glibc library?")
    major, minor = max(versions)
    return major, minor


def platform_tag(library: Path) -> str:
    """manylinux_2_N_<arch> when the library's needs allow it, else linux_<arch>."""
    platform = sysconfig.get_platform()  # "linux-x86_64"
    if not platform.startswith("linux-"):
        raise RuntimeError(f"fdsafe build: fdsafe is for Linux, this is {platform}")
    arch = platform[len("linux-"):].replace("-", "_").replace(".", "_")
    needed = set(re.findall(r"^\s*NEEDED\s+(\S+)", _objdump("-p", library), flags=re.M))
    outside = needed - MANYLINUX_LIBRARIES
    if outside:
        print(f"fdsafe build: {library} needs {sorted(outside)}, outside manylinux: tagged linux_{arch}",
              file=sys.stderr)
        return f"linux_{arch}"
    major, minor = glibc_needed(library)
    return f"manylinux_{major}_{minor}_{arch}"


# ---------- wheel ----------

def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(path: Path, files: List[Tuple[str, bytes, int]], dist_info: str) -> None:
    record = [_record_line(name, data) for name, data, _ in files] + [f"{dist_info}/RECORD,,"]
    files = files + [(f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), 0o644)]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)


def _dist_info_files(dist_info: str, tag: str) -> List[Tuple[str, bytes, int]]:
    entry_points = ""
    for group, entries in _project().get("entry-points", {}).items():
        entry_points += f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()) + "\n"
    wheel = f"Wheel-Version: 1.0\nGenerator: fdsafe build_backend\nRoot-Is-Purelib: false\nTag: {tag}\n"
    return [
        (f"{dist_info}/METADATA", _metadata().encode(), 0o644),
        (f"{dist_info}/WHEEL", wheel.encode(), 0o644),
        (f"{dist_info}/entry_points.txt", entry_points.encode(), 0o644),
        (f"{dist_info}/LICENSE", (_crate_root() / "LICENSE").read_bytes(), 0o644),
    ]


def build_wheel(wheel_directory: str, config_settings: Settings = None,
                metadata_directory: Optional[str] = None) -> str:
    library = _build_library()
    tag = f"py3-none-{platform_tag(library)}"
    name, version = str(_project()["name"]), _version()
    dist_info = f"{name}-{version}.dist-info"
    files = [(arcname, path.read_bytes(), 0o644) for arcname, path in _package_files()]
    files.append((WHEEL_LIBRARY, library.read_bytes(), 0o755))
    files += _dist_info_files(dist_info, tag)
    filename = f"{name}-{version}-{tag}.whl"
    _write_wheel(Path(wheel_directory) / filename, files, dist_info)
    return filename


def build_editable(wheel_directory: str, config_settings: Settings = None,
                   metadata_directory: Optional[str] = None) -> str:
    """`pip install -e`: a .pth file puts this folder on the path; the package then loads the
    repository's target/release/libfdsafe.so, which `make lib` keeps current."""
    library = _build_library()
    tag = f"py3-none-{platform_tag(library)}"
    name, version = str(_project()["name"]), _version()
    dist_info = f"{name}-{version}.dist-info"
    files = [(f"_{name}_editable.pth", f"{HERE}\n".encode(), 0o644)] + _dist_info_files(dist_info, tag)
    filename = f"{name}-{version}-{tag}.whl"
    _write_wheel(Path(wheel_directory) / filename, files, dist_info)
    return filename


def get_requires_for_build_editable(config_settings: Settings = None) -> List[str]:
    return []


def get_requires_for_build_wheel(config_settings: Settings = None) -> List[str]:
    return []


# ---------- sdist ----------

def _sdist_members() -> Iterator[Tuple[str, Path]]:
    """(path in the sdist, file): the Python side as it is here, the crate under crate/."""
    yield "pyproject.toml", HERE / "pyproject.toml"
    yield "build_backend.py", HERE / "build_backend.py"
    yield from _package_files()
    for path in sorted((HERE / "tests").glob("*.py")):
        yield path.relative_to(HERE).as_posix(), path
    crate = _crate_root()
    for path in sorted(crate.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            yield f"crate/{path.name}", path
    for folder in CRATE_FOLDERS:
        for path in sorted((crate / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                yield f"crate/{path.relative_to(crate).as_posix()}", path


def build_sdist(sdist_directory: str, config_settings: Settings = None) -> str:
    name, version = str(_project()["name"]), _version()
    base = f"{name}-{version}"
    filename = f"{base}.tar.gz"

    def add(tar: tarfile.TarFile, arcname: str, data: bytes, mode: int) -> None:
        info = tarfile.TarInfo(f"{base}/{arcname}")
        info.size, info.mode, info.mtime = len(data), mode, 315532800  # 1980-01-01, reproducible
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(Path(sdist_directory) / filename, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "PKG-INFO", _metadata().encode(), 0o644)
        for arcname, path in _sdist_members():
            add(tar, arcname, path.read_bytes(), 0o755 if os.access(path, os.X_OK) else 0o644)
    return filename


def get_requires_for_build_sdist(config_settings: Settings = None) -> List[str]:
    return []
