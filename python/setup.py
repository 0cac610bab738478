"""Builds llama_pajamas with setuptools (Debian's python3-setuptools; no PyPI needed).

The native module `llama_pajamas._core` is built by the project's own CMake (LP_BUILD_PYTHON=ON, position-
independent static libraries) in ../build/python, or LP_PYTHON_BUILD_DIR, and copied into the package.
Install offline:  /usr/bin/python3 -m pip install --no-build-isolation ./python
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        if not (ROOT / "CMakeLists.txt").exists():
            raise RuntimeError(f"llama_pajamas: the project's CMakeLists.txt is not at {ROOT} (build from the repository's python/ folder)")
        build_dir = Path(os.environ.get("LP_PYTHON_BUILD_DIR", ROOT / "build" / "python")).resolve()
        jobs = os.environ.get("LP_PYTHON_BUILD_JOBS", str(os.cpu_count() or 2))
        configure = ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                     "-DCMAKE_POSITION_INDEPENDENT_CODE=ON", "-DLP_BUILD_PYTHON=ON", "-DLP_BUILD_TESTS=OFF",
                     "-DLP_BUILD_BENCH=OFF", f"-DPython3_EXECUTABLE={sys.executable}"]
        if shutil.which("ninja") and not (build_dir / "CMakeCache.txt").exists():
            configure += ["-G", "Ninja"]
        cache = build_dir / "CMakeCache.txt"
        if cache.exists() and "LP_BUILD_PYTHON:BOOL=ON" in cache.read_text(errors="replace"):
            pass  # an existing tree that builds the module (e.g. the release preset): reuse it as configured
        else:
            subprocess.check_call(configure)
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "_core", "-j", jobs])
        built = sorted((build_dir / "python").glob("_core*.so"))
        if not built:
            raise RuntimeError(f"llama_pajamas: no _core*.so in {build_dir / 'python'}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], target)


setup(
    name="llama-pajamas",
    version="0.1.0",
    description="Architecture-aware LLM quantization pipeline and CPU runtime (Python bindings)",
    packages=["llama_pajamas"],
    package_data={"llama_pajamas": ["py.typed", "*.pyi"]},
    ext_modules=[CMakeExtension("llama_pajamas._core")],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
)
