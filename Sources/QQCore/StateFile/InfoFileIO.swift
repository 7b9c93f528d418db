import Glibc

// Plain-Glibc file operations behind `InfoFile`: whole-file reads, the temporary file of R38,
// directory fsync, the umask. Errors are `SystemError`s with an operation word for the user.

enum InfoFileIO {
    /// State files are small; anything this big is not one, and reading it all would only hurt.
    static let maxFileSize = 64 * 1024 * 1024

    static func readAll(path: String, extraFlags: Int32 = 0) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | extraFlags)
        guard fd >= 0 else { throw SystemError.fromErrno("read", path) }
        defer { close(fd) }
        var st = stat()
        var capacity = 8192
        if fstat(fd, &st) == 0, st.st_size > 0 {
            guard st.st_size <= maxFileSize else { throw SystemError(code: EFBIG, operation: "read", path: path) }
            capacity = Int(st.st_size) + 1
        }
        var buffer = [UInt8](repeating: 0, count: capacity)
        var count = 0
        while true {
            if count == buffer.count {
                guard buffer.count < maxFileSize else { throw SystemError(code: EFBIG, operation: "read", path: path) }
                buffer.append(contentsOf: repeatElement(0, count: buffer.count))
            }
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return read(fd, base + count, raw.count - count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.fromErrno("read", path)
            }
            if n == 0 { break }
            count += n
        }
        buffer.removeSubrange(count...)
        return buffer
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return write(fd, base + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.fromErrno("write", path)
            }
            offset += n
        }
    }

    /// (directory, file name) of a path; the directory is "." for a bare name.
    static func split(_ path: String) -> (dir: String, name: String) {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    static func sibling(of path: String, named name: String) -> String {
        let dir = split(path).dir
        return dir == "/" ? "/" + name : dir + "/" + name
    }

    /// R38 steps 1–3: `.<name>.tmp-<pid>-<random>` next to `path`, fully written, with `mode`,
    /// fsynced and closed. Returns its path; on failure nothing is left behind.
    static func createTemp(_ bytes: [UInt8], for path: String, mode: mode_t) throws(SystemError) -> String {
        let name = split(path).name
        for _ in 0..<8 {
            var random = String(UInt32.random(in: .min ... .max), radix: 16)
            while random.count < 8 { random = "0" + random }
            let tmp = sibling(of: path, named: ".\(name).tmp-\(getpid())-\(random)")
            let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd < 0 {
                if errno == EEXIST { continue }
                throw SystemError.fromErrno("create a temporary file for", path)
            }
            do throws(SystemError) {
                try writeAll(fd: fd, bytes, path: path)
                if fchmod(fd, mode) != 0 { throw SystemError.fromErrno("set permissions of", path) }
                if fsync(fd) != 0 { throw SystemError.fromErrno("sync", path) }
            } catch {
                close(fd)
                unlink(tmp)
                throw error
            }
            // A failed close can mean lost data (NFS): the file must not replace the old one.
            if close(fd) != 0 {
                let e = SystemError.fromErrno("write", path)
                unlink(tmp)
                throw e
            }
            return tmp
        }
        throw SystemError(code: EEXIST, operation: "create a temporary file for", path: path)
    }

    /// R38 step 4: make the rename durable; a directory that cannot be synced is ignored.
    static func syncDirectory(of path: String) {
        let fd = open(split(path).dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// The process umask, from `/proc/self/status` (`umask()` itself would have to change it,
    /// which races with other threads creating files). 022 when it cannot be read.
    static func currentUmask() -> mode_t {
        guard let bytes = try? readAll(path: "/proc/self/status") else { return 0o022 }
        let key = Array("Umask:".utf8)
        var i = 0
        while i + key.count <= bytes.count {
            let lineStart = i
            while i < bytes.count, bytes[i] != 10 { i += 1 }
            if i - lineStart > key.count, Array(bytes[lineStart..<(lineStart + key.count)]) == key {
                var v: mode_t = 0
                var seen = false
                for c in bytes[(lineStart + key.count)..<i] where c != 32 && c != 9 {
                    guard c >= 48, c <= 55 else { return 0o022 }
                    v = (v << 3) | mode_t(c - 48)
                    seen = true
                }
                return seen ? v & 0o777 : 0o022
            }
            i += 1
        }
        return 0o022
    }

    static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var req = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var rem = timespec()
        while nanosleep(&req, &rem) != 0, errno == EINTR { req = rem }
    }
}
