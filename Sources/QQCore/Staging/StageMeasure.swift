import CQQSystem
import Glibc

/// What a stage-in would create on the work dir's file system, counted by a walk that copies
/// nothing (issue 8, item 13: the pre-flight check). It leaves out what the stage-in leaves out
/// (the same `StageFilter`) and counts the included paths as the stage-in copies them.
package struct StageInNeed: Sendable, Equatable {
    /// Regular files and symlinks.
    package var files = 0
    package var directories = 0
    /// Content bytes, each regular file rounded up to the destination's block size, plus one
    /// block per directory.
    package var bytes: Int64 = 0
    /// The walk's wall time.
    package var seconds = 0.0
    package var inodes: Int { files + directories }

    package init() {}

    /// Walks `source` (and each of `included`) with lstat only. `blockSize` is the destination file
    /// system's fragment size (statvfs f_frsize). Unreadable entries are skipped: the stage-in
    /// reports them itself. `shouldStop` ends the walk early (a terminating signal).
    package static func measure(from source: String, filter: StageFilter, included: [String] = [], blockSize: Int64,
                               shouldStop: () -> Bool = { false }) -> StageInNeed {
        let t0 = monotonicSeconds()
        var need = StageInNeed()
        let block = max(blockSize, 1)
        if case .success(let root) = FileDescriptor.openDirectory(source, followLast: true) {
            need.walk(root, parents: [], filter: filter, filterNeedsPath: !filter.excludes.isEmpty || !filter.exactPaths.isEmpty,
                      block: block, shouldStop: shouldStop)
        }
        for path in included where !shouldStop() {
            guard let st = FileSystem.lstat(path) else { continue }
            if st.isDirectory {
                guard case .success(let fd) = FileDescriptor.openDirectory(path) else { continue }
                need.add(st, block: block)
                need.walk(fd, parents: [], filter: StageFilter(), filterNeedsPath: false, block: block, shouldStop: shouldStop)
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

    private mutating func walk(_ dir: borrowing FileDescriptor, parents: [PathBytes], filter: StageFilter, filterNeedsPath: Bool,
                               block: Int64, shouldStop: () -> Bool) {
        guard case .success(let entries) = dir.entries() else { return }
        for e in entries {
            if shouldStop() { return }
            if (parents.isEmpty || filterNeedsPath) && filter.skips(parents: parents, name: e.name) { continue }
            guard let st = lstatZ(dir.rawValue, e.z) else { continue }
            add(st, block: block)
            guard st.isDirectory,
                  case .success(let sub) = FileDescriptor.openDirectory(e.z, relativeTo: dir.rawValue) else { continue }
            walk(sub, parents: parents + [e.name], filter: filter, filterNeedsPath: filterNeedsPath, block: block, shouldStop: shouldStop)
        }
    }
}
