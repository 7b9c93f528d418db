# Spack package for qq-run: the release tarball of static binaries (scripts/release), copied as it is.
# Copy this directory into a Spack repository (`spack repo create`, then packages/qq-run/) and
# point `url` at where your site keeps the tarball; put the hash of the release's .sha256 file in
# version(). Checked here only with `python3 -m py_compile` (Spack cannot be installed on this machine).
from spack.package import *


class QqRun(Package):
    """qq-run runs qq batch jobs: it stages the job directory to scratch, runs the script, copies
    the results back and keeps the job's state in a qq .qqinfo file. With qq-info, qq-wipe,
    qq-clear and the qq front command. Fully static binaries: no glibc version needed."""

    homepage = "https://github.com/VachaLab/qq"
    url = "file:///path/to/qq-run-0.1.0-linux-x86_64.tar.gz"

    # Replace with the hash from qq-run-0.1.0-linux-x86_64.tar.gz.sha256.
    version("0.1.0", sha256="0000000000000000000000000000000000000000000000000000000000000000")

    # Static binaries for one architecture each: no compiler, no dependencies.
    requires("target=x86_64:", msg="the qq-run release tarball is built for x86_64")

    def install(self, spec, prefix):
        install_tree("bin", prefix.bin)
        install_tree("share", prefix.share)

    @run_after("install")
    def check_static_binary_runs(self):
        Executable(join_path(self.prefix.bin, "qq-run"))("--version")
