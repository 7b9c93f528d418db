import Testing
@testable import QQCore

@Suite struct DirectiveTests {
    @Test func directivesAreReadAfterTheShebangUntilTheFirstCommand() {
        let d = Directives.parse(scriptText: """
            #!/usr/bin/env -S qq-run
            #SBATCH --time=1:00:00
            # qq work-dir=input_dir

            #qq Interpreter python3
            # qq exclude big_data, tmp/*.log   # not needed
            echo hello
            # qq transfer-mode always
            """)
        #expect(d["work_dir"] == "input_dir")
        #expect(d["interpreter"] == "python3")
        #expect(d["exclude"] == "big_data, tmp/*.log")
        #expect(d["transfer_mode"] == nil)
    }

    @Test func keysAreNormalisedAsQQSubmitDoes() {
        #expect(Directives.normalizeKey("work-dir") == "work_dir")
        #expect(Directives.normalizeKey("WorkDir") == "work_dir")
        #expect(Directives.normalizeKey("transferMode") == "transfer_mode")
        #expect(Directives.normalizeKey("worksize") == "work_size")
        #expect(Directives.normalizeKey("ncpus") == "ncpus")
    }

    @Test func aDirectiveWithoutValueIsReportedAsMalformed() {
        let d = Directives.parse(scriptText: "#!/bin/bash\n# qq work-dir\n")
        #expect(d.values.isEmpty)
        #expect(d.malformed == ["# qq work-dir"])
    }

    @Test func aLaterDirectiveOverridesAnEarlierOne() {
        let d = Directives.parse(scriptText: "#!/bin/bash\n# qq transfer-mode success\n# qq transfer_mode=always\n")
        #expect(d["transfer_mode"] == "always")
    }

    @Test func listOptionsSplitOnColonsCommasAndBlanks() {
        #expect(splitListOption("success:42, failure  always") == ["success", "42", "failure", "always"])
    }
}

@Suite struct TransferPolicyTests {
    /// SPEC R98's truth table.
    @Test(arguments: [
        (0, ["success"], true), (1, ["success"], false), (42, ["success"], false), (137, ["success"], false),
        (0, ["failure"], false), (1, ["failure"], true), (42, ["failure"], true), (137, ["failure"], true),
        (0, ["always"], true), (1, ["always"], true), (42, ["always"], true), (137, ["always"], true),
        (0, ["never"], false), (1, ["never"], false), (42, ["never"], false), (137, ["never"], false),
        (0, ["42"], false), (1, ["42"], false), (42, ["42"], true), (137, ["42"], false),
    ])
    func transferDecisionFollowsTheTable(rc: Int, modes: [String], expected: Bool) {
        #expect(TransferPolicy(modes).transfers(exitCode: rc) == expected)
    }

    @Test func neverDoesNotVetoOtherModes() {
        #expect(TransferPolicy(["never", "success"]).transfers(exitCode: 0))
    }

    @Test func negativeCodesAreReadAsSignals() {
        #expect(TransferPolicy(["-9"]).transfers(exitCode: 137))
    }

    @Test func unknownTokensAreIgnoredAndAnEmptyPolicyIsSuccess() {
        let p = TransferPolicy(["sometimes"])
        #expect(p.ignored == ["sometimes"])
        #expect(p.transfers(exitCode: 0))
        #expect(!p.transfers(exitCode: 1))
    }

    @Test func onlyExactlyNeverDisablesTheRescue() {
        #expect(TransferPolicy(["never"]).isExactlyNever)
        #expect(!TransferPolicy(["never", "failure"]).isExactlyNever)
    }
}

@Suite struct NamingTests {
    @Test(arguments: [("run.sh", "run.qqinfo"), ("md+0003.sh", "md+0003.qqinfo"), ("my.job.sh", "my.job.qqinfo"),
                      ("run", "run.qqinfo"), ("job_3_1.sh", "job_3_1.qqinfo"), (".hidden", ".hidden.qqinfo")])
    func suffixReplacementIsPythonsWithSuffix(name: String, expected: String) {
        #expect(replacingSuffix(of: name, with: ".qqinfo") == expected)
    }

    @Test func arrayTaskNamesInsertIdsBeforeTheFirstDot() {
        #expect(insertingBeforeFirstDot("job.sh", "_3_1") == "job_3_1.sh")
        #expect(insertingBeforeFirstDot("my.job.sh", "_3_1") == "my_3_1.job.sh")
        #expect(insertingBeforeFirstDot("job", "_3_1") == "job_3_1")
    }

    @Test func workDirNamesReplaceUnsafeCharacters() {
        #expect(WorkDirLayout.jobDirName("1234567.pbs-m1.metacentrum.cz") == "job_1234567.pbs-m1.metacentrum.cz")
        #expect(WorkDirLayout.jobDirName("3_1 x/y") == "job_3_1_x_y")
    }

    @Test func walltimesParseEveryAcceptedForm() {
        #expect(parseWalltime("48:00:00") == 172800)
        #expect(parseWalltime("1-02:00:00") == 93600)
        #expect(parseWalltime("1h30m") == 5400)
        #expect(parseWalltime("2d") == 172800)
        #expect(parseWalltime("1w") == 604800)
        #expect(parseWalltime("90m") == 5400)
        #expect(parseWalltime("soon") == nil)
        #expect(formatWalltime(seconds: 1800) == "0:30:00")
        #expect(formatWalltime(seconds: 172800) == "48:00:00")
    }

    @Test func slurmCPUListsAreSummed() {
        #expect(sumSlurmCPUs("128(x2),64") == 320)
        #expect(sumSlurmCPUs("1") == 1)
        #expect(sumSlurmCPUs("x") == nil)
    }

    @Test func optionsStopAtTheScriptPath() throws {
        let a = try RunnerArguments.parse(["--local", "job.sh", "--local", "-x"])
        #expect(a.local)
        #expect(a.script == "job.sh")
        #expect(a.scriptArguments == ["--local", "-x"])
        #expect(throws: ArgumentScanner.Problem.unknownOption("--nope")) { try RunnerArguments.parse(["--nope", "job.sh"]) }
        #expect(try RunnerArguments.parse(["--", "-weird.sh"]).script == "-weird.sh")
    }

    @Test func retryDelaysGrowExponentiallyUpToTheMaximum() {
        let p = RetryPolicy(attempts: 8, initialDelay: 1, maxDelay: 60, total: 300)
        #expect((1...8).map { p.baseDelay(afterAttempt: $0) } == [1, 2, 4, 8, 16, 32, 60, 60])
    }

    @Test func retriesStopAfterTheAttempts() {
        struct Flaky: Error {}
        var calls = 0
        let p = RetryPolicy(attempts: 3, initialDelay: 0.001, maxDelay: 0.001, total: 10)
        #expect(throws: Flaky.self) { try p.run { () throws(Flaky) -> Int in calls += 1; throw Flaky() } }
        #expect(calls == 3)
    }
}

@Suite struct KillWaitTests {
    @Test func killWaitIsReadFromScontrolShowConfig() {
        let text = "Configuration data as of 2026-11-21T04:41:19\nJobCompType             = jobcomp/filetxt\nKillWait                = 5 sec\nKillOnBadExit           = 0\n"
        #expect(parseKillWait(showConfig: text) == 5)
        #expect(parseKillWait(showConfig: "KillOnBadExit = 0\n") == nil)
    }
}
