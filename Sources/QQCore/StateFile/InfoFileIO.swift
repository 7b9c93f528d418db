import Glibc

// Plain-Glibc file operations behind `InfoFile`: whole-file reads, the temporary file of R38,
// directory fsync, the umask. Errors are `SystemError`s with an operation word for the user.

enum InfoFileIO {

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
            let fd: FileDescriptor
            switch FileDescriptor.open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) {
            case .success(let opened): fd = opened
            case .failure(let e) where e.code == EEXIST: continue
            case .failure(let e): throw SystemError(code: e.code, operation: "create a temporary file for", path: path)
            }
            var failure: SystemError?
            if case .failure(let e) = fd.writeAll(bytes) {
                failure = SystemError(code: e.code, operation: "write", path: path)
            } else if case .failure(let e) = fd.setPermissions(mode) {
                failure = SystemError(code: e.code, operation: "set permissions of", path: path)
            } else if case .failure(let e) = fd.sync() {
                failure = SystemError(code: e.code, operation: "sync", path: path)
            }
            // A failed close can mean lost data (NFS): the file must not replace the old one.
            if case .failure(let e) = fd.close(), failure == nil {
                failure = SystemError(code: e.code, operation: "write", path: path)
            }
            if let failure {
                unlink(tmp)
                throw failure
            }
            return tmp
        }
        throw SystemError(code: EEXIST, operation: "create a temporary file for", path: path)
    }

    /// R38 step 4: make the rename durable; a directory that cannot be synced is ignored.
    static func syncDirectory(of path: String) {
        guard case .success(let fd) = FileDescriptor.openDirectory(split(path).dir, followLast: true) else { return }
        _ = fd.sync()
    }
}
