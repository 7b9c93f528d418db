import Glibc

// Plain-Glibc file operations behind `InfoFile`: whole-file reads, the temporary file of R38,
// directory fsync, the umask. Errors are `SystemError`s with an operation word for the user.

enum InfoFileIO {
    static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws(SystemError) {
        if !bytes.withUnsafeBytes({ FileSystem.writeAll(fd, $0) }) { throw SystemError.fromErrno("write", path) }
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


    static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var req = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var rem = timespec()
        while nanosleep(&req, &rem) != 0, errno == EINTR { req = rem }
    }
}
