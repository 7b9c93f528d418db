import CQQSystem
import Glibc

/// Paths on the copy and delete paths are bytes (R12a); this is their type.
package typealias PathBytes = [UInt8]

extension Array where Element == UInt8 {
    /// Shown as text: invalid UTF-8 bytes become `\xNN` (R12a). Never used to open a file.
    package var displayText: String {
        var out = ""
        var i = 0
        while i < count {
            let b = self[i]
            let len: Int
            if b < 0x80 { len = 1 } else if b & 0xE0 == 0xC0 { len = 2 } else if b & 0xF0 == 0xE0 { len = 3 } else if b & 0xF8 == 0xF0 { len = 4 } else { len = 0 }
            if len > 0, i + len <= count, (1..<len).allSatisfy({ self[i + $0] & 0xC0 == 0x80 }),
               case let s = String(decoding: self[i..<(i + len)], as: UTF8.self), !s.unicodeScalars.contains("\u{FFFD}") {
                out += s
                i += len
            } else {
                let hex = [Character]("0123456789ABCDEF")
                out += "\\x" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 0xF)])
                i += 1
            }
        }
        return out
    }
}

/// The file metadata the engine compares (R87, R103).
package struct FileStatus: Sendable, Hashable {
    package var device: UInt64
    package var inode: UInt64
    package var mode: UInt32
    package var uid: UInt32
    package var size: Int64
    package var mtimeSeconds: Int64
    package var mtimeNanos: Int64
    package var ctimeSeconds: Int64
    package var ctimeNanos: Int64

    init(_ s: cqq_stat) {
        device = s.dev; inode = s.ino; mode = s.mode; uid = s.uid; size = s.size
        mtimeSeconds = s.mtime_sec; mtimeNanos = s.mtime_nsec; ctimeSeconds = s.ctime_sec; ctimeNanos = s.ctime_nsec
    }

    package var fileType: UInt32 { mode & UInt32(S_IFMT) }
    package var isDirectory: Bool { fileType == UInt32(S_IFDIR) }
    package var isRegular: Bool { fileType == UInt32(S_IFREG) }
    package var isSymlink: Bool { fileType == UInt32(S_IFLNK) }
    package var permissionBits: UInt32 { mode & 0o7777 }
    package var mtimeTotalNanos: Int64 { mtimeSeconds &* 1_000_000_000 &+ mtimeNanos }
    /// What a file *is*, whatever path reached it: symlinks and `..` cannot disguise it.
    package var identity: FileIdentity { FileIdentity(device: device, inode: inode) }
}

/// Device and inode: two paths name the same file exactly when these are equal.
package struct FileIdentity: Sendable, Hashable {
    package var device: UInt64
    package var inode: UInt64
}

package enum FileSystem {
    /// `fstatat` relative to a directory descriptor, never following a final symlink.
    package static func lstat(at dirFD: Int32, _ name: UnsafePointer<CChar>) -> FileStatus? {
        var s = cqq_stat()
        return cqq_fstatat(dirFD, name, AT_SYMLINK_NOFOLLOW, &s) == 0 ? FileStatus(s) : nil
    }

    package static func lstat(_ path: String) -> FileStatus? { lstat(at: AT_FDCWD, path) }

    package static func stat(_ path: String) -> FileStatus? {
        var s = cqq_stat()
        return cqq_fstatat(AT_FDCWD, path, 0, &s) == 0 ? FileStatus(s) : nil
    }

    package static func fstat(_ fd: Int32) -> FileStatus? {
        var s = cqq_stat()
        return cqq_fstat(fd, &s) == 0 ? FileStatus(s) : nil
    }

    /// The process umask, read once without changing it (umask(2) cannot be queried thread-safely).
    package static let umask: mode_t = parseUmask(procStatus: (try? readSmallFile("/proc/self/status")) ?? "")

    /// The `Umask:` line of `/proc/self/status`; 022 when there is none.
    static func parseUmask(procStatus text: String) -> mode_t {
        for line in text.split(separator: "\n") where line.hasPrefix("Umask:") {
            if let m = UInt32(line.dropFirst(6).trimmingBlanks, radix: 8), m <= 0o777 { return mode_t(m) }
        }
        return 0o022
    }

    /// Reads a whole (small) file as text. Invalid UTF-8 is repaired.
    package static func readSmallFile(_ path: String) throws(SystemError) -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// Small files only (state files, markers, /proc entries): anything bigger is refused.
    static let maxReadSize = 64 * 1024 * 1024

    /// `regularOnly`: anything but a regular file is refused (EISDIR, EINVAL) without a blocking
    /// read; the open is non-blocking, so a FIFO without a writer cannot hang it.
    package static func readBytes(_ path: String, flags: Int32 = 0, regularOnly: Bool = false) throws(SystemError) -> [UInt8] {
        let fd: FileDescriptor
        switch FileDescriptor.open(path, O_RDONLY | flags | (regularOnly ? O_NONBLOCK : 0)) {
        case .success(let opened): fd = opened
        case .failure(let e): throw SystemError(code: e.code, operation: "read", path: path)
        }
        var capacity = 8192
        let st = fd.status()
        if regularOnly, let st, !st.isRegular {
            throw SystemError(code: st.isDirectory ? EISDIR : EINVAL, operation: "read", path: path)
        }
        if let st, st.size > 0 {
            guard st.size <= maxReadSize else { throw SystemError(code: EFBIG, operation: "read", path: path) }
            capacity = Int(st.size) + 1
        }
        switch fd.readAll(sizeHint: capacity, limit: maxReadSize) {
        case .success(let bytes): return bytes
        case .failure(let e): throw SystemError(code: e.code, operation: "read", path: path)
        }
    }

    /// R9: the logical current directory: `$PWD` when it names the same directory as `getcwd()`.
    package static func logicalCurrentDirectory(environment: Environment) -> String {
        let physical = currentDirectory()
        if let pwd = environment["PWD"], pwd.hasPrefix("/"),
           let a = stat(pwd), let b = stat(physical), a.device == b.device, a.inode == b.inode {
            return normalizeLexically(pwd)
        }
        return physical
    }

    package static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        return String(cString: buf)
    }

    /// R9: absolute, with `.` and `..` removed lexically, symlinks not resolved.
    package static func normalizeLexically(_ path: String, relativeTo base: String? = nil) -> String {
        let full = path.hasPrefix("/") ? path : ((base ?? currentDirectory()) + "/" + path)
        var parts: [Substring] = []
        for c in full.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    package static func joinPath(_ dir: String, _ name: String) -> String {
        if dir.isEmpty { return name }
        return dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    package static func baseName(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        if let slash = trimmed.lastIndex(of: "/") { return String(trimmed[trimmed.index(after: slash)...]) }
        return trimmed
    }

    package static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The target of the symbolic link at `path`, or nil.
    package static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The identities of `path` (symlinks resolved) and of each of its real parents up to `/`;
    /// empty when `path` cannot be resolved.
    package static func identitiesOfSelfAndParents(_ path: String) -> [FileIdentity] {
        guard let resolved = realpath(path, nil) else { return [] }
        var current = String(cString: resolved)
        free(resolved)
        var ids: [FileIdentity] = []
        while true {
            if let st = stat(current) { ids.append(st.identity) }
            if current == "/" || current.isEmpty { break }
            current = directoryName(current)
        }
        return ids
    }

    /// The deepest existing directory on the way to `path` (itself when it exists), for questions
    /// about a directory that is about to be created.
    package static func deepestExistingAncestor(_ path: String) -> String {
        var current = normalizeLexically(path)
        while current != "/", stat(current) == nil { current = directoryName(current) }
        return current
    }

    /// True when `inner` equals `outer` or lies inside it, compared lexically.
    package static func isSameOrInside(_ inner: String, _ outer: String) -> Bool {
        let a = normalizeLexically(inner), b = normalizeLexically(outer)
        return a == b || b == "/" || a.hasPrefix(b + "/")
    }

    /// A short random hex string for temporary names.
    package static func randomHex(_ count: Int = 8) -> String {
        var g = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        return String((0..<count).map { _ in digits[Int(g.next() % 16)] })
    }
}

/// R6: replace the suffix of a name, or of a path's last component (Python's `with_suffix`).
package func replacingSuffix(of name: String, with suffix: String) -> String {
    let base = name.lastIndex(of: "/").map { name[name.index(after: $0)...] } ?? Substring(name)
    if let dot = base.lastIndex(of: "."), dot != base.startIndex, base.index(after: dot) != base.endIndex {
        return String(name[..<dot]) + suffix
    }
    return name + suffix
}
