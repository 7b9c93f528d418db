import CQQSystem
import Synchronization
import Glibc

/// A loop job's archive (SPEC §10 items 2, 3 and 5): where each cycle's results and runtime files go,
/// and where the next cycle finds what it continues from. It follows qq's rules for which files move,
/// with qq-run's own for how: a file leaves its place only after it verifiably arrived (rename, or a
/// verified copy), and a file already in the archive is replaced only when it is the version this
/// job restored; any other is kept as `<name>.qq-kept-<job id>`.
struct LoopArchive: Sendable {
    let cycle: LoopJob.Cycle
    let inputDir: String
    /// `script_name`: the cycle names are made from it (`md.sh` → `md+0003.sh`).
    let scriptName: String
    let jobID: String

    /// The archive files the restore copied, with their size and mtime at that moment: at the end of
    /// the cycle these may be replaced by the job's newer versions.
    struct Restored: Sendable {
        var files: [String: (size: Int64, mtimeNanos: Int64)] = [:]
    }

    /// What archiving at the end of a cycle did.
    struct Archived: Sendable {
        var files = 0
        var bytes: Int64 = 0
        /// The files that stayed where they were (each was logged).
        var failed: [String] = []
        /// The names now in the archive.
        var names: [String] = []
    }

    private var keepSuffix: PathBytes { PathBytes(".qq-kept-\(jobID)".utf8) }

    // MARK: Before the work dir exists (§10 item 2)

    /// Creates the archive dir (no parents) and moves the previous cycle's files out of the input
    /// dir into it under the archive's names: `md+0002.qqinfo` → `storage/md0002.qqinfo`. Done
    /// before stage-in, so they are not staged.
    func archivePreviousCycle(engine: CopyEngine) throws(RunFailure) {
        try createArchiveDir()
        let previous = cycle.current - 1
        let stem = LoopNames.stem(ofJobName: LoopNames.jobName(scriptName: scriptName, cycle: previous))
        guard case .success(let entries) = DirectoryReader.entries(atPath: inputDir) else { return }
        var moved = 0
        for e in entries where LoopNames.fileStem(e.text).contains(stem) {
            guard let st = FileSystem.lstat(inputDir + "/" + e.text), st.isRegular else { continue }
            let target = cycle.format.name(cycle: previous) + LoopNames.suffix(ofFileName: e.text)
            switch move(e.text, from: inputDir, to: target, keep: KeepRule(suffix: keepSuffix, staged: nil), engine: engine) {
            case .success: moved += 1
            case .failure(let f):
                Log.warning("Could not move '\(inputDir)/\(e.text)' of cycle \(previous) into the archive '\(cycle.archiveDir)' (\(f)); it stays in the input directory.")
            }
        }
        if moved > 0 { Log.info("Archived \(moved) runtime file(s) of cycle \(previous) to '\(cycle.archiveDir)'.") }
    }

    private func createArchiveDir() throws(RunFailure) {
        if mkdir(cycle.archiveDir, 0o777) == 0 { return }
        let e = errno
        if e == EEXIST, FileSystem.stat(cycle.archiveDir)?.isDirectory == true { return }
        let why = e == EEXIST ? "it exists and is not a directory" : String(cString: strerror(e))
        throw .error("Cannot create the loop archive '\(cycle.archiveDir)': \(why). Fix or remove that path (or set another archive with '# qq archive <dir>') and submit the job again.")
    }

    // MARK: After stage-in (§10 item 3)

    /// Copies the archived files of this cycle (`md0003.*`, runtime files excepted) into `dir`,
    /// where they override staged copies. In a job that runs in the input dir (`replacingStaged`
    /// false) an input-dir file of the same name is kept aside instead of replaced.
    func restore(into dir: String, replacingStaged: Bool, engine: CopyEngine) throws(RunFailure) -> Restored {
        var restored = Restored()
        let archive = cycle.archiveDir
        guard case .success(let entries) = DirectoryReader.entries(atPath: archive) else { return restored }
        let names = entries.map(\.text).filter { cycle.format.isFile($0, ofCycle: cycle.current) && !LoopNames.isRuntimeFile($0) }.sorted()
        guard !names.isEmpty else { return restored }
        let roots: CopyRoots
        switch CopyRoots.open(source: archive, followingSource: true, destination: dir, followingDestination: true) {
        case .success(let r): roots = r
        case .failure(let f): throw .error("Cannot restore cycle \(cycle.current) from the loop archive: \(f).")
        }
        let src = roots.source.rawValue, dst = roots.destination.rawValue
        let shared = CopyShared(), scratch = CopyScratch()
        var bytes: Int64 = 0
        for name in names {
            let n = PathBytes(name.utf8)
            let z = zName(n)
            guard let st = lstatZ(src, z), st.isRegular else { continue }
            let keep = replacingStaged ? nil : KeepRule(suffix: keepSuffix, staged: nil)
            if !replacingStaged, let there = lstatZ(dst, z), there.isRegular, there.size == st.size,
               there.mtimeTotalNanos == st.mtimeTotalNanos {
                restored.files[name] = (st.size, st.mtimeTotalNanos)
                continue  // already there
            }
            let outcome = engine.withRetries {
                engine.copyRegularOnce(src, z, dst, z, rel: n, direct: false, splitAt: nil, shared: shared,
                                       scratch: scratch, keep: keep)
            }
            switch outcome {
            case .success(.copied(let copy, _)):
                bytes += copy.size
                restored.files[name] = (st.size, st.mtimeTotalNanos)
            case .success: continue
            case .failure(let f):
                throw .error("Could not restore '\(archive)/\(name)' of cycle \(cycle.current) from the loop archive into '\(dir)': \(f). The archive is unchanged; fix the cause and submit the job again.")
            }
        }
        for kept in shared.kept.withLock({ $0 }) {
            Log.warning("'\(dir)/\(kept.path.displayText)' was in the way of the archived file of the same name: it was kept as '\(dir)/\(kept.keptAs.displayText)'.")
        }
        Log.info("Restored \(restored.files.count) file(s) (\(Size.format(bytes: bytes))) of cycle \(cycle.current) from the archive '\(archive)'.")
        return restored
    }

    // MARK: At the end of a cycle (§10 item 5)

    /// Moves the top-level files of `dir` whose stem matches the archive format (any cycle; runtime
    /// files, control files and `excluding` not) into the archive. From a scratch work dir each is
    /// copied and verified first and removed afterwards; a staged input file that the archive
    /// already holds unchanged stays where it is. A file that cannot be archived stays in `dir`,
    /// so stage-out brings it back like any result.
    /// `only`: just these names (what a rescue brought back).
    func archiveResults(from dir: String, scratch: Bool, manifest: Manifest, restored: Restored,
                        excluding: Set<String>, only: Set<String>? = nil, engine: CopyEngine) -> Archived {
        var result = Archived()
        if case .failure(let e) = Result(catching: { () throws(RunFailure) in try createArchiveDir() }) {
            Log.warning("\(e.description) The cycle's files are not archived; they are staged out with the other results.")
            return result
        }
        guard case .success(let entries) = DirectoryReader.entries(atPath: dir) else { return result }
        let control = Set(WorkDir.controlFileNames.map { String(decoding: $0, as: UTF8.self) })
        let names = entries.map(\.text).filter { name in
            !LoopNames.isRuntimeFile(name) && !control.contains(name) && !excluding.contains(name)
                && (only?.contains(name) ?? true) && cycle.format.matches(stem: LoopNames.fileStem(name))
        }.sorted()
        for name in names {
            guard let st = FileSystem.lstat(dir + "/" + name), st.isRegular else { continue }
            if let target = FileSystem.lstat(cycle.archiveDir + "/" + name), target.size == st.size,
               target.mtimeTotalNanos == st.mtimeTotalNanos {
                // The archive has it already: a staged input file (still in the input dir too), or
                // the copy this cycle restored, untouched (it goes: it is only a copy).
                if restored.files[name].map({ $0.size == st.size && $0.mtimeNanos == st.mtimeTotalNanos }) ?? false {
                    _ = unlink(dir + "/" + name)
                    continue
                }
                if scratch && manifest.isUnchanged(PathBytes(name.utf8), st) { continue }
            }
            let keep = KeepRule(suffix: keepSuffix, staged: restored.files[name])
            let moved = scratch ? copyThenRemove(name, from: dir, to: name, keep: keep, engine: engine)
                                : move(name, from: dir, to: name, keep: keep, engine: engine)
            switch moved {
            case .success(let (bytes, kept)):
                result.files += 1
                result.bytes += bytes
                result.names.append(name)
                if let kept {
                    Log.warning("'\(cycle.archiveDir)/\(name)' was not the version this cycle restored: it was kept as '\(cycle.archiveDir)/\(kept.displayText)', and the cycle's version took its name.")
                }
            case .failure(let f):
                result.failed.append(name)
                Log.warning("Could not archive '\(dir)/\(name)' (\(f)); it stays there and is staged out with the other results.")
            }
        }
        if result.files > 0 {
            Log.info("Archived \(result.files) file(s) (\(Size.format(bytes: result.bytes))) to '\(cycle.archiveDir)'.")
        }
        return result
    }

    /// The top-level results of a scratch work dir (new or changed since stage-in) that are now in
    /// the input dir as they are in the work dir (same size and mtime): what a rescue brought back.
    func namesBackInInputDir(from workDir: String, manifest: Manifest) -> Set<String> {
        guard case .success(let entries) = DirectoryReader.entries(atPath: workDir) else { return [] }
        var names: Set<String> = []
        for e in entries {
            guard let st = FileSystem.lstat(workDir + "/" + e.text), st.isRegular,
                  !manifest.isUnchanged(e.name, st),
                  let back = FileSystem.lstat(inputDir + "/" + e.text), back.isRegular,
                  back.size == st.size, back.mtimeTotalNanos == st.mtimeTotalNanos else { continue }
            names.insert(e.text)
        }
        return names
    }

    // MARK: Moving one file

    /// Copies `name` from `dir` into the archive as `target` through a temporary name, verified,
    /// then removes the original if it did not change meanwhile. Returns the bytes and the name an
    /// archive file in the way was kept as.
    private func copyThenRemove(_ name: String, from dir: String, to target: String, keep: KeepRule?,
                                engine: CopyEngine) -> Result<(Int64, PathBytes?), CopyFailure> {
        let roots: CopyRoots
        switch CopyRoots.open(source: dir, followingSource: false, destination: cycle.archiveDir, followingDestination: true) {
        case .success(let r): roots = r
        case .failure(let f): return .failure(f)
        }
        let src = roots.source.rawValue, dst = roots.destination.rawValue
        let z = zName(PathBytes(name.utf8))
        let t = PathBytes(target.utf8), tz = zName(t)
        let shared = CopyShared()
        let outcome = engine.withRetries {
            engine.copyRegularOnce(src, z, dst, tz, rel: t, direct: false, splitAt: nil, shared: shared,
                                   scratch: CopyScratch(), keep: keep)
        }
        switch outcome {
        case .success(.copied(let copy, let after)):
            let keptAs = shared.kept.withLock { $0.first?.keptAs }
            // Removed only when the copy is of what is there now; a file still being written stays.
            if let now = lstatZ(src, z), now.size == after.size, now.mtimeTotalNanos == after.mtimeTotalNanos,
               copy.size == after.size {
                _ = withZ(z) { unlinkat(src, $0, 0) }
            }
            return .success((copy.size, keptAs))
        case .success: return .failure(CopyFailure(path: t, code: ENOENT, operation: "copy (it vanished or is not a regular file)"))
        case .failure(let f): return .failure(f)
        }
    }

    /// Renames `name` in `dir` to `target` in the archive (the same file system: instant, nothing
    /// copied); across file systems, a verified copy and then the removal.
    private func move(_ name: String, from dir: String, to target: String, keep: KeepRule,
                      engine: CopyEngine) -> Result<(Int64, PathBytes?), CopyFailure> {
        let t = PathBytes(target.utf8)
        guard case .success(let srcFD) = FileDescriptor.openDirectory(dir, followLast: true) else {
            return .failure(CopyFailure(path: PathBytes(dir.utf8), code: errno, operation: "open"))
        }
        guard case .success(let dstFD) = FileDescriptor.openDirectory(cycle.archiveDir, followLast: true) else {
            return .failure(CopyFailure(path: PathBytes(cycle.archiveDir.utf8), code: errno, operation: "open"))
        }
        let src = srcFD.rawValue, dst = dstFD.rawValue
        let z = zName(PathBytes(name.utf8)), tz = zName(t)
        let size = lstatZ(src, z)?.size ?? 0
        var keptAs: PathBytes?
        switch keep.apply(dst, tz, rel: t) {
        case .success(let kept): keptAs = kept?.keptAs
        case .failure(let f): return .failure(f)
        }
        let code = withZ(z) { old in withZ(tz) { new in renameat(src, old, dst, new) == 0 ? 0 : errno } }
        if code == 0 { return .success((size, keptAs)) }
        guard code == EXDEV else { return .failure(CopyFailure(path: t, code: code, operation: "move into the archive")) }
        // Another file system: what was in the way is already aside, so a plain verified copy.
        return copyThenRemove(name, from: dir, to: target, keep: nil, engine: engine).map { ($0.0, keptAs) }
    }
}
