import Glibc
import Testing
@testable import QQCore

/// `qq-info --tail` reads the end of a log, never the whole of it (issue 12, item 4).
@Suite struct TailReaderTests {
    private func tail(_ path: String, _ count: Int) throws -> TailReader.Tail {
        let fd = try FileDescriptor.open(path, O_RDONLY).get()
        let size = try #require(fd.status()?.size)
        return try TailReader.lastLines(fd.rawValue, count: count, end: size).get()
    }

    private func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644).get()
        try fd.writeAll(bytes).get()
    }

    @Test func theLastLinesOfAFileAreItsLastLines() throws {
        let t = WorkArea("qq-tail-lines")
        defer { t.cleanup() }
        let path = t.write("job.out", (1...100).map { "line \($0)\n" }.joined())
        let result = try tail(path, 3)
        #expect(result.bytes == Array("line 98\nline 99\nline 100\n".utf8))
    }

    @Test func aShortFileIsShownWhole() throws {
        let t = WorkArea("qq-tail-short")
        defer { t.cleanup() }
        let path = t.write("job.out", "one\ntwo\n")
        #expect(try tail(path, 20).bytes == Array("one\ntwo\n".utf8))
        #expect(try tail(t.write("empty.out", ""), 20).bytes == [])
    }

    @Test func aLastLineWithoutNewlineCountsAsALine() throws {
        let t = WorkArea("qq-tail-nonl")
        defer { t.cleanup() }
        let path = t.write("job.out", "a\nb\nc\nprogress 50%")
        #expect(try tail(path, 2).bytes == Array("c\nprogress 50%".utf8))
    }

    @Test func crlfAndBinaryBytesAreKeptAsTheyAre() throws {
        let t = WorkArea("qq-tail-bytes")
        defer { t.cleanup() }
        let path = t.file("job.out")
        let bytes: [UInt8] = Array("first\r\n".utf8) + [0xff, 0xfe, 0x00, 0x80, 13, 10] + Array("last\r\n".utf8)
        try writeBytes(path, bytes)
        #expect(try tail(path, 2).bytes == [0xff, 0xfe, 0x00, 0x80, 13, 10] + Array("last\r\n".utf8))
    }

    @Test func theTailOfAMultiGigabyteLogIsFoundWithOneBlockRead() throws {
        let t = WorkArea("qq-tail-big")
        defer { t.cleanup() }
        let path = t.file("job.out")
        // A sparse 4 GiB file: reading it whole would take seconds and 4 GiB of memory.
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644).get()
        let lines = (1...1000).map { "step \($0)\n" }.joined()
        let end = Int64(4) << 30
        #expect(ftruncate(fd.rawValue, off_t(end)) == 0)
        #expect(lseek(fd.rawValue, 0, SEEK_END) == off_t(end))
        try fd.writeAll(Array(lines.utf8)).get()
        let result = try tail(path, 3)
        #expect(result.bytes == Array("step 998\nstep 999\nstep 1000\n".utf8))
        #expect(result.bytesRead <= TailReader.blockSize)
        #expect(result.start == end + Int64(lines.utf8.count) - Int64("step 998\nstep 999\nstep 1000\n".utf8.count))
    }

    @Test func aHugeLineWithoutNewlinesIsCutToTheByteLimit() throws {
        let t = WorkArea("qq-tail-noline")
        defer { t.cleanup() }
        let path = t.file("job.out")
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644).get()
        #expect(ftruncate(fd.rawValue, off_t(1) << 30) == 0)  // 1 GiB of NUL bytes, no newline
        let result = try tail(path, 5)
        #expect(result.bytes.count == TailReader.byteLimit)
        #expect(result.bytesRead == TailReader.byteLimit)
    }
}

@Suite struct TailOptionTests {
    private func options(_ words: [String]) -> QQInfoCommand.Options? {
        if case .run(let o) = QQInfoCommand.parse(words) { return o }
        return nil
    }

    @Test func tailWithoutANumberShowsTwentyLines() {
        #expect(options(["--tail"])?.live == LiveOutput.Request(lines: 20, follow: false))
    }

    @Test func theNumberAfterTailIsItsCountAndOtherWordsAreTargets() {
        let o = options(["--tail", "3", "job.qqinfo"])
        #expect(o?.live?.lines == 3)
        #expect(o?.targets == ["job.qqinfo"])
        #expect(options(["--tail=5", "123"])?.targets == ["123"])
        #expect(options(["123", "--tail"])?.targets == ["123"])
    }

    @Test func followAloneShowsTheDefaultTailThenFollows() {
        #expect(options(["--follow"])?.live == LiveOutput.Request(lines: 20, follow: true))
        #expect(options(["-f", "--tail", "5"])?.live == LiveOutput.Request(lines: 5, follow: true))
    }

    @Test func aBadCountOrJsonWithTailIsAUsageError() {
        for words in [["--tail=x"], ["--tail=-1"], ["--tail", "--json"], ["--follow", "-s"]] {
            guard case .usageError = QQInfoCommand.parse(words) else {
                Issue.record("\(words) was accepted"); continue
            }
        }
    }
}
