// Issue 8 item 11: a corrupt info file in the way of a plain-mode job is called corrupt, not
// "belongs to job 'unknown'", and is kept as it was. Needs only the built binaries.

import Glibc
import Testing
@testable import QQCore

@Suite("Plain mode: a corrupt info file in the way", .enabled(if: SlurmCluster.shouldRunLocal, "qq-run is not built (.build/debug/qq-run)"))
struct CorruptInfoFileMessageTests {
    @Test("qq-run --local beside a corrupt job.qqinfo says it is corrupt, keeps it and uses another name")
    func corruptInfoFileIsNamedCorrupt() throws {
        let dirs = try TestDirs("corrupt-info")
        try dirs.put("job.sh", "#!/usr/bin/env -S qq-run\necho ran\n")
        let corrupt = "job_id: [\nnot yaml at all\n"
        try dirs.put("job.qqinfo", corrupt)
        var env = try SlurmCluster.baseEnvironment(for: .current)
        env["QQ_SCRATCH_ROOT"] = dirs.scratch
        let run = Command.run(["qq-run", "--local", "job.sh"], environment: env, cwd: dirs.input, timeout: 60)
        let why = Comment(rawValue: "\(run)\ninput dir: \(Files.list(dirs.input))")
        #expect(run.exitCode == 0, why)
        #expect(!run.stderr.contains("belongs to job 'unknown'"), why)
        #expect(run.stderr.contains("Info file '\(dirs.input)/job.qqinfo' is corrupt or unreadable ("), why)
        #expect(run.stderr.contains("it is kept untouched and this job uses '\(dirs.input)/job_"), why)
        #expect(run.stderr.contains("Check it, and remove it if no job uses it."), why)
        #expect(Files.read("\(dirs.input)/job.qqinfo") == corrupt, why)
    }
}
