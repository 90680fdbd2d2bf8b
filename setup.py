"""Builds the _tokmeter extension of the `tokmeter` package with the
project's CMake (pyproject.toml holds the rest).

The build tree is build/python-<interpreter> in the source tree (kept between
builds, so a rebuild only recompiles what changed), or the configured tree
named by TOKMETER_CMAKE_BUILD_DIR, which is then only built, not configured.
CMAKE_BUILD_PARALLEL_LEVEL sets the build's jobs (default: all cores).
"""

import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        given = os.environ.get("TOKMETER_CMAKE_BUILD_DIR")
        build_dir = given or os.path.join(ROOT, "build", f"python-{sys.implementation.cache_tag}")
        if not given:
            args = ["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                    f"-DPython_EXECUTABLE={sys.executable}",
                    "-DTOKMETER_BUILD_PYTHON=ON", "-DTOKMETER_BUILD_TESTS=OFF",
                    "-DTOKMETER_BUILD_EXAMPLES=OFF", "-DTOKMETER_BUILD_BENCHMARKS=OFF",
                    "-DTOKMETER_BUILD_FUZZERS=OFF", "-DTOKMETER_INSTALL=OFF"]
            if shutil.which("ninja") and not os.path.exists(os.path.join(build_dir,
                                                                         "CMakeCache.txt")):
                args += ["-G", "Ninja"]
            if shutil.which("ccache"):
                args += ["-DCMAKE_C_COMPILER_LAUNCHER=ccache",
                         "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
            subprocess.check_call(args)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "_tokmeter", "-j", jobs])
        built = os.path.join(build_dir, "bindings", "python", "tokmeter")
        names = [n for n in os.listdir(built) if n.startswith("_tokmeter") and n.endswith(".so")]
        if len(names) != 1:
            raise RuntimeError(f"expected one _tokmeter*.so in {built}, found {names}")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(built, names[0]), target)


setup(ext_modules=[CMakeExtension("tokmeter._tokmeter")], cmdclass={"build_ext": CMakeBuild})
