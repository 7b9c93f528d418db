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
    /// reports them itself. `shouldStop` ends the walk early (a terminating signal). Up to `walkers`
    /// directories are read at once: on a network file system each lstat is a round trip (issue 13:
    /// 10,000 files on GlusterFS took 0.25 s one by one).
    package static func measure(from source: String, filter: StageFilter, included: [String] = [], blockSize: Int64,
                               walkers: Int = 8, shouldStop: () -> Bool = { false }) -> StageInNeed {
        let t0 = monotonicSeconds()
        let block = max(blockSize, 1)
        var need = StageInNeed()
        var initial: [WalkTask] = []
        if case .success(let root) = FileDescriptor.openDirectory(source, followLast: true) {
            initial.append(.root(WalkDirectory(root, parents: [], filter: filter)))
        }
        for path in included where !shouldStop() {
            guard let st = FileSystem.lstat(path) else { continue }
            need.add(st, block: block)
            if st.isDirectory, case .success(let fd) = FileDescriptor.openDirectory(path) {
                initial.append(.root(WalkDirectory(fd, parents: [], filter: nil)))
            }
        }
        let pool = WorkPool<WalkTask, WalkTally>(workers: walkers, makeContext: { WalkTally() })
        let tallies = withoutActuallyEscaping(shouldStop) { stop in
            pool.run(initial) { task, tally in
                let dir: WalkDirectory
                switch task {
                case .root(let d): dir = d
                case .child(let parent, let z):
                    // Opened only now (not when found): a directory of many subdirectories must not
                    // hold a descriptor for each while they wait.
                    guard !stop(), case .success(let fd) = FileDescriptor.openDirectory(z, relativeTo: parent.fd.rawValue) else { return }
                    dir = WalkDirectory(fd, parents: parent.parents + [PathBytes(z.dropLast())], filter: parent.filter)
                }
                tally.need.walk(dir, block: block, shouldStop: stop, push: { pool.push(.child(dir, $0)) })
            }
        }
        for t in tallies { need.merge(t.need) }
        need.seconds = monotonicSeconds() - t0
        return need
    }

    private mutating func merge(_ other: StageInNeed) {
        files += other.files; directories += other.directories; bytes += other.bytes
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

    /// One directory's entries; subdirectories are handed to `push` (another walker takes them).
    fileprivate mutating func walk(_ dir: WalkDirectory, block: Int64, shouldStop: () -> Bool, push: (ZName) -> Void) {
        guard case .success(let entries) = dir.fd.entries() else { return }
        let filterNeedsPath = dir.filter.map { !$0.excludes.isEmpty || !$0.exactPaths.isEmpty } ?? false
        for e in entries {
            if shouldStop() { return }
            if let filter = dir.filter, dir.parents.isEmpty || filterNeedsPath, filter.skips(parents: dir.parents, name: e.name) { continue }
            guard let st = lstatZ(dir.fd.rawValue, e.z) else { continue }
            add(st, block: block)
            if st.isDirectory { push(e.z) }
        }
    }
}

/// A directory open for the pre-flight walk, with its path (for the filter) and the filter (nil
/// below an included path, which is copied whole).
final class WalkDirectory: @unchecked Sendable {
    let fd: FileDescriptor
    let parents: [PathBytes]
    let filter: StageFilter?
    init(_ fd: consuming FileDescriptor, parents: [PathBytes], filter: StageFilter?) {
        self.fd = fd; self.parents = parents; self.filter = filter
    }
}

/// A directory to walk: a root, or a subdirectory to open relative to its parent.
enum WalkTask {
    case root(WalkDirectory)
    case child(WalkDirectory, ZName)
}

/// One walker's counts.
final class WalkTally {
    var need = StageInNeed()
}
