import Glibc
import Testing
@testable import QQCore

/// The `qq` front command (R13–R16), run as the built binary: exec without fork, own directory
/// first, delegation with the pid guard.
private let builtQQ = SlurmCluster.repoRoot + "/.build/debug/qq"

/// A directory with a copy of the built `qq` in `bin/`.
private struct FrontWorld: ~Copyable {
    let dir = TempDir()
    var bin: String { dir.path + "/bin" }
    var qq: String { bin + "/qq" }
    init() {
        mkdir(dir.path + "/bin", 0o755)
        runShell("cp '\(builtQQ)' '\(dir.path)/bin/qq'")
    }
    func script(_ path: String, _ body: String) {
        writeText(path, "#!/bin/sh\n" + body + "\n", mode: 0o755)
    }
    /// Runs `sh -c 'echo $$; exec <qq> args'` so the output starts with the pid qq was started as.
    func run(_ args: [String], path: String = "/usr/bin:/bin", env: [String: String] = [:]) -> CommandResult {
        var e = ["PATH": path]
        for (k, v) in env { e[k] = v }
        return Command.run(["/bin/sh", "-c", "echo $$; exec \"$@\"", "sh", qq] + args, environment: e, timeout: 20)
    }
}

private func lines(_ r: CommandResult) -> [String] { r.stdout.split(separator: "\n").map(String.init) }

@Suite(.serialized, .enabled(if: access(builtQQ, X_OK) == 0, "build the binaries first ('swift build')"))
struct FrontCommandTests {
    @Test func helpListsTheSubcommandsAndExits0() {
        let w = FrontWorld()
        let r = w.run(["--help"])
        #expect(r.exitCode == 0)
        for sub in ["run", "info", "wipe", "clear"] { #expect(r.stdout.contains("\n  \(sub) ")) }
    }

    @Test func withoutArgumentsUsageGoesToStderrWithExit2() {
        let w = FrontWorld()
        let r = w.run([])
        #expect(r.exitCode == 2)
        #expect(r.stderr.contains("usage: qq <command>"))
    }

    @Test func versionPrintsTheProductVersion() {
        let w = FrontWorld()
        #expect(lines(w.run(["--version"])).last == "qq \(QQVersion.version)")
    }

    @Test func ownSubcommandExecsTheToolBesideQqWithTheSamePidAndArguments() {
        let w = FrontWorld()
        w.script(w.bin + "/qq-wipe", "echo \"$$|$0|$*|$MARK\"")
        let r = w.run(["wipe", "a b", "-y"], env: ["MARK": "kept"])
        let out = lines(r)
        #expect(r.exitCode == 0)
        #expect(out.count == 2 && out[1] == "\(out[0])|\(w.bin)/qq-wipe|a b -y|kept")
    }

    @Test func toolBesideQqWinsOverPath() {
        let w = FrontWorld()
        let other = w.dir.path + "/other"
        mkdir(other, 0o755)
        w.script(other + "/qq-clear", "echo path")
        w.script(w.bin + "/qq-clear", "echo beside")
        #expect(lines(w.run(["clear"], path: other + ":/usr/bin:/bin")).last == "beside")
    }

    @Test func toolOnPathIsUsedWhenNotBesideQq() {
        let w = FrontWorld()
        let other = w.dir.path + "/other"
        mkdir(other, 0o755)
        w.script(other + "/qq-clear", "echo path")
        #expect(lines(w.run(["clear"], path: other + ":/usr/bin:/bin")).last == "path")
    }

    @Test func missingToolIsExit127WithTheMessage() {
        let w = FrontWorld()
        let r = w.run(["info"])
        #expect(r.exitCode == 127)
        #expect(r.stderr.hasPrefix("qq: cannot execute 'qq-info': "))
    }

    @Test func otherSubcommandGoesToQQ_DELEGATEWithTheFrontsPid() {
        let w = FrontWorld()
        let delegate = w.dir.path + "/python-qq"
        w.script(delegate, "echo \"$$|$*|$QQ_FRONT_DELEGATED\"")
        let out = lines(w.run(["submit", "-q", "debug", "job.sh"], env: ["QQ_DELEGATE": delegate]))
        #expect(out.count == 2 && out[1] == "\(out[0])|submit -q debug job.sh|\(out[0])")
    }

    @Test func otherSubcommandGoesToTheNextQqOnPathSkippingItself() {
        let w = FrontWorld()
        let alias = w.dir.path + "/alias", python = w.dir.path + "/python"
        mkdir(alias, 0o755); mkdir(python, 0o755)
        symlink(w.qq, alias + "/qq")   // the same file under another name: skipped
        w.script(python + "/qq", "echo \"python qq: $*\"")
        let r = w.run(["kill", "123"], path: "\(w.bin):\(alias):\(python):/usr/bin:/bin")
        #expect(lines(r).last == "python qq: kill 123")
    }

    @Test func delegationLoopIsStoppedByThePidGuard() {
        let w = FrontWorld()
        let r = w.run(["submit", "x"], env: ["QQ_DELEGATE": w.qq])
        #expect(r.exitCode == 2)
        #expect(r.stderr == "qq: 'submit' is not provided by this installation (it is part of the Python qq).\n")
    }

    @Test func aForeignGuardValueIsIgnored() {
        let w = FrontWorld()
        let delegate = w.dir.path + "/python-qq"
        w.script(delegate, "echo delegated")
        let r = w.run(["jobs"], env: ["QQ_DELEGATE": delegate, "QQ_FRONT_DELEGATED": "1"])
        #expect(lines(r).last == "delegated")
    }

    @Test func withoutADelegateTheSubcommandIsNotProvided() {
        let w = FrontWorld()
        let r = w.run(["stat"])
        #expect(r.exitCode == 2)
        #expect(r.stderr == "qq: 'stat' is not provided by this installation (it is part of the Python qq).\n")
    }
}
