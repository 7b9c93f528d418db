import CQQSystem
import Glibc
import Synchronization

// One file at a time: the primitives under the tree walks (R103). Names are NUL-terminated byte
// arrays ("z-names") so that no syscall needs a fresh C string.

/// A name with a trailing NUL, ready for a syscall.
typealias ZName = [UInt8]

@inline(__always)
func zName(_ bytes: PathBytes) -> ZName { var z = bytes; z.append(0); return z }

@inline(__always)
func withZ<R>(_ z: ZName, _ body: (UnsafePointer<CChar>) -> R) -> R {
    z.withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
}

@inline(__always)
func lstatZ(_ dir: Int32, _ z: ZName) -> FileStatus? { withZ(z) { FileSystem.lstat(at: dir, $0) } }

/// `.<name>.qq-part-<pid>-<8 hex>` (R103). The random part comes from one seed and a counter:
/// `SystemRandomNumberGenerator` costs a getrandom call per number.
private let tempSeed: UInt64 = { var g = SystemRandomNumberGenerator(); return g.next() }()
private let tempCounter = Atomic<UInt64>(0)
private let processID = getpid()

func temporaryZName(for name: ZName) -> ZName {
    var x = tempSeed &+ tempCounter.add(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15
    x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
    x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
    x ^= x >> 31
    var z: ZName = [UInt8(ascii: ".")]
    z.reserveCapacity(name.count + 32)
    z.append(contentsOf: name.dropLast())
    z.append(contentsOf: ".qq-part-\(processID)-".utf8)
    let hex = Array("0123456789abcdef".utf8)
    for i in 0..<8 { z.append(hex[Int((x >> (UInt64(i) * 4)) & 0xF)]) }
    z.append(0)
    return z
}

/// Per-thread scratch space: a buffer for read/write copies and checksums, allocated when needed.
final class CopyScratch {
    static let size = 1 << 20
    private var storage: UnsafeMutableRawPointer?
    var buffer: UnsafeMutableRawPointer {
        if let storage { return storage }
        let p = UnsafeMutableRawPointer.allocate(byteCount: CopyScratch.size, alignment: 4096)
        storage = p
        return p
    }
    deinit { storage?.deallocate() }
}

/// Marks a checksum mismatch among errno values (checksums are compared after the copy, not per range).
let verifyMismatch: Int32 = -1

/// Shared between the workers of one copy: whether copy_file_range works between these file systems.
final class CopyShared: @unchecked Sendable {
    let rangeUnsupported = Atomic<Bool>(false)
    /// Input-dir files renamed aside by a stage-out (`KeepRule`).
    let kept = Mutex<[KeptFile]>([])
}

extension CopyEngine {
    /// Copies `length` bytes at `start` from `src` to `dst` (same offsets), with copy_file_range,
    /// falling back to pread/pwrite where the kernel refuses (EXDEV, ENOSYS, …). Stops early at the
    /// source's end (verification notices a shrunk source). With `verifyChecksum`, the bytes go
    /// through the buffer and `hash` chains an XXH64 of them (compared later with a re-read).
    /// Returns nil, an errno, or ETIME when `deadline` (monotonic) passed.
    func copyRange(_ src: Int32, _ dst: Int32, start: Int64, length: Int64, shared: CopyShared,
                   scratch: CopyScratch, hash: inout UInt64, deadline: Double? = nil) -> Int32? {
        var offIn = start, offOut = start
        let end = start + length
        if !verifyChecksum && !shared.rangeUnsupported.load(ordering: .relaxed) {
            let chunk: Int64 = deadline == nil ? 1 << 30 : 16 << 20
            while offIn < end {
                if let deadline, monotonicSeconds() >= deadline { return ETIME }
                let copied = retryingOnInterrupt { cqq_copy_file_range_at(src, &offIn, dst, &offOut, Int(min(chunk, end - offIn))) }
                guard case .failure(let failure) = copied else {
                    if case .success(0) = copied { return nil }  // the source is shorter than it was
                    continue
                }
                let e = failure.code
                if e == EXDEV || e == ENOSYS || e == EOPNOTSUPP || e == EINVAL || e == EBADF || e == EPERM {
                    if e == EXDEV || e == ENOSYS || e == EOPNOTSUPP { shared.rangeUnsupported.store(true, ordering: .relaxed) }
                    break
                }
                return e
            }
            if offIn >= end { return nil }
        }
        // read/write (and the checksum path): in buffer-sized pieces at explicit offsets.
        let buffer = scratch.buffer
        while offIn < end {
            if let deadline, monotonicSeconds() >= deadline { return ETIME }
            let n: Int
            switch retryingOnInterrupt({ pread(src, buffer, Int(min(Int64(CopyScratch.size), end - offIn)), Int(offIn)) }) {
            case .success(let got): n = got
            case .failure(let e): return e.code
            }
            if n == 0 { break }
            if verifyChecksum { hash = cqq_xxh64(buffer, n, hash) }
            var done = 0
            while done < n {
                switch retryingOnInterrupt({ pwrite(dst, buffer + done, n - done, Int(offOut) + done) }) {
                case .success(let w): done += w
                case .failure(let e): return e.code
                }
            }
            offIn += Int64(n); offOut += Int64(n)
        }
        return nil
    }

    /// Copies only the data extents of `start..<start+length` (found with SEEK_DATA/SEEK_HOLE), so
    /// holes stay holes; the caller has already set the copy's size (ftruncate), so holes between
    /// and after the extents need no writes. ENXIO from SEEK_DATA means no data from there to the
    /// end. Where the file system cannot seek for data (EINVAL), the rest is copied as it is.
    /// Same results as `copyRange`; `hash` is not meaningful here (checksums re-read the source).
    func copyExtents(_ src: Int32, _ dst: Int32, start: Int64, length: Int64, shared: CopyShared,
                     scratch: CopyScratch, hash: inout UInt64, deadline: Double? = nil) -> Int32? {
        let end = start + length
        var at = start
        while at < end {
            let data: Int64
            switch retryingOnInterrupt({ cqq_seek_data(src, at) }) {
            case .success(let d): data = d
            case .failure(let e):
                if e.code == ENXIO { return nil }
                return copyRange(src, dst, start: at, length: end - at, shared: shared, scratch: scratch,
                                 hash: &hash, deadline: deadline)
            }
            if data >= end { return nil }
            // A failed SEEK_HOLE (not expected once SEEK_DATA worked) copies the rest of the range.
            let hole = (try? retryingOnInterrupt({ cqq_seek_hole(src, data) }).get()) ?? end
            let stop = min(max(hole, data + 1), end)
            if let code = copyRange(src, dst, start: data, length: stop - data, shared: shared, scratch: scratch,
                                    hash: &hash, deadline: deadline) { return code }
            at = stop
        }
        return nil
    }

    /// XXH64 chain of a file's bytes, read back (QQ_VERIFY=checksum); nil with errno on a read error.
    func contentHash(_ fd: Int32, scratch: CopyScratch) -> UInt64? {
        let buffer = scratch.buffer
        var at = 0
        var hash: UInt64 = 0
        while true {
            guard case .success(let n) = retryingOnInterrupt({ pread(fd, buffer, CopyScratch.size, at) }) else { return nil }
            if n == 0 { return hash }
            hash = cqq_xxh64(buffer, n, hash)
            at += n
        }
    }

    /// What one attempt at a regular file did.
    enum RegularDone {
        /// Copied: the copy's status on its final name, and the source's status after the copy.
        case copied(FileStatus, FileStatus)
        /// The source is gone (ENOENT on open).
        case vanished
        /// The source is no longer a regular file (replaced by a FIFO, …).
        case notRegular
        /// Large: created and handed back for a split copy; the caller schedules its ranges.
        case split(SplitFile)
    }

    /// One attempt at copying a regular file `srcDir/srcZ` to `dstDir/dstZ`.
    /// - `direct`: write the final name at once (stage-in into a fresh work dir, R103); a source that
    ///   changed while it was copied is copied once more and, if it changed again, kept with a WARNING.
    ///   Otherwise the copy goes through a temporary name and is renamed into place only when its size
    ///   and mtime match the source's (and, with checksums, its bytes); then the final name is checked
    ///   once more (same inode, size, mtime).
    /// - `splitAt`: files at least this large are handed back as `.split`.
    func copyRegularOnce(_ srcDir: Int32, _ srcZ: ZName, _ dstDir: Int32, _ dstZ: ZName, rel: PathBytes,
                         direct: Bool, splitAt: Int64?, shared: CopyShared, scratch: CopyScratch,
                         deadline: Double? = nil, keep: KeepRule? = nil) -> Result<RegularDone, CopyFailure> {
        let sfd: FileDescriptor
        switch FileDescriptor.open(srcZ, relativeTo: srcDir, O_RDONLY | O_NOFOLLOW | O_NONBLOCK) {
        case .success(let fd): sfd = fd
        case .failure(let e):
            if e.code == ENOENT { return .success(.vanished) }
            return .failure(CopyFailure(path: rel, code: e.code, operation: "open"))
        }
        var raw = cqq_stat()
        guard cqq_fstat(sfd.rawValue, &raw) == 0 else {
            return .failure(CopyFailure(path: rel, code: errno, operation: "stat"))
        }
        var before = FileStatus(raw)
        guard before.isRegular else { return .success(.notRegular) }
        // Fewer allocated blocks than the size needs: the file has holes, so only its data extents
        // are copied (the same stat, no extra call for ordinary files).
        let sparse = raw.blocks &* 512 < raw.size
        let target = direct ? dstZ : temporaryZName(for: dstZ)
        let dfd: FileDescriptor
        switch createFile(dstDir, target, replace: direct, mode: mode_t(before.permissionBits & 0o777)) {
        case .success(let fd): dfd = fd
        case .failure(let e): return .failure(CopyFailure(path: rel, code: e.code, operation: "create"))
        }
        // Both descriptors close when this returns (unlinking an open file is fine).
        func discard() { _ = withZ(target) { unlinkat(dstDir, $0, 0) } }
        // A sparse copy gets its full size first: what no extent covers stays a hole, trailing ones too.
        let dstFD = dfd.rawValue  // (`&&` takes a closure, which cannot capture the descriptor itself)
        if sparse && ftruncate(dstFD, off_t(before.size)) != 0 {
            let e = errno; discard()
            return .failure(CopyFailure(path: rel, code: e, operation: "truncate"))
        }
        if let splitAt, before.size >= splitAt, !verifyChecksum {
            return .success(.split(SplitFile(source: sfd, destination: dfd, srcZ: srcZ, target: target, dstZ: dstZ, direct: direct,
                                             before: before, sparse: sparse, rangeSize: Self.splitRangeSize, streams: streams,
                                             keep: keep)))
        }
        var attempt = 0
        while true {
            attempt += 1
            var hash: UInt64 = 0
            let (src, dst) = (sfd.rawValue, dfd.rawValue)
            let copied = sparse
                ? copyExtents(src, dst, start: 0, length: before.size, shared: shared, scratch: scratch, hash: &hash, deadline: deadline)
                : copyRange(src, dst, start: 0, length: before.size, shared: shared, scratch: scratch, hash: &hash, deadline: deadline)
            if let code = copied {
                discard()
                return .failure(failure(rel, code))
            }
            faultInjection?(rel, dfd.rawValue)
            if verifyChecksum {
                // A sparse copy hashed only its extents: the source is re-read whole (holes read
                // as zeros, cheaply) so both sides hash the same bytes in the same pieces.
                if sparse {
                    guard let whole = contentHash(sfd.rawValue, scratch: scratch) else {
                        let e = errno; discard()
                        return .failure(CopyFailure(path: rel, code: e, operation: "read"))
                    }
                    hash = whole
                }
                guard let back = contentHash(dfd.rawValue, scratch: scratch) else {
                    let e = errno; discard()
                    return .failure(CopyFailure(path: rel, code: e, operation: "read back"))
                }
                if back != hash {
                    discard()
                    return .failure(failure(rel, verifyMismatch))
                }
            }
            _ = dfd.setModificationTime(seconds: before.mtimeSeconds, nanoseconds: before.mtimeNanos)
            guard let after = sfd.status(), let written = dfd.status() else {
                let e = errno; discard()
                return .failure(CopyFailure(path: rel, code: e, operation: "stat"))
            }
            let sourceChanged = after.size != before.size || after.mtimeTotalNanos != before.mtimeTotalNanos
            let copyMatches = written.size == before.size && written.mtimeTotalNanos == before.mtimeTotalNanos
            if !copyMatches || sourceChanged {
                if attempt < 2 {  // copied once more (R103)
                    before = after
                    if ftruncate(dstFD, 0) != 0 || (sparse && ftruncate(dstFD, off_t(before.size)) != 0) {
                        let e = errno; discard()
                        return .failure(CopyFailure(path: rel, code: e, operation: "truncate"))
                    }
                    continue
                }
                if !direct || !copyMatches {
                    discard()
                    return .failure(CopyFailure(path: rel, code: 0, operation: "verify the copy of"))
                }
                Log.warning("'\(rel.displayText)' changed while it was copied; the copy as made is kept.")
            }
            _ = sfd.close()
            // A failed close can be a lost write (NFS): the copy is not trusted then.
            if case .failure(let e) = dfd.close() {
                discard()
                return .failure(CopyFailure(path: rel, code: e.code, operation: "write"))
            }
            if direct { return .success(.copied(written, after)) }
            return renameVerified(dstDir, target, dstZ, rel: rel, written: written, keep: keep, shared: shared).map { .copied($0, after) }
        }
    }

    /// Opens a new file for writing with the source's permission bits (the kernel applies the
    /// process umask; a different engine umask is applied with fchmod). With `replace`, an existing
    /// file or symlink of that name is removed first (never followed).
    func createFile(_ dir: Int32, _ z: ZName, replace: Bool, mode: mode_t) -> Result<FileDescriptor, Errno> {
        // Read-write when checksums re-read the copy through the same descriptor.
        let flags = (verifyChecksum ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_NOFOLLOW
        var opened = FileDescriptor.open(z, relativeTo: dir, flags, mode: mode)
        let exists: Bool
        switch opened {
        case .failure(let e): exists = e.code == EEXIST
        case .success: exists = false
        }
        if exists && replace {
            if withZ(z, { unlinkat(dir, $0, 0) }) != 0 { return .failure(.current) }
            opened = FileDescriptor.open(z, relativeTo: dir, flags, mode: mode)
        }
        switch consume opened {
        case .success(let fd):
            if umask != FileSystem.umask { _ = fd.setPermissions(mode & ~umask) }
            return .success(fd)
        case .failure(let e):
            return .failure(e)
        }
    }

    /// Renames a verified temporary file over its name and checks the final name: same inode, size
    /// and mtime as the file written (R103). Returns the final status (a rename changes the ctime).
    /// `keep`: the file in the way is first renamed aside when the rule says so (recorded in `shared`).
    func renameVerified(_ dir: Int32, _ temp: ZName, _ final: ZName, rel: PathBytes, written: FileStatus,
                        keep: KeepRule? = nil, shared: CopyShared? = nil) -> Result<FileStatus, CopyFailure> {
        if case .failure(let f) = renameIntoPlace(dir, temp, final, rel: rel, keep: keep, shared: shared) { return .failure(f) }
        guard let st = lstatZ(dir, final) else { return .failure(CopyFailure(path: rel, code: errno, operation: "stat")) }
        guard st.inode == written.inode, st.device == written.device, st.size == written.size,
              st.mtimeTotalNanos == written.mtimeTotalNanos else {
            return .failure(CopyFailure(path: rel, code: 0, operation: "verify the copy of"))
        }
        return .success(st)
    }

    /// Renames the finished temporary `temp` over `final`; with `keep`, what is in the way is first
    /// renamed aside when the rule says so, and put back if the rename into place then fails.
    /// The temporary is removed on failure.
    func renameIntoPlace(_ dir: Int32, _ temp: ZName, _ final: ZName, rel: PathBytes, keep: KeepRule?,
                         shared: CopyShared?) -> Result<Void, CopyFailure> {
        var kept: KeptFile?
        if let keep {
            switch keep.apply(dir, final, rel: rel) {
            case .success(let k): kept = k
            case .failure(let f):
                _ = withZ(temp) { unlinkat(dir, $0, 0) }
                return .failure(f)
            }
        }
        let renamed = withZ(temp) { t in withZ(final) { f in renameat(dir, t, dir, f) } }
        if renamed != 0 {
            let e = errno
            _ = withZ(temp) { unlinkat(dir, $0, 0) }
            kept?.putBack(dir, final)
            return .failure(CopyFailure(path: rel, code: e, operation: "rename into place"))
        }
        if let kept { shared?.kept.withLock { $0.append(kept) } }
        return .success(())
    }

    func failure(_ rel: PathBytes, _ code: Int32) -> CopyFailure {
        switch code {
        case verifyMismatch: return CopyFailure(path: rel, code: 0, operation: "verify (checksum) the copy of")
        case ETIME: return CopyFailure(path: rel, code: ETIME, operation: "copy in time (abandoned)")
        default: return CopyFailure(path: rel, code: code, operation: "copy")
        }
    }

    /// Ranges of a split file: 32 MiB (small enough to balance the chains, large enough to be cheap).
    static let splitRangeSize: Int64 = 32 << 20

    /// Re-creates a symlink with the same target text, never following it; `direct` writes the
    /// final name (replacing what is there), otherwise a temporary name renamed into place.
    /// Returns the link's status on its final name.
    func copySymlinkZ(_ srcDir: Int32, _ srcZ: ZName, _ dstDir: Int32, _ dstZ: ZName, rel: PathBytes,
                      source: FileStatus?, direct: Bool, keep: KeepRule? = nil,
                      shared: CopyShared? = nil) -> Result<(FileStatus, FileStatus), CopyFailure> {
        guard let source = source ?? lstatZ(srcDir, srcZ) else {
            return .failure(CopyFailure(path: rel, code: errno, operation: "stat"))
        }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = withZ(srcZ) { readlinkat(srcDir, $0, &buf, buf.count - 1) }
        if n < 0 { return .failure(CopyFailure(path: rel, code: errno, operation: "read link")) }
        buf[n] = 0
        let target = direct ? dstZ : temporaryZName(for: dstZ)
        var made = withZ(target) { symlinkat(buf, dstDir, $0) }
        if made != 0 && errno == EEXIST && direct {
            if withZ(target, { unlinkat(dstDir, $0, 0) }) != 0 {
                return .failure(CopyFailure(path: rel, code: errno, operation: "replace"))
            }
            made = withZ(target) { symlinkat(buf, dstDir, $0) }
        }
        if made != 0 { return .failure(CopyFailure(path: rel, code: errno, operation: "create link")) }
        _ = withZ(target) { cqq_utimensat(dstDir, $0, source.mtimeSeconds, source.mtimeNanos, 1) }
        if !direct {
            if case .failure(let f) = renameIntoPlace(dstDir, target, dstZ, rel: rel, keep: keep, shared: shared) { return .failure(f) }
        }
        guard let final = lstatZ(dstDir, dstZ) else { return .failure(CopyFailure(path: rel, code: errno, operation: "stat")) }
        return .success((final, source))
    }
}

/// A large file being copied as ranges by a few concurrent chains: each chain takes the next range
/// until none is left, and the chain finishing last completes the file. Writes to one inode are
/// serialised by the kernel on a local file system, so a file gets at most half the streams; two
/// big files then copy side by side instead of queueing behind each other's ranges.
final class SplitFile: @unchecked Sendable {
    /// The source and the copy, for the ranges; valid until `close()`.
    let sfd: Int32
    let dfd: Int32
    /// Own `sfd` and `dfd`; touched only by init and `close()` (the chain that finishes last).
    private var source: FileDescriptor?
    private var destination: FileDescriptor?
    let srcZ: ZName
    let target: ZName
    let dstZ: ZName
    let direct: Bool
    let keep: KeepRule?
    let before: FileStatus
    /// The source has holes: each range copies only its data extents (the copy already has its size).
    let sparse: Bool
    let rangeSize: Int64
    let rangeCount: Int
    let chains: Int
    let nextRange = Atomic<Int>(0)
    let remaining: Atomic<Int>
    /// The first errno of any range; 0 while all went well.
    let error = Atomic<Int32>(0)

    init(source: consuming FileDescriptor, destination: consuming FileDescriptor, srcZ: ZName, target: ZName, dstZ: ZName,
         direct: Bool, before: FileStatus, sparse: Bool, rangeSize: Int64, streams: Int, keep: KeepRule?) {
        sfd = source.rawValue; dfd = destination.rawValue
        self.source = consume source; self.destination = consume destination
        self.srcZ = srcZ; self.target = target; self.dstZ = dstZ; self.keep = keep
        self.direct = direct; self.before = before; self.sparse = sparse; self.rangeSize = rangeSize
        rangeCount = Int((before.size + rangeSize - 1) / rangeSize)
        chains = max(1, min(rangeCount, streams / 2))
        remaining = Atomic(chains)
    }

    /// Closes both; false when closing the copy failed (a lost write, on NFS).
    func close() -> Bool {
        _ = source.take()
        switch destination.take() {
        case .some(let fd): if case .failure = fd.close() { return false }
        case .none: break
        }
        return true
    }
}
