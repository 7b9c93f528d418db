import CQQSystem
import Glibc

/// A state file found on disk and loaded.
struct LoadedInfo: Sendable {
    var path: String
    var record: InfoRecord
    /// Epoch seconds of the file's last modification; the heartbeat clock (R124).
    var mtime: Int?
    /// An answer already obtained while resolving a job id (R120), reused instead of asking again.
    var knownAnswer: BatchAnswer?
}

/// Reads and decodes one state file, with this many torn-read retries (R37).
package typealias InfoLoader = @Sendable (_ path: String, _ retries: Int) -> Result<InfoRecord, InfoFileLoadError>

/// The real loader: `InfoFile.load` with R37's 200 ms between retries.
package let defaultInfoLoader: InfoLoader = { path, retries in
    Result { () throws(InfoFileLoadError) -> InfoRecord in try InfoFile.load(path: path, tornReadRetries: retries) }
}

enum Discovery {
    /// R119: names ending in `.qqinfo` directly in `directory` that are regular files or symlinks to
    /// regular files, in directory order (sorting needs the loaded records).
    static func infoFiles(in directory: String) throws(SystemError) -> [String] {
        let entries: [DirEntry]
        switch DirectoryReader.entries(atPath: directory) {
        case .success(let e): entries = e
        case .failure(let e): throw SystemError(code: e.code, operation: "read directory", path: directory)
        }
        var paths: [String] = []
        for entry in entries {
            let name = entry.text
            guard name.hasSuffix(".qqinfo"), name.count > ".qqinfo".count else { continue }
            let path = FileSystem.joinPath(directory, name)
            // A symlink or an unknown d_type is checked with stat.
            if entry.isKnownRegular || (FileSystem.stat(path)?.isRegular == true) { paths.append(path) }
        }
        return paths
    }

    /// Loads files and sorts them by `submission_time`, oldest first, then by name (R119).
    /// Unreadable files come back as errors, in name order.
    static func loadSorted(_ paths: [String], loader: InfoLoader) -> (loaded: [LoadedInfo], failed: [(String, String)]) {
        var loaded: [LoadedInfo] = []
        var failed: [(String, String)] = []
        for path in paths.sorted() {
            switch load(path, loader: loader) {
            case .success(let info): loaded.append(info)
            case .failure(let f): failed.append((path, f.message))
            }
        }
        loaded.sort { a, b in
            let ka = a.record.submissionTime.epochSeconds, kb = b.record.submissionTime.epochSeconds
            if ka != kb { return ka < kb }
            return a.path < b.path
        }
        return (loaded, failed)
    }

    struct LoadFailure: Error { var message: String }

    static let targetHint = "Give an info file (*.qqinfo), a directory or a job id."

    /// A target that is neither a regular file nor a directory, said plainly instead of being
    /// taken for a job id ("Job 'fifo.qqinfo' does not exist"): something else that exists (a
    /// FIFO, a device, a socket, directly or through a symlink), a dangling symlink, or a path
    /// (it has a `/` or ends in `.qqinfo`, which no job id does) that cannot be reached. nil: the
    /// target is a job id. Nothing is opened, so a FIFO or `/dev/zero` cannot block or flood us.
    static func targetProblem(_ target: String, status: FileStatus?) -> String? {
        let viaLink = FileSystem.lstat(target)?.isSymlink == true
        if let status {
            let what = (viaLink ? "a symbolic link to " : "") + fileKind(status)
            return "'\(target)' is \(what), not a qq info file. \(targetHint)"
        }
        if viaLink { return "'\(target)' is a symbolic link to something that does not exist. \(targetHint)" }
        guard target.contains("/") || target.hasSuffix(".qqinfo") else { return nil }
        guard FileSystem.stat(target) == nil else { return nil }  // appeared meanwhile
        let code = errno
        if code == ENOENT || code == ENOTDIR { return "'\(target)' does not exist. \(targetHint)" }
        return SystemError(code: code, operation: "access", path: target).description + "."
    }

    /// What a non-regular, non-directory file is, for messages.
    static func fileKind(_ s: FileStatus) -> String {
        switch s.fileType {
        case UInt32(S_IFIFO): return "a FIFO (named pipe)"
        case UInt32(S_IFCHR): return "a character device"
        case UInt32(S_IFBLK): return "a block device"
        case UInt32(S_IFSOCK): return "a socket"
        case UInt32(S_IFDIR): return "a directory"
        case UInt32(S_IFREG): return "a regular file"
        default: return "a special file"
        }
    }

    static func load(_ path: String, retries: Int = 3, loader: InfoLoader) -> Result<LoadedInfo, LoadFailure> {
        switch loader(path, retries) {
        case .success(let record): return .success(LoadedInfo(path: path, record: record, mtime: FileSystem.stat(path).map { Int($0.mtimeSeconds) }))
        case .failure(let error):
            // Swapped for a FIFO or a device after the scan: say what it is now.
            if let st = FileSystem.stat(path), !st.isRegular, let problem = targetProblem(path, status: st) {
                return .failure(LoadFailure(message: problem))
            }
            return .failure(LoadFailure(message: error.description))
        }
    }
}
