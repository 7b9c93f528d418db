import CQQSystem
import Glibc

// The thin syscall layer: an owned descriptor that closes once, one rule for EINTR, one directory
// reader, one stderr writer. Everything above it speaks `FileDescriptor`, `Errno` and `DirEntry`
// instead of bare Int32s and hand-written retry loops.

/// An errno value as a typed error. `SystemError` adds the operation and the path for users.
struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
    var code: Int32
    init(code: Int32) { self.code = code }
    /// The calling thread's errno, right after a failed call.
    static var current: Errno { Errno(code: errno) }
    var description: String { String(cString: strerror(code)) }
}

/// The one EINTR rule: a call that a signal handler interrupted is simply made again. `body` makes
/// the call and returns its result; a negative result is a failure with `errno` set.
@inline(__always)
func retryingOnInterrupt<T: BinaryInteger>(_ body: () -> T) -> Result<T, Errno> {
    while true {
        let r = body()
        if r >= 0 { return .success(r) }
        let e = errno
        if e != EINTR { return .failure(Errno(code: e)) }
    }
}

/// Sleeps `seconds`, resuming after an interrupting signal until the time is used up.
func sleepUninterrupted(seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    _ = retryingOnInterrupt { () -> Int32 in
        let r = nanosleep(&request, &remaining)
        request = remaining
        return r
    }
}

/// write(2) until all bytes are written (short writes continue, EINTR retries); for descriptors the
/// caller does not own (stdout, stderr) as well as owned ones.
func writeAllBytes(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Result<Void, Errno> {
    guard let base = bytes.baseAddress else { return .success(()) }
    var offset = 0
    while offset < bytes.count {
        switch retryingOnInterrupt({ write(fd, base + offset, bytes.count - offset) }) {
        case .success(let n): offset += n
        case .failure(let e): return .failure(e)
        }
    }
    return .success(())
}

/// An open file descriptor with one owner. It cannot be copied, and it is closed exactly once:
/// by `close()`, which consumes it, or when its owner goes away. So neither a double close nor a
/// leak on an early return can happen. `rawValue` is for the calls made while it is alive.
struct FileDescriptor: ~Copyable {
    let rawValue: Int32

    /// Takes ownership of a descriptor a C call returned.
    init(adopting rawValue: Int32) { self.rawValue = rawValue }

    deinit { _ = Glibc.close(rawValue) }

    /// Closes now and says whether it worked: a failed close can be a lost write (NFS), which the
    /// callers that write must see. close(2) is never retried: on Linux the fd is gone either way.
    consuming func close() -> Result<Void, Errno> {
        let fd = rawValue
        discard self
        return Glibc.close(fd) == 0 ? .success(()) : .failure(.current)
    }

    // MARK: Opening

    /// openat(2) of `path` relative to the directory descriptor `dir` (`AT_FDCWD`: the current
    /// directory, or an absolute path). O_CLOEXEC is always added: no child inherits it.
    static func open(_ path: String, relativeTo dir: Int32 = AT_FDCWD, _ flags: Int32,
                     mode: mode_t = 0) -> Result<FileDescriptor, Errno> {
        adopt(path.withCString { p in retryingOnInterrupt { cqq_openat(dir, p, flags | O_CLOEXEC, UInt32(mode)) } })
    }

    /// A byte name (NUL-terminated, from a directory listing) relative to `dir`.
    static func open(_ z: ZName, relativeTo dir: Int32, _ flags: Int32, mode: mode_t = 0) -> Result<FileDescriptor, Errno> {
        adopt(withZ(z) { p in retryingOnInterrupt { cqq_openat(dir, p, flags | O_CLOEXEC, UInt32(mode)) } })
    }

    private static func adopt(_ opened: Result<Int32, Errno>) -> Result<FileDescriptor, Errno> {
        switch opened {
        case .success(let fd): return .success(FileDescriptor(adopting: fd))
        case .failure(let e): return .failure(e)
        }
    }

    /// A directory, for walks relative to it. `followLast: false` refuses a symlink (ELOOP) or a
    /// non-directory (ENOTDIR) in the last component.
    static func openDirectory(_ path: String, relativeTo dir: Int32 = AT_FDCWD,
                              followLast: Bool = false) -> Result<FileDescriptor, Errno> {
        open(path, relativeTo: dir, O_RDONLY | O_DIRECTORY | (followLast ? 0 : O_NOFOLLOW))
    }

    /// A subdirectory (byte name) of `dir`, never through a symlink.
    static func openDirectory(_ z: ZName, relativeTo dir: Int32) -> Result<FileDescriptor, Errno> {
        open(z, relativeTo: dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    }

    /// A subdirectory of this directory, never through a symlink.
    func openDirectory(_ name: PathBytes) -> Result<FileDescriptor, Errno> {
        FileDescriptor.openDirectory(zName(name), relativeTo: rawValue)
    }

    // MARK: Metadata

    func status() -> FileStatus? { FileSystem.fstat(rawValue) }

    /// fstatat of `name` in this directory, never following a final symlink.
    func status(of name: PathBytes) -> FileStatus? { withCName(name) { FileSystem.lstat(at: rawValue, $0) } }

    func setPermissions(_ mode: mode_t) -> Result<Void, Errno> {
        fchmod(rawValue, mode) == 0 ? .success(()) : .failure(.current)
    }

    func setModificationTime(seconds: Int64, nanoseconds: Int64) -> Result<Void, Errno> {
        cqq_futimens(rawValue, seconds, nanoseconds) == 0 ? .success(()) : .failure(.current)
    }

    func sync() -> Result<Void, Errno> {
        retryingOnInterrupt { fsync(rawValue) }.map { _ in () }
    }

    // MARK: Data

    /// Writes all bytes, through short writes and interruptions.
    func writeAll(_ bytes: UnsafeRawBufferPointer) -> Result<Void, Errno> { writeAllBytes(rawValue, bytes) }

    func writeAll(_ bytes: [UInt8]) -> Result<Void, Errno> { bytes.withUnsafeBytes { writeAll($0) } }

    /// Reads to the end. `sizeHint` sizes the first buffer; more than `limit` bytes is EFBIG.
    func readAll(sizeHint: Int = 8192, limit: Int) -> Result<[UInt8], Errno> {
        var buffer = [UInt8](repeating: 0, count: max(sizeHint, 1))
        var count = 0
        while true {
            if count == buffer.count {
                guard buffer.count < limit else { return .failure(Errno(code: EFBIG)) }
                buffer.append(contentsOf: repeatElement(0, count: buffer.count))
            }
            let r = buffer.withUnsafeMutableBytes { raw in
                retryingOnInterrupt { read(rawValue, raw.baseAddress! + count, raw.count - count) }
            }
            switch r {
            case .success(0):
                buffer.removeSubrange(count...)
                return .success(buffer)
            case .success(let n): count += n
            case .failure(let e): return .failure(e)
            }
        }
    }

    // MARK: Directories

    /// This directory's entries; see `DirectoryReader`.
    func entries() -> Result<[DirEntry], Errno> { DirectoryReader.entries(rawValue) }
}

/// One directory entry: its name with a trailing NUL (ready for the next *at call) and d_type.
struct DirEntry: Sendable {
    let z: ZName
    let type: UInt8
    var name: PathBytes { PathBytes(z.dropLast()) }
    /// The name as text (invalid UTF-8 repaired); for names that are text by contract (/proc, .qqinfo).
    var text: String { String(decoding: z.dropLast(), as: UTF8.self) }
    /// False also when d_type is unknown: callers that care then lstat.
    var isKnownDirectory: Bool { type == UInt8(DT_DIR) }
    var isKnownRegular: Bool { type == UInt8(DT_REG) }
}

/// The one directory reader: names as bytes (any name survives, R12a) with d_type, without `.` and
/// `..`, in readdir order. It reads through a duplicate, so the caller's descriptor keeps its offset.
enum DirectoryReader {
    static func entries(_ fd: Int32) -> Result<[DirEntry], Errno> {
        let dupFD = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        if dupFD < 0 { return .failure(.current) }
        guard let dir = fdopendir(dupFD) else { let e = Errno.current; Glibc.close(dupFD); return .failure(e) }
        defer { closedir(dir) }
        var out: [DirEntry] = []
        var namePtr: UnsafePointer<CChar>? = nil
        var type: UInt8 = 0
        var ino: UInt64 = 0
        while true {
            let r = cqq_readdir(UnsafeMutableRawPointer(dir), &namePtr, &type, &ino)
            if r < 0 { return .failure(.current) }
            if r == 0 { break }
            guard let p = namePtr else { continue }
            let n = strlen(p)
            let raw = UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self)
            if raw[0] == 46 && (n == 1 || (n == 2 && raw[1] == 46)) { continue }
            out.append(DirEntry(z: ZName(UnsafeBufferPointer(start: raw, count: n + 1)), type: type))
        }
        return .success(out)
    }

    /// The entries of the directory at `path` (symlinks followed: /proc, the input dir).
    static func entries(atPath path: String) -> Result<[DirEntry], Errno> {
        switch FileDescriptor.openDirectory(path, followLast: true) {
        case .success(let fd): return fd.entries()
        case .failure(let e): return .failure(e)
        }
    }
}

/// The one writer to stderr (log lines, usage errors of the tools): whole messages, through short
/// writes and interruptions; a failure is dropped, as there is nowhere left to report it.
package enum StandardError {
    package static func write(_ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { writeAllBytes(STDERR_FILENO, $0) }
    }
}

/// The tools' output (panels, tables, JSON), written the same way.
package enum StandardOutput {
    package static func write(_ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { writeAllBytes(STDOUT_FILENO, $0) }
    }
}
