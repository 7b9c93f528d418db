-- Lmod module file for qq-run: puts its commands and man pages on the search paths, nothing else.
-- scripts/install and the release tarball place it at <prefix>/share/modulefiles/qq-run/<version>.lua,
-- so it finds <prefix> from its own path:
--     module use <prefix>/share/modulefiles && module load qq-run
-- A site that keeps module files elsewhere copies this file and sets `root` to the install prefix.
help([[qq-run: runs qq batch jobs (staging to scratch, a qq state file); qq-info, qq-wipe, qq-clear, qq.
See `man qq-run`.]])
whatis("Name: qq-run")
whatis("Description: the runtime half of qq (VachaLab/qq) as static binaries")

local root = myFileName():match("^(.*)/share/modulefiles/[^/]+/[^/]+%.lua$")
if not root then
    LmodError("qq-run module: cannot find the install prefix from ", myFileName(),
              "; set `root` in this file to the directory that holds bin/qq-run")
end

prepend_path("PATH", pathJoin(root, "bin"))
prepend_path("MANPATH", pathJoin(root, "share/man"))
