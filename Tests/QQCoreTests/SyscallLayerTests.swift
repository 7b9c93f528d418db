import Glibc
import Testing
@testable import QQCore

/// The syscall layer under the staging, cleanup and state-file code (issue 10, item 4).
@Suite struct SyscallLayerTests {
    /// True while `fd` is open on the file `id` (tests run in parallel: a closed number may be
    /// reused at once by another test, for another file).
    private func isOpen(_ fd: Int32, on id: FileIdentity?) -> Bool { FileSystem.fstat(fd)?.identity == id }

    @Test func aDescriptorIsClosedWhenItsOwnerGoesAway() throws {
        let t = WorkArea("qq-fd-scope")
        defer { t.cleanup() }
        let path = t.write("f", "x")
        var raw: Int32 = -1
        do {
            let fd = try FileDescriptor.open(path, O_RDONLY).get()
            raw = fd.rawValue
            #expect(isOpen(raw, on: FileSystem.lstat(path)?.identity))
        }
        #expect(!isOpen(raw, on: FileSystem.lstat(path)?.identity))
    }

    @Test func closeReportsSuccessAndLeavesNothingOpen() throws {
        let t = WorkArea("qq-fd-close")
        defer { t.cleanup() }
        let path = t.write("f", "x")
        let fd = try FileDescriptor.open(path, O_WRONLY).get()
        let raw = fd.rawValue
        let closed = fd.close()
        #expect((try? closed.get()) != nil)
        #expect(!isOpen(raw, on: FileSystem.lstat(path)?.identity))
    }

    @Test func everyDescriptorIsCloseOnExec() throws {
        let fd = try FileDescriptor.open("/dev/null", O_RDONLY).get()
        #expect(fcntl(fd.rawValue, F_GETFD) & FD_CLOEXEC != 0)
    }

    @Test func anInterruptedCallIsMadeAgainAndOtherErrorsAreReturned() {
        var calls = 0
        let retried = retryingOnInterrupt { () -> Int32 in
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 7
        }
        #expect(calls == 3)
        #expect((try? retried.get()) == 7)
        let failed = retryingOnInterrupt { () -> Int32 in errno = EACCES; return -1 }
        guard case .failure(let e) = failed else { Issue.record("expected a failure"); return }
        #expect(e.code == EACCES)
    }

    @Test func theDirectoryReaderGivesByteNamesWithTheirTypeWithoutDotEntries() throws {
        let t = WorkArea("qq-dirreader")
        defer { t.cleanup() }
        t.write("d/file", "x")
        t.makeDirs(t.file("d/sub"))
        let odd = PathBytes("d/caf".utf8) + [0xE9]  // not UTF-8: must survive as bytes
        let made = withCName(PathBytes((t.path + "/").utf8) + odd) { open($0, O_WRONLY | O_CREAT, 0o644) }
        close(made)
        let entries = try DirectoryReader.entries(atPath: t.file("d")).get()
        let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.type) })
        #expect(Set(byName.keys) == [PathBytes("file".utf8), PathBytes("sub".utf8), PathBytes("caf".utf8) + [0xE9]])
        #expect(byName[PathBytes("sub".utf8)] == UInt8(DT_DIR))
        #expect(byName[PathBytes("file".utf8)] == UInt8(DT_REG))
    }

    @Test func aDirectoryOpenRefusesASymlinkUnlessTheLastComponentMayBeFollowed() {
        let t = WorkArea("qq-opendir-link")
        defer { t.cleanup() }
        t.makeDirs(t.file("real"))
        symlink(t.file("real"), t.file("link"))
        guard case .failure(let e) = FileDescriptor.openDirectory(t.file("link")) else {
            Issue.record("a symlink was opened as a directory"); return
        }
        #expect(e.code == ELOOP || e.code == ENOTDIR)
        #expect((try? FileDescriptor.openDirectory(t.file("link"), followLast: true).get()) != nil)
    }
}
