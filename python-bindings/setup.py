"""pip install --no-build-isolation ./python-bindings

Builds the native modules with the project's own CMake (the repository
above this folder; Debian packages from scripts/install-deps.sh) into a
temporary build folder (or STRATA_BUILD_DIR, for example the build/ that
scripts/build.sh made, so nothing is compiled twice) and places them in the
package. STRATA_CMAKE_ARGS adds configure flags (e.g. -DSTRATA_WITH_CUDA=OFF).
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

REPOSITORY = Path(__file__).resolve().parent.parent


class CMakeBuild(build_ext):
    def build_extension(self, extension):
        build = Path(os.environ.get("STRATA_BUILD_DIR") or Path(self.build_temp) / "cmake").resolve()
        configure = ["cmake", "-S", str(REPOSITORY), "-B", str(build), "-G", "Ninja",
                     "-DCMAKE_BUILD_TYPE=RelWithDebInfo", f"-DPython_EXECUTABLE={sys.executable}",
                     *shlex.split(os.environ.get("STRATA_CMAKE_ARGS", ""))]
        subprocess.run(configure, check=True)
        targets = ["_strata"] + (["_torch_backend"] if _has_torch_target(build) else [])
        subprocess.run(["cmake", "--build", str(build), "-j", os.environ.get("BUILD_JOBS", "2"), "--target",
                        *targets], check=True)
        built = build / "python" / "strata" / Path(self.get_ext_filename(extension.name)).name
        destination = Path(self.get_ext_fullpath(extension.name))
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(built), str(destination))
        torch_module = built.with_name(built.name.replace("_strata", "_torch_backend"))
        if torch_module.exists():
            self.copy_file(str(torch_module), str(destination.with_name(torch_module.name)))


def _has_torch_target(build):
    return (build / "python-bindings" / "src" / "torch").exists()  # configured only where libtorch is


setup(ext_modules=[Extension("strata._strata", sources=[])], cmdclass={"build_ext": CMakeBuild})
