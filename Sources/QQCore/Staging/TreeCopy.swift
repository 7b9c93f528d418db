import CQQSystem
import Glibc
import Synchronization

/// A directory being copied. Its descriptors stay open while anything below it is pending; the
/// worker that finishes its last child sets its mode and mtime (post-order, R103) and closes it.
final class DirNode: @unchecked Sendable {
    enum Destination: ~Copyable {
        case unopened
        case open(FileDescriptor)
        /// The root's: the caller of the copy owns it.
        case borrowed(Int32)
        case failed(Int32)
        case none
    }

    let parent: DirNode?
    let components: [PathBytes]
    /// `a/b/` (empty at the root): the prefix of the relative paths of its entries.
    let relPrefix: PathBytes
    /// Its name in the parent's destination.
    let dstZ: ZName
    /// The source directory, for the *at calls below it; valid until `finish()`.
    let srcFD: Int32
    /// Owns `srcFD` (nil at the root, whose caller owns it); touched only by init and `finish()`.
    private var source: FileDescriptor?
    let isRoot: Bool
    let underIncluded: Bool
    /// Mode and mtime to set after the content, for directories this copy created.
    let finalMeta: (mode: mode_t, sec: Int64, nsec: Int64)?
    /// The listing itself plus one per queued child task.
    let pending = Atomic<Int>(1)
    private let dst: Mutex<Destination>

    /// A subdirectory, owning its source descriptor.
    init(parent: DirNode, name: PathBytes, dstZ: ZName, source: consuming FileDescriptor, destination: consuming Destination,
         finalMeta: (mode: mode_t, sec: Int64, nsec: Int64)?, underIncluded: Bool) {
        self.parent = parent
        components = parent.components + [name]
        relPrefix = parent.relPrefix + name + [UInt8(ascii: "/")]
        isRoot = false
        self.dstZ = dstZ; self.finalMeta = finalMeta; self.underIncluded = underIncluded
        srcFD = source.rawValue
        self.source = consume source
        dst = Mutex(destination)
    }

    /// The top of a copy; `roots` stay open (and owned by the caller) until the copy returns.
    init(root roots: borrowing CopyRoots) {
        parent = nil; components = []; relPrefix = []; isRoot = true
        dstZ = [0]; finalMeta = nil; underIncluded = false
        srcFD = roots.source.rawValue
        source = nil
        dst = Mutex(.borrowed(roots.destination.rawValue))
    }

    var relPath: PathBytes { relPrefix.isEmpty ? [] : PathBytes(relPrefix.dropLast()) }

    /// The destination directory, opened on first use (O_NOFOLLOW: a symlink there is an error, R99).
    func destination() -> Result<Int32, Errno> {
        dst.withLock { state -> Result<Int32, Errno> in
            switch state {
            case .open(let fd): return .success(fd.rawValue)
            case .borrowed(let fd): return .success(fd)
            case .failed(let e): return .failure(Errno(code: e))
            case .none: return .failure(Errno(code: ENOENT))
            case .unopened: break
            }
            guard let parent else { state = .failed(EBADF); return .failure(Errno(code: EBADF)) }
            switch parent.destination() {
            case .success(let pfd):
                switch FileDescriptor.openDirectory(dstZ, relativeTo: pfd) {
                case .success(let fd):
                    let raw = fd.rawValue
                    state = .open(fd)
                    return .success(raw)
                case .failure(let e):
                    state = .failed(e.code)
                    return .failure(e)
                }
            case .failure(let e):
                state = .failed(e.code)
                return .failure(e)
            }
        }
    }

    /// Sets the final mode and mtime, closes the descriptors (never the root's: the caller owns them).
    func finish() {
        guard !isRoot else { return }
        dst.withLock { state in
            switch consume state {
            case .open(let fd):
                if let m = finalMeta {
                    _ = fd.setPermissions(m.mode)
                    _ = fd.setModificationTime(seconds: m.sec, nanoseconds: m.nsec)
                }
            default: break
            }
            state = .none
        }
        _ = source.take()
    }
}

/// A tree copy in progress: stage-in (fresh work dir, final names, manifest) or stage-out (only new
/// and changed files, temporary names, verified). Work units are directories and chunks of up to
/// `chunk` entries of one directory, plus ranges of large files.
final class TreeCopy: @unchecked Sendable {
    enum Kind {
        case stageIn(StageFilter)
        case stageOut(Manifest, controlFiles: Set<PathBytes>, includedNames: Set<PathBytes>, keep: StageOutKeep)
    }

    enum Task {
        case list(DirNode)
        case directory(DirNode, ZName, ZName)
        case entries(DirNode, ArraySlice<DirEntry>)
        case item(DirNode, ZName, ZName, UInt8)
        case range(SplitFile, DirNode, PathBytes, Int)
    }

    /// One worker's results, merged at the end (no locks on the hot path).
    final class Worker {
        var stats = CopyStatistics()
        var manifest: [(PathBytes, ManifestEntry)] = []
        var seen: [PathBytes] = []
        var matched = 0
        var underIncluded: [PathBytes] = []
        let scratch = CopyScratch()
        var reportedFiles = 0
        var reportedBytes: Int64 = 0

        func fail(_ rel: PathBytes, _ code: Int32, _ operation: String) {
            stats.failures.append(CopyFailure(path: rel, code: code, operation: operation))
        }
    }

    let engine: CopyEngine
    let kind: Kind
    let isStageIn: Bool
    let label: String
    /// Entries per work unit: a directory of up to this many files stays with one worker (parallel
    /// creates in one directory contend on its lock); bigger ones are shared out in chunks.
    let chunk = 128
    let shared = CopyShared()
    /// The errno that ended the whole copy (ENOSPC, EDQUOT, EROFS; R105), or 0.
    let fatal = Atomic<Int32>(0)
    private let progressFiles = Atomic<Int>(0)
    private let progressBytes = Atomic<Int64>(0)
    private let progressUnits = Atomic<Int>(0)
    /// Tunes the streams when the engine is adaptive (nil: a fixed `QQ_COPY_STREAMS`).
    private let control: StreamControl?
    private let nextReport: Atomic<Int64>
    private let pool: WorkPool<Task, Worker>
    // Stage-in
    private let filter: StageFilter
    private let filterNeedsPath: Bool
    // Stage-out
    private let manifest: Manifest
    private let controlFiles: Set<PathBytes>
    private let includedNames: Set<PathBytes>
    private let keep: StageOutKeep
    private let splitAt: Int64?

    static let progressInterval: Int64 = 60_000_000_000

    /// `networked`: a side is a network file system (`CopyRoots.touchesNetworkFileSystem`).
    init(engine: CopyEngine, kind: Kind, networked: Bool = false) {
        let control = engine.adaptive && engine.streams > 1
            ? StreamControl(tuner: StreamTuner(cpus: engine.cpus, ceiling: engine.streams, networked: networked)) : nil
        // A large file is split into chains for half the streams the copy starts with, as with a
        // fixed count: chains for half the ceiling would let one file's chains take every stream
        // while writes to one inode are serialised (2 x 512 MiB on the disk: 0.92x cp -a so, 1.42x now).
        var splitting = engine
        if let control { splitting.streams = control.limit }
        self.engine = splitting
        self.control = control
        self.kind = kind
        switch kind {
        case .stageIn(let f):
            isStageIn = true; label = "in"; filter = f
            filterNeedsPath = !f.excludes.isEmpty || !f.exactPaths.isEmpty
            manifest = Manifest(); controlFiles = []; includedNames = []; keep = StageOutKeep(jobID: "")
        case .stageOut(let m, let c, let i, let k):
            isStageIn = false; label = "out"; filter = StageFilter(); filterNeedsPath = false
            manifest = m; controlFiles = c; includedNames = i; keep = k
        }
        splitAt = engine.streams > 1 ? engine.splitThreshold : nil
        nextReport = Atomic(Int64(monotonicSeconds() * 1e9) + TreeCopy.progressInterval)
        pool = WorkPool(workers: engine.streams, makeContext: { Worker() })
        if let control { pool.setLimit(control.limit) }
    }

    func run(_ initial: [Task]) -> [Worker] {
        pool.run(initial) { [self] task, worker in handle(task, worker) }
    }

    /// The streams in effect at the end (recorded in the stage statistics).
    var streams: Int { control?.limit ?? engine.streams }

    private var stopping: Bool { engine.shouldStop() }

    private func handle(_ task: Task, _ w: Worker) {
        switch task {
        case .list(let node):
            list(node, w)
        case .directory(let parent, let srcZ, let dstZ):
            openDirectory(parent, srcZ, dstZ, w)
        case .entries(let node, let slice):
            for e in slice { item(node, e.z, e.z, e.type, w) }
            release(node)
        case .item(let node, let srcZ, let dstZ, let type):
            item(node, srcZ, dstZ, type, w)
            release(node)
        case .range(let file, let node, let rel, let index):
            range(file, node, rel, index, w)
        }
        reportProgress(w)
    }

    /// Counts one finished child of `node`; finishing the last one finishes the node, and so on up.
    private func release(_ node: DirNode) {
        var current: DirNode? = node
        while let n = current {
            if n.pending.subtract(1, ordering: .acquiringAndReleasing).newValue != 0 { return }
            n.finish()
            current = n.parent
        }
    }

    private func reportProgress(_ w: Worker) {
        let files = w.stats.files - w.reportedFiles, bytes = w.stats.bytes - w.reportedBytes
        if files == 0 && bytes == 0 { return }
        w.reportedFiles = w.stats.files; w.reportedBytes = w.stats.bytes
        let totalFiles = progressFiles.add(files, ordering: .relaxed).newValue
        let totalBytes = progressBytes.add(bytes, ordering: .relaxed).newValue
        let now = Int64(monotonicSeconds() * 1e9)
        let due = nextReport.load(ordering: .relaxed)
        if now >= due, nextReport.compareExchange(expected: due, desired: now + TreeCopy.progressInterval, ordering: .relaxed).exchanged {
            Log.info("Staging \(label): \(totalFiles) files, \(Size.format(bytes: totalBytes)) so far.")
        }
    }

    // MARK: Directories

    private func list(_ node: DirNode, _ w: Worker) {
        let all: [DirEntry]
        switch DirectoryReader.entries(node.srcFD) {
        case .success(let e): all = e
        case .failure(let e):
            w.fail(node.relPath, e.code, "read directory")
            release(node)
            return
        }
        var dirs: [Task] = []
        var files: [DirEntry] = []
        files.reserveCapacity(all.count)
        for e in all {
            if skips(node, e) { continue }
            if e.type == UInt8(DT_DIR) {
                dirs.append(.directory(node, e.z, e.z))
            } else {
                files.append(e)
            }
        }
        if !dirs.isEmpty {
            node.pending.add(dirs.count, ordering: .relaxed)
            pool.push(dirs)
        }
        if files.count > chunk {
            var tasks: [Task] = []
            var start = chunk
            while start < files.count {
                let end = min(start + chunk, files.count)
                tasks.append(.entries(node, files[start..<end]))
                start = end
            }
            node.pending.add(tasks.count, ordering: .relaxed)
            pool.push(tasks)
        }
        for e in files.prefix(chunk) { item(node, e.z, e.z, e.type, w) }
        release(node)
    }

    /// R85/R86 at stage-in; the control files at the top at stage-out.
    private func skips(_ node: DirNode, _ e: DirEntry) -> Bool {
        if isStageIn {
            guard node.isRoot || filterNeedsPath else { return false }
            return filter.skips(parents: node.components, name: e.name)
        }
        return node.isRoot && controlFiles.contains(e.name)
    }

    private func openDirectory(_ parent: DirNode, _ srcZ: ZName, _ dstZ: ZName, _ w: Worker) {
        let name = PathBytes(dstZ.dropLast())
        if stopping { release(parent); return }
        let sfd: FileDescriptor
        switch FileDescriptor.openDirectory(srcZ, relativeTo: parent.srcFD) {
        case .success(let fd): sfd = fd
        case .failure(let failure):
            let e = failure.code
            if e == ENOTDIR || e == ELOOP {
                item(parent, srcZ, dstZ, UInt8(DT_UNKNOWN), w)  // it changed type since readdir
            } else if e == ENOENT && isStageIn {
                Log.warning("'\((parent.relPrefix + name).displayText)' disappeared during stage-in; skipped.")
            } else {
                w.fail(parent.relPrefix + name, e, "open directory")
            }
            release(parent)
            return
        }
        guard let st = sfd.status() else {
            w.fail(parent.relPrefix + name, errno, "stat")
            release(parent)
            return
        }
        let meta = (mode: mode_t(st.permissionBits & 0o777) & ~engine.umask | 0o700, sec: st.mtimeSeconds, nsec: st.mtimeNanos)
        let node: DirNode
        if isStageIn {
            var dfd: FileDescriptor? = nil
            var code: Int32 = 0
            switch parent.destination() {
            case .success(let pfd):
                let made = withZ(dstZ) { mkdirat(pfd, $0, 0o700) } == 0
                code = errno
                if made || code == EEXIST {
                    switch FileDescriptor.openDirectory(dstZ, relativeTo: pfd) {
                    case .success(let fd): dfd = consume fd
                    case .failure(let e):
                        code = e.code
                        // A reused work dir may hold a file or symlink of that name: replace it.
                        if !made && (code == ENOTDIR || code == ELOOP) {
                            if withZ(dstZ, { unlinkat(pfd, $0, 0) }) == 0 && withZ(dstZ, { mkdirat(pfd, $0, 0o700) }) == 0 {
                                switch FileDescriptor.openDirectory(dstZ, relativeTo: pfd) {
                                case .success(let fd): dfd = consume fd
                                case .failure(let e): code = e.code
                                }
                            } else {
                                code = errno
                            }
                        }
                    }
                }
            case .failure(let e):
                code = e.code
            }
            switch consume dfd {
            case .some(let fd):
                node = DirNode(parent: parent, name: name, dstZ: dstZ, source: sfd, destination: .open(fd),
                               finalMeta: meta, underIncluded: false)
            case .none:
                w.fail(parent.relPrefix + name, code, "create directory")
                release(parent)
                return
            }
        } else {
            let under = parent.underIncluded || (parent.isRoot && includedNames.contains(name))
            var state = DirNode.Destination.none
            var created = false
            if !under {
                switch parent.destination() {
                case .success(let pfd):
                    if withZ(dstZ, { mkdirat(pfd, $0, 0o700) }) == 0 {
                        created = true
                        switch FileDescriptor.openDirectory(dstZ, relativeTo: pfd) {
                        case .success(let fd): state = .open(fd)
                        case .failure(let e): state = .failed(e.code)
                        }
                    } else if errno == EEXIST {
                        state = .unopened  // opened when a file needs copying into it
                    } else {
                        state = .failed(errno)
                        w.fail(parent.relPrefix + name, errno, "create directory")
                    }
                case .failure(let e):
                    state = .failed(e.code)
                }
            }
            node = DirNode(parent: parent, name: name, dstZ: dstZ, source: sfd, destination: state,
                           finalMeta: created ? meta : nil, underIncluded: under)
        }
        list(node, w)
    }

    // MARK: Entries

    /// One entry of `node` (not a directory already known from d_type).
    private func item(_ node: DirNode, _ srcZ: ZName, _ dstZ: ZName, _ type: UInt8, _ w: Worker) {
        if stopping { return }
        if let control {  // per entry: a task can hold 128 of them, too coarse for a 50-ms window
            let done = progressUnits.add(1, ordering: .relaxed).newValue
            if let limit = control.tick(units: done) { pool.setLimit(limit) }
        }
        if isStageIn { stageInItem(node, srcZ, dstZ, type, w) } else { stageOutItem(node, srcZ, w) }
    }

    private func stageInItem(_ node: DirNode, _ srcZ: ZName, _ dstZ: ZName, _ type: UInt8, _ w: Worker) {
        if fatal.load(ordering: .relaxed) != 0 { return }
        var kind = type
        var st: FileStatus?
        if kind == UInt8(DT_UNKNOWN) || kind == UInt8(DT_DIR) {
            guard let s = lstatZ(node.srcFD, srcZ) else {
                vanishedOrFailed(node.relPrefix + PathBytes(dstZ.dropLast()), errno, "stat", w)
                return
            }
            st = s
            kind = s.isDirectory ? UInt8(DT_DIR) : s.isRegular ? UInt8(DT_REG) : s.isSymlink ? UInt8(DT_LNK) : UInt8(DT_FIFO)
        }
        switch kind {
        case UInt8(DT_DIR):
            node.pending.add(1, ordering: .relaxed)
            pool.push(.directory(node, srcZ, dstZ))
        case UInt8(DT_REG):
            let rel = node.relPrefix + PathBytes(dstZ.dropLast())
            guard case .success(let dfd) = node.destination() else { w.fail(rel, ENOENT, "create the directory of"); return }
            let outcome = engine.withRetries {
                engine.copyRegularOnce(node.srcFD, srcZ, dfd, dstZ, rel: rel, direct: true, splitAt: splitAt,
                                       shared: shared, scratch: w.scratch)
            }
            regularDone(outcome, node, rel, w)
        case UInt8(DT_LNK):
            let rel = node.relPrefix + PathBytes(dstZ.dropLast())
            guard case .success(let dfd) = node.destination() else { w.fail(rel, ENOENT, "create the directory of"); return }
            let outcome = engine.withRetries { engine.copySymlinkZ(node.srcFD, srcZ, dfd, dstZ, rel: rel, source: st, direct: true) }
            switch outcome {
            case .success(let (copy, source)):
                w.stats.files += 1
                engine.progress?.add(files: 1, bytes: 0)
                w.manifest.append((rel, ManifestEntry(work: copy, sourceSize: source.size, sourceMtimeNanos: source.mtimeTotalNanos)))
            case .failure(let f):
                if f.code == ENOENT && f.operation == "stat" {
                    Log.warning("'\(rel.displayText)' disappeared during stage-in; skipped.")
                } else {
                    record(f, w)
                }
            }
        default:
            w.stats.skippedSpecial += 1
            let rel = node.relPrefix + PathBytes(dstZ.dropLast())
            Log.warning("Skipping '\(rel.displayText)': not a regular file, directory or symlink.")
        }
    }

    private func vanishedOrFailed(_ rel: PathBytes, _ code: Int32, _ operation: String, _ w: Worker) {
        if code == ENOENT && isStageIn {
            Log.warning("'\(rel.displayText)' disappeared during stage-in; skipped.")
        } else {
            w.fail(rel, code, operation)
        }
    }

    private func record(_ f: CopyFailure, _ w: Worker) {
        w.stats.failures.append(f)
        if f.endsTheCopy { _ = fatal.compareExchange(expected: 0, desired: f.code, ordering: .relaxed) }
    }

    private func stageOutItem(_ node: DirNode, _ z: ZName, _ w: Worker) {
        // One allocation per entry: the relative path (the manifest's key).
        var rel = PathBytes()
        rel.reserveCapacity(node.relPrefix.count + z.count)
        rel.append(contentsOf: node.relPrefix)
        rel.append(contentsOf: z[0..<(z.count - 1)])
        guard let st = lstatZ(node.srcFD, z) else {
            w.fail(rel, errno, "stat")
            return
        }
        if st.isDirectory {
            node.pending.add(1, ordering: .relaxed)
            pool.push(.directory(node, z, z))
            return
        }
        guard st.isRegular || st.isSymlink else { return }
        var recorded: ManifestEntry?
        if let m = manifest.entries[rel] {
            w.matched += 1
            w.seen.append(rel)
            if Manifest.matches(m.work, st) { return }
            recorded = m
        }
        if node.underIncluded || (node.isRoot && includedNames.contains(rel)) {
            w.underIncluded.append(rel)
            return
        }
        let code = fatal.load(ordering: .relaxed)
        if code != 0 {
            w.fail(rel, code, "copy (stopped after an earlier error)")
            return
        }
        let dfd: Int32
        switch node.destination() {
        case .success(let fd): dfd = fd
        case .failure(let e): w.fail(rel, e.code, "create the directory of"); return
        }
        // Never destroy an input-dir file that was not staged in or that changed since (R99 as
        // changed by issue 8): decided on the destination just before the rename into place.
        let rule: KeepRule? = node.isRoot && keep.replaceable.contains(rel) ? nil
            : KeepRule(suffix: keep.suffix, staged: recorded.map { ($0.sourceSize, $0.sourceMtimeNanos) })
        if st.isRegular {
            let outcome = engine.withRetries {
                engine.copyRegularOnce(node.srcFD, z, dfd, z, rel: rel, direct: false, splitAt: splitAt,
                                       shared: shared, scratch: w.scratch, keep: rule)
            }
            regularDone(outcome, node, rel, w)
        } else {
            switch engine.withRetries({ engine.copySymlinkZ(node.srcFD, z, dfd, z, rel: rel, source: st, direct: false,
                                                            keep: rule, shared: shared) }) {
            case .success: w.stats.files += 1; engine.progress?.add(files: 1, bytes: 0)
            case .failure(let f): record(f, w)
            }
        }
    }

    private func regularDone(_ outcome: Result<CopyEngine.RegularDone, CopyFailure>, _ node: DirNode, _ rel: PathBytes, _ w: Worker) {
        switch outcome {
        case .success(.copied(let copy, let source)):
            w.stats.files += 1
            w.stats.bytes += copy.size
            engine.progress?.add(files: 1, bytes: copy.size)
            if isStageIn {
                w.manifest.append((rel, ManifestEntry(work: copy, sourceSize: source.size, sourceMtimeNanos: source.mtimeTotalNanos)))
            } else {
                // Stage-out's view the other way round: the work file as copied, the input copy's size and mtime.
                w.manifest.append((rel, ManifestEntry(work: source, sourceSize: copy.size, sourceMtimeNanos: copy.mtimeTotalNanos)))
            }
        case .success(.vanished):
            vanishedOrFailed(rel, ENOENT, "open", w)
        case .success(.notRegular):
            if isStageIn {
                w.stats.skippedSpecial += 1
                Log.warning("Skipping '\(rel.displayText)': not a regular file, directory or symlink.")
            }
        case .success(.split(let file)):
            node.pending.add(1, ordering: .relaxed)
            pool.push((0..<file.chains).map { Task.range(file, node, rel, $0) })
        case .failure(let f):
            record(f, w)
        }
    }

    // MARK: Large files

    /// One chain of a split file: copies the next range until none is left.
    private func range(_ f: SplitFile, _ node: DirNode, _ rel: PathBytes, _ chain: Int, _ w: Worker) {
        while f.error.load(ordering: .relaxed) == 0 {
            let index = f.nextRange.add(1, ordering: .relaxed).oldValue
            if index >= f.rangeCount { break }
            if stopping || fatal.load(ordering: .relaxed) != 0 {
                _ = f.error.compareExchange(expected: 0, desired: ECANCELED, ordering: .relaxed)
                break
            }
            let start = Int64(index) * f.rangeSize
            let length = min(f.rangeSize, f.before.size - start)
            var unused: UInt64 = 0  // split files are never checksummed (see copyRegularOnce)
            let copied = f.sparse
                ? engine.copyExtents(f.sfd, f.dfd, start: start, length: length, shared: shared, scratch: w.scratch, hash: &unused)
                : engine.copyRange(f.sfd, f.dfd, start: start, length: length, shared: shared, scratch: w.scratch, hash: &unused)
            if let code = copied {
                _ = f.error.compareExchange(expected: 0, desired: code, ordering: .relaxed)
            }
        }
        guard f.remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        finishSplit(f, node, rel, w)
        release(node)
    }

    /// The last range is done: set the mtime, verify, rename. Anything odd (a source that changed,
    /// a failed range) falls back to copying the whole file again in one piece, with retries.
    private func finishSplit(_ f: SplitFile, _ node: DirNode, _ rel: PathBytes, _ w: Worker) {
        let err = f.error.load(ordering: .relaxed)
        guard case .success(let dstDir) = node.destination() else {
            _ = f.close()
            w.fail(rel, EBADF, "copy")
            return
        }
        if err == 0 {
            engine.faultInjection?(rel, f.dfd)
            _ = cqq_futimens(f.dfd, f.before.mtimeSeconds, f.before.mtimeNanos)
            let after = FileSystem.fstat(f.sfd)
            let written = FileSystem.fstat(f.dfd)
            let closed = f.close()
            if closed, let after, let written,
               after.size == f.before.size, after.mtimeTotalNanos == f.before.mtimeTotalNanos,
               written.size == f.before.size, written.mtimeTotalNanos == f.before.mtimeTotalNanos {
                if f.direct {
                    regularDone(.success(.copied(written, after)), node, rel, w)
                    return
                }
                if case .success(let final) = engine.renameVerified(dstDir, f.target, f.dstZ, rel: rel, written: written,
                                                                    keep: f.keep, shared: shared) {
                    regularDone(.success(.copied(final, after)), node, rel, w)
                    return
                }
            }
        } else {
            _ = f.close()
        }
        _ = withZ(f.target) { unlinkat(dstDir, $0, 0) }
        if err == ECANCELED || stopping { return }
        if err != 0 && err != verifyMismatch {
            let failure = engine.failure(rel, err)
            if failure.endsTheCopy || !failure.isRetryable { record(failure, w); return }
        }
        let outcome = engine.withRetries {
            engine.copyRegularOnce(node.srcFD, f.srcZ, dstDir, f.dstZ, rel: rel, direct: f.direct, splitAt: nil,
                                   shared: shared, scratch: w.scratch, keep: f.keep)
        }
        regularDone(outcome, node, rel, w)
    }
}
