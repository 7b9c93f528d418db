import CQQSystem
import Glibc

/// What a stage-in would create on the work dir's file system, counted by a walk that copies
/// nothing (issue 8, item 13: the pre-flight check). It leaves out what the stage-in leaves out
/// (the same `StageFilter`) and counts the included paths as the stage-in copies them.
public struct StageInNeed: Sendable, Equatable {
    /// Regular files and symlinks.
    public var files = 0
    public var directories = 0
    /// Content bytes, each regular file rounded up to the destination's block size, plus one
    /// block per directory.
    public var bytes: Int64 = 0
    /// The walk's wall time.
    public var seconds = 0.0
    public var inodes: Int { files + directories }

    public init() {}

    /// Walks `source` (and each of `included`) with lstat only. `blockSize` is the destination file
    /// system's fragment size (statvfs f_frsize). Unreadable entries are skipped: the stage-in
    /// reports them itself. `shouldStop` ends the walk early (a terminating signal).
    public static func measure(from source: String, filter: StageFilter, included: [String] = [], blockSize: Int64,
                               shouldStop: () -> Bool = { false }) -> StageInNeed {
        let t0 = monotonicSeconds()
        var need = StageInNeed()
        let block = max(blockSize, 1)
        let root = cqq_openat(AT_FDCWD, source, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        if root >= 0 {
            need.walk(root, parents: [], filter: filter, filterNeedsPath: !filter.excludes.isEmpty || !filter.exactPaths.isEmpty,
                      block: block, shouldStop: shouldStop)
            close(root)
        }
        for path in included where !shouldStop() {
            guard let st = FileSystem.lstat(path) else { continue }
            if st.isDirectory {
                let fd = cqq_openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
                guard fd >= 0 else { continue }
                need.add(st, block: block)
                need.walk(fd, parents: [], filter: StageFilter(), filterNeedsPath: false, block: block, shouldStop: shouldStop)
                close(fd)
            } else {
                need.add(st, block: block)
            }
        }
        need.seconds = monotonicSeconds() - t0
        return need
    }

    private mutating func add(_ st: FileStatus, block: Int64) {
        if st.isDirectory {
            directories += 1
            bytes += block
        } else if st.isRegular {
            files += 1
            bytes += (st.size + block - 1) / block * block
        } else if st.isSymlink {
            files += 1
        }  // FIFOs, sockets and devices are skipped by the stage-in
    }

    private mutating func walk(_ dir: Int32, parents: [PathBytes], filter: StageFilter, filterNeedsPath: Bool,
                               block: Int64, shouldStop: () -> Bool) {
        guard case .success(let entries) = readEntries(dir) else { return }
        for e in entries {
            if shouldStop() { return }
            if (parents.isEmpty || filterNeedsPath) && filter.skips(parents: parents, name: e.name) { continue }
            guard let st = lstatZ(dir, e.z) else { continue }
            add(st, block: block)
            guard st.isDirectory else { continue }
            let sub = withZ(e.z) { cqq_openat(dir, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) }
            guard sub >= 0 else { continue }
            walk(sub, parents: parents + [e.name], filter: filter, filterNeedsPath: filterNeedsPath, block: block, shouldStop: shouldStop)
            close(sub)
        }
    }
}
