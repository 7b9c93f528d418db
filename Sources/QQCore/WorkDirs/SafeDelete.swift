import CQQSystem
import Glibc

/// The deletion shared by qq-run's work-dir removal and every cleanup path (R100, R136):
/// it walks relative to directory descriptors, never follows a symlink, never crosses into
/// another file system, and refuses anything that is not strictly under the given root.
package enum SafeDelete {
    package struct Outcome: Sendable {
        package var entriesRemoved = 0
        package var bytesRemoved: Int64 = 0
        package var errors: [String] = []
        /// True when the directory no longer exists (removed now, or already gone).
        package var gone = false
    }

    package enum Refusal: Error, Sendable, CustomStringConvertible {
        case notUnderRoot(path: String, root: String)
        case symlink(String)
        case notOwned(String)
        case notADirectory(String)
        case cannotOpen(SystemError)

        package var description: String {
            switch self {
            case .notUnderRoot(let p, let r): return "Refusing to delete '\(p)': it is not strictly under the scratch root '\(r)'."
            case .symlink(let p): return "Working directory '\(p)' is a symbolic link; refusing to delete it."
            case .notOwned(let p): return "Working directory '\(p)' is not owned by you; refusing to delete it."
            case .notADirectory(let p): return "Refusing to delete '\(p)': it is not a directory."
            case .cannotOpen(let e): return e.description
            }
        }
    }

    /// Deletes the directory `path`, which must lie strictly under `root` (lexically, no `.`/`..`).
    /// Each component below the root is opened with `O_NOFOLLOW`; the directory must be owned by
    /// the current user. A directory that no longer exists is a success (`gone`).
    package static func deleteDirectory(_ path: String, under root: String) throws(Refusal) -> Outcome {
        let rootN = FileSystem.normalizeLexically(root)
        guard path.hasPrefix("/"), FileSystem.normalizeLexically(path) == path, path.hasPrefix(rootN == "/" ? "/" : rootN + "/"),
              path != rootN else {
            throw .notUnderRoot(path: path, root: root)
        }
        let below = path.dropFirst(rootN == "/" ? 1 : rootN.count + 1).split(separator: "/").map { PathBytes($0.utf8) }
        guard let last = below.last else { throw .notUnderRoot(path: path, root: root) }
        var fd: FileDescriptor
        switch FileDescriptor.openDirectory(rootN, followLast: true) {
        case .success(let opened): fd = opened
        case .failure(let e):
            if e.code == ENOENT { var o = Outcome(); o.gone = true; return o }
            throw .cannotOpen(SystemError(code: e.code, operation: "open", path: rootN))
        }
        for component in below.dropLast() {
            switch fd.openDirectory(component) {
            case .success(let next): fd = next
            case .failure(let e):
                if e.code == ENOENT { var o = Outcome(); o.gone = true; return o }
                if e.code == ELOOP || e.code == ENOTDIR { throw .symlink(path) }
                throw .cannotOpen(SystemError(code: e.code, operation: "open", path: path))
            }
        }
        guard let st = fd.status(of: last) else {
            if errno == ENOENT { var o = Outcome(); o.gone = true; return o }
            throw .cannotOpen(.fromErrno("stat", path))
        }
        if st.isSymlink { throw .symlink(path) }
        if !st.isDirectory { throw .notADirectory(path) }
        if st.uid != getuid() { throw .notOwned(path) }
        var outcome = removeContents(parent: fd.rawValue, name: last, device: st.device)
        if withCName(last, { unlinkat(fd.rawValue, $0, AT_REMOVEDIR) }) == 0 {
            outcome.entriesRemoved += 1
            outcome.gone = true
        } else if errno == ENOENT {
            outcome.gone = true
        } else if outcome.errors.isEmpty {
            outcome.errors.append(SystemError.fromErrno("remove directory", path).description)
        }
        return outcome
    }

    /// Removes everything inside `<parent>/<name>` (not the directory itself), depth first,
    /// staying on `device`. Errors are collected; the walk goes on with the other entries.
    static func removeContents(parent: Int32, name: PathBytes, device: UInt64) -> Outcome {
        var outcome = Outcome()
        switch FileDescriptor.openDirectory(zName(name), relativeTo: parent) {
        case .success(let fd): removeAll(in: fd, path: name, device: device, outcome: &outcome)
        case .failure(let e): outcome.errors.append("Cannot open '\(name.displayText)': \(e)")
        }
        return outcome
    }

    private static func removeAll(in dir: borrowing FileDescriptor, path: PathBytes, device: UInt64, outcome: inout Outcome) {
        let fd = dir.rawValue
        let entries: [DirEntry]
        switch dir.entries() {
        case .success(let e): entries = e
        case .failure(let e):
            outcome.errors.append("Cannot read directory '\(path.displayText)': \(e)")
            return
        }
        for entry in entries {
            let n = entry.z
            let sub = path + [UInt8(ascii: "/")] + entry.name
            guard let st = lstatZ(fd, n) else { continue }
            if st.isDirectory {
                if st.device != device {
                    outcome.errors.append("'\(sub.displayText)' is on another file system; not entered.")
                    continue
                }
                switch FileDescriptor.openDirectory(n, relativeTo: fd) {
                case .success(let child): removeAll(in: child, path: sub, device: device, outcome: &outcome)
                case .failure(let e):
                    outcome.errors.append("Cannot open '\(sub.displayText)': \(e)")
                    continue
                }
                if withZ(n, { unlinkat(fd, $0, AT_REMOVEDIR) }) == 0 {
                    outcome.entriesRemoved += 1
                } else {
                    outcome.errors.append("Cannot remove '\(sub.displayText)': \(String(cString: strerror(errno)))")
                }
            } else {
                if withZ(n, { unlinkat(fd, $0, 0) }) == 0 {
                    outcome.entriesRemoved += 1
                    if st.isRegular { outcome.bytesRemoved += st.size }
                } else {
                    outcome.errors.append("Cannot remove '\(sub.displayText)': \(String(cString: strerror(errno)))")
                }
            }
        }
    }
}
