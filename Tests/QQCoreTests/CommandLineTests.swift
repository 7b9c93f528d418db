import Glibc
import Testing
@testable import QQCore

/// The argument scanner every tool reads its command line with, and the exit statuses they share.

private func words(_ arguments: [String], flags: Set<String> = ["-y", "--yes", "--help"], valued: Set<String> = ["--older-than"],
                   optionsEndAtFirstPositional: Bool = false) throws(ArgumentScanner.Problem) -> [ArgumentScanner.Word] {
    var scanner = ArgumentScanner(arguments, flags: flags, valued: valued, optionsEndAtFirstPositional: optionsEndAtFirstPositional)
    var out: [ArgumentScanner.Word] = []
    while let w = try scanner.next() { out.append(w) }
    return out
}

@Suite struct CommandLineTests {
    @Test func flagsOptionsAndPositionalsComeInTheOrderGiven() throws {
        #expect(try words(["a", "-y", "--older-than", "7d", "b", "--yes"])
                == [.positional("a"), .flag("-y"), .option("--older-than", value: "7d"), .positional("b"), .flag("--yes")])
    }

    @Test func anOptionTakesItsValueAfterAnEqualsSign() throws {
        #expect(try words(["--older-than=12h"]) == [.option("--older-than", value: "12h")])
        #expect(try words(["--older-than="]) == [.option("--older-than", value: "")])
    }

    @Test func aRepeatedOptionIsReadEachTime() throws {
        #expect(try words(["--older-than", "1d", "--older-than", "2d"])
                == [.option("--older-than", value: "1d"), .option("--older-than", value: "2d")])
    }

    @Test func doubleDashMakesEveryLaterWordPositional() throws {
        #expect(try words(["--", "--yes", "-", "--"]) == [.positional("--yes"), .positional("-"), .positional("--")])
    }

    @Test func aLoneDashIsAPath() throws {
        #expect(try words(["-"]) == [.positional("-")])
    }

    @Test func anUnknownOptionIsNamedInTheError() {
        #expect(throws: ArgumentScanner.Problem.unknownOption("--bogus")) { try words(["a", "--bogus"]) }
        #expect(throws: ArgumentScanner.Problem.unknownOption("--bogus=1")) { try words(["--bogus=1"]) }
        #expect(ArgumentScanner.Problem.unknownOption("--bogus").description == "unrecognized option '--bogus'")
    }

    @Test func shortFlagsDoNotCombine() {
        #expect(throws: ArgumentScanner.Problem.unknownOption("-yy")) { try words(["-yy"]) }
    }

    @Test func anOptionWithoutItsValueIsAnError() {
        #expect(throws: ArgumentScanner.Problem.missingValue(option: "--older-than")) { try words(["--older-than"]) }
        #expect(ArgumentScanner.Problem.missingValue(option: "--older-than").description == "--older-than needs a value")
    }

    @Test func aFlagGivenAValueIsAnErrorNotTheFlag() {
        #expect(throws: ArgumentScanner.Problem.unexpectedValue(option: "--yes", value: "no")) { try words(["--yes=no"]) }
    }

    @Test func optionsCanEndAtTheFirstPositional() throws {
        #expect(try words(["--yes", "job.sh", "--yes", "--bogus"], optionsEndAtFirstPositional: true)
                == [.flag("--yes"), .positional("job.sh"), .positional("--yes"), .positional("--bogus")])
    }

    @Test func theUsageErrorNamesTheToolTheProblemAndTheUsage() {
        let message = ArgumentScanner.Problem.unknownOption("--bogus").message(tool: "qq-clear", usage: QQClearCommand.usage)
        #expect(message == "qq-clear: error: unrecognized option '--bogus'\n" + QQClearCommand.usage + "\n")
    }

    // qq-run (R73a): exit 92 with "Unknown option '<opt>'.", now followed by the usage line.
    @Test func qqRunsUnknownOptionMessageShowsTheUsage() {
        let message = RunnerArguments.message(for: .unknownOption("--nope"))
        #expect(message.hasPrefix("Unknown option '--nope'. "))
        #expect(message.contains("Usage: qq-run [--local] SCRIPT [ARGS...]"))
    }

    @Test func qqRunTakesTheWordsAfterTheScriptUnchanged() throws {
        let a = try RunnerArguments.parse(["-h", "--", "-job.sh", "--", "x"])
        #expect(a.help)
        #expect(a.script == "-job.sh")
        #expect(a.scriptArguments == ["--", "x"])
    }

    @Test func exitStatusesAreTheNumbersOfSection9() {
        let table: [(QQCore.ExitStatus, Int32)] = [(.success, 0), (.usage, 2), (.notInBatchJob, 90), (.failed, 91), (.fatal, 92),
                                            (.foreign, 93), (.internalError, 99), (.cannotExecute, 127), (.signal(SIGTERM), 143),
                                            (.script(3), 3)]
        for (status, code) in table { #expect(status.code == code) }
        #expect(RunFailure.foreign("x").exitStatus == .foreign)
        #expect(RunFailure.terminated(SIGINT).exitStatus.code == 130)
    }
}

private let builtBench = repositoryRoot + "/.build/debug/qq-bench"

/// qq-bench reads its command line with the same scanner; a mistake must stop it before it builds
/// gigabytes of trees.
@Suite(.enabled(if: access(builtBench, X_OK) == 0, "build the binaries first ('swift build')"))
struct BenchCommandLineTests {
    @Test func aDiagnosticWithoutItsSecondPathStartsNothing() {
        let area = WorkArea("qq-bench-args")
        defer { area.cleanup() }
        let dir = area.file("trees")
        let r = Command.run([builtBench, "--dir", dir, "--qq-run", "/nonexistent", "--stage-in", area.path],
                            environment: ["PATH": "/usr/bin:/bin"], timeout: 20)
        #expect(r.exitCode == 2)
        #expect(r.stderr.contains("qq-bench: error: --stage-in needs a value"), Comment(rawValue: r.stderr))
        #expect(!area.exists("trees"))
    }

    @Test func aRunCountThatIsNotANumberIsAUsageError() {
        let area = WorkArea("qq-bench-args")
        defer { area.cleanup() }
        let r = Command.run([builtBench, "--dir", area.file("trees"), "--qq-run", "/nonexistent", "--runs", "1O"],
                            environment: ["PATH": "/usr/bin:/bin"], timeout: 20)
        #expect(r.exitCode == 2)
        #expect(r.stderr.contains("--runs needs a whole number"), Comment(rawValue: r.stderr))
        #expect(!area.exists("trees"))
    }
}
