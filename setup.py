"""Ships `src/mesalab-gym.pth` at the top of site-packages, for wheels and editable installs.

Everything else is in pyproject.toml. Python's `site` runs the file at start-up, so that
`gymnasium.make("mesalab/...")` works with no `import mesalab` (see mesalab/gym_plugin.py).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = Path(__file__).parent / "src" / "mesalab-gym.pth"


class BuildPyWithPth(build_py):
    def run(self) -> None:
        super().run()
        self.copy_file(str(PTH), str(Path(self.build_lib, PTH.name)), preserve_mode=False)


class EditableWheelWithPth(editable_wheel):
    # The editable wheel is built from a folder this method fills; ours goes in beside it.
    def _install_namespaces(self, installation_dir, pth_prefix):
        super()._install_namespaces(installation_dir, pth_prefix)
        shutil.copy(PTH, Path(installation_dir, PTH.name))


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
