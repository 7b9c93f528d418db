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
    /// Runs a tool by its path, as a user typing `qq-clear` would (argv[0] is the path).
    func runTool(_ tool: String, _ args: [String], env: [String: String]) -> CommandResult {
        var e = ["PATH": "/nonexistent"]
        for (k, v) in env { e[k] = v }
        return Command.run([tool] + args, environment: e, timeout: 20)
    }
}

private func lines(_ r: CommandResult) -> [String] { r.stdout.split(separator: "\n").map(String.init) }

private func builtTool(_ name: String) -> String { SlurmCluster.repoRoot + "/.build/debug/" + name }

/// The cleanup world's settings for a built tool; no scheduler on PATH, so no real job is asked.
private func toolEnvironment(_ world: borrowing CleanupWorld) -> [String: String] {
    ["QQ_BATCH_SYSTEM": "Slurm", "QQ_SCRATCH_ROOT": world.root, "USER": world.user, "QQ_CONFIG": "/nonexistent",
     "PWD": world.input]
}

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
        #expect(r.stderr == "qq: 'submit' is a command of the Python qq, and delegating it would run this qq again (QQ_DELEGATE or the next 'qq' on PATH leads back here). Install the Python qq after this qq on PATH, or set QQ_DELEGATE to its path. This installation provides: run, info, wipe, clear, sync.\n")
    }

    @Test func aForeignGuardValueIsIgnored() {
        let w = FrontWorld()
        let delegate = w.dir.path + "/python-qq"
        w.script(delegate, "echo delegated")
        let r = w.run(["jobs"], env: ["QQ_DELEGATE": delegate, "QQ_FRONT_DELEGATED": "1"])
        #expect(lines(r).last == "delegated")
    }

    @Test func withoutADelegateAPythonQqCommandSaysToInstallThePythonQq() {
        let w = FrontWorld()
        let r = w.run(["stat"])
        #expect(r.exitCode == 2)
        #expect(r.stderr == "qq: 'stat' is a command of the Python qq, and no Python qq was found (QQ_DELEGATE is not set and there is no other 'qq' on PATH). Install the Python qq after this qq on PATH, or set QQ_DELEGATE to its path. This installation provides: run, info, wipe, clear, sync.\n")
    }

    @Test func aDelegateThatIsNotAProgramIsNamed() {
        let w = FrontWorld()
        let r = w.run(["kill", "1"], env: ["QQ_DELEGATE": "/nonexistent/qq"])
        #expect(r.exitCode == 2)
        #expect(r.stderr.hasPrefix("qq: 'kill' is a command of the Python qq, and QQ_DELEGATE='/nonexistent/qq' is not an executable program. "))
    }

    @Test func anUnknownWordIsNotAQqCommandAndIsNotBlamedOnThePythonQq() {
        let w = FrontWorld()
        let r = w.run(["nonsense"])
        #expect(r.exitCode == 2)
        #expect(r.stderr == "qq: 'nonsense' is not a qq command. Commands of this installation: run, info, wipe, clear, sync; of the Python qq: submit, kill, go, cd, jobs, stat, nodes, queues, shebang, respawn. See 'qq --help'.\n")
    }

    // The hints of qq-clear and qq-wipe name the command the user typed (argv[0] from the front).

    @Test func qqClearThroughTheFrontSaysQqClearAndDirectlySaysQqDashClear() {
        let w = FrontWorld()
        let world = CleanupWorld()
        world.makeInfo("2", state: .finished) { $0.synchronized = true }
        runShell("cp '\(builtTool("qq-clear"))' '\(w.bin)/qq-clear'")
        let env = toolEnvironment(world)
        let front = w.run(["clear", world.input], path: "/nonexistent", env: env)
        #expect(front.stderr.contains("Rerun as 'qq clear --force' to clear them forcibly."), Comment(rawValue: front.description))
        let direct = w.runTool(w.bin + "/qq-clear", [world.input], env: env)
        #expect(direct.stderr.contains("Rerun as 'qq-clear --force' to clear them forcibly."), Comment(rawValue: direct.description))
    }

    @Test func qqWipeThroughTheFrontSaysQqWipeAndDirectlySaysQqDashWipe() {
        let w = FrontWorld()
        let world = CleanupWorld()
        world.makeWorkDir("42")
        let info = world.makeInfo("42", state: .finished) { $0.synchronized = false }
        runShell("cp '\(builtTool("qq-wipe"))' '\(w.bin)/qq-wipe'")
        let env = toolEnvironment(world)
        let front = w.run(["wipe", "-y", info], path: "/nonexistent", env: env)
        #expect(front.stderr.contains("Rerun as 'qq wipe --force' if sure."), Comment(rawValue: front.description))
        let direct = w.runTool(w.bin + "/qq-wipe", ["-y", info], env: env)
        #expect(direct.stderr.contains("Rerun as 'qq-wipe --force' if sure."), Comment(rawValue: direct.description))
    }
}
