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
public typealias InfoLoader = @Sendable (_ path: String, _ retries: Int) -> Result<InfoRecord, InfoFileLoadError>

/// The real loader: `InfoFile.load` with R37's 200 ms between retries.
public let defaultInfoLoader: InfoLoader = { path, retries in
    Result { () throws(InfoFileLoadError) -> InfoRecord in try InfoFile.load(path: path, tornReadRetries: retries) }
}

enum Discovery {
    /// R119: names ending in `.qqinfo` directly in `directory` that are regular files or symlinks to
    /// regular files, in directory order (sorting needs the loaded records).
    static func infoFiles(in directory: String) throws(SystemError) -> [String] {
        guard let dir = opendir(directory) else { throw SystemError.fromErrno("read directory", directory) }
        defer { closedir(dir) }
        var paths: [String] = []
        var namePointer: UnsafePointer<CChar>?
        var type: UInt8 = 0
        var ino: UInt64 = 0
        while true {
            let rc = cqq_readdir(UnsafeMutableRawPointer(dir), &namePointer, &type, &ino)
            if rc == 0 { break }
            if rc < 0 { throw SystemError(code: cqq_errno(), operation: "read directory", path: directory) }
            guard let namePointer else { continue }
            let name = String(cString: namePointer)
            guard name.hasSuffix(".qqinfo"), name.count > ".qqinfo".count else { continue }
            let path = joinPath(directory, name)
            // DT_REG is 8; anything else (symlink, unknown d_type) is checked with stat.
            if type == 8 || isRegularFile(path) { paths.append(path) }
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

    static func load(_ path: String, retries: Int = 3, loader: InfoLoader) -> Result<LoadedInfo, LoadFailure> {
        switch loader(path, retries) {
        case .success(let record): return .success(LoadedInfo(path: path, record: record, mtime: modificationTime(path)))
        case .failure(let error): return .failure(LoadFailure(message: error.description))
        }
    }
}

func joinPath(_ dir: String, _ name: String) -> String {
    if dir.isEmpty { return name }
    return dir.hasSuffix("/") ? dir + name : dir + "/" + name
}

func isRegularFile(_ path: String) -> Bool {
    var st = cqq_stat()
    return cqq_fstatat(AT_FDCWD, path, 0, &st) == 0 && (st.mode & UInt32(S_IFMT)) == UInt32(S_IFREG)
}

func isDirectory(_ path: String) -> Bool {
    var st = cqq_stat()
    return cqq_fstatat(AT_FDCWD, path, 0, &st) == 0 && (st.mode & UInt32(S_IFMT)) == UInt32(S_IFDIR)
}

func modificationTime(_ path: String) -> Int? {
    var st = cqq_stat()
    guard cqq_fstatat(AT_FDCWD, path, 0, &st) == 0 else { return nil }
    return Int(st.mtime_sec)
}

/// R6: replace the suffix of the last path component, or append it.
func replacingSuffix(_ name: String, with suffix: String) -> String {
    let slash = name.lastIndex(of: "/")
    let base = slash.map { name[name.index(after: $0)...] } ?? Substring(name)
    if let dot = base.lastIndex(of: "."), dot != base.startIndex, base.index(after: dot) != base.endIndex {
        return String(name[..<dot]) + suffix
    }
    return name + suffix
}

/// R9: `$PWD` when it names the same directory as `getcwd()`, else `getcwd()`.
func logicalCurrentDirectory(_ environment: Environment) -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let physical: String? = getcwd(&buffer, buffer.count) != nil
        ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    if let pwd = environment.nonEmpty("PWD"), pwd.hasPrefix("/"), let physical {
        var a = cqq_stat(), b = cqq_stat()
        if cqq_fstatat(AT_FDCWD, pwd, 0, &a) == 0, cqq_fstatat(AT_FDCWD, physical, 0, &b) == 0,
           a.dev == b.dev, a.ino == b.ino {
            return lexicallyNormalized(pwd)
        }
    }
    return physical ?? "."
}

/// Absolute path with `.` and `..` removed lexically (symlinks untouched, R9).
func absolutePath(_ path: String, base: String) -> String {
    lexicallyNormalized(path.hasPrefix("/") ? path : joinPath(base, path))
}

func lexicallyNormalized(_ path: String) -> String {
    var parts: [Substring] = []
    for c in path.split(separator: "/") {
        if c == "." { continue }
        if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
        parts.append(c)
    }
    return "/" + parts.joined(separator: "/")
}
