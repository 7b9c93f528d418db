import CQQSystem
import Glibc
import Synchronization
import Testing
@testable import QQCore

/// Helpers for byte paths below a WorkArea.
private extension WorkArea {
    func bytes(_ rel: PathBytes) -> PathBytes { PathBytes((path + "/").utf8) + rel }

    func writeBytes(_ rel: PathBytes, _ content: [UInt8], mode: mode_t = 0o644) {
        let fd = withCName(bytes(rel)) { open($0, O_WRONLY | O_CREAT | O_TRUNC, mode) }
        precondition(fd >= 0, "cannot create \(rel.displayText)")
        _ = content.withUnsafeBytes { writeAllBytes(fd, $0) }
        close(fd)
    }

    func readBytes(_ rel: PathBytes) -> [UInt8]? {
        let s = String(decoding: bytes(rel), as: UTF8.self)
        if bytes(rel).allSatisfy({ $0 < 0x80 }) { return try? FileSystem.readBytes(s) }
        let fd = withCName(bytes(rel)) { open($0, O_RDONLY) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    func status(_ rel: String) -> FileStatus? { FileSystem.lstat(file(rel)) }

    func setMtime(_ rel: String, _ seconds: Int64, _ nanos: Int64 = 0) {
        _ = cqq_utimensat_test(file(rel), seconds, nanos)
    }
}

private func cqq_utimensat_test(_ path: String, _ s: Int64, _ ns: Int64) -> Int32 {
    var ts = [timespec(tv_sec: Int(s), tv_nsec: Int(ns)), timespec(tv_sec: Int(s), tv_nsec: Int(ns))]
    return utimensat(AT_FDCWD, path, &ts, AT_SYMLINK_NOFOLLOW)
}

/// An engine for tests: several streams (to exercise the pool), fast retries.
private func testEngine(streams: Int = 4, checksum: Bool = false) -> CopyEngine {
    CopyEngine(streams: streams, verifyChecksum: checksum, retry: RetryPolicy(attempts: 2, initialDelay: 0.001, maxDelay: 0.001, total: 1))
}

@Suite struct StagingEngineTests {
    @Test func stageInKeepsContentModesAndMtimesOfFilesDirectoriesAndSymlinksInParallel() throws {
        let t = WorkArea("qq-par")
        defer { t.cleanup() }
        // More entries than one work unit, so chunks of one directory run on several workers.
        for i in 0..<150 { t.write("in/many/f\(i)", "content \(i)", mode: i % 2 == 0 ? 0o600 : 0o755) }
        t.write("in/a/b/c/deep.txt", "deep")
        t.makeDirs(t.file("in/empty/inner"))
        symlink("../a/b/c/deep.txt", t.file("in/many/rel-link"))
        symlink("/etc/passwd", t.file("in/abs-link"))
        symlink("does/not/exist", t.file("in/dangling"))
        t.setMtime("in/many/f7", 1_500_000_000, 123_456_789)
        t.setMtime("in/abs-link", 1_400_000_000)
        for d in ["in/a/b/c", "in/a/b", "in/a", "in/many", "in/empty/inner", "in/empty"] { t.setMtime(d, 1_600_000_000, 5) }
        chmod(t.file("in/a/b"), 0o555)  // read-only source dir: copied, then given owner rwx
        defer { chmod(t.file("in/a/b"), 0o755) }
        t.makeDirs(t.file("work"))
        var manifest = Manifest()
        let stats = testEngine().stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        #expect(stats.failures.isEmpty)
        #expect(stats.files == 154)
        #expect(manifest.entries.count == 154)
        #expect(t.read("work/many/f42") == "content 42")
        #expect(t.read("work/a/b/c/deep.txt") == "deep")
        let um = UInt32(FileSystem.umask)
        #expect(t.status("work/many/f4")?.permissionBits == 0o600 & ~um)
        #expect(t.status("work/many/f5")?.permissionBits == 0o755 & ~um)
        #expect(t.status("work/many/f7")?.mtimeSeconds == 1_500_000_000)
        #expect(t.status("work/many/f7")?.mtimeNanos == 123_456_789)
        #expect(t.status("work/abs-link")?.isSymlink == true)
        #expect(t.status("work/abs-link")?.mtimeSeconds == 1_400_000_000)
        #expect(t.status("work/dangling")?.isSymlink == true)
        #expect(t.read("work/many/rel-link") == "deep")
        #expect(t.status("work/empty/inner")?.isDirectory == true)
        // Directory mtimes are set after their content, also when workers finish them.
        for d in ["a/b/c", "a/b", "a", "many", "empty/inner", "empty"] {
            #expect(t.status("work/" + d)?.mtimeSeconds == 1_600_000_000, "mtime of \(d)")
        }
        #expect(t.status("work/a/b")?.permissionBits == (0o555 & ~um) | 0o700)
    }

    @Test func namesWithSpacesNewlinesNonUTF8BytesAndVeryLongPathsSurvive() throws {
        let t = WorkArea("qq-awk")
        defer { t.cleanup() }
        t.makeDirs(t.file("in"))
        t.makeDirs(t.file("work"))
        let odd: [PathBytes] = [PathBytes("with space".utf8), PathBytes("new\nline".utf8), [0x66, 0xFF, 0xFE, 0x6F], PathBytes("ü-é".utf8)]
        for n in odd { t.writeBytes(PathBytes("in/".utf8) + n, n) }
        // A path longer than PATH_MAX: 20 levels of 250-byte names.
        var rel = PathBytes("in".utf8)
        for level in 0..<20 {
            rel += PathBytes("/".utf8) + PathBytes(repeating: UInt8(ascii: "a") + UInt8(level % 26), count: 250)
            let fd = open(t.path, O_RDONLY | O_DIRECTORY)
            _ = mkdirRelative(fd, rel)
            close(fd)
        }
        #expect(rel.count > Int(PATH_MAX))
        let deepFile = rel + PathBytes("/leaf.txt".utf8)
        #expect(writeRelative(t.path, deepFile, Array("leaf".utf8)))
        var manifest = Manifest()
        let stats = testEngine().stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        #expect(stats.failures.isEmpty)
        for n in odd { #expect(t.readBytes(PathBytes("work/".utf8) + n) == n, "content of \(n.displayText)") }
        let workDeep = PathBytes("work".utf8) + deepFile.dropFirst(2)
        #expect(readRelative(t.path, workDeep) == Array("leaf".utf8))
        #expect(manifest.entries[PathBytes(deepFile.dropFirst(3))] != nil)
    }

    @Test func fifosAreSkippedWithACount() {
        let t = WorkArea("qq-fifo")
        defer { t.cleanup() }
        t.write("in/a.txt", "a")
        mkfifo(t.file("in/pipe"), 0o644)
        t.makeDirs(t.file("work"))
        var manifest = Manifest()
        let stats = testEngine().stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        #expect(stats.failures.isEmpty)
        #expect(stats.skippedSpecial == 1)
        #expect(stats.files == 1)
        #expect(!t.exists("work/pipe"))
    }

    @Test func exclusionsSkipAtAnyDepthOrByPathAndAnIncludedPathWinsOverThem() {
        let t = WorkArea("qq-excl")
        defer { t.cleanup() }
        t.write("in/keep.txt", "k")
        t.write("in/x.log", "l")
        t.write("in/sub/y.log", "l")
        t.write("in/sub/cache/big.bin", "c")
        t.write("in/other/cache/kept.bin", "c")
        t.write("in/data/set.dat", "d")
        var filter = StageFilter()
        filter.addExclude("*.log")
        filter.addExclude("sub/cache/")
        filter.addExclude("data")
        t.makeDirs(t.file("work"))
        let engine = testEngine()
        var manifest = Manifest()
        var stats = engine.stageIn(from: t.file("in"), to: t.file("work"), filter: filter, manifest: &manifest)
        engine.stageInPath(t.file("in/data"), intoDirectory: t.file("work"), name: PathBytes("data".utf8), manifest: &manifest, stats: &stats)
        #expect(stats.failures.isEmpty)
        #expect(t.exists("work/keep.txt"))
        #expect(!t.exists("work/x.log"))
        #expect(!t.exists("work/sub/y.log"))
        #expect(!t.exists("work/sub/cache"))
        #expect(t.exists("work/other/cache/kept.bin"))
        #expect(t.read("work/data/set.dat") == "d")
        #expect(manifest.entries[PathBytes("data/set.dat".utf8)] != nil)
    }

    @Test func largeFilesAreCopiedAsConcurrentRangesExactly() throws {
        let t = WorkArea("qq-big")
        defer { t.cleanup() }
        t.makeDirs(t.file("in"))
        var content = [UInt8](repeating: 0, count: (9 << 20) + 12345)
        for i in stride(from: 0, to: content.count, by: 4096) { content[i] = UInt8(truncatingIfNeeded: i >> 12) }
        t.writeBytes(PathBytes("in/big.dat".utf8), content, mode: 0o640)
        t.setMtime("in/big.dat", 1_555_555_555, 42)
        t.makeDirs(t.file("work"))
        var engine = testEngine()
        engine.splitThreshold = 1 << 20  // ranges of 8 MiB: two of them
        var manifest = Manifest()
        let stats = engine.stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        #expect(stats.failures.isEmpty)
        #expect(stats.bytes == Int64(content.count))
        #expect(t.readBytes(PathBytes("work/big.dat".utf8)) == content)
        #expect(t.status("work/big.dat")?.mtimeNanos == 42)
        #expect(manifest.isUnchanged(PathBytes("big.dat".utf8), t.status("work/big.dat")!))
        // Back out through temporary names, also split.
        t.writeBytes(PathBytes("work/big.dat".utf8), content.reversed())
        let out = engine.stageOut(from: t.file("work"), to: t.file("in"), manifest: manifest, controlFiles: [], includedNames: [])
        #expect(out.stats.failures.isEmpty)
        #expect(out.stats.files == 1)
        #expect(t.readBytes(PathBytes("in/big.dat".utf8)) == content.reversed())
        #expect(runShell("ls -a '\(t.file("in"))' | grep -q qq-part") != 0)
    }

    @Test func stageOutCopiesExactlyTheNewAndChangedFilesAndCountsDeletions() {
        let t = WorkArea("qq-diff")
        defer { t.cleanup() }
        for d in 0..<4 { for f in 0..<50 { t.write("in/d\(d)/f\(f)", "v1 \(d) \(f)") } }
        t.makeDirs(t.file("work"))
        let engine = testEngine()
        var manifest = Manifest()
        _ = engine.stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        t.write("work/d0/f1", "v2")                       // changed content
        t.setMtime("work/d1/f2", 1_234_567_890)            // only touched: changed too (R99)
        unlink(t.file("work/d2/f3"))                       // deleted: counted, not propagated
        unlink(t.file("work/d3/f4")); t.write("work/d3/f4", "v1 3 4")  // same content, new inode
        t.write("work/d3/new/out.txt", "new")               // new file in a new directory
        t.makeDirs(t.file("work/d3/new-empty"))             // new empty directory
        let out = engine.stageOut(from: t.file("work"), to: t.file("in"), manifest: manifest, controlFiles: [], includedNames: [])
        #expect(out.stats.failures.isEmpty)
        #expect(out.stats.files == 4)
        #expect(out.deleted == [PathBytes("d2/f3".utf8)])
        #expect(t.read("in/d0/f1") == "v2")
        #expect(t.status("in/d1/f2")?.mtimeSeconds == 1_234_567_890)
        #expect(t.read("in/d2/f3") == "v1 2 3")
        #expect(t.read("in/d3/new/out.txt") == "new")
        #expect(t.status("in/d3/new-empty")?.isDirectory == true)
        // Nothing changed since: a second stage-out copies nothing.
        var again = manifest
        for rel in ["d0/f1", "d1/f2", "d3/f4"] {
            again.entries[PathBytes(rel.utf8)]?.work = t.status("work/" + rel)!
        }
        let second = engine.stageOut(from: t.file("work"), to: t.file("in"), manifest: again, controlFiles: [], includedNames: [])
        #expect(second.stats.files == 1)  // only the file that is not in the manifest
    }

    @Test func aFailedVerificationLeavesNoFileUnderItsNameAndNamesThePath() {
        let t = WorkArea("qq-verify")
        defer { t.cleanup() }
        t.write("in/bad.txt", "old")
        t.write("work/bad.txt", "new result")
        t.write("work/good.txt", "fine")
        var engine = testEngine()
        engine.faultInjection = { rel, fd in
            if rel == PathBytes("bad.txt".utf8) { _ = [UInt8](repeating: 120, count: 3).withUnsafeBytes { pwrite(fd, $0.baseAddress, 3, 1000) } }
        }
        let out = engine.stageOut(from: t.file("work"), to: t.file("in"), manifest: Manifest(), controlFiles: [], includedNames: [])
        #expect(out.stats.failures.map(\.path) == [PathBytes("bad.txt".utf8)])
        #expect(out.stats.failures.first?.operation.hasPrefix("verify") == true)
        #expect(t.read("in/bad.txt") == "old")
        #expect(t.read("in/good.txt") == "fine")
        #expect(runShell("ls -a '\(t.file("in"))' | grep -q qq-part") != 0)
    }

    @Test func checksumVerificationCatchesAChangedByteOfTheSameSize() {
        let t = WorkArea("qq-sum")
        defer { t.cleanup() }
        t.makeDirs(t.file("in"))
        t.write("work/r.dat", "0123456789")
        var engine = testEngine(checksum: true)
        engine.faultInjection = { _, fd in _ = [UInt8(ascii: "X")].withUnsafeBytes { pwrite(fd, $0.baseAddress, 1, 4) } }
        let out = engine.stageOut(from: t.file("work"), to: t.file("in"), manifest: Manifest(), controlFiles: [], includedNames: [])
        #expect(out.stats.failures.count == 1)
        #expect(!t.exists("in/r.dat"))
        engine.faultInjection = nil
        let clean = engine.stageOut(from: t.file("work"), to: t.file("in"), manifest: Manifest(), controlFiles: [], includedNames: [])
        #expect(clean.stats.failures.isEmpty)
        #expect(t.read("in/r.dat") == "0123456789")
    }

    @Test func stageOutNeverWritesThroughASymlinkedDirectoryOfTheInput() {
        let t = WorkArea("qq-symdir")
        defer { t.cleanup() }
        t.makeDirs(t.file("elsewhere"))
        t.makeDirs(t.file("in"))
        symlink(t.file("elsewhere"), t.file("in/sub"))
        t.write("work/sub/result.txt", "r")
        let out = testEngine().stageOut(from: t.file("work"), to: t.file("in"), manifest: Manifest(), controlFiles: [], includedNames: [])
        #expect(out.stats.failures.map(\.path) == [PathBytes("sub/result.txt".utf8)])
        #expect(!t.exists("elsewhere/result.txt"))
    }

    @Test func theManifestFileRoundTripsAnyNameAndItsStatuses() throws {
        let t = WorkArea("qq-mf")
        defer { t.cleanup() }
        t.write("in/a.txt", "a")
        t.writeBytes([0x69, 0x6E, 0x2F, 0xFF, 0x0A, 0x20], [1, 2, 3])  // "in/\xFF\n "
        t.makeDirs(t.file("work"))
        var manifest = Manifest()
        _ = testEngine().stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        try manifest.write(to: t.file("work"))
        let back = Manifest.read(from: t.file("work"))
        #expect(back.entries == manifest.entries)
        #expect(back.entries[[0xFF, 0x0A, 0x20]] != nil)
        #expect(t.status("work/.qq-run-manifest")?.permissionBits == 0o600)
    }

    @Test func aDamagedOrMissingManifestReadsAsEmpty() throws {
        let t = WorkArea("qq-mf2")
        defer { t.cleanup() }
        t.makeDirs(t.file("work"))
        #expect(Manifest.read(from: t.file("work")).entries.isEmpty)
        var m = Manifest()
        var s = cqq_stat()
        s.size = 5
        m.entries[PathBytes("x".utf8)] = ManifestEntry(work: FileStatus(s), sourceSize: 5, sourceMtimeNanos: 9)
        let good = m.encoded()
        #expect(Manifest.decode(good)?.entries == m.entries)
        for bad in [Array(good.dropLast(3)), good.enumerated().map { $0.offset == 30 ? $0.element ^ 1 : $0.element },
                    Array("garbage".utf8), [], Array(good.prefix(20))] {
            #expect(Manifest.decode(bad) == nil)
        }
        t.writeBytes(PathBytes("work/.qq-run-manifest".utf8), Array(good.dropLast(1)))
        #expect(Manifest.read(from: t.file("work")).entries.isEmpty)
    }

    @Test func aStopRequestEndsTheCopyAtAFileBoundary() {
        let t = WorkArea("qq-stop")
        defer { t.cleanup() }
        for i in 0..<100 { t.write("in/f\(i)", "x") }
        t.makeDirs(t.file("work"))
        let copied = Atomic<Int>(0)
        var engine = CopyEngine(streams: 1, shouldStop: { copied.load(ordering: .relaxed) >= 10 })
        engine.faultInjection = { _, _ in copied.add(1, ordering: .relaxed) }
        var manifest = Manifest()
        let stats = engine.stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        #expect(stats.files == 10)
    }
}

// MARK: Deep paths (longer than PATH_MAX): walked with *at calls, one component at a time.

private func components(_ rel: PathBytes) -> [PathBytes] {
    rel.split(separator: UInt8(ascii: "/")).map { PathBytes($0) }
}

private func mkdirRelative(_ root: Int32, _ rel: PathBytes) -> Bool {
    var fd = dup(root)
    let parts = components(rel)
    for (i, p) in parts.enumerated() {
        if i == parts.count - 1 { let ok = withCName(p) { mkdirat(fd, $0, 0o755) } == 0; close(fd); return ok }
        let next = withCName(p) { openat(fd, $0, O_RDONLY | O_DIRECTORY) }
        close(fd)
        if next < 0 { return false }
        fd = next
    }
    close(fd)
    return false
}

private func openParent(_ root: String, _ rel: PathBytes) -> (Int32, PathBytes)? {
    var fd = open(root, O_RDONLY | O_DIRECTORY)
    let parts = components(rel)
    for p in parts.dropLast() {
        let next = withCName(p) { openat(fd, $0, O_RDONLY | O_DIRECTORY) }
        close(fd)
        if next < 0 { return nil }
        fd = next
    }
    return (fd, parts.last!)
}

private func writeRelative(_ root: String, _ rel: PathBytes, _ content: [UInt8]) -> Bool {
    guard let (dir, name) = openParent(root, rel) else { return false }
    defer { close(dir) }
    let fd = withCName(name) { openat(dir, $0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
    guard fd >= 0 else { return false }
    defer { close(fd) }
    if case .failure = content.withUnsafeBytes({ writeAllBytes(fd, $0) }) { return false }
    return true
}

private func readRelative(_ root: String, _ rel: PathBytes) -> [UInt8]? {
    guard let (dir, name) = openParent(root, rel) else { return nil }
    defer { close(dir) }
    let fd = withCName(name) { openat(dir, $0, O_RDONLY) }
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
    return n >= 0 ? Array(buf[0..<n]) : nil
}

/// When the input dir cannot be opened, the failure must name the input dir, not the work dir
/// (issue 10: both entry points used to blame the work dir whichever of the two failed).
@Suite struct StagingOpenFailureTests {
    @Test func logCopyToAMissingInputDirNamesTheInputDir() {
        let t = WorkArea("qq-toplevel-open")
        defer { t.cleanup() }
        t.write("work/job.out", "log")
        let missing = t.file("no-such-input")
        let stats = testEngine().copyTopLevelFiles(["job.out"], from: t.file("work"), to: missing)
        #expect(stats.failures.count == 1)
        #expect(stats.failures.first?.path == PathBytes(missing.utf8))
        #expect(stats.failures.first?.description == "Cannot open directory '\(missing)': No such file or directory")
    }

    @Test func rescueToAMissingInputDirNamesTheInputDir() {
        let t = WorkArea("qq-rescue-open")
        defer { t.cleanup() }
        t.write("work/result.dat", "result")
        let missing = t.file("no-such-input")
        let r = testEngine().rescue(from: t.file("work"), to: missing, manifest: Manifest(), controlFiles: [],
                                    includedNames: [], skipTopLevel: [], deadline: monotonicSeconds() + 30)
        #expect(r.stats.failures.count == 1)
        #expect(r.stats.failures.first?.path == PathBytes(missing.utf8))
        #expect(r.stats.failures.first?.description == "Cannot open directory '\(missing)': No such file or directory")
    }

    @Test func rescueFromAMissingWorkDirStillNamesTheWorkDir() {
        let t = WorkArea("qq-rescue-open-work")
        defer { t.cleanup() }
        t.makeDirs(t.file("input"))
        let missing = t.file("no-such-work")
        let r = testEngine().rescue(from: missing, to: t.file("input"), manifest: Manifest(), controlFiles: [],
                                    includedNames: [], skipTopLevel: [], deadline: monotonicSeconds() + 30)
        #expect(r.stats.failures.first?.path == PathBytes(missing.utf8))
    }
}
