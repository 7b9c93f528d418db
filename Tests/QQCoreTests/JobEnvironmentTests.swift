// Issue 14 without a scheduler: how the env-script, env, interpreter, container and
// prologue/epilogue options are read, how the interpreter is split, which argument vector starts
// the user's code, and how the state file records them. The jobs themselves run on real Slurm in
// SlurmJobEnvironmentTests.

import Glibc
import Testing
@testable import QQCore

@Suite struct ShellWordsTests {
    @Test("An interpreter with arguments is split at blanks: 'python3 -u' -> [python3, -u]")
    func blanksSeparateWords() throws {
        #expect(try ShellWords.split("python3 -u") == ["python3", "-u"])
        #expect(try ShellWords.split("  /opt/x/bin/bash\t--norc  ") == ["/opt/x/bin/bash", "--norc"])
    }

    @Test("Quotes and backslashes work as in a shell, and nothing is expanded")
    func quotesAndBackslashes() throws {
        #expect(try ShellWords.split(#"env "A=two words" 'B=$HOME *' C=a\ b"#) == ["env", "A=two words", "B=$HOME *", "C=a b"])
        #expect(try ShellWords.split(#""say \"hi\" \$x" it'"'s"#) == [#"say "hi" $x"#, #"it"s"#])
        #expect(try ShellWords.split(#"a"b"'c' "" x"#) == ["abc", "", "x"])
        #expect(try ShellWords.split("$PATH *") == ["$PATH", "*"])
    }

    @Test("An unterminated quote is an error, not a guess")
    func unterminatedQuoteIsAnError() {
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split("python3 'unterminated") }
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split(#"bash "-c"#) }
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split(#"x\"#) }
    }
}

@Suite struct JobEnvironmentOptionsTests {
    static let script = """
        #!/usr/bin/env -S qq-run
        # qq env-script=setup.sh
        # qq env A=1
        # qq env=B="two words" C=3
        # qq env A=one
        # qq container image.sif
        # qq container-mounts=/cvmfs, /project:/p:ro
        # qq prologue=tar xf in.tar
        # qq epilogue tar cf out.tar results
        echo run
        """

    @Test("Directives in both forms set every option; a repeated env adds, the same name is replaced")
    func directivesSetTheOptions() {
        let o = JobEnvironmentOptions.read(directives: Directives.parse(scriptText: Self.script), environment: Environment())
        #expect(o.envScript == "setup.sh")
        #expect(o.variables == ["B=two words", "C=3", "A=one"])
        #expect(o.container == "image.sif")
        #expect(o.containerMounts == ["/cvmfs", "/project:/p:ro"])
        #expect(o.prologue == "tar xf in.tar")
        #expect(o.epilogue == "tar cf out.tar results")
    }

    @Test("QQ_OPT_<NAME> wins over the directive; QQ_OPT_ENV replaces only the names it gives")
    func environmentOverridesDirectives() {
        let env = Environment(["QQ_OPT_ENV_SCRIPT": "/site/setup.sh", "QQ_OPT_ENV": "A=from-env D=4",
                               "QQ_OPT_CONTAINER_MOUNTS": "/scratch", "QQ_OPT_CONTAINER_RUNTIME": "singularity"])
        let o = JobEnvironmentOptions.read(directives: Directives.parse(scriptText: Self.script), environment: env)
        #expect(o.envScript == "/site/setup.sh")
        #expect(o.variables == ["B=two words", "C=3", "A=from-env", "D=4"])
        #expect(o.containerMounts == ["/scratch"])
        #expect(o.containerRuntime == "singularity")
        #expect(o.container == "image.sif")
    }

    @Test("qq-managed mode (no directives) takes the options from QQ_OPT_* only")
    func managedModeReadsTheEnvironmentOnly() {
        let o = JobEnvironmentOptions.read(directives: Directives(), environment: Environment(["QQ_OPT_PROLOGUE": "make"]))
        #expect(o == JobEnvironmentOptions(prologue: "make"))
    }

    @Test("An env entry without '=' or with a bad name, or one naming a QQ_* variable qq-run sets, is ignored")
    func badEnvEntriesAreIgnored() {
        let d = Directives.parse(scriptText: "#!/bin/bash\n# qq env=NOEQUALS 1X=2 QQ_WORK_DIR=/x OK_1=yes\n")
        #expect(JobEnvironmentOptions.read(directives: d, environment: Environment()).variables == ["OK_1=yes"])
    }

    @Test("Plain mode knows the new keys: no 'Unknown qq directive' warning for them")
    func plainModeKnowsTheKeys() {
        for key in ["env_script", "env", "container", "container_mounts", "container_runtime", "prologue", "epilogue"] {
            #expect(JobEnvironmentOptions.directiveKeys.contains(key))
        }
    }
}

@Suite struct ScriptLaunchTests {
    func inputs(_ area: WorkArea, _ options: JobEnvironmentOptions, interpreter: String = "bash") -> ScriptLaunch.Inputs {
        ScriptLaunch.Inputs(interpreter: interpreter, options: options, script: "/spool/job9/slurm_script",
                            scriptArguments: ["a 1", "b"], workDir: area.file("wd"), path: area.file("bin") + ":/usr/bin:/bin",
                            host: "node1")
    }

    @Test("interpreter 'python3 -u': argv is the resolved python3, -u, the script, its arguments")
    func interpreterWithArguments() throws {
        let area = WorkArea(); defer { area.cleanup() }
        let python = area.write("bin/python3", "#!/bin/sh\n", mode: 0o755)
        let launch = try ScriptLaunch.plan(inputs(area, JobEnvironmentOptions(), interpreter: "python3 -u"))
        #expect(launch.executable == python)
        #expect(launch.arguments == ["-u", "/spool/job9/slurm_script", "a 1", "b"])
        #expect(!launch.reportsEnvScript)
    }

    @Test("container=image.sif: apptainer exec --bind <work dir>,<mounts>,<script outside it> image.sif <interpreter> <script>")
    func containerVector() throws {
        let area = WorkArea(); defer { area.cleanup() }
        let apptainer = area.write("bin/apptainer", "#!/bin/sh\n", mode: 0o755)
        area.write("wd/image.sif", "")
        let o = JobEnvironmentOptions(container: "image.sif", containerMounts: ["/cvmfs", "/project"])
        let launch = try ScriptLaunch.plan(inputs(area, o, interpreter: "python3 -u"))
        #expect(launch.executable == apptainer)
        #expect(launch.arguments == ["exec", "--bind", "\(area.file("wd")),/cvmfs,/project,/spool/job9/slurm_script", "image.sif",
                                     "python3", "-u", "/spool/job9/slurm_script", "a 1", "b"])
    }

    @Test("Only singularity installed: the container runs with singularity")
    func singularityWhenApptainerIsMissing() throws {
        let area = WorkArea(); defer { area.cleanup() }
        let singularity = area.write("bin/singularity", "#!/bin/sh\n", mode: 0o755)
        area.write("wd/image.sif", "")
        var i = inputs(area, JobEnvironmentOptions(container: "image.sif"))
        i.path = area.file("bin")
        #expect(try ScriptLaunch.plan(i).executable == singularity)
    }

    @Test("A missing container image is error 91 naming the path it looked for")
    func missingImageIsAnError() {
        let area = WorkArea(); defer { area.cleanup() }
        area.write("bin/apptainer", "#!/bin/sh\n", mode: 0o755)
        do {
            _ = try ScriptLaunch.plan(inputs(area, JobEnvironmentOptions(container: "missing.sif")))
            Issue.record("planned a launch without its image")
        } catch {
            #expect(error.exitStatus.code == 91)
            #expect(error.description.contains("Container image 'missing.sif' does not exist on node 'node1'"))
        }
    }

    @Test("env-script: bash -c <wrapper> qq-run-env <work dir>/setup.sh, then the whole command as separate arguments")
    func envScriptWrapsTheCommand() throws {
        let area = WorkArea(); defer { area.cleanup() }
        area.write("wd/setup.sh", "export X=1\n")
        area.write("wd/image.sif", "")
        let o = JobEnvironmentOptions(envScript: "setup.sh", container: "image.sif")
        let launch = try ScriptLaunch.plan(inputs(area, o, interpreter: "python3 -u"))
        #expect(launch.executable.hasSuffix("/bash"))
        #expect(launch.reportsEnvScript)
        // Nothing is resolved before the env script ran: it may load the runtime's module.
        #expect(launch.arguments == ["-c", ScriptLaunch.wrapper, "qq-run-env", area.file("wd/setup.sh"),
                                     "apptainer", "exec", "--bind", "\(area.file("wd")),/spool/job9/slurm_script", "image.sif",
                                     "python3", "-u", "/spool/job9/slurm_script", "a 1", "b"])
    }

    @Test("A missing env script is error 91 that says it is taken relative to the work dir")
    func missingEnvScriptIsAnError() {
        let area = WorkArea(); defer { area.cleanup() }
        do {
            _ = try ScriptLaunch.plan(inputs(area, JobEnvironmentOptions(envScript: "setup.sh")))
            Issue.record("planned a launch without its env script")
        } catch {
            #expect(error.exitStatus.code == 91)
            #expect(error.description.contains("Env script 'setup.sh' does not exist") && error.description.contains("relative to the work dir"))
        }
    }

    @Test("The wrapper's report: 'ok' means the script started; otherwise the error names the env script and its code")
    func envScriptReport() {
        func failure(_ report: String, _ code: Int?) -> String? {
            ScriptLaunch.envScriptFailure(report: report, exitCode: code, envScript: "setup.sh", command: "python3",
                                          host: "n1", stderrFile: "job.err")
        }
        #expect(failure("ok\n", 5) == nil)
        #expect(failure("failed 3\n", 1)?.contains("Env script 'setup.sh' failed with exit code 3; the script was not run") == true)
        #expect(failure("missing\n", 127)?.contains("'python3' is not available on node 'n1' after sourcing the env script") == true)
        #expect(failure("", 143)?.contains("(exit code 143)") == true)
    }
}

@Suite struct JobEnvironmentStateFileTests {
    func record() -> InfoRecord {
        var r = InfoRecord(batchSystem: .slurm, qqVersion: "0.1.0", username: "u", jobID: "7", jobName: "job.sh",
                           scriptName: "job.sh", queue: "debug", inputMachine: "h", inputDir: "/in", jobState: .finished,
                           submissionTime: Timestamp.now(), stdoutFile: "job.out", stderrFile: "job.err")
        r.envScript = "setup.sh"
        r.envVariables = ["A=1", "B=two words"]
        r.container = "/appl/local/containers/x.sif"
        r.containerMounts = ["/project", "/cvmfs"]
        r.prologue = "tar xf in.tar"
        r.prologueExitCode = 0
        r.epilogue = "tar cf out.tar results"
        r.epilogueExitCode = 4
        return r
    }

    @Test("The fields are written after the other extension fields and read back unchanged")
    func fieldsRoundTrip() throws {
        let text = InfoFileCodec.encode(record())
        #expect(text.contains("""
            env_script: 'setup.sh'
            env:
            - 'A=1'
            - 'B=two words'
            container: '/appl/local/containers/x.sif'
            container_mounts:
            - '/project'
            - '/cvmfs'
            prologue: 'tar xf in.tar'
            prologue_exit_code: 0
            epilogue: 'tar cf out.tar results'
            epilogue_exit_code: 4
            """))
        #expect(try InfoFileCodec.decode(text, path: "t") == record())
    }

    @Test("A malformed field is ignored; the rest of the file is read")
    func malformedFieldsAreIgnored() throws {
        let text = InfoFileCodec.encode(record()).replacingAll("prologue_exit_code: 0", with: "prologue_exit_code: 'zero'")
            .replacingAll("env:\n- 'A=1'\n- 'B=two words'", with: "env: {a: 1}")
        let r = try InfoFileCodec.decode(text, path: "t")
        #expect(r.prologueExitCode == nil)
        #expect(r.envVariables.isEmpty)
        #expect(r.epilogueExitCode == 4)
        #expect(r.envScript == "setup.sh")
    }

    @Test("qq-info shows an ENVIRONMENT section with each option and the exit codes")
    func panelShowsTheEnvironment() {
        var r = record()
        r.interpreter = "python3 -u"
        let rows = InfoPanel.environmentRows(r).map { "\($0.key) \($0.value)" }
        #expect(rows == ["Env script: setup.sh", "Variables: A=1 B=two words",
                         "Container: /appl/local/containers/x.sif (mounts /project,/cvmfs)", "Interpreter: python3 -u",
                         "Prologue: tar xf in.tar (exit code 0)", "Epilogue: tar cf out.tar results (exit code 4)"])
    }

    @Test("A job without any of these options has no ENVIRONMENT section")
    func noSectionWithoutOptions() {
        var r = record()
        r.envScript = nil; r.envVariables = []; r.container = nil; r.prologue = nil; r.epilogue = nil
        r.interpreter = "python3"
        #expect(InfoPanel.environmentRows(r).isEmpty)
    }
}
