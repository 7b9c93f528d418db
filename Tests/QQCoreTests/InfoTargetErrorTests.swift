// Issue 8, item 11 (qq-info part): a target that is not an info file, a directory or a job id is
// said to be what it is, and reading never blocks on a FIFO or floods on /dev/zero.

import Foundation
import Glibc
import Testing
@testable import QQCore

private func run(_ args: [String], _ system: CannedBatchSystem,
                 env: Environment = Environment(["QQ_BATCH_SYSTEM": "Slurm"])) -> (code: Int32, out: String) {
    let ctx = InfoContext(now: { 0 }, batchSystem: { _ in system }, loadInfo: testLoader)
    let (code, out, _) = QQInfoCommand.execute(arguments: ["--json"] + args, environment: env, context: ctx)
    return (code.code, out)
}

private func message(_ json: String) -> String? {
    guard let r = json.range(of: "\"message\": \"") else { return nil }
    let rest = json[r.upperBound...]
    return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
}

@Suite(.serialized) struct InfoTargetErrorTests {
    init() { Log.setLevel(.critical) }

    @Test func aFIFOTargetIsNamedAsAFIFOAndNotTakenForAJobID() {
        let dir = TempDir()
        let fifo = dir.file("fifo.qqinfo")
        #expect(mkfifo(fifo, 0o644) == 0)
        let system = CannedBatchSystem { _ in .notFound }
        let r = run([fifo], system)
        #expect(r.code == 91)
        #expect(message(r.out) == "'\(fifo)' is a FIFO (named pipe), not a qq info file. Give an info file (*.qqinfo), a directory or a job id.")
        #expect(system.calls.isEmpty)
    }

    @Test func aSymlinkToDevZeroIsNamedAsADevice() {
        let dir = TempDir()
        let link = dir.file("zero.qqinfo")
        #expect(symlink("/dev/zero", link) == 0)
        let system = CannedBatchSystem { _ in .notFound }
        let r = run([link], system)
        #expect(r.code == 91)
        #expect(message(r.out) == "'\(link)' is a symbolic link to a character device, not a qq info file. Give an info file (*.qqinfo), a directory or a job id.")
        #expect(system.calls.isEmpty)
    }

    @Test func aMissingInfoFilePathSaysItDoesNotExistWithoutAskingTheBatchSystem() {
        let dir = TempDir()
        let system = CannedBatchSystem { _ in .notFound }
        let r = run([dir.file("missing.qqinfo"), "sub/x"], system)
        #expect(r.code == 91)
        #expect(r.out.contains("\"message\": \"'\(dir.file("missing.qqinfo"))' does not exist. Give an info file (*.qqinfo), a directory or a job id.\""))
        #expect(r.out.contains("\"message\": \"'sub/x' does not exist. Give an info file (*.qqinfo), a directory or a job id.\""))
        #expect(system.calls.isEmpty)
    }

    @Test func aDanglingSymlinkIsNamedAsOne() {
        let dir = TempDir()
        let link = dir.file("gone.qqinfo")
        #expect(symlink(dir.file("nowhere"), link) == 0)
        let r = run([link], CannedBatchSystem { _ in .notFound })
        #expect(message(r.out) == "'\(link)' is a symbolic link to something that does not exist. Give an info file (*.qqinfo), a directory or a job id.")
    }

    @Test func aPlainJobIDIsStillResolvedThroughTheBatchSystem() {
        let system = CannedBatchSystem { _ in .notFound }
        let r = run(["4242"], system)
        #expect(message(r.out) == "Job '4242' does not exist.")
        #expect(system.calls == ["4242"])
    }

    @Test func aDirectoryScanSkipsFIFOsAndDevices() {
        let dir = TempDir()
        #expect(mkfifo(dir.file("fifo.qqinfo"), 0o644) == 0)
        #expect(symlink("/dev/zero", dir.file("zero.qqinfo")) == 0)
        writeText(dir.file("run.qqinfo"), readText(TestPaths.fixtures + "/info/finished-slurm.qqinfo") ?? "")
        let r = run([dir.path], CannedBatchSystem { _ in .notFound })
        #expect(r.code == 0)
        #expect(r.out.contains("\"job_id\": \"811\""))
    }

    /// The state-file reader itself refuses a FIFO at once: the open does not wait for a writer.
    /// (Before, it blocked until one came; the helper thread plays that writer after 2 s so the
    /// old code fails instead of hanging.)
    @Test func loadingAnInfoFileThatIsAFIFOFailsAtOnce() {
        let dir = TempDir()
        let fifo = dir.file("swapped.qqinfo")
        #expect(mkfifo(fifo, 0o644) == 0)
        let path = fifo
        startDetachedThread {
            usleep(2_000_000)
            let fd = open(path, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        let start = monotonicSeconds()
        var failure: InfoFileLoadError?
        do { _ = try InfoFile.load(path: fifo, tornReadRetries: 0) } catch { failure = error }
        #expect(monotonicSeconds() - start < 1)
        #expect(failure == .unreadable(SystemError(code: EINVAL, operation: "read", path: fifo)))
    }

    @Test func loadingDevZeroFailsWithoutReading() {
        let start = monotonicSeconds()
        var failure: InfoFileLoadError?
        do { _ = try InfoFile.load(path: "/dev/zero", tornReadRetries: 0) } catch { failure = error }
        #expect(monotonicSeconds() - start < 0.5)
        #expect(failure == .unreadable(SystemError(code: EINVAL, operation: "read", path: "/dev/zero")))
    }
}
