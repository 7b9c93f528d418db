import CQQSystem
import Glibc

/// An input-dir file that stage-out renamed out of the way before the job's version took its name
/// (R99, issue 8 item 7).
package struct KeptFile: Sendable, Hashable {
    package enum Reason: Sendable, Hashable {
        /// It was staged in and changed in the input dir since (size or mtime differ from the manifest's source values).
        case changedSinceStageIn
        /// It was never staged in (excluded, or created in the input dir during the job).
        case notStagedIn
    }
    /// Relative to the input dir.
    package var path: PathBytes
    /// Where the input dir's version is now, relative to the input dir.
    package var keptAs: PathBytes
    package var reason: Reason
}

/// Renames `name` in `dir` to a free `<name><suffix>` beside it (then `<name><suffix>.2`, `.3`, …),
/// never replacing anything: rename(2) with RENAME_NOREPLACE, no copy. Where the file system does
/// not support that flag, a hard link plus unlink (also atomic against an existing name).
/// Returns the name used.
func keepAside(_ dir: Int32, _ z: ZName, suffix: PathBytes) -> Result<PathBytes, Errno> {
    let name = PathBytes(z.dropLast())
    for n in 1...100 {
        let candidate = name + suffix + (n == 1 ? [] : PathBytes(".\(n)".utf8))
        let code = withZ(z) { old in withCName(candidate) { new in renameNoReplace(dir, old, new) } }
        if code == 0 { return .success(candidate) }
        if code != EEXIST { return .failure(Errno(code: code)) }
    }
    return .failure(Errno(code: EEXIST))
}

/// 0 or the errno.
private func renameNoReplace(_ dir: Int32, _ old: UnsafePointer<CChar>, _ new: UnsafePointer<CChar>) -> Int32 {
    if cqq_renameat_noreplace(dir, old, dir, new) == 0 { return 0 }
    let e = errno
    guard e == EINVAL || e == ENOSYS || e == ENOTSUP else { return e }
    // No RENAME_NOREPLACE here (e.g. some network file systems): link(2) refuses an existing name too.
    if linkat(dir, old, dir, new, 0) != 0 { return errno }
    if unlinkat(dir, old, 0) != 0 {
        let u = errno
        _ = unlinkat(dir, new, 0)
        return u
    }
    return 0
}

/// When the input dir's file in the way of a result is renamed aside instead of replaced (R99 as
/// changed by issue 8): always when it was not staged in; when it was, only if its size or mtime
/// differ from what stage-in recorded of the source. Applied just before the rename into place, so
/// the input dir's version keeps its name while the job's version is still being copied.
struct KeepRule: Sendable {
    var suffix: PathBytes
    /// The source's size and mtime (ns) at stage-in; nil: not staged in.
    var staged: (size: Int64, mtimeNanos: Int64)?

    /// The file kept aside, nil when nothing had to be kept (no such name, an untouched staged file,
    /// or a directory: that clash stays an error of the rename, R99).
    func apply(_ dir: Int32, _ final: ZName, rel: PathBytes) -> Result<KeptFile?, CopyFailure> {
        guard let now = lstatZ(dir, final), !now.isDirectory else { return .success(nil) }
        if let staged, now.size == staged.size, now.mtimeTotalNanos == staged.mtimeNanos { return .success(nil) }
        switch keepAside(dir, final, suffix: suffix) {
        case .success(let name):
            let parent = rel.lastIndex(of: UInt8(ascii: "/")).map { PathBytes(rel[...$0]) } ?? []
            return .success(KeptFile(path: rel, keptAs: parent + name, reason: staged == nil ? .notStagedIn : .changedSinceStageIn))
        case .failure(let e):
            return .failure(CopyFailure(path: rel, code: e.code, operation: "keep the input directory's version of"))
        }
    }
}

/// What stage-out needs to keep input-dir files aside.
package struct StageOutKeep: Sendable {
    /// `.qq-kept-<job id>`.
    package var suffix: PathBytes
    /// Top-level names that are simply replaced: `stdout_file` and `stderr_file` (a rerun's logs
    /// replace an earlier job's, as R113 also allows).
    package var replaceable: Set<PathBytes>

    package init(jobID: String, replaceable: Set<PathBytes> = []) {
        suffix = PathBytes(".qq-kept-\(jobID)".utf8)
        self.replaceable = replaceable
    }
}

extension KeptFile {
    /// Undoes the keep when the job's version could not take the name after all.
    func putBack(_ dir: Int32, _ final: ZName) {
        let name = PathBytes(keptAs.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).last ?? [])
        _ = withCName(name) { old in withZ(final) { new in renameNoReplace(dir, old, new) } }
    }

    /// The WARNING naming both files.
    func warning(inputDir: String, copied: Bool) -> String {
        let here = "'\(inputDir)/\(path.displayText)'"
        let aside = "'\(inputDir)/\(keptAs.displayText)'"
        let why = reason == .changedSinceStageIn ? "changed in the input directory since stage-in"
                                                 : "was not staged in (excluded, or created during the job)"
        if copied {
            return "\(here) \(why): the input directory's version was kept as \(aside); the job's version is now \(here)."
        }
        return "\(here) \(why): the input directory's version was kept as \(aside); the job's version could not be copied back and remains in the work directory."
    }
}
