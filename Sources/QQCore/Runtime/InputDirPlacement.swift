/// Where an input dir may not be. Decided by identity (device and inode), never by the text of a
/// path: `ln -s / rootlink; cd rootlink` or `cd $HOME/../$USER` must not disguise `/`, the home
/// dir, or a scratch root, since staging such a dir copies far more than the user meant.
enum InputDirPlacement {
    /// R75: the name of the whole directory that `inputDir` is (`/`, the home dir or the
    /// temporary dir), or nil when it is none of them.
    static func wholeDirectory(_ inputDir: String, environment env: Environment) -> String? {
        guard let input = FileSystem.stat(inputDir)?.identity else { return nil }
        let candidates = ["/", env.nonEmpty("HOME"), env.nonEmpty("TMPDIR") ?? "/tmp"].compactMap { $0 }
        return candidates.first { FileSystem.stat($0)?.identity == input }
    }

    /// True when the work dir planned at `plannedWorkDir` (usually not created yet) would lie inside
    /// the input dir, or the input dir inside it: stage-in would then copy the work dir into itself.
    static func overlapsPlannedWorkDir(inputDir: String, plannedWorkDir: String) -> Bool {
        guard let input = FileSystem.stat(inputDir)?.identity else { return false }
        // Everything below the deepest existing directory is created new by qq-run, so that
        // directory's real parents are the work dir's real parents.
        let existing = FileSystem.deepestExistingAncestor(plannedWorkDir)
        if FileSystem.identitiesOfSelfAndParents(existing).contains(input) { return true }
        if existing == FileSystem.normalizeLexically(plannedWorkDir), let wd = FileSystem.stat(existing)?.identity {
            return FileSystem.identitiesOfSelfAndParents(inputDir).contains(wd)
        }
        return false
    }

    static func overlapMessage(inputDir: String, plannedWorkDir: String, root: String) -> String {
        "Refusing to stage the input directory '\(inputDir)': the job's working directory '\(plannedWorkDir)' "
            + "would lie inside it, so stage-in would copy the working directory into itself. Submit the job "
            + "from a directory outside the scratch root '\(root)' and its job directories, or set work-dir=input_dir "
            + "to run it in place."
    }
}
