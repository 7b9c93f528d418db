import CQQSystem
import Glibc
import Testing
@testable import QQCore

/// Whether /tmp keeps holes: a 1 MiB file made by ftruncate alone allocates no blocks.
private let tmpKeepsHoles: Bool = {
    let t = WorkArea("qq-hole-probe")
    defer { t.cleanup() }
    let fd = open(t.file("probe"), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    guard ftruncate(fd, 1 << 20) == 0 else { return false }
    var st = stat()
    return fstat(fd, &st) == 0 && st.st_blocks == 0
}()

private let gib: Int64 = 1 << 30
private let twoGiB = 2 * gib
private let dataSize = 4096

/// A file of `size` whose only data is 4 KiB of a pattern at each of `dataAt` (the rest is holes).
private func makeSparse(_ path: String, size: Int64, dataAt offsets: [Int64]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot create \(path)")
    defer { close(fd) }
    let pattern = (0..<dataSize).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
    for at in offsets { _ = pattern.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(at)) } }
    precondition(ftruncate(fd, off_t(size)) == 0)
}

private func allocatedBytes(_ path: String) -> Int64 {
    var st = stat()
    return stat(path, &st) == 0 ? Int64(st.st_blocks) * 512 : -1
}

/// The data extents of a file, as SEEK_DATA/SEEK_HOLE report them.
private func dataExtents(_ fd: Int32, size: Int64) -> [Range<Int64>] {
    var out: [Range<Int64>] = []
    var at: Int64 = 0
    while at < size {
        let data = cqq_seek_data(fd, at)
        if data < 0 { break }  // ENXIO: no more data
        let hole = max(cqq_seek_hole(fd, data), data + 1)
        out.append(data..<hole)
        at = hole
    }
    return out
}

/// Byte-for-byte the same: outside both files' data extents both read as zeros (holes), so the
/// bytes of every extent of either file are compared on both sides (cmp of 2 GiB takes seconds).
private func sameBytes(_ a: String, _ b: String, size: Int64) -> Bool {
    let fa = open(a, O_RDONLY), fb = open(b, O_RDONLY)
    defer { close(fa); close(fb) }
    guard fa >= 0, fb >= 0 else { return false }
    for extent in dataExtents(fa, size: size) + dataExtents(fb, size: size) {
        var at = extent.lowerBound
        while at < extent.upperBound {
            let n = Int(min(1 << 20, extent.upperBound - at))
            var x = [UInt8](repeating: 0, count: n), y = [UInt8](repeating: 1, count: n)
            let gotX = x.withUnsafeMutableBytes { pread(fa, $0.baseAddress, n, off_t(at)) }
            let gotY = y.withUnsafeMutableBytes { pread(fb, $0.baseAddress, n, off_t(at)) }
            if gotX != gotY || gotX <= 0 || x[0..<gotX] != y[0..<gotY] { return false }
            at += Int64(gotX)
        }
    }
    return true
}

private func engine(checksum: Bool = false) -> CopyEngine {
    CopyEngine(streams: 4, verifyChecksum: checksum, retry: RetryPolicy(attempts: 2, initialDelay: 0.001, maxDelay: 0.001, total: 1))
}

/// Stages `in` into `work` and `work` out into a fresh `back` (everything new there), and checks
/// that both copies have the source's bytes, size and mtime while allocating only a few blocks.
private func roundTripStaysSparse(_ label: String, size fileSize: Int64 = twoGiB, dataAt offsets: [Int64],
                                  checksum: Bool = false) {
    let t = WorkArea("qq-sparse")
    defer { t.cleanup() }
    t.makeDirs(t.file("in")); t.makeDirs(t.file("work")); t.makeDirs(t.file("back"))
    makeSparse(t.file("in/sparse.img"), size: fileSize, dataAt: offsets)
    let e = engine(checksum: checksum)
    var manifest = Manifest()
    let t0 = monotonicSeconds()
    let stats = e.stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
    let t1 = monotonicSeconds()
    let out = e.stageOut(from: t.file("work"), to: t.file("back"), manifest: Manifest(), controlFiles: [], includedNames: [])
    let t2 = monotonicSeconds()
    #expect(stats.failures.isEmpty)
    #expect(out.stats.failures.isEmpty)
    let limit = Int64(offsets.count * dataSize) + 64 * 1024  // the data plus a little file-system slack
    for copy in ["work/sparse.img", "back/sparse.img"] {
        let st = FileSystem.lstat(t.file(copy)), src = FileSystem.lstat(t.file("in/sparse.img"))
        #expect(st?.size == fileSize, "\(copy)")
        #expect(st?.mtimeTotalNanos == src?.mtimeTotalNanos, "\(copy)")
        #expect(allocatedBytes(t.file(copy)) <= limit, "\(copy) allocates \(allocatedBytes(t.file(copy))) bytes")
        #expect(sameBytes(t.file("in/sparse.img"), t.file(copy), size: fileSize), "\(copy)")
    }
    print("sparse \(label)\(checksum ? " (checksum)" : ""): stage-in \(t1 - t0) s, stage-out \(t2 - t1) s, allocated "
          + "\(allocatedBytes(t.file("work/sparse.img"))) / \(allocatedBytes(t.file("back/sparse.img"))) bytes")
}

@Suite(.enabled(if: tmpKeepsHoles, "/tmp does not keep holes (a truncated 1 MiB file allocates blocks)"))
struct SparseCopyTests {
    @Test func aTwoGiBFileWithFourKiBOfDataInTheMiddleStaysSparseInBothDirections() {
        roundTripStaysSparse("data at 1 GiB", dataAt: [gib])
    }

    @Test func aSparseFileWhoseDataIsAtTheEndStaysSparse() {
        roundTripStaysSparse("data at the end", dataAt: [twoGiB - Int64(dataSize)])
    }

    @Test func aFileThatIsOneHoleStaysAHole() {
        roundTripStaysSparse("all hole", dataAt: [])
    }

    @Test func aTrailingHoleStaysAHoleAndTheSizeIsKept() {
        roundTripStaysSparse("trailing hole", dataAt: [0])
    }

    /// 256 MiB: checksums read every byte, holes too, which takes seconds per GiB in a debug build.
    @Test func checksumVerificationComparesTheBytesOfASparseFileHolesIncluded() {
        roundTripStaysSparse("256 MiB, data at 128 MiB", size: 256 << 20, dataAt: [128 << 20], checksum: true)
    }
}
