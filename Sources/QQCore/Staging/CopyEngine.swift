import CQQSystem
import Glibc
import Synchronization

/// One entry that could not be copied.
package struct CopyFailure: Error, Sendable, CustomStringConvertible {
    package var path: PathBytes
    package var code: Int32
    package var operation: String
    package var description: String {
        let reason = code == 0 ? "" : ": " + String(cString: strerror(code))
        return "Cannot \(operation) '\(path.displayText)'\(reason)"
    }
    /// R105: errors that end the whole copy at once.
    package var endsTheCopy: Bool { code == ENOSPC || code == EDQUOT || code == EROFS }
    /// R105: errors of this entry that a retry cannot cure. Everything else (EIO, ESTALE, EAGAIN,
    /// ETIMEDOUT, a verification mismatch, …) is retried. A vanished source is not retried either.
    package var isRetryable: Bool {
        // Beyond R105's permanent errors: a name that exists or vanished, and the engine's own
        // deadline (ETIME) and stop (ECANCELED) markers.
        !SystemError.isPermanent(code) && ![EEXIST, ENOENT, ETIME, ECANCELED].contains(code)
    }
}

package struct CopyStatistics: Sendable {
    package var files = 0
    package var bytes: Int64 = 0
    package var seconds = 0.0
    package var failures: [CopyFailure] = []
    package var skippedSpecial = 0
    /// Streams in effect when the copy ended (the tuner's choice, or `QQ_COPY_STREAMS`); 0 before a copy.
    package var streams = 0
    package init() {}
}

/// The in-process copy engine shared by stage-in, stage-out and the rescue (R103).
/// It works relative to directory descriptors with byte names, so any name survives and no path
/// component is resolved twice. Up to `streams` threads copy at once; work units are directories,
/// chunks of one directory's entries, and ranges of large files (see `TreeCopy`).
package struct CopyEngine: Sendable {
    package var umask: mode_t
    /// Checked between files; a terminating signal sets it (R109: stop at the next file boundary).
    package var shouldStop: @Sendable () -> Bool
    /// Files in flight at once (`Settings.copyStreams`, R103); with `adaptive`, the most ever.
    package var streams: Int
    /// No fixed count was given: each tree copy tunes its streams between one per CPU and `streams`
    /// (`StreamTuner`, issue 13).
    package var adaptive: Bool
    /// The job's CPUs, where the tuner starts.
    package var cpus: Int
    /// `Settings.verifyChecksum`: also compare a hash of the bytes read with a re-read of the copy.
    package var verifyChecksum: Bool
    /// R105, for each copy operation.
    package var retry: RetryPolicy
    /// Files at least this large are copied as concurrent ranges (when streams > 1).
    package var splitThreshold: Int64 = 64 << 20
    /// Counts what is done as it happens, for the state file's `progress` (issue 12 item 5).
    package var progress: CopyProgress?
    /// Test hook: called with the relative path and the descriptor of each copy before it is verified.
    var faultInjection: (@Sendable (PathBytes, Int32) -> Void)?

    /// `streams` nil: adaptive, up to `defaultStreams(ncpus: cpus)`. The caller passes the settings'
    /// values (nothing is read from the environment here); `cpus` nil: the machine's.
    package init(umask: mode_t = FileSystem.umask, streams: Int? = nil, cpus: Int? = nil, verifyChecksum: Bool = false,
                retry: RetryPolicy = RetryPolicy(), shouldStop: @escaping @Sendable () -> Bool = { false }) {
        self.umask = umask
        self.shouldStop = shouldStop
        // A job granted more CPUs than the machine has (a test, a mistake) cannot keep more busy.
        let online = max(1, Int(cqq_online_cpus()))
        let cpus = max(1, min(cpus ?? online, online))
        self.cpus = cpus
        adaptive = streams == nil
        self.streams = max(1, min(streams ?? CopyEngine.defaultStreams(ncpus: cpus), 256))
        self.verifyChecksum = verifyChecksum
        self.retry = retry
    }

    /// The tuner's ceiling: 8 per CPU, at least 8 and at most 32 (issue 13 in place of R103's
    /// min(max(ncpus, 4), 16)). On GlusterFS a 2-CPU copy still gained from 8 to 16 streams; 32 stays
    /// below what hurts a shared metadata server. The tuner only goes there while throughput grows.
    package static func defaultStreams(ncpus: Int = Int(cqq_online_cpus())) -> Int { min(max(8 * ncpus, 8), 32) }

    /// Runs `body`; a retryable failure is retried under `retry` (R105), cut short by `shouldStop`.
    func withRetries<T>(_ body: () -> Result<T, CopyFailure>) -> Result<T, CopyFailure> {
        let first = body()
        guard case .failure(let f) = first, f.isRetryable, retry.attempts > 1, !shouldStop() else { return first }
        var pendingFirst: CopyFailure? = f
        do {
            return .success(try retry.run(isRetryable: { (e: CopyFailure) in e.isRetryable }, stop: StopAdapter(shouldStop)) {
                () throws(CopyFailure) -> T in
                if let p = pendingFirst { pendingFirst = nil; throw p }
                return try body().get()
            })
        } catch {
            return .failure(error)
        }
    }

    // MARK: Stage-in

    /// Copies the tree under `source` into the existing directory `destination`, leaving out what
    /// `filter` skips, and records a manifest entry for each file and symlink created. Files are
    /// written under their final names (a fresh work dir, R103).
    package func stageIn(from source: String, to destination: String, filter: StageFilter,
                        manifest: inout Manifest) -> CopyStatistics {
        var stats = CopyStatistics()
        let t0 = monotonicSeconds()
        let roots: CopyRoots
        switch CopyRoots.open(source: source, followingSource: true, destination: destination, followingDestination: false) {
        case .success(let r): roots = r
        case .failure(let f): stats.failures.append(f); return stats
        }
        let root = DirNode(root: roots)
        let job = TreeCopy(engine: self, kind: .stageIn(filter), networked: roots.touchesNetworkFileSystem)
        let workers = job.run([.list(root)])
        merge(workers, into: &stats, manifest: &manifest)
        stats.streams = job.streams
        stats.seconds = monotonicSeconds() - t0
        return stats
    }

    /// Copies one path (file, symlink or directory tree) to `<destination dir>/<name>`, replacing what
    /// is there (included paths, R85). Manifest entries are recorded under `name/…`.
    package func stageInPath(_ sourcePath: String, intoDirectory destination: String, name: PathBytes,
                            manifest: inout Manifest, stats: inout CopyStatistics) {
        let roots: CopyRoots
        switch CopyRoots.open(source: FileSystem.directoryName(sourcePath), followingSource: true,
                              destination: destination, followingDestination: false) {
        case .success(let r): roots = r
        case .failure(var f):
            // The user named the included path, not its parent: name that one.
            if f.path == PathBytes(FileSystem.directoryName(sourcePath).utf8) { f.path = PathBytes(sourcePath.utf8) }
            stats.failures.append(f)
            return
        }
        let srcZ = zName(PathBytes(FileSystem.baseName(sourcePath).utf8))
        removeTree(roots.destination.rawValue, name)
        let root = DirNode(root: roots)
        let job = TreeCopy(engine: self, kind: .stageIn(StageFilter()), networked: roots.touchesNetworkFileSystem)
        let workers = job.run([.item(root, srcZ, zName(name), UInt8(DT_UNKNOWN))])
        merge(workers, into: &stats, manifest: &manifest)
        if stats.streams == 0 { stats.streams = job.streams }
    }

    private func merge(_ workers: [TreeCopy.Worker], into stats: inout CopyStatistics, manifest: inout Manifest) {
        var failures: [CopyFailure] = []
        let total = workers.reduce(0) { $0 + $1.manifest.count }
        manifest.entries.reserveCapacity(manifest.entries.count + total)
        for w in workers {
            stats.files += w.stats.files
            stats.bytes += w.stats.bytes
            stats.skippedSpecial += w.stats.skippedSpecial
            failures += w.stats.failures
            for (rel, entry) in w.manifest { manifest.entries[rel] = entry }
        }
        stats.failures += failures.sorted { $0.path.lexicographicallyPrecedes($1.path) }
    }

    // MARK: Stage-out

    /// What stage-out did.
    package struct StageOutResult: Sendable {
        package var stats = CopyStatistics()
        /// Files of the manifest that the script deleted (R99), counted, not propagated.
        package var deleted: [PathBytes] = []
        /// New or changed results under a top-level included name, left in the work dir (R99).
        package var underIncludedPaths: [PathBytes] = []
        /// Input-dir files renamed aside before a result took their name (R99, issue 8).
        package var kept: [KeptFile] = []
        /// Each regular file copied: the work file's status as it was copied and the input copy's size
        /// and mtime. A periodic sync (issue 12) makes these the manifest, so later rounds and the final
        /// stage-out copy only what changed since.
        package var copied: [PathBytes: ManifestEntry] = [:]
    }

    /// Copies every regular file and symlink of `workDir` that is new or changed since stage-in
    /// (R99) into `inputDir`, each through a temporary name, verified before it is renamed into place
    /// and checked again on its final name. `controlFiles` are skipped at the top; nothing below an
    /// `includedNames` entry is copied back. An input-dir file in the way that was not staged in, or
    /// that changed since, is first renamed aside as `<name>.qq-kept-<job id>` (`keep`), with a WARNING.
    package func stageOut(from workDir: String, to inputDir: String, manifest: Manifest,
                         controlFiles: Set<PathBytes>, includedNames: Set<PathBytes>,
                         keep: StageOutKeep = StageOutKeep(jobID: "job")) -> StageOutResult {
        var result = StageOutResult()
        let t0 = monotonicSeconds()
        let roots: CopyRoots
        switch CopyRoots.open(source: workDir, followingSource: false, destination: inputDir, followingDestination: true) {
        case .success(let r): roots = r
        case .failure(let f): result.stats.failures.append(f); return result
        }
        let root = DirNode(root: roots)
        let job = TreeCopy(engine: self, kind: .stageOut(manifest, controlFiles: controlFiles, includedNames: includedNames, keep: keep),
                           networked: roots.touchesNetworkFileSystem)
        let workers = job.run([.list(root)])
        var failures: [CopyFailure] = []
        var matched = 0
        for w in workers {
            result.stats.files += w.stats.files
            result.stats.bytes += w.stats.bytes
            failures += w.stats.failures
            result.underIncludedPaths += w.underIncluded
            matched += w.matched
            for (rel, entry) in w.manifest { result.copied[rel] = entry }
        }
        result.stats.failures = failures.sorted { $0.path.lexicographicallyPrecedes($1.path) }
        result.kept = job.shared.kept.withLock { $0 }.sorted { $0.path.lexicographicallyPrecedes($1.path) }
        let failed = Set(failures.map(\.path))
        for k in result.kept { Log.warning(k.warning(inputDir: inputDir, copied: !failed.contains(k.path))) }
        result.underIncludedPaths.sort { $0.lexicographicallyPrecedes($1) }
        result.stats.streams = job.streams
        if matched < manifest.entries.count {
            var seen = Set<PathBytes>(minimumCapacity: matched)
            for w in workers { seen.formUnion(w.seen) }
            result.deleted = manifest.entries.keys.filter { !seen.contains($0) }.sorted { $0.lexicographicallyPrecedes($1) }
        }
        result.stats.seconds = monotonicSeconds() - t0
        return result
    }

    /// Copies only the named top-level files (the logs when the transfer decision is no, R99).
    package func copyTopLevelFiles(_ names: [String], from workDir: String, to inputDir: String) -> CopyStatistics {
        var stats = CopyStatistics()
        let t0 = monotonicSeconds()
        let roots: CopyRoots
        switch CopyRoots.open(source: workDir, followingSource: false, destination: inputDir, followingDestination: true) {
        case .success(let r): roots = r
        case .failure(let f): stats.failures.append(f); return stats  // names the directory that did not open
        }
        let src = roots.source.rawValue, dst = roots.destination.rawValue
        let shared = CopyShared(), scratch = CopyScratch()
        stats.streams = 1  // one file after the other: a few logs
        for name in names {
            let n = PathBytes(name.utf8)
            let z = zName(n)
            guard let st = lstatZ(src, z), st.isRegular else { continue }
            let outcome = withRetries {
                copyRegularOnce(src, z, dst, z, rel: n, direct: false, splitAt: nil, shared: shared, scratch: scratch)
            }
            switch outcome {
            case .success(.copied(let copy, _)): stats.files += 1; stats.bytes += copy.size; progress?.add(files: 1, bytes: copy.size)
            case .success: break
            case .failure(let f): stats.failures.append(f)
            }
        }
        stats.seconds = monotonicSeconds() - t0
        return stats
    }

    // MARK: One file (the rescue's entry points)

    /// Copies a regular file. With `viaTemporaryName`, writes `.<name>.qq-part-<pid>-<random>` and
    /// renames it over the name only after its size and mtime match the source's (R103).
    /// Returns the copy's status after the rename and the source's status after the copy.
    /// `keep`: the file in the way is first renamed aside when the rule says so (recorded in `shared`).
    func copyFile(_ srcDir: Int32, _ srcName: PathBytes, _ dstDir: Int32, _ dstName: PathBytes,
                  source: FileStatus, viaTemporaryName: Bool, deadline: Double? = nil, keep: KeepRule? = nil,
                  shared: CopyShared = CopyShared()) -> Result<(FileStatus, FileStatus), CopyFailure> {
        let outcome = copyRegularOnce(srcDir, zName(srcName), dstDir, zName(dstName), rel: dstName, direct: !viaTemporaryName,
                                      splitAt: nil, shared: shared, scratch: CopyScratch(), deadline: deadline, keep: keep)
        switch outcome {
        case .success(.copied(let copy, let after)): return .success((copy, after))
        case .success(.vanished): return .failure(CopyFailure(path: dstName, code: ENOENT, operation: "open"))
        case .success(.notRegular), .success(.split): return .failure(CopyFailure(path: dstName, code: EINVAL, operation: "copy (not a regular file)"))
        case .failure(let f): return .failure(f)
        }
    }

    func copySymlink(_ srcDir: Int32, _ srcName: PathBytes, _ dstDir: Int32, _ dstName: PathBytes,
                     source: FileStatus) -> Result<FileStatus, CopyFailure> {
        copySymlinkZ(srcDir, zName(srcName), dstDir, zName(dstName), rel: dstName, source: source, direct: false).map { $0.0 }
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

/// `shouldStop` as the retry policy's stop signal: a terminating signal cuts a wait short (R105).
final class StopAdapter: StopSignal {
    let check: @Sendable () -> Bool
    init(_ check: @escaping @Sendable () -> Bool) { self.check = check }
    var isStopping: Bool { check() }
    func pause(_ seconds: Double) -> Bool {
        let end = monotonicSeconds() + seconds
        while true {
            if check() { return false }
            let left = end - monotonicSeconds()
            if left <= 0 { return true }
            var ts = timespec(tv_sec: 0, tv_nsec: Int(min(left, 0.05) * 1e9))
            nanosleep(&ts, nil)
        }
    }
}

// MARK: Helpers shared by the staging and cleanup code

/// The two directories of a tree copy, open for the whole copy.
struct CopyRoots: ~Copyable {
    let source: FileDescriptor
    let destination: FileDescriptor

    /// Opens both; the failure names the directory that did not open (not always the work dir).
    /// `following…: false` refuses a symlink in place of that directory (the work dir's side).
    static func open(source: String, followingSource: Bool, destination: String,
                     followingDestination: Bool) -> Result<CopyRoots, CopyFailure> {
        let src: FileDescriptor
        switch FileDescriptor.openDirectory(source, followLast: followingSource) {
        case .success(let fd): src = fd
        case .failure(let e): return .failure(CopyFailure(path: PathBytes(source.utf8), code: e.code, operation: "open directory"))
        }
        switch FileDescriptor.openDirectory(destination, followLast: followingDestination) {
        case .success(let dst): return .success(CopyRoots(source: src, destination: dst))
        case .failure(let e): return .failure(CopyFailure(path: PathBytes(destination.utf8), code: e.code, operation: "open directory"))
        }
    }
}

extension CopyRoots {
    /// Either side lies on a file system where each operation is a round trip to a server (issue 13):
    /// its copies start with all the streams the tuner may use, instead of one per CPU.
    var touchesNetworkFileSystem: Bool {
        [source.rawValue, destination.rawValue].contains { networkFileSystemTypes.contains(Int64(cqq_fs_type($0))) }
    }
}

/// statfs f_type of network and cluster file systems: NFS, FUSE (GlusterFS, …), Lustre, GPFS, CephFS,
/// SMB/CIFS (three), AFS, GFS2, OCFS2, BeeGFS, 9P, PanFS.
let networkFileSystemTypes: Set<Int64> = [0x6969, 0x6573_5546, 0x0BD0_0BD0, 0x4750_4653, 0x00C3_6400, 0xFE53_4D42,
                                          0xFF53_4D42, 0x517B, 0x5346_414F, 0x0116_1970, 0x7461_636F, 0x1983_0326,
                                          0x0102_1997, 0xAAD7_AAEA]

/// Calls `body` with the name as a NUL-terminated C string (hot loops keep a `ZName` instead).
@inline(__always)
func withCName<R>(_ name: PathBytes, _ body: (UnsafePointer<CChar>) -> R) -> R { withZ(zName(name), body) }

func joined(_ components: [PathBytes]) -> PathBytes {
    var out = PathBytes()
    for (i, c) in components.enumerated() {
        if i > 0 { out.append(UInt8(ascii: "/")) }
        out.append(contentsOf: c)
    }
    return out
}
