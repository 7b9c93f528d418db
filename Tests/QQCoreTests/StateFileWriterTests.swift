import Testing
@testable import QQCore

// The writer (R29–R33, R45) and encode → decode round trips.

private typealias S = StateFileTestSupport

@Test(arguments: StateFileTestSupport.fixtures())
func everyFixtureRoundTrips(path: String) throws {
    let first = try InfoFileCodec.decode(bytes: S.readBytes(path), path: path)
    let text = InfoFileCodec.encode(first)
    let second = try InfoFileCodec.decode(text, path: path)
    #expect(second == first)
    // The writer's own output is a fixed point.
    #expect(InfoFileCodec.encode(second) == text)
}

@Test(arguments: ["qqrun_killed_array.qqinfo", "qqrun_finished_loop.qqinfo"])
func qqRunStyleFileIsWrittenBackByteForByte(name: String) throws {
    // These fixtures are in the writer's exact layout, unknown keys included.
    let original = S.readText(S.fixture(name))
    let record = try InfoFileCodec.decode(original, path: name)
    #expect(InfoFileCodec.encode(record) == original)
}

@Test func unknownKeysAreWrittenBackAfterTheExtensionFields() throws {
    let text = S.readText(S.fixture("py_crlf_bom.qqinfo"))
    let written = InfoFileCodec.encode(try InfoFileCodec.decode(text, path: "x"))
    #expect(written.hasSuffix("transfer_mode:\n- 'success'\nx_note: kept\n  across lines\n\n"))
}

@Test func fileStartsWithHeaderAndEndsWithEmptyLine() {
    let text = InfoFileCodec.encode(sampleRecord())
    #expect(text.hasPrefix("# qq job info file\nbatch_system: 'Slurm'\n"))
    #expect(text.hasSuffix("synchronized: true\n\n"))
    #expect(!text.hasSuffix("\n\n\n"))
}

@Test func sampleRecordIsWrittenInQQLayout() {
    let expected = """
        # qq job info file
        batch_system: 'Slurm'
        qq_version: '1.0.0'
        username: 'jdoe'
        job_id: '2345678'
        job_name: 'run.sh'
        script_name: 'run.sh'
        queue: 'debug'
        job_type: 'standard'
        input_machine: 'login1'
        input_dir: '/users/jdoe/sim'
        job_state: 'finished'
        submission_time: '2025-03-14 09:26:53'
        stdout_file: 'run.out'
        stderr_file: 'run.err'
        resources:
          nnodes: 1
          ncpus: 8
          mem:
            value: 16777216
          walltime: '48:00:00'
          work_dir: 'scratch'
          props:
            cl_zia: 'true'
        transfer_mode:
        - 'success'
        start_time: '2025-03-14 09:30:00'
        main_node: 'node07'
        all_nodes:
        - 'node07'
        work_dir: '/scratch/jdoe/qq-jobs/job_2345678'
        completion_time: '2025-03-14 10:00:00'
        job_exit_code: 0
        runner: 'qq-run 1.0.0'
        runner_pid: 4711
        phase: 'done'
        stage_in:
          files: 3
          bytes: 4096
          seconds: 1.84
        stage_out:
          mode: 'transfer'
          files: 2
          bytes: 2048
          seconds: 12.0
        usage:
          max_rss: 1024
          user_cpu: 3.5
          sys_cpu: 0.25
        synchronized: true


        """
    #expect(InfoFileCodec.encode(sampleRecord()) == expected)
}

@Test func emptyResourcesAreWrittenAsFlowMapping() {
    var r = sampleRecord()
    r.resources = Resources()
    #expect(InfoFileCodec.encode(r).contains("\nresources: {}\n"))
}

@Test func absentFieldsAndEmptyListsAreOmitted() {
    var r = sampleRecord()
    r.allNodes = []
    r.mainNode = nil
    r.jobExitCode = nil
    let text = InfoFileCodec.encode(r)
    #expect(!text.contains("all_nodes"))
    #expect(!text.contains("main_node"))
    #expect(!text.contains("job_exit_code"))
    #expect(!text.contains("null"))
    #expect(!text.contains("excluded_files"))
}

@Test func explicitlyEmptyTransferModeIsKeptAsEmptyList() throws {
    var r = sampleRecord()
    r.transferMode = []
    let text = InfoFileCodec.encode(r)
    #expect(text.contains("\ntransfer_mode: []\n"))
    #expect(try InfoFileCodec.decode(text, path: "x").transferMode == [])
}

@Test func stringsAreSingleQuotedWithQuoteDoubled() {
    #expect(YAMLWriter.quote("it's") == "'it''s'")
    #expect(YAMLWriter.quote("") == "''")
    #expect(YAMLWriter.quote("~") == "'~'")
    #expect(YAMLWriter.quote("dlouhý název") == "'dlouhý název'")
    #expect(YAMLWriter.quote("say \"hi\" # not a comment") == "'say \"hi\" # not a comment'")
}

@Test func nonPrintableStringsAreDoubleQuotedWithEscapes() {
    #expect(YAMLWriter.quote("a\nb") == "\"a\\nb\"")
    #expect(YAMLWriter.quote("a\tb 'c' \"d\" \\") == "\"a\\tb 'c' \\\"d\\\" \\\\\"")
    #expect(YAMLWriter.quote("\u{1}\u{7F}\u{85}\u{9F}") == "\"\\x01\\x7F\\x85\\x9F\"")
    #expect(YAMLWriter.quote("\u{2028}\u{2029}\u{FEFF}\u{FFFE}\u{FFFF}") == "\"\\u2028\\u2029\\uFEFF\\uFFFE\\uFFFF\"")
    #expect(YAMLWriter.quote("\0\r") == "\"\\0\\r\"")
}

@Test func keysAreQuotedOnlyWhenNeeded() {
    #expect(YAMLWriter.formatKey("cl_zia") == "cl_zia")
    #expect(YAMLWriter.formatKey("_x9") == "_x9")
    #expect(YAMLWriter.formatKey("cl-zia") == "'cl-zia'")
    #expect(YAMLWriter.formatKey("Key") == "'Key'")
    #expect(YAMLWriter.formatKey("9lives") == "'9lives'")
    #expect(YAMLWriter.formatKey("") == "''")
    for word in ["y", "n", "yes", "no", "on", "off", "true", "false", "null"] {
        #expect(YAMLWriter.formatKey(word) == "'\(word)'")
    }
}

@Test func floatsHaveAPointAndAtMostThreeDecimals() {
    #expect(YAMLWriter.formatFloat(1.84) == "1.84")
    #expect(YAMLWriter.formatFloat(12) == "12.0")
    #expect(YAMLWriter.formatFloat(0.01) == "0.01")
    #expect(YAMLWriter.formatFloat(71234.5) == "71234.5")
    #expect(YAMLWriter.formatFloat(1.8456) == "1.846")
    #expect(YAMLWriter.formatFloat(0) == "0.0")
    #expect(YAMLWriter.formatFloat(-2.5) == "-2.5")
    #expect(YAMLWriter.formatFloat(0.0004) == "0.0")
    #expect(YAMLWriter.formatFloat(.nan) == "0.0")
    #expect(YAMLWriter.formatFloat(1e300) == "1.0e+300")
}

@Test func sequencesInsideMappingsAreIndentedLikeTheirKey() throws {
    let text = InfoFileCodec.encode(try InfoFileCodec.decode(S.readText(S.fixture("qqrun_killed_array.qqinfo")), path: "x"))
    #expect(text.contains("\n  not_copied_paths:\n  - 'traj/big.xtc'\n  - 'out/it''s.log'\n"))
    let loop = InfoFileCodec.encode(try InfoFileCodec.decode(S.readText(S.fixture("qqrun_finished_loop.qqinfo")), path: "x"))
    #expect(loop.contains("\n  archive_mode:\n  - 'success'\n"))
}

@Test func sizesAreWrittenAsKilobyteValue() throws {
    let r = try InfoFileCodec.decode(S.readText(S.fixture("mixed_sizes_flow.qqinfo")), path: "x")
    let text = InfoFileCodec.encode(r)
    #expect(text.contains("\n  mem:\n    value: 2097152\n"))
    #expect(text.contains("\n  mem_per_cpu:\n    value: 10240\n"))
    #expect(text.contains("\n  work_size_per_cpu:\n    value: 0\n"))
}

@Test func otherJobTypeTextIsKept() throws {
    var r = sampleRecord()
    r.jobType = .other("Custom")
    #expect(try InfoFileCodec.decode(InfoFileCodec.encode(r), path: "x").jobType == .other("Custom"))
}

// MARK: - Marker (R45)

private func markerExample() -> WorkDirMarker {
    WorkDirMarker(jobID: "2345678", infoFile: "/users/jdoe/md/md.qqinfo", inputDir: "/users/jdoe/md",
                  batchSystem: .slurmIT4I, cluster: "karolina", mainNode: "cn123.karolina.it4i.cz",
                  created: Timestamp(year: 2025, month: 3, day: 14, hour: 10, minute: 1, second: 2),
                  runner: "qq-run 1.0.0")
}

@Test func markerIsWrittenAsInR45() {
    let expected = """
        # qq-run work directory marker
        job_id: '2345678'
        info_file: '/users/jdoe/md/md.qqinfo'
        input_dir: '/users/jdoe/md'
        batch_system: 'SlurmIT4I'
        cluster: 'karolina'
        main_node: 'cn123.karolina.it4i.cz'
        created: '2025-03-14 10:01:02'
        runner: 'qq-run 1.0.0'

        """
    #expect(InfoFileCodec.encodeMarker(markerExample()) == expected)
}

@Test func markerRoundTrips() throws {
    var m = markerExample()
    #expect(try InfoFileCodec.decodeMarker(InfoFileCodec.encodeMarker(m), path: "x") == m)
    m.cluster = nil
    m.pidNamespace = "pid:[4026531836]"
    m.batchSystem = .local
    #expect(try InfoFileCodec.decodeMarker(InfoFileCodec.encodeMarker(m), path: "x") == m)
}

@Test func markerWithoutRunnerIsInvalid() {
    let text = InfoFileCodec.encodeMarker(markerExample()).replacingOccurrences("runner: 'qq-run 1.0.0'\n", "")
    #expect(throws: InfoFileError(path: "m", line: nil, message: "missing required field 'runner'")) {
        try InfoFileCodec.decodeMarker(text, path: "m")
    }
}
