import Testing
@testable import QQCore

// Invalid files (R36) and inputs that must never crash the reader.

private typealias S = StateFileTestSupport

private let path = "/users/jdoe/sim/run.qqinfo"

/// The PBS fixture with `old` replaced by `new` (which must occur once).
private func variant(_ old: String, _ new: String, of name: String = "py_queued_pbs.qqinfo") -> String {
    let text = S.readText(S.fixture(name))
    precondition(text.contains(old), "fixture lacks \(old)")
    return text.replacingOccurrences(old, new)
}

/// 1-based line of the first line that starts with `prefix`.
private func line(of prefix: String, in text: String) -> Int {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    return (lines.firstIndex { $0.hasPrefix(prefix) } ?? -1) + 1
}

private func decodeError(_ text: String) -> InfoFileError? {
    do {
        _ = try InfoFileCodec.decode(text, path: path)
        return nil
    } catch {
        return error
    }
}

@Test func nonIntegerExitCodeNamesLineAndExpectation() {
    let text = variant("job_exit_code: 3", "job_exit_code: abc", of: "py_failed_lumi.qqinfo")
    let n = line(of: "job_exit_code:", in: text)
    #expect(decodeError(text)?.description
            == "Invalid qq info file '\(path)' (line \(n)): expected an integer for 'job_exit_code'.")
}

@Test func integerOverflowIsAnErrorNotACrash() {
    let text = variant("job_exit_code: 3", "job_exit_code: 99999999999999999999999", of: "py_failed_lumi.qqinfo")
    #expect(decodeError(text)?.message == "expected an integer for 'job_exit_code'")
}

@Test func missingRequiredFieldIsNamed() {
    let text = variant("job_id: 7654321.pbs-m1.example.org\n", "")
    #expect(decodeError(text)?.description == "Invalid qq info file '\(path)': missing required field 'job_id'.")
}

@Test func emptyFileMissesBatchSystem() {
    #expect(decodeError("")?.message == "missing required field 'batch_system'")
}

@Test func unknownKeyInResourcesIsInvalid() {
    let text = variant("  ngpus: 1\n", "  ngpus: 1\n  gpu_model: a100\n")
    let error = decodeError(text)
    #expect(error?.message == "unknown key 'gpu_model' in 'resources'")
    #expect(error?.line == line(of: "  gpu_model", in: text))
}

@Test func unknownKeyInLoopInfoIsInvalid() {
    let text = variant("  current: 3\n", "  current: 3\n  step: 2\n", of: "qqrun_finished_loop.qqinfo")
    #expect(decodeError(text)?.message == "unknown key 'step' in 'loop_info'")
}

@Test(arguments: ["a/b", "'.'", "'..'", "''", "\"a\\0b\""])
func jobNameMustBeOneFileName(bad: String) {
    let text = variant("job_name: run.sh", "job_name: \(bad)")
    let error = decodeError(text)
    #expect(error?.message == "expected a single file name for 'job_name'")
    #expect(error?.line == line(of: "job_name:", in: text))
}

@Test func stdoutFileMustBeOneFileName() {
    #expect(decodeError(variant("stdout_file: run.out", "stdout_file: /tmp/run.out"))?.message
            == "expected a single file name for 'stdout_file'")
}

@Test func duplicateKeyIsInvalid() {
    let text = variant("queue: default\n", "queue: default\nqueue: other\n")
    let error = decodeError(text)
    #expect(error?.message == "duplicate key 'queue'")
    #expect(error?.line == line(of: "queue: other", in: text))
}

@Test func duplicateKeyInsideResourcesIsInvalid() {
    #expect(decodeError(variant("  ngpus: 1\n", "  ngpus: 1\n  ngpus: 2\n"))?.message == "duplicate key 'ngpus'")
}

@Test func unknownBatchSystemIsInvalid() {
    #expect(decodeError(variant("batch_system: PBS", "batch_system: pbs"))?.message
            == "expected one of PBS, Slurm, SlurmIT4I, SlurmLumi, Local for 'batch_system', not 'pbs'")
}

@Test func badTimestampIsInvalid() {
    let text = variant("submission_time: '2025-03-14 09:26:53'", "submission_time: '14.3.2025'")
    #expect(decodeError(text)?.message == "expected a timestamp 'YYYY-MM-DD HH:MM:SS' for 'submission_time'")
}

@Test func badSizeIsInvalid() {
    #expect(decodeError(variant("    value: 16777216", "    value: 16 GB"))?.message
            == "expected an integer for 'resources.mem.value'")
    #expect(decodeError(variant("  mem:\n    value: 16777216", "  mem: lots"))?.message
            == "expected a size for 'resources.mem'")
}

@Test func listFieldRejectsAMapping() {
    #expect(decodeError(variant("- success\n", "  a: b\n"))?.message == "expected a list of strings for 'transfer_mode'")
}

@Test func unterminatedQuoteIsASyntaxErrorWithLine() {
    // A quote may span lines, so an unclosed one is found at the end of the file.
    let text = S.readText(S.fixture("py_queued_pbs.qqinfo")) + "account: 'jdoe\n\n"
    let error = decodeError(text)
    #expect(error?.message == "expected a closing quote (')")
    #expect(error?.line == line(of: "account:", in: text))
}

@Test func anchorsAndBlockScalarsInKnownFieldsAreRejected() {
    #expect(decodeError(variant("queue: default", "queue: &q default"))?.message == "anchors and aliases are not supported")
    #expect(decodeError(variant("queue: default", "queue: |\n  default"))?.message == "block scalars are not supported here")
    #expect(decodeError(variant("queue: default", "queue: !!str default"))?.message == "tags are not supported")
}

@Test func secondDocumentIsRejected() {
    let text = S.readText(S.fixture("py_queued_pbs.qqinfo")) + "---\nqueue: x\n"
    #expect(decodeError(text)?.message == "multiple documents are not supported")
}

@Test func badIndentationIsInvalid() {
    // After `mem:`'s nested mapping, a key at 3 spaces belongs to no mapping. (After a plain
    // value, a deeper line would continue that scalar instead.)
    let text = variant("  ngpus: 1", "   ngpus: 1")
    let error = decodeError(text)
    #expect(error?.message == "unexpected indentation")
    #expect(error?.line == line(of: "   ngpus", in: text))
}

@Test func textAfterAQuotedValueIsInvalid() {
    #expect(decodeError(variant("walltime: '48:00:00'", "walltime: '48:00:00' extra"))?.message
            == "unexpected text after the value")
}

@Test func deepNestingFailsInsteadOfOverflowingTheStack() {
    let deep = String(repeating: "[", count: 100_000)
    #expect(decodeError(variant("- success\n", "- x\nexcluded_files: \(deep)\n").replacingOccurrences("excluded_files:\n- /users/jdoe/sim/big_data\n", ""))?.message
            == "nesting is too deep")
}

@Test func deepBlockNestingFailsInsteadOfOverflowingTheStack() {
    var block = "loop_info:\n"
    for level in 1...2000 { block += String(repeating: " ", count: level) + "a:\n" }
    #expect(decodeError(S.readText(S.fixture("py_queued_pbs.qqinfo")) + block)?.message == "nesting is too deep")
}

// MARK: - Never crash

/// Deterministic pseudo-random numbers (SplitMix64), so failures reproduce.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
}

/// Decodes `bytes`; when it decodes, the writer's output must decode to the same record.
private func decodeNeverCrashes(_ bytes: [UInt8]) -> Bool {
    guard let record = try? InfoFileCodec.decode(bytes: bytes, path: "fuzz") else { return true }
    return (try? InfoFileCodec.decode(InfoFileCodec.encode(record), path: "fuzz")) == record
}

@Test func everyTruncationOfAFixtureReturnsOrThrows() {
    for name in ["qqrun_killed_array.qqinfo", "py_folded_escapes.qqinfo"] {
        let bytes = S.readBytes(S.fixture(name))
        for cut in 0...bytes.count {
            let ok = decodeNeverCrashes(Array(bytes[..<cut]))
            #expect(ok, "\(name) cut at \(cut)")
        }
    }
}

@Test func mutatedFixturesReturnOrThrow() {
    let specials: [UInt8] = Array("'\"[]{},:-#\\|&*!?>%@` \t\n\r".utf8) + [0, 0xFF, 0xC3, 0xEF, 0xBB, 0xBF]
    var rng = SplitMix(state: 0x51A7_EF11E)
    let fixtures = S.fixtures().map { S.readBytes($0) }.filter { !$0.isEmpty }
    #expect(!fixtures.isEmpty)
    var variants = 0
    for round in 0..<2000 {
        var bytes = fixtures[round % fixtures.count]
        for _ in 0..<(1 + rng.below(4)) {
            let at = rng.below(bytes.count + 1)
            let c = specials[rng.below(specials.count)]
            switch rng.below(4) {
            case 0: if at < bytes.count { bytes[at] = c }
            case 1: bytes.insert(c, at: at)
            case 2: if at < bytes.count { bytes.remove(at: at) }
            default: if at < bytes.count { bytes[at] ^= UInt8(truncatingIfNeeded: 1 << rng.below(8)) }
            }
        }
        let ok = decodeNeverCrashes(bytes)
        #expect(ok, "variant \(round): \(String(decoding: bytes, as: UTF8.self))")
        variants += 1
    }
    #expect(variants == 2000)
}
