import CQQSystem
import Glibc
import Synchronization

/// What stage-in recorded about one file it created (R87).
public struct ManifestEntry: Sendable, Hashable {
    public var work: FileStatus
    public var sourceSize: Int64
    public var sourceMtimeNanos: Int64
}

/// Stage-in's record of the work copies, keyed by relative path (R87).
public struct Manifest: Sendable {
    public var entries: [PathBytes: ManifestEntry] = [:]
    public init() {}

    /// R99: a work-dir file is unchanged when device, inode, size, mtime and ctime all match.
    public func isUnchanged(_ rel: PathBytes, _ st: FileStatus) -> Bool {
        guard let e = entries[rel]?.work else { return false }
        return e.device == st.device && e.inode == st.inode && e.size == st.size
            && e.mtimeSeconds == st.mtimeSeconds && e.mtimeNanos == st.mtimeNanos
            && e.ctimeSeconds == st.ctimeSeconds && e.ctimeNanos == st.ctimeNanos
    }
}

/// One entry that could not be copied.
public struct CopyFailure: Error, Sendable, CustomStringConvertible {
    public var path: PathBytes
    public var code: Int32
    public var operation: String
    public var description: String {
        let reason = code == 0 ? "" : ": " + String(cString: strerror(code))
        return "Cannot \(operation) '\(path.displayText)'\(reason)"
    }
    /// R105: errors that end the whole copy at once.
    public var endsTheCopy: Bool { code == ENOSPC || code == EDQUOT || code == EROFS }
}

public struct CopyStatistics: Sendable {
    public var files = 0
    public var bytes: Int64 = 0
    public var seconds = 0.0
    public var failures: [CopyFailure] = []
    public var skippedSpecial = 0
    public init() {}
}

/// The in-process copy engine shared by stage-in, stage-out and the rescue (R103).
/// It works relative to directory descriptors with byte names, so any name survives and no
/// path component is resolved twice. This version copies one file at a time.
public struct CopyEngine: Sendable {
    public var umask: mode_t
    /// Checked between files; a terminating signal sets it (R109: stop at the next file boundary).
    public var shouldStop: @Sendable () -> Bool

    public init(umask: mode_t = FileSystem.umask, shouldStop: @escaping @Sendable () -> Bool = { false }) {
        self.umask = umask
        self.shouldStop = shouldStop
    }

    // MARK: Stage-in

    /// Copies the tree under `source` into the existing directory `destination`, leaving out what
    /// `filter` skips, and records a manifest entry for each file and symlink created.
    public func stageIn(from source: String, to destination: String, filter: StageFilter,
                        manifest: inout Manifest) -> CopyStatistics {
        var stats = CopyStatistics()
        let t0 = monotonicSeconds()
        let src = cqq_openat(AT_FDCWD, source, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        let dst = cqq_openat(AT_FDCWD, destination, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        defer { if src >= 0 { close(src) }; if dst >= 0 { close(dst) } }
        guard src >= 0, dst >= 0 else {
            stats.failures.append(CopyFailure(path: PathBytes((src < 0 ? source : destination).utf8), code: errno, operation: "open directory"))
            return stats
        }
        _ = copyDirectoryContents(src, dst, prefix: [], filter: filter, manifest: &manifest, stats: &stats)
        stats.seconds = monotonicSeconds() - t0
        return stats
    }

    /// Copies one path (file, symlink or directory tree) to `<destination dir>/<name>`, replacing what
    /// is there (included paths, R85). Manifest entries are recorded under `name/…`.
    public func stageInPath(_ sourcePath: String, intoDirectory destination: String, name: PathBytes,
                            manifest: inout Manifest, stats: inout CopyStatistics) {
        let parent = cqq_openat(AT_FDCWD, FileSystem.directoryName(sourcePath), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        let dst = cqq_openat(AT_FDCWD, destination, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        defer { if parent >= 0 { close(parent) }; if dst >= 0 { close(dst) } }
        guard parent >= 0, dst >= 0 else {
            stats.failures.append(CopyFailure(path: PathBytes(sourcePath.utf8), code: errno, operation: "open directory"))
            return
        }
        let srcName = PathBytes(FileSystem.baseName(sourcePath).utf8)
        removeTree(dst, name)
        copyEntry(parent, srcName, dst, name, rel: [name], filter: StageFilter(), manifest: &manifest, stats: &stats)
    }

    private func copyDirectoryContents(_ src: Int32, _ dst: Int32, prefix: [PathBytes], filter: StageFilter,
                                       manifest: inout Manifest, stats: inout CopyStatistics) -> Bool {
        let names: [PathBytes]
        switch listDirectory(src) {
        case .success(let n): names = n
        case .failure(let e):
            stats.failures.append(CopyFailure(path: joined(prefix), code: e.code, operation: "read directory"))
            return true
        }
        for name in names {
            if shouldStop() { return false }
            let rel = prefix + [name]
            if filter.skips(rel) { continue }
            copyEntry(src, name, dst, name, rel: rel, filter: filter, manifest: &manifest, stats: &stats)
            if stats.failures.last?.endsTheCopy == true { return false }
        }
        return true
    }

    private func copyEntry(_ src: Int32, _ srcName: PathBytes, _ dst: Int32, _ dstName: PathBytes, rel: [PathBytes],
                           filter: StageFilter, manifest: inout Manifest, stats: inout CopyStatistics) {
        let relPath = joined(rel)
        guard let st = withCName(srcName, { FileSystem.lstat(at: src, $0) }) else {
            if errno != ENOENT {  // a source that vanished during stage-in is skipped (R103)
                stats.failures.append(CopyFailure(path: relPath, code: errno, operation: "stat"))
            } else {
                Log.warning("'\(relPath.displayText)' disappeared during stage-in; skipped.")
            }
            return
        }
        if st.isDirectory {
            let mode = mode_t(st.permissionBits & 0o777) & ~umask | 0o700
            let made = withCName(dstName) { mkdirat(dst, $0, 0o700) }
            if made != 0 && errno != EEXIST {
                stats.failures.append(CopyFailure(path: relPath, code: errno, operation: "create directory"))
                return
            }
            let sfd = withCName(srcName) { cqq_openat(src, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) }
            let dfd = withCName(dstName) { cqq_openat(dst, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) }
            defer { if sfd >= 0 { close(sfd) }; if dfd >= 0 { close(dfd) } }
            guard sfd >= 0, dfd >= 0 else {
                stats.failures.append(CopyFailure(path: relPath, code: errno, operation: "open directory"))
                return
            }
            _ = copyDirectoryContents(sfd, dfd, prefix: rel, filter: filter, manifest: &manifest, stats: &stats)
            fchmod(dfd, mode)
            _ = cqq_futimens(dfd, st.mtimeSeconds, st.mtimeNanos)  // after the content (R103)
        } else if st.isRegular {
            switch copyFile(src, srcName, dst, dstName, source: st, viaTemporaryName: false) {
            case .success(let (copy, sourceAfter)):
                stats.files += 1
                stats.bytes += copy.size
                manifest.entries[relPath] = ManifestEntry(work: copy, sourceSize: sourceAfter.size,
                                                          sourceMtimeNanos: sourceAfter.mtimeTotalNanos)
            case .failure(let f):
                if f.code == ENOENT && f.operation == "open" {
                    Log.warning("'\(relPath.displayText)' disappeared during stage-in; skipped.")
                } else {
                    stats.failures.append(CopyFailure(path: relPath, code: f.code, operation: f.operation))
                }
            }
        } else if st.isSymlink {
            switch copySymlink(src, srcName, dst, dstName, source: st) {
            case .success(let copy):
                stats.files += 1
                manifest.entries[relPath] = ManifestEntry(work: copy, sourceSize: st.size, sourceMtimeNanos: st.mtimeTotalNanos)
            case .failure(let f):
                stats.failures.append(CopyFailure(path: relPath, code: f.code, operation: f.operation))
            }
        } else {
            stats.skippedSpecial += 1
            Log.warning("Skipping '\(relPath.displayText)': not a regular file, directory or symlink.")
        }
    }

    // MARK: Stage-out

    /// What stage-out did.
    public struct StageOutResult: Sendable {
        public var stats = CopyStatistics()
        /// Files of the manifest that the script deleted (R99), counted, not propagated.
        public var deleted: [PathBytes] = []
        /// New or changed results under a top-level included name, left in the work dir (R99).
        public var underIncludedPaths: [PathBytes] = []
    }

    /// Copies every regular file and symlink of `workDir` that is new or changed since stage-in
    /// (R99) into `inputDir`, each through a temporary name, verified before it is renamed into place.
    /// `topLevelSkips` are the control files and the basenames of included paths.
    public func stageOut(from workDir: String, to inputDir: String, manifest: Manifest,
                         controlFiles: Set<PathBytes>, includedNames: Set<PathBytes>) -> StageOutResult {
        var result = StageOutResult()
        let t0 = monotonicSeconds()
        let src = cqq_openat(AT_FDCWD, workDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        let dst = cqq_openat(AT_FDCWD, inputDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        defer { if src >= 0 { close(src) }; if dst >= 0 { close(dst) } }
        guard src >= 0, dst >= 0 else {
            result.stats.failures.append(CopyFailure(path: PathBytes((src < 0 ? workDir : inputDir).utf8), code: errno, operation: "open directory"))
            return result
        }
        var seen = Set<PathBytes>()
        stageOutDirectory(src, dst, prefix: [], manifest: manifest, controlFiles: controlFiles,
                          includedNames: includedNames, seen: &seen, result: &result)
        result.deleted = manifest.entries.keys.filter { !seen.contains($0) }.sorted { $0.lexicographicallyPrecedes($1) }
        result.stats.seconds = monotonicSeconds() - t0
        return result
    }

    private func stageOutDirectory(_ src: Int32, _ dst: Int32?, prefix: [PathBytes], manifest: Manifest,
                                   controlFiles: Set<PathBytes>, includedNames: Set<PathBytes>,
                                   seen: inout Set<PathBytes>, result: inout StageOutResult) {
        let names: [PathBytes]
        switch listDirectory(src) {
        case .success(let n): names = n
        case .failure(let e):
            result.stats.failures.append(CopyFailure(path: joined(prefix), code: e.code, operation: "read directory"))
            return
        }
        for name in names {
            let rel = prefix + [name]
            let relPath = joined(rel)
            if prefix.isEmpty && controlFiles.contains(name) { continue }
            guard let st = withCName(name, { FileSystem.lstat(at: src, $0) }) else {
                result.stats.failures.append(CopyFailure(path: relPath, code: errno, operation: "stat"))
                continue
            }
            let underIncluded = includedNames.contains(rel[0])
            if st.isDirectory {
                let sfd = withCName(name) { cqq_openat(src, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) }
                guard sfd >= 0 else {
                    result.stats.failures.append(CopyFailure(path: relPath, code: errno, operation: "open directory"))
                    continue
                }
                defer { close(sfd) }
                var dfd: Int32 = -1
                if !underIncluded, let dst {
                    // Destination directories are opened with O_NOFOLLOW: a symlink there is an error (R99).
                    if withCName(name, { mkdirat(dst, $0, 0o700) }) == 0 {
                        let mode = mode_t(st.permissionBits & 0o777) & ~umask | 0o700
                        dfd = withCName(name) { cqq_openat(dst, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) }
                        if dfd >= 0 { fchmod(dfd, mode) }
                    } else if errno == EEXIST {
                        dfd = withCName(name) { cqq_openat(dst, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) }
                    }
                    if dfd < 0 {
                        result.stats.failures.append(CopyFailure(path: relPath, code: errno, operation: "create directory"))
                    }
                }
                stageOutDirectory(sfd, dfd >= 0 ? dfd : nil, prefix: rel, manifest: manifest, controlFiles: controlFiles,
                                  includedNames: includedNames, seen: &seen, result: &result)
                if dfd >= 0 { close(dfd) }
                continue
            }
            seen.insert(relPath)
            guard st.isRegular || st.isSymlink else { continue }
            if manifest.isUnchanged(relPath, st) { continue }
            if underIncluded { result.underIncludedPaths.append(relPath); continue }
            guard let dst else {
                result.stats.failures.append(CopyFailure(path: relPath, code: ENOENT, operation: "create the directory of"))
                continue
            }
            if let entry = manifest.entries[relPath],
               let now = withCName(name, { FileSystem.lstat(at: dst, $0) }),
               now.size != entry.sourceSize || now.mtimeTotalNanos != entry.sourceMtimeNanos {
                Log.warning("'\(relPath.displayText)' changed in the input directory during the job; the job's version wins.")
            }
            let outcome: Result<FileStatus, CopyFailure>
            if st.isRegular {
                outcome = copyFile(src, name, dst, name, source: st, viaTemporaryName: true).map { $0.0 }
            } else {
                outcome = copySymlink(src, name, dst, name, source: st)
            }
            switch outcome {
            case .success(let copy):
                result.stats.files += 1
                result.stats.bytes += st.isRegular ? copy.size : 0
            case .failure(let f):
                result.stats.failures.append(CopyFailure(path: relPath, code: f.code, operation: f.operation))
                if f.endsTheCopy { return }
            }
        }
    }

    /// Copies only the named top-level files (the logs when the transfer decision is no, R99).
    public func copyTopLevelFiles(_ names: [String], from workDir: String, to inputDir: String) -> CopyStatistics {
        var stats = CopyStatistics()
        let t0 = monotonicSeconds()
        let src = cqq_openat(AT_FDCWD, workDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        let dst = cqq_openat(AT_FDCWD, inputDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        defer { if src >= 0 { close(src) }; if dst >= 0 { close(dst) } }
        guard src >= 0, dst >= 0 else {
            stats.failures.append(CopyFailure(path: PathBytes(workDir.utf8), code: errno, operation: "open directory"))
            return stats
        }
        for name in names {
            let n = PathBytes(name.utf8)
            guard let st = withCName(n, { FileSystem.lstat(at: src, $0) }), st.isRegular else { continue }
            switch copyFile(src, n, dst, n, source: st, viaTemporaryName: true) {
            case .success(let (copy, _)): stats.files += 1; stats.bytes += copy.size
            case .failure(let f): stats.failures.append(CopyFailure(path: n, code: f.code, operation: f.operation))
            }
        }
        stats.seconds = monotonicSeconds() - t0
        return stats
    }

    // MARK: One file

    /// Copies a regular file. With `viaTemporaryName`, writes `.<name>.qq-part-<pid>-<random>` and
    /// renames it over the name only after its size and mtime match the source's (R103).
    /// Returns the copy's status after the rename and the source's status after the copy.
    func copyFile(_ srcDir: Int32, _ srcName: PathBytes, _ dstDir: Int32, _ dstName: PathBytes,
                  source: FileStatus, viaTemporaryName: Bool, deadline: Double? = nil) -> Result<(FileStatus, FileStatus), CopyFailure> {
        let rel = dstName
        let sfd = withCName(srcName) { cqq_openat(srcDir, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0) }
        if sfd < 0 { return .failure(CopyFailure(path: rel, code: errno, operation: "open")) }
        defer { close(sfd) }
        var attempt = 0
        while true {
            attempt += 1
            guard let before = FileSystem.fstat(sfd) else { return .failure(CopyFailure(path: rel, code: errno, operation: "stat")) }
            let target: PathBytes = viaTemporaryName
                ? PathBytes(".".utf8) + dstName + PathBytes(".qq-part-\(getpid())-\(FileSystem.randomHex())".utf8)
                : dstName
            if !viaTemporaryName {
                // A symlink or a stale file of the same name in a fresh work dir is replaced, never followed.
                _ = withCName(target) { unlinkat(dstDir, $0, 0) }
            }
            let dfd = withCName(target) {
                cqq_openat(dstDir, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            if dfd < 0 { return .failure(CopyFailure(path: rel, code: errno, operation: "create")) }
            func discard() { _ = withCName(target) { unlinkat(dstDir, $0, 0) } }
            if lseek(sfd, 0, SEEK_SET) < 0 {
                let e = errno; close(dfd); discard()
                return .failure(CopyFailure(path: rel, code: e, operation: "read"))
            }
            if let code = copyContents(from: sfd, to: dfd, deadline: deadline) {
                close(dfd); discard()
                return .failure(CopyFailure(path: rel, code: code, operation: code == ETIME ? "copy in time (abandoned)" : "copy"))
            }
            let mode = mode_t(before.permissionBits & 0o777) & ~umask
            fchmod(dfd, mode)
            _ = cqq_futimens(dfd, before.mtimeSeconds, before.mtimeNanos)
            guard let after = FileSystem.fstat(sfd), let written = FileSystem.fstat(dfd) else {
                let e = errno; close(dfd); discard()
                return .failure(CopyFailure(path: rel, code: e, operation: "stat"))
            }
            if close(dfd) != 0 {
                let e = errno; discard()
                return .failure(CopyFailure(path: rel, code: e, operation: "write"))
            }
            let sourceChanged = after.size != before.size || after.mtimeTotalNanos != before.mtimeTotalNanos
            let copyMatches = written.size == before.size && written.mtimeTotalNanos == before.mtimeTotalNanos
            if !copyMatches || sourceChanged {
                if attempt < 2 { discard(); continue }  // copied once more (R103)
                if viaTemporaryName || !copyMatches {
                    discard()
                    return .failure(CopyFailure(path: rel, code: 0, operation: "verify the copy of"))
                }
                Log.warning("'\(rel.displayText)' changed while it was copied; the copy as made is kept.")
            }
            if viaTemporaryName {
                let renamed = withCName(target) { t in withCName(dstName) { d in renameat(dstDir, t, dstDir, d) } }
                if renamed != 0 {
                    let e = errno; discard()
                    return .failure(CopyFailure(path: rel, code: e, operation: "rename into place"))
                }
            }
            // The rename changes the ctime: take the status on the final name (R87).
            guard let final = withCName(dstName, { FileSystem.lstat(at: dstDir, $0) }) else {
                return .failure(CopyFailure(path: rel, code: errno, operation: "stat"))
            }
            return .success((final, after))
        }
    }

    /// copy_file_range, falling back to read/write where the kernel refuses (EXDEV, ENOSYS, …).
    /// Returns an errno on failure; ETIME when `deadline` (monotonic) passed mid-copy.
    private func copyContents(from src: Int32, to dst: Int32, deadline: Double? = nil) -> Int32? {
        var useRange = true
        let chunk = deadline == nil ? 1 << 30 : 16 << 20
        while useRange {
            if let deadline, monotonicSeconds() >= deadline { return ETIME }
            let n = cqq_copy_file_range(src, dst, chunk)
            if n > 0 { continue }
            if n == 0 { return nil }
            let e = errno
            if e == EINTR { continue }
            if e == EXDEV || e == ENOSYS || e == EOPNOTSUPP || e == EINVAL || e == EBADF || e == EPERM {
                useRange = false
            } else {
                return e
            }
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            if let deadline, monotonicSeconds() >= deadline { return ETIME }
            let n = buffer.withUnsafeMutableBytes { read(src, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return errno }
            if n == 0 { return nil }
            let ok = buffer.withUnsafeBytes { FileSystem.writeAll(dst, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if !ok { return errno }
        }
    }

    func copySymlink(_ srcDir: Int32, _ srcName: PathBytes, _ dstDir: Int32, _ dstName: PathBytes,
                             source: FileStatus) -> Result<FileStatus, CopyFailure> {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = withCName(srcName) { readlinkat(srcDir, $0, &buf, buf.count - 1) }
        if n < 0 { return .failure(CopyFailure(path: dstName, code: errno, operation: "read link")) }
        buf[n] = 0
        let temp = PathBytes(".".utf8) + dstName + PathBytes(".qq-part-\(getpid())-\(FileSystem.randomHex())".utf8)
        if withCName(temp, { symlinkat(buf, dstDir, $0) }) != 0 {
            return .failure(CopyFailure(path: dstName, code: errno, operation: "create link"))
        }
        _ = withCName(temp) { cqq_utimensat(dstDir, $0, source.mtimeSeconds, source.mtimeNanos, 1) }
        let renamed = withCName(temp) { t in withCName(dstName) { d in renameat(dstDir, t, dstDir, d) } }
        if renamed != 0 {
            let e = errno
            _ = withCName(temp) { unlinkat(dstDir, $0, 0) }
            return .failure(CopyFailure(path: dstName, code: e, operation: "rename into place"))
        }
        guard let final = withCName(dstName, { FileSystem.lstat(at: dstDir, $0) }) else {
            return .failure(CopyFailure(path: dstName, code: errno, operation: "stat"))
        }
        return .success(final)
    }

    /// Removes `name` in `dir` whatever it is (used before an included path is copied in).
    private func removeTree(_ dir: Int32, _ name: PathBytes) {
        guard let st = withCName(name, { FileSystem.lstat(at: dir, $0) }) else { return }
        if st.isDirectory {
            _ = SafeDelete.removeContents(parent: dir, name: name, device: st.device)
            _ = withCName(name) { unlinkat(dir, $0, AT_REMOVEDIR) }
        } else {
            _ = withCName(name) { unlinkat(dir, $0, 0) }
        }
    }
}

// MARK: Helpers shared by the staging and cleanup code

/// Names in a directory, without `.` and `..`, in readdir order.
/// An errno as an `Error`, for `Result`.
struct Errno: Error { var code: Int32 }

func listDirectory(_ fd: Int32) -> Result<[PathBytes], Errno> {
    let dupFD = dup(fd)
    if dupFD < 0 { return .failure(Errno(code: errno)) }
    guard let dir = fdopendir(dupFD) else { let e = errno; close(dupFD); return .failure(Errno(code: e)) }
    defer { closedir(dir) }
    var names: [PathBytes] = []
    var namePtr: UnsafePointer<CChar>? = nil
    var type: UInt8 = 0
    var ino: UInt64 = 0
    while true {
        let r = cqq_readdir(UnsafeMutableRawPointer(dir), &namePtr, &type, &ino)
        if r < 0 { return .failure(Errno(code: errno)) }
        if r == 0 { break }
        guard let p = namePtr else { continue }
        let bytes = PathBytes(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)))
        if bytes == [46] || bytes == [46, 46] { continue }
        names.append(bytes)
    }
    return .success(names)
}

/// Calls `body` with the name as a NUL-terminated C string.
@inline(__always)
func withCName<R>(_ name: PathBytes, _ body: (UnsafePointer<CChar>) -> R) -> R {
    var z = name
    z.append(0)
    return z.withUnsafeBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { body($0) }
    }
}

func joined(_ components: [PathBytes]) -> PathBytes {
    var out = PathBytes()
    for (i, c) in components.enumerated() {
        if i > 0 { out.append(UInt8(ascii: "/")) }
        out.append(contentsOf: c)
    }
    return out
}
