import Glibc
@testable import QQCore

/// A fresh directory under /tmp, removed by `cleanup()`.
struct WorkArea {
    let path: String

    init(_ label: String = "qq-test") {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = made.map { String(cString: $0) } ?? "/tmp/\(label)-\(getpid())"
    }

    func file(_ rel: String) -> String { path + "/" + rel }

    @discardableResult
    func write(_ rel: String, _ text: String, mode: mode_t = 0o644) -> String {
        let p = file(rel)
        makeDirs(FileSystem.directoryName(p))
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode)
        precondition(fd >= 0, "cannot create \(p)")
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        chmod(p, mode)
        return p
    }

    func makeDirs(_ p: String) {
        var current = ""
        for c in p.split(separator: "/") {
            current += "/" + c
            mkdir(current, 0o755)
        }
    }

    func read(_ rel: String) -> String? { try? FileSystem.readSmallFile(file(rel)) }

    func exists(_ rel: String) -> Bool { FileSystem.lstat(file(rel)) != nil }

    func cleanup() { _ = runShell("rm -rf '\(path)'") }
}

/// Runs a shell command line and returns its exit status (test setup only).
@discardableResult
func runShell(_ command: String) -> Int32 {
    var pid: pid_t = 0
    let words: [String] = ["/bin/sh", "-c", command]
    let args: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
    defer { args.forEach { free($0) } }
    guard posix_spawn(&pid, "/bin/sh", nil, nil, args, environ) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status >> 8) & 0xFF
}

/// The repository root, from this file's path (Tests/QQCoreTests/TestSupport.swift).
let repositoryRoot: String = {
    var p = #filePath
    for _ in 0..<3 { p = FileSystem.directoryName(p) }
    return p
}()
