import Testing
@testable import QQCore

// Reading the project's own fixtures (R34, R35; scenario 17).

private typealias S = StateFileTestSupport

private func load(_ name: String) throws -> InfoRecord {
    try InfoFileCodec.decode(S.readText(S.fixture(name)), path: name)
}

@Test func fixturesFolderHasFixtures() {
    #expect(S.fixtures().count >= 7)
}

@Test(arguments: StateFileTestSupport.fixtures())
func everyFixtureParses(path: String) throws {
    _ = try InfoFileCodec.decode(bytes: S.readBytes(path), path: path)
}

@Test func unquotedJobIDReadsAsString() throws {
    let r = try load("py_failed_lumi.qqinfo")
    #expect(r.jobID == "9876543")
}

@Test func unquotedWalltimeReadsAsString() throws {
    let r = try load("py_failed_lumi.qqinfo")
    #expect(r.resources.walltime == "0:30:00")
}

@Test func quotedWalltimeReadsAsString() throws {
    #expect(try load("py_queued_pbs.qqinfo").resources.walltime == "48:00:00")
}

@Test func unquotedTimestampReads() throws {
    let r = try load("py_failed_lumi.qqinfo")
    #expect(r.submissionTime == Timestamp(year: 2025, month: 3, day: 14, hour: 9, minute: 0, second: 0))
    #expect(r.startTime?.description == "2025-03-14 09:05:00")
}

@Test func jobTypeAndStateReadCaseInsensitively() throws {
    let r = try load("py_failed_lumi.qqinfo")
    #expect(r.jobType == .continuous)
    #expect(r.jobState == .failed)
}

@Test func numericTransferModesReadAsStrings() throws {
    #expect(try load("py_failed_lumi.qqinfo").transferMode == ["success", "42", "-1"])
}

@Test func sizeValueIsKilobytes() throws {
    let r = try load("py_queued_pbs.qqinfo")
    #expect(r.resources.mem == Size(kilobytes: 16_777_216))
    #expect(r.resources.workSizePerCPU == Size(kilobytes: 1_048_576))
}

@Test func sizesAcceptUnitKeyAndPlainStrings() throws {
    let res = try load("mixed_sizes_flow.qqinfo").resources
    #expect(res.mem == Size(kilobytes: 2 * 1024 * 1024))          // {value: 2, unit: gb}
    #expect(res.memPerNode == Size(kilobytes: 16 * 1024 * 1024))  // 16gb
    #expect(res.memPerCPU == Size(kilobytes: 10 * 1024))          // 10 m
    #expect(res.workSize == Size(kilobytes: 3 * 1024))            // value 3, unit mb
    #expect(res.workSizePerNode == Size(kilobytes: 2 * 1024 * 1024)) // 2G
    #expect(res.workSizePerCPU == Size(kilobytes: 0))             // 0 b
}

@Test func everyResourcesKeyReads() throws {
    let res = try load("mixed_sizes_flow.qqinfo").resources
    #expect(res.nnodes == 1 && res.ncpus == 4 && res.ncpusPerNode == 4)
    #expect(res.ngpus == 2 && res.ngpusPerNode == 2)
    #expect(res.walltime == "100:00:00")
    #expect(res.workDir == "input_dir")
    #expect(!res.usesScratch)
}

@Test func propsKeepOrderAndReadAsStrings() throws {
    let props = try load("mixed_sizes_flow.qqinfo").resources.props
    #expect(props == [KeyValue("yes", "true"), KeyValue("No", "no"), KeyValue("Key", "1e3"),
                      KeyValue("a-b", "0x1F"), KeyValue("null_word", "null")])
    let block = try load("qqrun_killed_array.qqinfo").resources.props
    #expect(block.map(\.key) == ["cl-zia", "yes", "gpu_cap"])
}

@Test func emptyFlowMappingIsEmptyResources() throws {
    #expect(try load("py_folded_escapes.qqinfo").resources == Resources())
}

@Test func flowSequencesRead() throws {
    let r = try load("py_folded_escapes.qqinfo")
    #expect(r.excludedFiles == ["/users/jdoe/a", "/users/jdoe/b c", "/users/jdoe/d\te"])
    #expect(r.includedFiles == [])
    #expect(r.transferMode == ["success", "42"])
}

@Test func foldedSingleQuotedPathIsJoinedWithASpace() throws {
    let r = try load("py_folded_escapes.qqinfo")
    #expect(r.inputDir == "/users/jdoe/very/long/path with spaces/a b a b a b a b a b a b a b a b a b a b a b a b")
}

@Test func foldedPlainScalarKeepsEmptyLineAsNewline() throws {
    let r = try load("py_folded_escapes.qqinfo")
    #expect(r.server == "plain text that PyYAML folded because it is long, a b c d e f g h i j k l m n o p q r s t\nafter one empty line")
    #expect(r.interpreter == "single quoted\nwith an empty line, it's fine")
}

@Test func doubleQuotedHexEscapeDecodesToCharacter() throws {
    // Appendix A.2: `\xFD` is ý (U+00FD), and an escaped line break inserts nothing.
    let r = try load("py_folded_escapes.qqinfo")
    #expect(r.workDir == "/storage/jdoe/velmi_dlouhý_název_adresáře")
}

@Test func doubleQuotedEscapesDecode() throws {
    let r = try load("py_folded_escapes.qqinfo")
    #expect(r.account == "acc ount!")
    #expect(r.mainNode == "node\u{01}x")
    #expect(r.error == "escapes: \0\u{07}\u{08}\t\n\u{0B}\u{0C}\r\u{1B} \"/\\\u{85}\u{A0}\u{2028}\u{2029}Aé😀 tab\tend")
}

@Test func mixedQuotingInBlockSequence() throws {
    #expect(try load("py_folded_escapes.qqinfo").allNodes == ["node1", "node2", "node3"])
}

@Test func crlfBOMAndCommentsAreAccepted() throws {
    let r = try load("py_crlf_bom.qqinfo")
    #expect(r.batchSystem == .slurm)
    #expect(r.jobID == "555")
    #expect(r.inputDir == "/users/jdoe/crlf")
    #expect(r.resources.nnodes == 1)
    #expect(r.resources.walltime == "1:00:00")
    #expect(r.transferMode == ["success"])
    #expect(r.unknownEntries == [RawEntry(key: "x_note", text: "x_note: kept\n  across lines\n")])
}

@Test func loopInfoReads() throws {
    let loop = try #require(try load("qqrun_finished_loop.qqinfo").loopInfo)
    #expect(loop == LoopInfo(start: 1, end: 10, archive: "/users/jdoe/md/storage", archiveFormat: "md%04d",
                             current: 3, archiveMode: ["success", "failure"]))
}

@Test func extensionFieldsRead() throws {
    let r = try load("qqrun_killed_array.qqinfo")
    #expect(r.runner == "qq-run 1.0.0")
    #expect(r.runnerPID == 7312)
    #expect(r.cluster == "example")
    #expect(r.pidNamespace == "pid:[4026531836]")
    #expect(r.phase == .done)
    #expect(r.heartbeat?.description == "2025-03-14 09:38:21")
    #expect(r.heartbeatInterval == 60)
    #expect(r.restarts == 1)
    #expect(r.arrayJobID == "3" && r.arrayTaskID == "1")
    #expect(r.killReason == .timeout)
    #expect(r.scriptExitCode == 143)
    #expect(r.error == "it's a \"test\": 1 result was not copied")
    #expect(r.signals == ["USR1 2025-03-14 09:36:30", "USR2 2025-03-14 09:37:00"])
    #expect(r.stageIn == StageInStats(files: 12, bytes: 40960, seconds: 0.01))
    #expect(r.stageOut == StageOutStats(mode: .rescue, files: 2, bytes: 18432, seconds: 0.02, errors: 1,
                                        deleted: 3, notCopied: 1, notCopiedPaths: ["traj/big.xtc", "out/it's.log"]))
    #expect(r.usage == Usage(maxRSS: 524288, userCPU: 1190.4, sysCPU: 3.1))
    #expect(r.synchronized == false)
    #expect(r.wiped?.description == "2025-03-15 08:00:00")
    #expect(r.jobExitCode == nil)
}

@Test func malformedExtensionFieldsAreIgnored() throws {
    // R28: runner_pid, phase, heartbeat, stage_in and synchronized are malformed in this file.
    let r = try load("mixed_sizes_flow.qqinfo")
    #expect(r.runnerPID == nil)
    #expect(r.phase == nil)
    #expect(r.heartbeat == nil)
    #expect(r.stageIn == nil)
    #expect(r.synchronized == nil)
    #expect(r.runner == "qq-run 1.0.0")
    #expect(r.stageOut == StageOutStats(mode: .transfer, files: 1, bytes: 2, seconds: 3.0))
    #expect(r.usage == Usage(maxRSS: 1, userCPU: 100, sysCPU: 0.5))
    #expect(r.signals == ["USR1 2025-03-14 09:36:30"])
}

@Test func unknownTopLevelKeysAreKeptVerbatim() throws {
    let r = try load("qqrun_killed_array.qqinfo")
    #expect(r.unknownEntries.map(\.key) == ["future_field", "future_block", "future_map", "future_list"])
    #expect(r.unknownEntries[1].text == "future_block: |\n  line one\n    line two\n\n  after a blank line\n")
    #expect(r.unknownEntries[3].text == "future_list:\n- one\n- 'two'\n")
}

@Test func nullWordsMeanAbsent() throws {
    let text = S.readText(S.fixture("py_queued_pbs.qqinfo")) + "account: ~\nserver: null\ninterpreter:\nmain_node: 'null'\n"
    let r = try InfoFileCodec.decode(text, path: "x")
    #expect(r.account == nil && r.server == nil && r.interpreter == nil)
    #expect(r.mainNode == "null")
}

@Test func emptyJobStateReadsAsUnknown() throws {
    let text = S.readText(S.fixture("py_queued_pbs.qqinfo")).replacingOccurrences("job_state: queued", "job_state:")
    #expect(try InfoFileCodec.decode(text, path: "x").jobState == .unknown)
    let other = S.readText(S.fixture("py_queued_pbs.qqinfo")).replacingOccurrences("job_state: queued", "job_state: held")
    #expect(try InfoFileCodec.decode(other, path: "x").jobState == .unknown)
}

extension String {
    /// Plain substring replacement, without Foundation.
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}

extension Substring {
    func range(of target: String) -> Range<Index>? {
        guard let first = target.first else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i] == first, self[i...].hasPrefix(target) {
                return i..<(index(i, offsetBy: target.count))
            }
            i = index(after: i)
        }
        return nil
    }
}
