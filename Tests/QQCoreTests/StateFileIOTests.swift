import Glibc
import Synchronization
import Testing
@testable import QQCore

// Atomic writes, claims and torn reads (R37, R38, R40, R45; scenario 22).

private typealias S = StateFileTestSupport

private func modeBits(_ path: String) -> mode_t? { FileSystem.lstat(path).map { mode_t($0.mode) & 0o777 } }

private func tempNames(in dir: String) -> [String] { S.names(in: dir).filter { $0.contains(".tmp-") } }

@Test func loadReadsAFile() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/job.qqinfo"
    try InfoFile.writeRecord(sampleRecord(), to: path)
    #expect(try InfoFile.load(path: path) == sampleRecord())
}

@Test func loadOfMissingFileIsUnreadableAtOnce() {
    let start = monotonicSeconds()
    #expect {
        _ = try InfoFile.load(path: "/tmp/qq-statefile-no-such-dir/job.qqinfo")
    } throws: { error in
        guard case .unreadable(let e) = error as? InfoFileLoadError else { return false }
        return e.code == ENOENT
    }
    #expect(monotonicSeconds() - start < 0.1)
}

@Test func loadOfInvalidFileFailsAfterRetries() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/job.qqinfo"
    S.writeText("# qq job info file\nbatch_system: Nope\n", to: path)
    let start = monotonicSeconds()
    #expect {
        _ = try InfoFile.load(path: path, tornReadRetries: 2, retryDelay: 0.05)
    } throws: { error in
        guard case .invalid(let e) = error as? InfoFileLoadError else { return false }
        return e.line == 2 && e.path == path
    }
    #expect(monotonicSeconds() - start >= 0.1)
}

@Test func loadOfDirectoryIsUnreadable() {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    #expect {
        _ = try InfoFile.load(path: dir)
    } throws: { error in
        if case .unreadable(let e) = error as? InfoFileLoadError { return e.code == EISDIR }
        return false
    }
}

@Test func tornReadIsRetriedUntilTheWriterFinishes() throws {
    // Scenario 22: a Python-style writer truncates the file, pauses, then writes it in full.
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/job.qqinfo"
    let full = InfoFileCodec.encode(sampleRecord())
    S.writeText(full, to: path)
    let truncated = Atomic<Bool>(false)
    let writer = Thread {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        truncated.store(true, ordering: .sequentiallyConsistent)
        sleepUninterrupted(seconds: 0.1)
        _ = Array(full.utf8).withUnsafeBytes { writeAllBytes(fd, $0) }
        close(fd)
    }
    while !truncated.load(ordering: .sequentiallyConsistent) { sleepUninterrupted(seconds: 0.001) }
    #expect(FileSystem.lstat(path)?.size == 0)
    let record = try InfoFile.load(path: path)
    #expect(record == sampleRecord())
    writer.join()
}

@Test func fileCutMidLineIsReadAgain() throws {
    // A torn file that happens to parse (cut inside the last value) is re-read.
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/job.qqinfo"
    let full = InfoFileCodec.encode(sampleRecord())
    S.writeText(String(full.dropLast(4)), to: path)   // "...synchronized: tr": parses (R28)
    let writer = Thread {
        sleepUninterrupted(seconds: 0.05)
        S.writeText(full, to: path)
    }
    let record = try InfoFile.load(path: path, retryDelay: 0.2)
    #expect(record.synchronized == true)
    writer.join()
}

@Test func atomicWriteKeepsPermissionBits() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/job.qqinfo"
    S.writeText("old", to: path)
    chmod(path, 0o640)
    try InfoFile.writeAtomically("new\n", to: path)
    #expect(modeBits(path) == 0o640)
    #expect(S.readText(path) == "new\n")
}

@Test func atomicWriteOfNewFileUsesUmask() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/.qq-run-marker"
    try InfoFile.writeAtomically("x\n", to: path, modeIfNew: 0o600)
    #expect(modeBits(path) == 0o600)
    let other = dir + "/job.qqinfo"
    try InfoFile.writeAtomically("x\n", to: other)
    #expect(modeBits(other) == 0o666 & ~FileSystem.umask)
}

@Test func umaskIsReadFromProcStatus() {
    #expect(FileSystem.parseUmask(procStatus: "Name:\tqq-run\nUmask:\t0027\nState:\tR\n") == 0o027)
    #expect(FileSystem.parseUmask(procStatus: "Name:\tqq-run\n") == 0o022)
    // The process's own umask, as umask(2) reports it (read without changing it for other threads).
    #expect(FileSystem.umask == FileSystem.parseUmask(procStatus: (try? FileSystem.readSmallFile("/proc/self/status")) ?? ""))
}

@Test func atomicWriteLeavesNoTemporaryFile() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    try InfoFile.writeAtomically("a\n", to: dir + "/job.qqinfo")
    try InfoFile.writeAtomically("b\n", to: dir + "/job.qqinfo")
    #expect(S.names(in: dir) == ["job.qqinfo"])
}

@Test func failedAtomicWriteThrowsAndLeavesNoTemporaryFile() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    #expect(throws: SystemError.self) {
        try InfoFile.writeAtomically("a\n", to: dir + "/missing/job.qqinfo")
    }
    // Rename fails when the target is a non-empty directory: the temp file must be removed.
    mkdir(dir + "/job.qqinfo", 0o755)
    S.writeText("x", to: dir + "/job.qqinfo/inside")
    #expect {
        try InfoFile.writeAtomically("a\n", to: dir + "/job.qqinfo")
    } throws: { error in
        (error as? SystemError)?.operation == "replace"
    }
    #expect(tempNames(in: dir).isEmpty)
    #expect(S.names(in: dir) == ["job.qqinfo"])
}

@Test func writeErrorNamesTheFile() {
    do {
        try InfoFile.writeAtomically("a\n", to: "/tmp/qq-statefile-no-such-dir/job.qqinfo")
        Issue.record("write succeeded")
    } catch {
        #expect(error.description
                == "Cannot create a temporary file for '/tmp/qq-statefile-no-such-dir/job.qqinfo': No such file or directory")
    }
}

@Test func claimTakesAFreeName() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/job.qqinfo"
    #expect(try InfoFile.claim("mine\n", at: path))
    #expect(S.readText(path) == "mine\n")
    #expect(S.names(in: dir) == ["job.qqinfo"])
}

@Test func claimReturnsFalseOnAnExistingName() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/job.qqinfo"
    S.writeText("theirs\n", to: path)
    #expect(try InfoFile.claim("mine\n", at: path) == false)
    #expect(S.readText(path) == "theirs\n")
    #expect(S.names(in: dir) == ["job.qqinfo"])
}

@Test func replaceDeadReplacesTheOldFile() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/job.qqinfo"
    S.writeText("dead job\n", to: path)
    chmod(path, 0o444)   // e.g. locked by qq kill: the new file is writable again
    #expect(try InfoFile.replaceDead("new job\n", at: path))
    #expect(S.readText(path) == "new job\n")
    #expect(modeBits(path) == 0o666 & ~FileSystem.umask)
    #expect(S.names(in: dir) == ["job.qqinfo"])
}

@Test func replaceDeadOfAVanishedFileLosesTheRace() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    #expect(try InfoFile.replaceDead("new job\n", at: dir + "/job.qqinfo") == false)
    #expect(S.names(in: dir).isEmpty)
}

@Test func markerIsWrittenWithMode0600AndLoads() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let path = dir + "/.qq-run-marker"
    let marker = WorkDirMarker(jobID: "4", infoFile: "/users/jdoe/sim/job.qqinfo", inputDir: "/users/jdoe/sim",
                               batchSystem: .slurm, cluster: "example", mainNode: "node07",
                               created: Timestamp(year: 2025, month: 3, day: 14, hour: 9, minute: 26, second: 54),
                               runner: "qq-run 1.0.0")
    try InfoFile.writeMarker(marker, to: path)
    #expect(modeBits(path) == 0o600)
    #expect(try InfoFile.loadMarker(path: path) == marker)
}

@Test func markerSymlinkIsNotFollowed() throws {
    let dir = S.makeTempDir()
    defer { S.removeTree(dir) }
    let real = dir + "/real"
    S.writeText(InfoFileCodec.encodeMarker(WorkDirMarker(
        jobID: "4", infoFile: "/i", inputDir: "/d", batchSystem: .local, mainNode: "n",
        created: Timestamp(year: 2025, month: 1, day: 1, hour: 0, minute: 0, second: 0), runner: "r")), to: real)
    symlink(real, dir + "/.qq-run-marker")
    #expect {
        _ = try InfoFile.loadMarker(path: dir + "/.qq-run-marker")
    } throws: { error in
        if case .unreadable(let e) = error as? InfoFileLoadError { return e.code == ELOOP }
        return false
    }
}

/// A plain pthread: blocking test code on Swift's small cooperative pool could starve a task.
private final class Thread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let me = Unmanaged<Thread>.fromOpaque(raw).takeRetainedValue()
            me.body()
            return nil
        }, context)
    }

    func join() { pthread_join(thread, nil) }
}
